// INT4 and F32 matrix kernels for WebAssembly SIMD128 (compile with -msimd128).
//
// Same results as int4_ref.hpp up to fp32 rounding (sums run in a different order). Plain
// SIMD128 has no fused multiply-add (relaxed SIMD is not usable with this toolchain), so
// every product is a mul then an add; both round, as in the scalar reference.
//
// Decoding: see accumulate_16_columns (matvec: q * 2^28 from 32-bit shifts and a mask, the
// group's sum multiplied by 2^-28 * scale; exact power-of-two scalings, so the rounding is
// that of x * q) and pack_int4_panel (matmul: float(q) * scale, as the reference
// dequantises, into a float panel reused by many tokens). Widening bytes with extend_{low,high} and converting is avoided on purpose:
// LLVM 14 scalarises sitofp of a widened high half into four extract/convert/replace steps.
#pragma once

#include <wasm_simd128.h>

#include <cstddef>
#include <cstdint>

#include "int4_ref.hpp"

// Short constant loops over registers must be fully unrolled, or the accumulator arrays
// live in linear memory instead of wasm locals.
#define NEEDLE_SIMD128_UNROLL _Pragma("unroll")
#define NEEDLE_SIMD128_INLINE inline __attribute__((always_inline))

namespace needle::kernels {

namespace simd128_detail {  // private helpers

using std::size_t;

// Matmul blocking (see int4_avx2.hpp for the scheme): an MR x NR tile of Y in 8 v128
// registers, a KC x NR float strip in L1, a KC x NC panel in L2, kMC tokens per sweep.
// V8 maps v128 locals onto 16 xmm registers: a 6 x 8 tile (12 accumulators plus operands
// and the mul's temporary) spilled and ran at 14 GMAC/s in Node 20; 4 x 8 runs at 24.
inline constexpr int kMR = 4;
inline constexpr int kNR = 8;
inline constexpr int kKC = 256;
inline constexpr int kNC = 128;
inline constexpr int kMC = 96;
static_assert(kKC % kInt4GroupRows == 0 && kNC % kNR == 0 && kMC % kMR == 0);

inline constexpr float kNibbleUnscale = 1.0f / 268435456.0f;  // 2^-28

// Below this many tokens, dequantising a panel costs more than it saves: loop matvecs.
inline constexpr int kMatmulMinTokens = 4;  // measured: 512x512, n = 3 vs 4

inline v128_t fmadd(v128_t a, v128_t b, v128_t acc) { return wasm_f32x4_add(wasm_f32x4_mul(a, b), acc); }

inline float hsum(v128_t v) {
  const v128_t s = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  return wasm_f32x4_extract_lane(wasm_f32x4_add(s, wasm_i32x4_shuffle(s, s, 1, 0, 3, 2)), 0);
}

// [sum a0, sum a1, sum a2, sum a3].
inline v128_t hsum4(v128_t a0, v128_t a1, v128_t a2, v128_t a3) {
  const v128_t s01 = wasm_f32x4_add(wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7));
  const v128_t s23 = wasm_f32x4_add(wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5), wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7));
  return wasm_f32x4_add(wasm_i32x4_shuffle(s01, s23, 0, 1, 4, 5), wasm_i32x4_shuffle(s01, s23, 2, 3, 6, 7));
}

// ---- int4 matvec --------------------------------------------------------------------------

// 16 packed bytes read as four int32 lanes: lane j holds columns 4j..4j+3, byte m of the
// lane being column 4j+m. Shifting byte m's nibble to the top 4 bits and masking the rest
// gives q * 2^28 with its sign, without widening the bytes: the four "m" vectors hold the
// columns {m, 4+m, 8+m, 12+m}, put back in order once per scale group by a transpose.
template <int kShift>
inline v128_t nibble_x2p28(v128_t lanes) {
  const v128_t top = wasm_i32x4_splat(static_cast<std::int32_t>(0xF0000000u));
  if constexpr (kShift == 28) return wasm_i32x4_shl(lanes, 28);  // nothing below to mask
  else if constexpr (kShift == 0) return wasm_v128_and(lanes, top);
  else return wasm_v128_and(wasm_i32x4_shl(lanes, kShift), top);
}

