// INT4 and F32 matrix kernels for x86-64 with AVX2 + FMA.
//
// Same results as int4_ref.hpp up to fp32 rounding (sums run in a different order).
// Every function carries __attribute__((target("avx2,fma"))), so this header compiles
// without -mavx2 and the binary still starts on a CPU without AVX2: int4.hpp only calls in
// here after __builtin_cpu_supports said yes.
//
// Decoding nibbles: a byte zero-extended into an int32 lane, shifted left by 28, holds its
// low nibble in the top 4 bits, i.e. q_lo * 2^28 as a signed int32 (the sign comes for
// free); (byte << 24) & 0xF0000000 is q_hi * 2^28. Converting those to float is exact and
// scaling by a power of two does not change fp32 rounding, so the matvec accumulates
// x * (q * 2^28) and multiplies the group's sum by 2^-28 * scale. The matmul instead
// dequantises each weight as the reference does (float(q) * scale, one fp32 rounding) into a
// small float panel reused across many tokens.
#pragma once

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "int4_ref.hpp"

#define NEEDLE_TARGET_AVX2 __attribute__((target("avx2,fma")))

// Fully unrolls a short constant loop over registers. GCC otherwise unrolls it too late to
// keep an array of accumulators in registers and stores every one of them each iteration.
#if defined(__clang__)
#define NEEDLE_UNROLL _Pragma("unroll")
#else
#define NEEDLE_UNROLL _Pragma("GCC unroll 16")
#endif

namespace needle::kernels {

namespace avx2_detail {  // private helpers

using std::size_t;

// Micro-kernel and cache blocking of the matmuls: an MR x NR tile of Y lives in 12
// registers; W is dequantised once per call into KC x NC float panels (128 KB, L2), and
// each KC x NR strip of a panel (16 KB, L1) is swept by up to kMC tokens before the next.
inline constexpr int kMR = 6;    // tokens per micro-tile
inline constexpr int kNR = 16;   // output columns per micro-tile (two ymm)
inline constexpr int kKC = 256;  // input rows per panel; a multiple of kInt4GroupRows
inline constexpr int kNC = 128;  // output columns per panel; a multiple of kNR
inline constexpr int kMC = 96;   // tokens per block sweeping one strip; a multiple of kMR
static_assert(kKC % kInt4GroupRows == 0 && kNC % kNR == 0 && kMC % kMR == 0);

// Below this many tokens, dequantising a panel costs more than it saves: loop matvecs.
inline constexpr int kMatmulMinTokens = 4;  // measured: 512x512, n = 3 vs 4

inline constexpr float kNibbleUnscale = 1.0f / 268435456.0f;  // 2^-28

NEEDLE_TARGET_AVX2 inline __m256i load8_bytes(const std::uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
// q_lo * 2^28 and q_hi * 2^28 of 8 bytes zero-extended into int32 lanes.
NEEDLE_TARGET_AVX2 inline __m256 low_nibbles_x2p28(__m256i v) {
  return _mm256_cvtepi32_ps(_mm256_slli_epi32(v, 28));
}
NEEDLE_TARGET_AVX2 inline __m256 high_nibbles_x2p28(__m256i v) {
  return _mm256_cvtepi32_ps(
      _mm256_and_si256(_mm256_slli_epi32(v, 24), _mm256_set1_epi32(static_cast<int>(0xF0000000u))));
}
// Exact q_lo and q_hi, for the dequantising pack.
NEEDLE_TARGET_AVX2 inline __m256 low_nibbles(__m256i v) {
  return _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 28), 28));
}
NEEDLE_TARGET_AVX2 inline __m256 high_nibbles(__m256i v) {
  return _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 24), 28));
}

// Horizontal sum of one vector.
NEEDLE_TARGET_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// ---- int4 matvec --------------------------------------------------------------------------

