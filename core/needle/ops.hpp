// Small numeric building blocks of the forward pass (NEEDLE.md section 4). Matrix products go
// through kernels/int4.hpp only; what is here is O(d) or O(T) per row.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "int4.hpp"
#include "needle/weights.hpp"

namespace needle::ops {

// y = x W for n rows of x (n == 1 takes the matvec path).
inline void project(const Matrix& m, const float* x, int n, float* y) {
  if (m.quantized()) {
    if (n == 1) kernels::int4_matvec(m.q4, x, y);
    else kernels::int4_matmul(m.q4, x, n, y);
  } else {
    if (n == 1) kernels::f32_matvec(m.f32, m.in, m.out, x, y);
    else kernels::f32_matmul(m.f32, m.in, m.out, x, n, y);
  }
}

// Zero-centred RMSNorm of one row: y = (1 + g) * x / sqrt(mean(x^2) + 1e-6).
// `one_plus_g` already holds 1 + g. The sum is in double: n is small and this keeps us close
// to the reference's exact value whatever its reduction order.
inline void rms_norm(const float* x, const float* one_plus_g, int n, float* y) {
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / n + 1e-6));
  for (int i = 0; i < n; ++i) y[i] = one_plus_g[i] * (x[i] * inv);
}

inline void rms_norm_rows(const float* x, const float* one_plus_g, int rows, int n, float* y) {
  for (int r = 0; r < rows; ++r) rms_norm(x + std::size_t(r) * n, one_plus_g, n, y + std::size_t(r) * n);
}

// cos/sin of position * theta^(-2i/head_dim), computed the way the fp32 reference does
// (fp32 frequencies and angles), for positions [0, max_pos).
struct RopeTable {
  int half = 0;
  std::vector<float> cos, sin;  // [max_pos][half]

  void build(int head_dim, float theta, int max_pos) {
    half = head_dim / 2;
    cos.assign(std::size_t(max_pos) * half, 0.f);
    sin.assign(std::size_t(max_pos) * half, 0.f);
    for (int i = 0; i < half; ++i) {
      const float inv_freq = static_cast<float>(
          1.0 / std::pow(static_cast<double>(theta), (2.0 * i) / head_dim));
      for (int t = 0; t < max_pos; ++t) {
        const float angle = static_cast<float>(t) * inv_freq;
        cos[std::size_t(t) * half + i] = static_cast<float>(std::cos(static_cast<double>(angle)));
        sin[std::size_t(t) * half + i] = static_cast<float>(std::sin(static_cast<double>(angle)));
      }
    }
  }

  // Half-split rotation of one head vector in place: [x1 c - x2 s, x2 c + x1 s].
  void apply(float* x, int pos) const {
    const float* c = cos.data() + std::size_t(pos) * half;
    const float* s = sin.data() + std::size_t(pos) * half;
    for (int i = 0; i < half; ++i) {
      const float x1 = x[i], x2 = x[i + half];
      x[i] = x1 * c[i] - x2 * s[i];
      x[i + half] = x2 * c[i] + x1 * s[i];
    }
  }
};

// In-place softmax over n >= 1 scores (kernels/softmax_ref.hpp is the specification).
inline void softmax(float* s, int n) { kernels::softmax(s, n); }

// One query head against `len` cached keys/values of its kv head, stored head-major
// (rows of head_dim floats). `scores` has room for len floats.
// `q` must already be scaled by 1/sqrt(head_dim) (see attention_scale).
inline void attend(const float* q, const float* keys, const float* values, int len, int head_dim,
                   float* scores, float* out) {
  kernels::f32_rows_dot(keys, len, head_dim, q, scores);
  softmax(scores, len);
  // out[j] = sum_s p[s] v[s][j]: the values are a [len, head_dim] matrix.
  kernels::f32_matvec(values, len, head_dim, scores, out);
}

// All T queries of one head against T keys/values at once (the encoder): `keys_t` is the
// kv head's keys transposed, [head_dim][T]; `values` is [T][head_dim]; `q` is [T][head_dim]
// contiguous and already scaled; `scores` has room for T*T floats; `out` gets [T][head_dim].
inline void attend_all(const float* q, const float* keys_t, const float* values, int T,
                       int head_dim, float* scores, float* out) {
  kernels::f32_matmul(keys_t, head_dim, T, q, T, scores);
  for (int t = 0; t < T; ++t) softmax(scores + std::size_t(t) * T, T);
  kernels::f32_matmul(values, T, head_dim, scores, T, out);
}

// scores = (q . k) / sqrt(head_dim), applied to q once instead of to every score.
inline void scale_query(float* q, int head_dim) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (int j = 0; j < head_dim; ++j) q[j] *= scale;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace needle::ops