// acc[m] += x_lo * q_lo(byte m) + x_hi * q_hi(byte m), all scaled by 2^28.
NEEDLE_SIMD128_INLINE void accumulate_16_columns(v128_t lanes, v128_t x_lo, v128_t x_hi, v128_t* acc) {
  acc[0] = fmadd(wasm_f32x4_convert_i32x4(nibble_x2p28<28>(lanes)), x_lo, acc[0]);
  acc[1] = fmadd(wasm_f32x4_convert_i32x4(nibble_x2p28<20>(lanes)), x_lo, acc[1]);
  acc[2] = fmadd(wasm_f32x4_convert_i32x4(nibble_x2p28<12>(lanes)), x_lo, acc[2]);
  acc[3] = fmadd(wasm_f32x4_convert_i32x4(nibble_x2p28<4>(lanes)), x_lo, acc[3]);
  acc[0] = fmadd(wasm_f32x4_convert_i32x4(nibble_x2p28<24>(lanes)), x_hi, acc[0]);
  acc[1] = fmadd(wasm_f32x4_convert_i32x4(nibble_x2p28<16>(lanes)), x_hi, acc[1]);
  acc[2] = fmadd(wasm_f32x4_convert_i32x4(nibble_x2p28<8>(lanes)), x_hi, acc[2]);
  acc[3] = fmadd(wasm_f32x4_convert_i32x4(nibble_x2p28<0>(lanes)), x_hi, acc[3]);
}
NEEDLE_SIMD128_INLINE void accumulate_16_columns_low(v128_t lanes, v128_t x_lo, v128_t* acc) {
  acc[0] = fmadd(wasm_f32x4_convert_i32x4(nibble_x2p28<28>(lanes)), x_lo, acc[0]);
  acc[1] = fmadd(wasm_f32x4_convert_i32x4(nibble_x2p28<20>(lanes)), x_lo, acc[1]);
  acc[2] = fmadd(wasm_f32x4_convert_i32x4(nibble_x2p28<12>(lanes)), x_lo, acc[2]);
  acc[3] = fmadd(wasm_f32x4_convert_i32x4(nibble_x2p28<4>(lanes)), x_lo, acc[3]);
}

// y[c] += 2^-28 * scale[c] * column sum, for the 16 columns whose sums sit in acc[0..3]
// in the "byte m" order above.
NEEDLE_SIMD128_INLINE void finish_16_columns(const v128_t* acc, const float* scale, float* y) {
  const v128_t t0 = wasm_i32x4_shuffle(acc[0], acc[1], 0, 4, 1, 5);  // c0 c1 c4 c5
  const v128_t t1 = wasm_i32x4_shuffle(acc[0], acc[1], 2, 6, 3, 7);  // c8 c9 c12 c13
  const v128_t t2 = wasm_i32x4_shuffle(acc[2], acc[3], 0, 4, 1, 5);  // c2 c3 c6 c7
  const v128_t t3 = wasm_i32x4_shuffle(acc[2], acc[3], 2, 6, 3, 7);  // c10 c11 c14 c15
  const v128_t cols[4] = {
      wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5), wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7),
      wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5), wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7)};
  const v128_t unscale = wasm_f32x4_splat(kNibbleUnscale);
  NEEDLE_SIMD128_UNROLL for (int q = 0; q < 4; ++q) {
    const v128_t s = wasm_f32x4_mul(wasm_v128_load(scale + 4 * q), unscale);
    wasm_v128_store(y + 4 * q, fmadd(cols[q], s, wasm_v128_load(y + 4 * q)));
  }
}