// One scale group (rows_in_group <= 32 rows starting at an even row) for 8*kBlocks columns:
// y[c] += scale[c] * sum_r xg[r] * q[r][c]. `bytes` points at the group's first pair.
template <int kBlocks>
NEEDLE_TARGET_AVX2 inline void int4_matvec_group(const std::uint8_t* bytes, size_t out, const float* xg,
                                                 int rows_in_group, const float* scale, float* y) {
  __m256 acc[kBlocks];
  NEEDLE_UNROLL for (int b = 0; b < kBlocks; ++b) acc[b] = _mm256_setzero_ps();
  const int full_pairs = rows_in_group / 2;
  for (int p = 0; p < full_pairs; ++p) {
    const __m256 x_lo = _mm256_broadcast_ss(xg + 2 * p);
    const __m256 x_hi = _mm256_broadcast_ss(xg + 2 * p + 1);
    const std::uint8_t* row = bytes + p * out;
    NEEDLE_UNROLL for (int b = 0; b < kBlocks; ++b) {
      const __m256i v = load8_bytes(row + 8 * b);
      acc[b] = _mm256_fmadd_ps(low_nibbles_x2p28(v), x_lo, acc[b]);
      acc[b] = _mm256_fmadd_ps(high_nibbles_x2p28(v), x_hi, acc[b]);
    }
  }
  if (rows_in_group & 1) {  // the last row is a low nibble; its high nibble is padding
    const __m256 x_lo = _mm256_broadcast_ss(xg + 2 * full_pairs);
    const std::uint8_t* row = bytes + full_pairs * out;
    NEEDLE_UNROLL for (int b = 0; b < kBlocks; ++b) {
      acc[b] = _mm256_fmadd_ps(low_nibbles_x2p28(load8_bytes(row + 8 * b)), x_lo, acc[b]);
    }
  }
  const __m256 unscale = _mm256_set1_ps(kNibbleUnscale);
  NEEDLE_UNROLL for (int b = 0; b < kBlocks; ++b) {
    const __m256 s = _mm256_loadu_ps(scale + 8 * b);
    _mm256_storeu_ps(y + 8 * b,
                     _mm256_fmadd_ps(_mm256_mul_ps(acc[b], unscale), s, _mm256_loadu_ps(y + 8 * b)));
  }
}

// Scalar columns [o_begin, out) of one group, same arithmetic as the vector path.
inline void int4_matvec_group_scalar(const Int4Matrix& w, int g, int rows_in_group, const float* xg,
                                     int o_begin, float* y) {
  const std::uint8_t* bytes = w.packed + static_cast<size_t>(g) * (kInt4GroupRows / 2) * w.out;
  const float* scale = w.scales + static_cast<size_t>(g) * w.out;
  for (int o = o_begin; o < w.out; ++o) {
    float acc = 0.0f;
    for (int r = 0; r < rows_in_group; ++r) {
      const std::uint8_t byte = bytes[static_cast<size_t>(r / 2) * w.out + o];
      acc += xg[r] * static_cast<float>((r & 1) ? int4_high(byte) : int4_low(byte));
    }
    y[o] += acc * scale[o];
  }
}

// ---- matmul driver (int4 and f32 share it; only the panel packing differs) ---------------

// Panel layout: strips of kNR columns, each strip kc rows of kNR floats, columns >= out zero.
// panel[(s * kc + k) * kNR + c] = W[k0 + k][j0 + s * kNR + c].

