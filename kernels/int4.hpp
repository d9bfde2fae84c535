// The one kernel header the model includes: picks the fastest implementation available.
//
//   x86-64:     AVX2+FMA (int4_avx2.hpp, softmax_avx2.hpp) when the CPU has it, checked once at run time;
//               otherwise the scalar reference. No -mavx2 flag needed.
//   WASM:       SIMD128 (int4_simd128.hpp, softmax_simd128.hpp) when compiled with -msimd128.
//   elsewhere:  the scalar reference (int4_ref.hpp, softmax_ref.hpp).
// Define NEEDLE_KERNELS_FORCE_REF=1 to always use the reference (debugging, numerics checks).
//
// Semantics of every function: see int4_ref.hpp and softmax_ref.hpp. Results match the reference up to fp32
// rounding (summation order differs), not bit for bit.
#pragma once

#include "int4_ref.hpp"
#include "softmax_ref.hpp"

#ifndef NEEDLE_KERNELS_FORCE_REF
#define NEEDLE_KERNELS_FORCE_REF 0
#endif

#if !NEEDLE_KERNELS_FORCE_REF && (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
#define NEEDLE_KERNELS_HAVE_AVX2 1
#include "int4_avx2.hpp"
#include "softmax_avx2.hpp"
#elif !NEEDLE_KERNELS_FORCE_REF && defined(__wasm_simd128__)
#define NEEDLE_KERNELS_HAVE_SIMD128 1
#include "int4_simd128.hpp"
#include "softmax_simd128.hpp"
#endif

namespace needle::kernels {

#if defined(NEEDLE_KERNELS_HAVE_AVX2)
// Checked once; the static's initialisation is thread-safe. __builtin_cpu_init makes the
// check valid even when the first call comes from a static constructor.
inline bool cpu_has_avx2_fma() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
}
#define NEEDLE_KERNELS_DISPATCH(name, ...) \
  (cpu_has_avx2_fma() ? name##_avx2(__VA_ARGS__) : name##_ref(__VA_ARGS__))
#elif defined(NEEDLE_KERNELS_HAVE_SIMD128)
#define NEEDLE_KERNELS_DISPATCH(name, ...) name##_simd128(__VA_ARGS__)
#else
#define NEEDLE_KERNELS_DISPATCH(name, ...) name##_ref(__VA_ARGS__)
#endif

// Which implementation the functions below run: "avx2", "simd128" or "ref".
inline const char* kernels_backend() {
#if defined(NEEDLE_KERNELS_HAVE_AVX2)
  return cpu_has_avx2_fma() ? "avx2" : "ref";
#elif defined(NEEDLE_KERNELS_HAVE_SIMD128)
  return "simd128";
#else
  return "ref";
#endif
}

// y[o] = sum_{i<in} x[i] * W[i][o]; y (out floats) is overwritten.
inline void int4_matvec(const Int4Matrix& w, const float* x, float* y) {
  NEEDLE_KERNELS_DISPATCH(int4_matvec, w, x, y);
}

// Y[t][o] = sum_i X[t][i] * W[i][o] for t < n; X rows of `in` floats, Y rows of `out` floats.
inline void int4_matmul(const Int4Matrix& w, const float* x, int n, float* y) {
  NEEDLE_KERNELS_DISPATCH(int4_matmul, w, x, n, y);
}

// Dense F32 [in, out] row-major, same semantics.
inline void f32_matvec(const float* w, int in, int out, const float* x, float* y) {
  NEEDLE_KERNELS_DISPATCH(f32_matvec, w, in, out, x, y);
}

inline void f32_matmul(const float* w, int in, int out, const float* x, int n, float* y) {
  NEEDLE_KERNELS_DISPATCH(f32_matmul, w, in, out, x, n, y);
}

// Tied logits: out[r] = dot(rows[r, :], h) for r < n_rows; rows is [n_rows, d] row-major.
inline void f32_rows_dot(const float* rows, int n_rows, int d, const float* h, float* out) {
  NEEDLE_KERNELS_DISPATCH(f32_rows_dot, rows, n_rows, d, h, out);
}

// The same over BF16 rows (an embedding stored in BF16): exact widening, half the bytes.
inline void bf16_rows_dot(const std::uint16_t* rows, int n_rows, int d, const float* h, float* out) {
  NEEDLE_KERNELS_DISPATCH(bf16_rows_dot, rows, n_rows, d, h, out);
}

// In place over n >= 1 floats: s[i] = exp(s[i] - max) / sum_j exp(s[j] - max), with the
// polynomial exp of softmax_ref.hpp (weights below exp(-87) relative to the max are not 0).
inline void softmax(float* s, int n) { NEEDLE_KERNELS_DISPATCH(softmax, s, n); }

#undef NEEDLE_KERNELS_DISPATCH

}  // namespace needle::kernels