// One scale group (rows_in_group <= 32 rows from an even row) for 16*kBlocks columns:
// y[c] += scale[c] * sum_r xg[r] * q[r][c]. `bytes` points at the group's first pair.
template <int kBlocks>
NEEDLE_SIMD128_INLINE void int4_matvec_group(const std::uint8_t* bytes, size_t out, const float* xg,
                                             int rows_in_group, const float* scale, float* y) {
  v128_t acc[kBlocks][4];
  NEEDLE_SIMD128_UNROLL for (int b = 0; b < kBlocks; ++b) {
    NEEDLE_SIMD128_UNROLL for (int m = 0; m < 4; ++m) acc[b][m] = wasm_f32x4_splat(0.0f);
  }
  const int full_pairs = rows_in_group / 2;
  for (int p = 0; p < full_pairs; ++p) {
    const v128_t x_lo = wasm_f32x4_splat(xg[2 * p]);
    const v128_t x_hi = wasm_f32x4_splat(xg[2 * p + 1]);
    const std::uint8_t* row = bytes + p * out;
    NEEDLE_SIMD128_UNROLL for (int b = 0; b < kBlocks; ++b) {
      accumulate_16_columns(wasm_v128_load(row + 16 * b), x_lo, x_hi, acc[b]);
    }
  }
  if (rows_in_group & 1) {  // the last row is a low nibble; its high nibble is padding
    const v128_t x_lo = wasm_f32x4_splat(xg[2 * full_pairs]);
    const std::uint8_t* row = bytes + full_pairs * out;
    NEEDLE_SIMD128_UNROLL for (int b = 0; b < kBlocks; ++b) {
      accumulate_16_columns_low(wasm_v128_load(row + 16 * b), x_lo, acc[b]);
    }
  }
  NEEDLE_SIMD128_UNROLL for (int b = 0; b < kBlocks; ++b) finish_16_columns(acc[b], scale + 16 * b, y + 16 * b);
}

// Scalar columns [o_begin, out) of one group, same arithmetic as the vector path.
inline void int4_matvec_group_scalar(const Int4Matrix& w, int g, int rows_in_group, const float* xg, int o_begin,
                                     float* y) {
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

// ---- matmul driver ------------------------------------------------------------------------

// Panel layout: strips of kNR columns, each kc rows of kNR floats, columns >= out zero.
inline void pack_int4_panel(const Int4Matrix& w, int k0, int kc, int j0, int nc, float* panel) {
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
        // Byte c fills int32 lane c % 4 of b0 (c < 4) or b1 (c >= 4); arithmetic shifts then
        // take exact signed nibbles from the lane's top byte.
        const v128_t v = wasm_v128_load64_zero(bytes);
        const v128_t b0 = wasm_i8x16_shuffle(v, v, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
        const v128_t b1 = wasm_i8x16_shuffle(v, v, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
        const v128_t s0 = wasm_v128_load(scale), s1 = wasm_v128_load(scale + 4);
        wasm_v128_store(lo, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_shr(wasm_i32x4_shl(b0, 4), 28)), s0));
        wasm_v128_store(lo + 4, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_shr(wasm_i32x4_shl(b1, 4), 28)), s1));
        if (has_hi) {
          wasm_v128_store(hi, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_shr(b0, 28)), s0));
          wasm_v128_store(hi + 4, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_shr(b1, 28)), s1));
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

inline void pack_f32_panel(const float* w, int out, int k0, int kc, int j0, int nc, float* panel) {
  for (int s = 0; s * kNR < nc; ++s) {
    const int j = j0 + s * kNR;
    const int cols = nc - s * kNR < kNR ? nc - s * kNR : kNR;
    float* strip = panel + static_cast<size_t>(s) * kc * kNR;
    for (int k = 0; k < kc; ++k) {
      const float* src = w + static_cast<size_t>(k0 + k) * out + j;
      float* dst = strip + static_cast<size_t>(k) * kNR;
      if (cols == kNR) {
        wasm_v128_store(dst, wasm_v128_load(src));
        wasm_v128_store(dst + 4, wasm_v128_load(src + 4));
      } else {
        for (int c = 0; c < kNR; ++c) dst[c] = c < cols ? src[c] : 0.0f;
      }
    }
  }
}

struct Int4Packer {
  const Int4Matrix& w;
  void operator()(int k0, int kc, int j0, int nc, float* panel) const { pack_int4_panel(w, k0, kc, j0, nc, panel); }
};
struct F32Packer {
  const float* w;
  int out;
  void operator()(int k0, int kc, int j0, int nc, float* panel) const {
    pack_f32_panel(w, out, k0, kc, j0, nc, panel);
  }
};