NEEDLE_TARGET_AVX2 inline void pack_int4_panel(const Int4Matrix& w, int k0, int kc, int j0, int nc,
                                               float* panel) {
  const size_t out = static_cast<size_t>(w.out);
  for (int s = 0; s * kNR < nc; ++s) {
    const int j = j0 + s * kNR;
    const int cols = nc - s * kNR < kNR ? nc - s * kNR : kNR;
    float* strip = panel + static_cast<size_t>(s) * kc * kNR;
    for (int k = 0; k < kc; k += 2) {  // k0 and k are even: k walks over pairs
      const int i = k0 + k;
      const std::uint8_t* bytes = w.packed + static_cast<size_t>(i / 2) * out + j;
      const float* scale = w.scales + static_cast<size_t>(i / kInt4GroupRows) * out + j;
      float* lo = strip + static_cast<size_t>(k) * kNR;
      float* hi = lo + kNR;
      const bool has_hi = k + 1 < kc;
      if (cols == kNR) {
        for (int h = 0; h < kNR; h += 8) {
          const __m256i v = load8_bytes(bytes + h);
          const __m256 s8 = _mm256_loadu_ps(scale + h);
          _mm256_store_ps(lo + h, _mm256_mul_ps(low_nibbles(v), s8));
          if (has_hi) _mm256_store_ps(hi + h, _mm256_mul_ps(high_nibbles(v), s8));
        }
      } else {
        for (int c = 0; c < kNR; ++c) {
          const bool valid = c < cols;
          lo[c] = valid ? static_cast<float>(int4_low(bytes[c])) * scale[c] : 0.0f;
          if (has_hi) hi[c] = valid ? static_cast<float>(int4_high(bytes[c])) * scale[c] : 0.0f;
        }
      }
    }
  }
}

struct F32Dense {
  const float* w;
  int in, out;
};

NEEDLE_TARGET_AVX2 inline void pack_f32_panel(const F32Dense& w, int k0, int kc, int j0, int nc,
                                              float* panel) {
  for (int s = 0; s * kNR < nc; ++s) {
    const int j = j0 + s * kNR;
    const int cols = nc - s * kNR < kNR ? nc - s * kNR : kNR;
    float* strip = panel + static_cast<size_t>(s) * kc * kNR;
    for (int k = 0; k < kc; ++k) {
      const float* src = w.w + static_cast<size_t>(k0 + k) * w.out + j;
      float* dst = strip + static_cast<size_t>(k) * kNR;
      if (cols == kNR) {
        _mm256_store_ps(dst, _mm256_loadu_ps(src));
        _mm256_store_ps(dst + 8, _mm256_loadu_ps(src + 8));
      } else {
        for (int c = 0; c < kNR; ++c) dst[c] = c < cols ? src[c] : 0.0f;
      }
    }
  }
}

// Panel producers for matmul_panels (structs, not lambdas, so they carry the target attribute
// and inline).
struct Int4Packer {
  const Int4Matrix& w;
  NEEDLE_TARGET_AVX2 void operator()(int k0, int kc, int j0, int nc, float* panel) const {
    pack_int4_panel(w, k0, kc, j0, nc, panel);
  }
};
struct F32Packer {
  F32Dense w;
  NEEDLE_TARGET_AVX2 void operator()(int k0, int kc, int j0, int nc, float* panel) const {
    pack_f32_panel(w, k0, kc, j0, nc, panel);
  }
};

// Y[r][c] (+)= sum_k X[r][k] * strip[k][c] for r < kRows, c < cols (<= kNR).
template <int kRows>
NEEDLE_TARGET_AVX2 inline void micro_kernel(const float* x, size_t ldx, const float* strip, int kc,
                                            float* y, size_t ldy, int cols, bool accumulate) {
  __m256 acc[kRows][2];
  NEEDLE_UNROLL for (int r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(strip + k * kNR);
    const __m256 b1 = _mm256_load_ps(strip + k * kNR + 8);
    NEEDLE_UNROLL for (int r = 0; r < kRows; ++r) {
      const __m256 a = _mm256_broadcast_ss(x + r * ldx + k);
      acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  if (cols == kNR) {
    NEEDLE_UNROLL for (int r = 0; r < kRows; ++r) {
      float* yr = y + r * ldy;
      if (accumulate) {
        acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(yr));
        acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(yr + 8));
      }
      _mm256_storeu_ps(yr, acc[r][0]);
      _mm256_storeu_ps(yr + 8, acc[r][1]);
    }
  } else {
    // Spill first, then copy: indexing acc inside a loop that is not unrolled would make
    // the compiler keep acc in memory through the hot loop above.
    alignas(32) float tile[kRows][kNR];
    NEEDLE_UNROLL for (int r = 0; r < kRows; ++r) {
      _mm256_store_ps(tile[r], acc[r][0]);
      _mm256_store_ps(tile[r] + 8, acc[r][1]);
    }
    NEEDLE_UNROLL for (int r = 0; r < kRows; ++r) {
      float* yr = y + r * ldy;
      for (int c = 0; c < cols; ++c) yr[c] = accumulate ? yr[c] + tile[r][c] : tile[r][c];
    }
  }
}

