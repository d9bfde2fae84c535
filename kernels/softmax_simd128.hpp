// Softmax for WebAssembly SIMD128 (compile with -msimd128): softmax_ref.hpp's function, 4
// lanes at a time. clang 14 leaves the reference's exp loop scalar in WASM; this is the
// same arithmetic written with intrinsics.
//
// Same results as softmax_ref up to fp32 rounding: every exp is computed exactly as the
// reference computes it (no fused multiply-add in SIMD128, so mul then add, as in C++), only
// the sum runs in a different order.
#pragma once

#include <wasm_simd128.h>

#include <cstring>

#include "softmax_ref.hpp"

namespace needle::kernels {

namespace softmax_simd128_detail {  // private helpers

// exp_nonpositive_ref on 4 lanes. pmax(a, b) is a < b ? b : a: one x86 maxps in V8, where
// f32x4.max (NaN- and signed-zero-exact) takes several instructions.
inline __attribute__((always_inline)) v128_t exp_nonpositive(v128_t x) {
  using namespace softmax_consts;
  x = wasm_f32x4_pmax(x, wasm_f32x4_splat(kExpFloor));  // x < floor ? floor : x, as std::max
  const v128_t magic = wasm_f32x4_splat(kRoundMagic);
  const v128_t t = wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(kLog2e)), magic);  // bits: 0x4B400000 + n
  const v128_t n = wasm_f32x4_sub(t, magic);
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(kLn2Hi)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(kLn2Lo)));
  v128_t p = wasm_f32x4_splat(kPoly[0]);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(kPoly[1]));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(kPoly[2]));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(kPoly[3]));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(kPoly[4]));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(kPoly[5]));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(kPoly[6]));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(kPoly[7]));
  // 2^n: t's low bits hold n (n >= -126), and 0x4B400000 << 23 vanishes mod 2^32, so
  // (bits(t) + 127) << 23 is the biased exponent of 2^n in place, with no conversion.
  const v128_t scale = wasm_i32x4_shl(wasm_i32x4_add(t, wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, scale);
}

inline float hmax(v128_t v) {
  const v128_t m = wasm_f32x4_pmax(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  return wasm_f32x4_extract_lane(wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2)), 0);
}

inline float hsum(v128_t v) {
  const v128_t s = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  return wasm_f32x4_extract_lane(wasm_f32x4_add(s, wasm_i32x4_shuffle(s, s, 1, 0, 3, 2)), 0);
}

}  // namespace softmax_simd128_detail

// In place over n >= 1 floats; see softmax_ref. The last n % 4 floats are copied into a
// padded local vector, so nothing past s[n-1] is read or written.
inline void softmax_simd128(float* s, int n) {
  using namespace softmax_simd128_detail;
  const int full = n & ~3;
  const int rem = n - full;
  float tail[4];

  v128_t vmx = wasm_f32x4_splat(s[0]);
  for (int i = 0; i < full; i += 4) vmx = wasm_f32x4_pmax(vmx, wasm_v128_load(s + i));
  float mx_s = hmax(vmx);
  for (int i = full; i < n; ++i) mx_s = s[i] > mx_s ? s[i] : mx_s;
  const v128_t mx = wasm_f32x4_splat(mx_s);

  // exp and its sum in one pass; two accumulators so the adds do not serialise the loop.
  v128_t sum0 = wasm_f32x4_splat(0.0f), sum1 = sum0;
  int i = 0;
  for (; i + 8 <= full; i += 8) {
    const v128_t e0 = exp_nonpositive(wasm_f32x4_sub(wasm_v128_load(s + i), mx));
    const v128_t e1 = exp_nonpositive(wasm_f32x4_sub(wasm_v128_load(s + i + 4), mx));
    wasm_v128_store(s + i, e0);
    wasm_v128_store(s + i + 4, e1);
    sum0 = wasm_f32x4_add(sum0, e0);
    sum1 = wasm_f32x4_add(sum1, e1);
  }
  if (i < full) {
    const v128_t e = exp_nonpositive(wasm_f32x4_sub(wasm_v128_load(s + i), mx));
    wasm_v128_store(s + i, e);
    sum0 = wasm_f32x4_add(sum0, e);
  }
  if (rem > 0) {
    // Padding lanes hold mx (exp 1), zeroed before the sum; only rem floats are copied back.
    for (int k = 0; k < 4; ++k) tail[k] = k < rem ? s[full + k] : mx_s;
    const v128_t keep = wasm_i32x4_lt(wasm_i32x4_make(0, 1, 2, 3), wasm_i32x4_splat(rem));
    const v128_t e = wasm_v128_and(exp_nonpositive(wasm_f32x4_sub(wasm_v128_load(tail), mx)), keep);
    wasm_v128_store(tail, e);
    std::memcpy(s + full, tail, sizeof(float) * rem);
    sum1 = wasm_f32x4_add(sum1, e);
  }
  const float inv_s = 1.0f / hsum(wasm_f32x4_add(sum0, sum1));
  const v128_t inv = wasm_f32x4_splat(inv_s);
  for (i = 0; i < full; i += 4) wasm_v128_store(s + i, wasm_f32x4_mul(wasm_v128_load(s + i), inv));
  for (; i < n; ++i) s[i] *= inv_s;
}

}  // namespace needle::kernels