// Y[r][c] (+)= sum_k X[r][k] * strip[k][c] for r < kRows, c < cols (<= kNR).
// Not inlined: V8 allocates registers per function, and the same loop inlined into two
// callers ran at 24 GMAC/s in one and 12 in the other.
template <int kRows>
__attribute__((noinline)) void micro_kernel(const float* x, size_t ldx, const float* strip, int kc, float* y,
                                            size_t ldy, int cols, bool accumulate) {
  v128_t acc[kRows][2];
  NEEDLE_SIMD128_UNROLL for (int r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = wasm_f32x4_splat(0.0f);
  for (int k = 0; k < kc; ++k) {
    const v128_t b0 = wasm_v128_load(strip + k * kNR);
    const v128_t b1 = wasm_v128_load(strip + k * kNR + 4);
    NEEDLE_SIMD128_UNROLL for (int r = 0; r < kRows; ++r) {
      const v128_t a = wasm_v128_load32_splat(x + r * ldx + k);
      acc[r][0] = fmadd(a, b0, acc[r][0]);
      acc[r][1] = fmadd(a, b1, acc[r][1]);
    }
  }
  if (cols == kNR) {
    NEEDLE_SIMD128_UNROLL for (int r = 0; r < kRows; ++r) {
      float* yr = y + r * ldy;
      if (accumulate) {
        acc[r][0] = wasm_f32x4_add(acc[r][0], wasm_v128_load(yr));
        acc[r][1] = wasm_f32x4_add(acc[r][1], wasm_v128_load(yr + 4));
      }
      wasm_v128_store(yr, acc[r][0]);
      wasm_v128_store(yr + 4, acc[r][1]);
    }
  } else {
    alignas(16) float tile[kRows][kNR];
    NEEDLE_SIMD128_UNROLL for (int r = 0; r < kRows; ++r) {
      wasm_v128_store(tile[r], acc[r][0]);
      wasm_v128_store(tile[r] + 4, acc[r][1]);
    }
    NEEDLE_SIMD128_UNROLL for (int r = 0; r < kRows; ++r) {
      float* yr = y + r * ldy;
      for (int c = 0; c < cols; ++c) yr[c] = accumulate ? yr[c] + tile[r][c] : tile[r][c];
    }
  }
}

inline void micro_kernel_rows(int rows, const float* x, size_t ldx, const float* strip, int kc, float* y, size_t ldy,
                              int cols, bool accumulate) {
  static_assert(kMR == 4);
  switch (rows) {
    case 4: micro_kernel<4>(x, ldx, strip, kc, y, ldy, cols, accumulate); break;
    case 3: micro_kernel<3>(x, ldx, strip, kc, y, ldy, cols, accumulate); break;
    case 2: micro_kernel<2>(x, ldx, strip, kc, y, ldy, cols, accumulate); break;
    default: micro_kernel<1>(x, ldx, strip, kc, y, ldy, cols, accumulate); break;
  }
}

inline float* panel_buffer() {
  alignas(16) static thread_local float panel[kKC * kNC];
  return panel;
}

template <class Pack>
inline void matmul_panels(int in, int out, const float* x, int n, float* y, const Pack& pack) {
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

}  // namespace simd128_detail

// y[o] = sum_{i<in} x[i] * W[i][o]; y (out floats) is overwritten.
inline void int4_matvec_simd128(const Int4Matrix& w, const float* x, float* y) {
  using namespace simd128_detail;
  const size_t out = static_cast<size_t>(w.out);
  for (int o = 0; o < w.out; ++o) y[o] = 0.0f;
  const int wide_end = w.out / 32 * 32;
  const int narrow_end = w.out / 16 * 16;
  for (int g = 0; g * kInt4GroupRows < w.in; ++g) {
    const int r0 = g * kInt4GroupRows;
    const int rows = w.in - r0 < kInt4GroupRows ? w.in - r0 : kInt4GroupRows;
    const std::uint8_t* bytes = w.packed + static_cast<size_t>(r0 / 2) * out;
    const float* scale = w.scales + static_cast<size_t>(g) * out;
    const float* xg = x + r0;
    int o = 0;
    for (; o < wide_end; o += 32) int4_matvec_group<2>(bytes + o, out, xg, rows, scale + o, y + o);
    for (; o < narrow_end; o += 16) int4_matvec_group<1>(bytes + o, out, xg, rows, scale + o, y + o);
    if (o < w.out) int4_matvec_group_scalar(w, g, rows, xg, o, y);
  }
}

// Y[t][o] = sum_i X[t][i] * W[i][o] for t < n.
inline void int4_matmul_simd128(const Int4Matrix& w, const float* x, int n, float* y) {
  using namespace simd128_detail;
  if (n < kMatmulMinTokens) {
    for (int t = 0; t < n; ++t) {
      int4_matvec_simd128(w, x + static_cast<size_t>(t) * w.in, y + static_cast<size_t>(t) * w.out);
    }
    return;
  }
  matmul_panels(w.in, w.out, x, n, y, Int4Packer{w});
}

// Dense F32 [in, out] row-major. Streams the rows four at a time with y kept in memory (L1):
// 1.5-2x faster in Node 20 than holding column blocks in registers, which V8 spills.
inline void f32_matvec_simd128(const float* w, int in, int out, const float* x, float* y) {
  using simd128_detail::fmadd;
  const size_t ld = static_cast<size_t>(out);
  const int out4 = out / 4 * 4;
  for (int o = 0; o < out; ++o) y[o] = 0.0f;
  int i = 0;
  for (; i + 4 <= in; i += 4) {
    const float* r0 = w + i * ld;
    const float* r1 = r0 + ld;
    const float* r2 = r1 + ld;
    const float* r3 = r2 + ld;
    const v128_t x0 = wasm_f32x4_splat(x[i]), x1 = wasm_f32x4_splat(x[i + 1]);
    const v128_t x2 = wasm_f32x4_splat(x[i + 2]), x3 = wasm_f32x4_splat(x[i + 3]);
    for (int o = 0; o < out4; o += 4) {
      v128_t acc = wasm_v128_load(y + o);
      acc = fmadd(wasm_v128_load(r0 + o), x0, acc);
      acc = fmadd(wasm_v128_load(r1 + o), x1, acc);
      acc = fmadd(wasm_v128_load(r2 + o), x2, acc);
      acc = fmadd(wasm_v128_load(r3 + o), x3, acc);
      wasm_v128_store(y + o, acc);
    }
    for (int o = out4; o < out; ++o) {
      y[o] = y[o] + r0[o] * x[i] + r1[o] * x[i + 1] + r2[o] * x[i + 2] + r3[o] * x[i + 3];
    }
  }
  for (; i < in; ++i) {
    const float* row = w + i * ld;
    const v128_t xi = wasm_f32x4_splat(x[i]);
    for (int o = 0; o < out4; o += 4) wasm_v128_store(y + o, fmadd(wasm_v128_load(row + o), xi, wasm_v128_load(y + o)));
    for (int o = out4; o < out; ++o) y[o] += row[o] * x[i];
  }
}

inline void f32_matmul_simd128(const float* w, int in, int out, const float* x, int n, float* y) {
  using namespace simd128_detail;
  if (n < kMatmulMinTokens) {
    for (int t = 0; t < n; ++t) {
      f32_matvec_simd128(w, in, out, x + static_cast<size_t>(t) * in, y + static_cast<size_t>(t) * out);
    }
    return;
  }
  matmul_panels(in, out, x, n, y, F32Packer{w, out});
}

// out[r] = dot(rows[r, :], h) over F32 or BF16 rows (Row loads 4 elements widened to F32,
// exactly): four rows share each load of h, one accumulator each. (Two per row made V8 spill
// accumulators to the stack: 20-40% slower in Node 20.)
namespace simd128_detail {
struct F32Row {
  using T = float;
  static v128_t load4(const float* p) { return wasm_v128_load(p); }
  static float at(const float* p, int k) { return p[k]; }
};
struct Bf16Row {
  using T = std::uint16_t;
  static v128_t load4(const std::uint16_t* p) {
    return wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(wasm_v128_load64_zero(p)), 16);
  }
  static float at(const std::uint16_t* p, int k) { return bf16_to_f32(p[k]); }
};

template <class Row>
inline void rows_dot(const typename Row::T* rows, int n_rows, int d, const float* h, float* out) {
  const size_t ld = static_cast<size_t>(d);
  const int d4 = d / 4 * 4;
  int r = 0;
  for (; r + 4 <= n_rows; r += 4) {
    const typename Row::T* p[4] = {rows + r * ld, rows + (r + 1) * ld, rows + (r + 2) * ld, rows + (r + 3) * ld};
    v128_t a[4];
    NEEDLE_SIMD128_UNROLL for (int q = 0; q < 4; ++q) a[q] = wasm_f32x4_splat(0.0f);
    for (int k = 0; k < d4; k += 4) {
      const v128_t hk = wasm_v128_load(h + k);
      NEEDLE_SIMD128_UNROLL for (int q = 0; q < 4; ++q) a[q] = fmadd(Row::load4(p[q] + k), hk, a[q]);
    }
    alignas(16) float four[4];
    wasm_v128_store(four, hsum4(a[0], a[1], a[2], a[3]));
    NEEDLE_SIMD128_UNROLL for (int q = 0; q < 4; ++q) {
      float acc = four[q];
      for (int k = d4; k < d; ++k) acc += Row::at(p[q], k) * h[k];
      out[r + q] = acc;
    }
  }
  for (; r < n_rows; ++r) {
    const typename Row::T* p = rows + r * ld;
    v128_t a = wasm_f32x4_splat(0.0f);
    for (int k = 0; k < d4; k += 4) a = fmadd(Row::load4(p + k), wasm_v128_load(h + k), a);
    float acc = hsum(a);
    for (int k = d4; k < d; ++k) acc += Row::at(p, k) * h[k];
    out[r] = acc;
  }
}
}  // namespace simd128_detail