NEEDLE_TARGET_AVX2 inline void micro_kernel_rows(int rows, const float* x, size_t ldx, const float* strip,
                                                 int kc, float* y, size_t ldy, int cols, bool accumulate) {
  switch (rows) {
    case 6: micro_kernel<6>(x, ldx, strip, kc, y, ldy, cols, accumulate); break;
    case 5: micro_kernel<5>(x, ldx, strip, kc, y, ldy, cols, accumulate); break;
    case 4: micro_kernel<4>(x, ldx, strip, kc, y, ldy, cols, accumulate); break;
    case 3: micro_kernel<3>(x, ldx, strip, kc, y, ldy, cols, accumulate); break;
    case 2: micro_kernel<2>(x, ldx, strip, kc, y, ldy, cols, accumulate); break;
    default: micro_kernel<1>(x, ldx, strip, kc, y, ldy, cols, accumulate); break;
  }
}

// The scratch panel: per thread, so concurrent calls from different threads stay safe.
inline float* panel_buffer() {
  alignas(64) static thread_local float panel[kKC * kNC];
  return panel;
}

// Y = X W for a [in, out] matrix whose panels `pack(k0, kc, j0, nc, panel)` produces.
template <class Pack>
NEEDLE_TARGET_AVX2 inline void matmul_panels(int in, int out, const float* x, int n, float* y, const Pack& pack) {
  if (in == 0) {
    for (size_t e = 0; e < static_cast<size_t>(n) * out; ++e) y[e] = 0.0f;
    return;
  }
  float* panel = panel_buffer();
  for (int j0 = 0; j0 < out; j0 += kNC) {
    const int nc = out - j0 < kNC ? out - j0 : kNC;
    for (int k0 = 0; k0 < in; k0 += kKC) {
      const int kc = in - k0 < kKC ? in - k0 : kKC;
      pack(k0, kc, j0, nc, panel);
      // Token blocks of kMC: the strip (kc x 16 floats) stays in L1 while the block's
      // micro-rows stream through it from L2.
      for (int m0 = 0; m0 < n; m0 += kMC) {
        const int mc = n - m0 < kMC ? n - m0 : kMC;
        for (int s = 0; s * kNR < nc; ++s) {
          const int cols = nc - s * kNR < kNR ? nc - s * kNR : kNR;
          const float* strip = panel + static_cast<size_t>(s) * kc * kNR;
          for (int t0 = m0; t0 < m0 + mc; t0 += kMR) {
            const int rows = m0 + mc - t0 < kMR ? m0 + mc - t0 : kMR;
            micro_kernel_rows(rows, x + static_cast<size_t>(t0) * in + k0, static_cast<size_t>(in), strip, kc,
                              y + static_cast<size_t>(t0) * out + j0 + s * kNR, static_cast<size_t>(out), cols,
                              k0 > 0);
          }
        }
      }
    }
  }
}

}  // namespace avx2_detail

