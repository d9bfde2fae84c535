// Softmax for x86-64 with AVX2 + FMA: softmax_ref.hpp's function, 8 lanes at a time.
//
// Same results as softmax_ref up to fp32 rounding: the polynomial and the range reduction
// use fused multiply-adds (one rounding where the reference has two), and the sum runs in a
// different order. Carries __attribute__((target("avx2,fma"))) like int4_avx2.hpp, so it
// compiles without -mavx2; int4.hpp calls it only on a CPU that has both.
#pragma once

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include "softmax_ref.hpp"

#ifndef NEEDLE_TARGET_AVX2
#define NEEDLE_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace needle::kernels {

namespace softmax_avx2_detail {  // private helpers

// exp_nonpositive_ref on 8 lanes.
NEEDLE_TARGET_AVX2 inline __m256 exp_nonpositive(__m256 x) {
  using namespace softmax_consts;
  // max(floor, x) returns x when x is NaN, as std::max(x, floor) does.
  x = _mm256_max_ps(_mm256_set1_ps(kExpFloor), x);
  const __m256 magic = _mm256_set1_ps(kRoundMagic);
  const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(kLog2e), magic);  // bits: 0x4B400000 + n
  const __m256 n = _mm256_sub_ps(t, magic);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kPoly[0]);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kPoly[1]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kPoly[2]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kPoly[3]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kPoly[4]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kPoly[5]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kPoly[6]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kPoly[7]));
  // 2^n: t's low bits hold n (n >= -126), and 0x4B400000 << 23 vanishes mod 2^32, so
  // (bits(t) + 127) << 23 is the biased exponent of 2^n in place, with no conversion.
  const __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

NEEDLE_TARGET_AVX2 inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

NEEDLE_TARGET_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

}  // namespace softmax_avx2_detail

// In place over n >= 1 floats; see softmax_ref. The last n % 8 floats go through masked
// loads and stores, so nothing past s[n-1] is read or written.
NEEDLE_TARGET_AVX2 inline void softmax_avx2(float* s, int n) {
  using namespace softmax_avx2_detail;
  const int full = n & ~7;
  const __m256i tail_mask =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(n - full), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256 tail_lanes = _mm256_castsi256_ps(tail_mask);
  const bool has_tail = n > full;

  __m256 vmx = _mm256_set1_ps(s[0]);
  for (int i = 0; i < full; i += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(s + i));
  if (has_tail) vmx = _mm256_max_ps(vmx, _mm256_blendv_ps(vmx, _mm256_maskload_ps(s + full, tail_mask), tail_lanes));
  const __m256 mx = _mm256_set1_ps(hmax(vmx));

  // exp and its sum in one pass; two accumulators so the adds do not serialise the loop.
  __m256 sum0 = _mm256_setzero_ps(), sum1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= full; i += 16) {
    const __m256 e0 = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(s + i), mx));
    const __m256 e1 = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(s + i + 8), mx));
    _mm256_storeu_ps(s + i, e0);
    _mm256_storeu_ps(s + i + 8, e1);
    sum0 = _mm256_add_ps(sum0, e0);
    sum1 = _mm256_add_ps(sum1, e1);
  }
  if (i < full) {
    const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(s + i), mx));
    _mm256_storeu_ps(s + i, e);
    sum0 = _mm256_add_ps(sum0, e);
  }
  if (has_tail) {
    // Lanes past n hold exp(0 - mx), possibly garbage: masked out of the sum and the store.
    const __m256 e = _mm256_and_ps(exp_nonpositive(_mm256_sub_ps(_mm256_maskload_ps(s + full, tail_mask), mx)), tail_lanes);
    _mm256_maskstore_ps(s + full, tail_mask, e);
    sum1 = _mm256_add_ps(sum1, e);
  }
  const __m256 inv = _mm256_set1_ps(1.0f / hsum(_mm256_add_ps(sum0, sum1)));
  for (i = 0; i < full; i += 8) _mm256_storeu_ps(s + i, _mm256_mul_ps(_mm256_loadu_ps(s + i), inv));
  if (has_tail) _mm256_maskstore_ps(s + full, tail_mask, _mm256_mul_ps(_mm256_maskload_ps(s + full, tail_mask), inv));
}

}  // namespace needle::kernels

#endif  // x86
