// INT4 and F32 matrix kernels, scalar reference: THE specification.
//
// Every SIMD kernel (int4_avx2.hpp, int4_simd128.hpp) must compute what these plain loops
// compute, up to fp32 rounding (they may sum in a different order). Keep these obvious:
// they are what the tests compare against, and the fallback on machines without SIMD.
//
// Quantised layout (NEEDLE.md section 9). W is [in, out], y[o] = sum_i x[i] * W[i][o].
//   packed: bytes [in_pad/2][out]. Byte packed[pair*out + o] holds row 2*pair in its LOW
//           nibble and row 2*pair+1 in its HIGH nibble, each signed 4-bit two's complement
//           (-8..7).
//   scales: F32 [in_pad/32][out], one scale per 32 input rows per output column.
//   W[i][o] = q(i, o) * scales[(i/32)*out + o].
// Padding rows: in_pad is a multiple of 32 and >= in. Rows i >= in contribute NOTHING,
// whatever their nibbles and scales hold (the file may store garbage there, even NaN
// scales in a group that is entirely padding): x has only `in` elements, and no kernel
// reads x[i], W[i][*] or a fully-padded group's scale for i >= in.
#pragma once

#include <cstddef>
#include <cstdint>

namespace needle::kernels {

// A borrowed view of one quantised matrix; the bytes belong to the loaded weights file.
// Preconditions (checked by the weights loader, not here): 0 <= in <= in_pad,
// in_pad % 32 == 0, out >= 0, packed has in_pad/2*out bytes, scales has in_pad/32*out floats.
struct Int4Matrix {
  const std::uint8_t* packed;  // [in_pad/2][out]
  const float* scales;         // [in_pad/32][out], 4-byte aligned
  int in, in_pad, out;
};

inline constexpr int kInt4GroupRows = 32;  // input rows sharing one scale

// Signed value of the low / high nibble of a packed byte: 0x8F -> low -1, high -8.
constexpr int int4_low(std::uint8_t byte) {
  const int u = byte & 0x0F;
  return u >= 8 ? u - 16 : u;
}
constexpr int int4_high(std::uint8_t byte) { return int4_low(static_cast<std::uint8_t>(byte >> 4)); }

static_assert(int4_low(0x8F) == -1 && int4_high(0x8F) == -8);
static_assert(int4_low(0x70) == 0 && int4_high(0x70) == 7);

// The quantised integer of W[i][o] (i < in_pad).
inline int int4_quant(const Int4Matrix& w, int i, int o) {
  const std::uint8_t byte = w.packed[static_cast<std::size_t>(i / 2) * w.out + o];
  return (i & 1) ? int4_high(byte) : int4_low(byte);
}

// The dequantised weight W[i][o] = float(q) * scale, rounded once to fp32 like the reference
// model's dequantisation.
inline float int4_weight(const Int4Matrix& w, int i, int o) {
  const float scale = w.scales[static_cast<std::size_t>(i / kInt4GroupRows) * w.out + o];
  return static_cast<float>(int4_quant(w, i, o)) * scale;
}

// y[o] = sum_{i<in} x[i] * W[i][o]; y (out floats) is overwritten. Rows are walked in the
// outer loop so the reference is cache-friendly enough to run at the test sizes; each y[o]
// still accumulates in order of i, in fp32.
inline void int4_matvec_ref(const Int4Matrix& w, const float* x, float* y) {
  for (int o = 0; o < w.out; ++o) y[o] = 0.0f;
  for (int i = 0; i < w.in; ++i) {
    for (int o = 0; o < w.out; ++o) y[o] += x[i] * int4_weight(w, i, o);
  }
}

// Y[t][o] = sum_i X[t][i] * W[i][o] for t < n; X rows of `in` floats, Y rows of `out` floats.
inline void int4_matmul_ref(const Int4Matrix& w, const float* x, int n, float* y) {
  for (int t = 0; t < n; ++t) {
    int4_matvec_ref(w, x + static_cast<std::size_t>(t) * w.in, y + static_cast<std::size_t>(t) * w.out);
  }
}

// Dense F32 W [in, out] row-major: y[o] = sum_i x[i] * w[i*out + o].
inline void f32_matvec_ref(const float* w, int in, int out, const float* x, float* y) {
  for (int o = 0; o < out; ++o) y[o] = 0.0f;
  for (int i = 0; i < in; ++i) {
    const float* row = w + static_cast<std::size_t>(i) * out;
    for (int o = 0; o < out; ++o) y[o] += x[i] * row[o];
  }
}

inline void f32_matmul_ref(const float* w, int in, int out, const float* x, int n, float* y) {
  for (int t = 0; t < n; ++t) {
    f32_matvec_ref(w, in, out, x + static_cast<std::size_t>(t) * in, y + static_cast<std::size_t>(t) * out);
  }
}

// Tied logits: out[r] = dot(rows[r, :], h) for r < n_rows; rows is [n_rows, d] row-major.
inline void f32_rows_dot_ref(const float* rows, int n_rows, int d, const float* h, float* out) {
  for (int r = 0; r < n_rows; ++r) {
    const float* row = rows + static_cast<std::size_t>(r) * d;
    float acc = 0.0f;
    for (int k = 0; k < d; ++k) acc += row[k] * h[k];
    out[r] = acc;
  }
}

// A BF16 value (the upper 16 bits of an F32) as F32: exact.
inline float bf16_to_f32(std::uint16_t b) {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

// f32_rows_dot over BF16 rows (the published files store the embedding in BF16): the same
// sums with every row element widened exactly, and half the memory traffic.
inline void bf16_rows_dot_ref(const std::uint16_t* rows, int n_rows, int d, const float* h, float* out) {
  for (int r = 0; r < n_rows; ++r) {
    const std::uint16_t* row = rows + static_cast<std::size_t>(r) * d;
    float acc = 0.0f;
    for (int k = 0; k < d; ++k) acc += bf16_to_f32(row[k]) * h[k];
    out[r] = acc;
  }
}

}  // namespace needle::kernels