// y[o] = sum_{i<in} x[i] * W[i][o]; y (out floats) is overwritten.
NEEDLE_TARGET_AVX2 inline void int4_matvec_avx2(const Int4Matrix& w, const float* x, float* y) {
  using namespace avx2_detail;
  const size_t out = static_cast<size_t>(w.out);
  for (int o = 0; o < w.out; ++o) y[o] = 0.0f;
  const int wide_end = w.out / 64 * 64;
  const int narrow_end = w.out / 8 * 8;
  // Group-major: the matrix is read once, front to back; y (out floats) stays in L1.
  for (int g = 0; g * kInt4GroupRows < w.in; ++g) {
    const int r0 = g * kInt4GroupRows;
    const int rows = w.in - r0 < kInt4GroupRows ? w.in - r0 : kInt4GroupRows;
    const std::uint8_t* bytes = w.packed + static_cast<size_t>(r0 / 2) * out;
    const float* scale = w.scales + static_cast<size_t>(g) * out;
    const float* xg = x + r0;
    int o = 0;
    for (; o < wide_end; o += 64) int4_matvec_group<8>(bytes + o, out, xg, rows, scale + o, y + o);
    for (; o < narrow_end; o += 8) int4_matvec_group<1>(bytes + o, out, xg, rows, scale + o, y + o);
    if (o < w.out) int4_matvec_group_scalar(w, g, rows, xg, o, y);
  }
}

// Y[t][o] = sum_i X[t][i] * W[i][o] for t < n.
NEEDLE_TARGET_AVX2 inline void int4_matmul_avx2(const Int4Matrix& w, const float* x, int n, float* y) {
  using namespace avx2_detail;
  if (n < kMatmulMinTokens) {
    for (int t = 0; t < n; ++t) {
      int4_matvec_avx2(w, x + static_cast<size_t>(t) * w.in, y + static_cast<size_t>(t) * w.out);
    }
    return;
  }
  matmul_panels(w.in, w.out, x, n, y, Int4Packer{w});
}

// Dense F32 [in, out] row-major.
NEEDLE_TARGET_AVX2 inline void f32_matvec_avx2(const float* w, int in, int out, const float* x, float* y) {
  const std::size_t ld = static_cast<std::size_t>(out);
  int o = 0;
  // 64 columns at a time: 8 independent accumulators hide the FMA latency.
  for (; o + 64 <= out; o += 64) {
    __m256 acc[8];
    NEEDLE_UNROLL for (int b = 0; b < 8; ++b) acc[b] = _mm256_setzero_ps();
    for (int i = 0; i < in; ++i) {
      const __m256 xi = _mm256_broadcast_ss(x + i);
      const float* row = w + i * ld + o;
      NEEDLE_UNROLL for (int b = 0; b < 8; ++b) acc[b] = _mm256_fmadd_ps(_mm256_loadu_ps(row + 8 * b), xi, acc[b]);
    }
    NEEDLE_UNROLL for (int b = 0; b < 8; ++b) _mm256_storeu_ps(y + o + 8 * b, acc[b]);
  }
  for (; o + 8 <= out; o += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < in; ++i) acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + i * ld + o), _mm256_broadcast_ss(x + i), acc);
    _mm256_storeu_ps(y + o, acc);
  }
  for (; o < out; ++o) {
    float acc = 0.0f;
    for (int i = 0; i < in; ++i) acc += x[i] * w[i * ld + o];
    y[o] = acc;
  }
}

NEEDLE_TARGET_AVX2 inline void f32_matmul_avx2(const float* w, int in, int out, const float* x, int n, float* y) {
  using namespace avx2_detail;
  if (n < kMatmulMinTokens) {
    for (int t = 0; t < n; ++t) {
      f32_matvec_avx2(w, in, out, x + static_cast<size_t>(t) * in, y + static_cast<size_t>(t) * out);
    }
    return;
  }
  matmul_panels(in, out, x, n, y, F32Packer{F32Dense{w, in, out}});
}