inline void f32_rows_dot_simd128(const float* rows, int n_rows, int d, const float* h, float* out) {
  simd128_detail::rows_dot<simd128_detail::F32Row>(rows, n_rows, d, h, out);
}

// f32_rows_dot over BF16 rows (an embedding stored in BF16): exact widening, half the bytes.
// Eight BF16 values load as four int32 lanes holding (even, odd) pairs: a shift gives the even
// elements as floats, a mask the odd ones, with no widening. h is split into even and odd
// halves once per 8 columns, shared by four rows. Four rows, one accumulator each (see
// rows_dot).
inline void bf16_rows_dot_simd128(const std::uint16_t* rows, int n_rows, int d, const float* h, float* out) {
  using namespace simd128_detail;
  const size_t ld = static_cast<size_t>(d);
  const int d8 = d / 8 * 8;
  const v128_t high = wasm_i32x4_splat(static_cast<std::int32_t>(0xFFFF0000u));
  int r = 0;
  for (; r + 4 <= n_rows; r += 4) {
    const std::uint16_t* p[4] = {rows + r * ld, rows + (r + 1) * ld, rows + (r + 2) * ld, rows + (r + 3) * ld};
    v128_t a[4];
    NEEDLE_SIMD128_UNROLL for (int q = 0; q < 4; ++q) a[q] = wasm_f32x4_splat(0.0f);
    for (int k = 0; k < d8; k += 8) {
      const v128_t h0 = wasm_v128_load(h + k), h1 = wasm_v128_load(h + k + 4);
      const v128_t h_even = wasm_i32x4_shuffle(h0, h1, 0, 2, 4, 6);
      const v128_t h_odd = wasm_i32x4_shuffle(h0, h1, 1, 3, 5, 7);
      NEEDLE_SIMD128_UNROLL for (int q = 0; q < 4; ++q) {
        const v128_t pairs = wasm_v128_load(p[q] + k);
        a[q] = fmadd(wasm_i32x4_shl(pairs, 16), h_even, a[q]);
        a[q] = fmadd(wasm_v128_and(pairs, high), h_odd, a[q]);
      }
    }
    alignas(16) float four[4];
    wasm_v128_store(four, hsum4(a[0], a[1], a[2], a[3]));
    NEEDLE_SIMD128_UNROLL for (int q = 0; q < 4; ++q) {
      float acc = four[q];
      for (int k = d8; k < d; ++k) acc += bf16_to_f32(p[q][k]) * h[k];
      out[r + q] = acc;
    }
  }
  if (r < n_rows) rows_dot<Bf16Row>(rows + r * ld, n_rows - r, d, h, out + r);
}


}  // namespace needle::kernels