// out[r] = dot(rows[r, :], h) over F32 or BF16 rows (Row loads 8 elements widened to F32,
// exactly). Four rows at a time share each load of h; two accumulators per row keep 8 FMA
// chains in flight. Memory-bound on a large embedding.
namespace avx2_detail {
struct F32Row {
  using T = float;
  NEEDLE_TARGET_AVX2 static __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
  static float at(const float* p, int k) { return p[k]; }
};
struct Bf16Row {
  using T = std::uint16_t;
  NEEDLE_TARGET_AVX2 static __m256 load8(const std::uint16_t* p) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(raw), 16));
  }
  static float at(const std::uint16_t* p, int k) { return bf16_to_f32(p[k]); }
};

template <class Row>
NEEDLE_TARGET_AVX2 inline void rows_dot(const typename Row::T* rows, int n_rows, int d, const float* h, float* out) {
  const std::size_t ld = static_cast<std::size_t>(d);
  const int d16 = d / 16 * 16;
  const int d8 = d / 8 * 8;
  int r = 0;
  for (; r + 4 <= n_rows; r += 4) {
    const typename Row::T* p[4] = {rows + r * ld, rows + (r + 1) * ld, rows + (r + 2) * ld, rows + (r + 3) * ld};
    __m256 a[4][2];
    NEEDLE_UNROLL for (int q = 0; q < 4; ++q) a[q][0] = a[q][1] = _mm256_setzero_ps();
    int k = 0;
    for (; k < d16; k += 16) {
      const __m256 h0 = _mm256_loadu_ps(h + k);
      const __m256 h1 = _mm256_loadu_ps(h + k + 8);
      NEEDLE_UNROLL for (int q = 0; q < 4; ++q) {
        a[q][0] = _mm256_fmadd_ps(Row::load8(p[q] + k), h0, a[q][0]);
        a[q][1] = _mm256_fmadd_ps(Row::load8(p[q] + k + 8), h1, a[q][1]);
      }
    }
    if (k < d8) {
      const __m256 h0 = _mm256_loadu_ps(h + k);
      NEEDLE_UNROLL for (int q = 0; q < 4; ++q) a[q][0] = _mm256_fmadd_ps(Row::load8(p[q] + k), h0, a[q][0]);
      k += 8;
    }
    // Transpose-and-add the four row sums into one register.
    const __m256 s01 = _mm256_hadd_ps(_mm256_add_ps(a[0][0], a[0][1]), _mm256_add_ps(a[1][0], a[1][1]));
    const __m256 s23 = _mm256_hadd_ps(_mm256_add_ps(a[2][0], a[2][1]), _mm256_add_ps(a[3][0], a[3][1]));
    const __m256 s = _mm256_hadd_ps(s01, s23);
    __m128 sums = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    alignas(16) float four[4];
    _mm_store_ps(four, sums);
    NEEDLE_UNROLL for (int q = 0; q < 4; ++q) {
      float acc = four[q];
      for (int kk = k; kk < d; ++kk) acc += Row::at(p[q], kk) * h[kk];
      out[r + q] = acc;
    }
  }
  for (; r < n_rows; ++r) {
    const typename Row::T* p = rows + r * ld;
    __m256 a = _mm256_setzero_ps();
    int k = 0;
    for (; k < d8; k += 8) a = _mm256_fmadd_ps(Row::load8(p + k), _mm256_loadu_ps(h + k), a);
    float acc = hsum(a);
    for (; k < d; ++k) acc += Row::at(p, k) * h[k];
    out[r] = acc;
  }
}
}  // namespace avx2_detail

NEEDLE_TARGET_AVX2 inline void f32_rows_dot_avx2(const float* rows, int n_rows, int d, const float* h, float* out) {
  avx2_detail::rows_dot<avx2_detail::F32Row>(rows, n_rows, d, h, out);
}

// f32_rows_dot over BF16 rows (an embedding stored in BF16): exact widening, half the bytes.
NEEDLE_TARGET_AVX2 inline void bf16_rows_dot_avx2(const std::uint16_t* rows, int n_rows, int d, const float* h,
                                                  float* out) {
  avx2_detail::rows_dot<avx2_detail::Bf16Row>(rows, n_rows, d, h, out);
}


}  // namespace needle::kernels

#endif  // x86
