// Softmax, scalar reference: THE specification of softmax_avx2.hpp and softmax_simd128.hpp.
//
// In place over n >= 1 floats: s[i] = exp(s[i] - max) / sum_j exp(s[j] - max). The exp is
// a polynomial in plain arithmetic (see exp_nonpositive_ref), not libm's expf, so every
// implementation computes the same function up to fp32 rounding and none pays for a call.
// Scores at or below max - 87 get the weight exp(-87) / sum (about 1.6e-38), not 0.
#pragma once

#include <algorithm>
#include <cstdint>

namespace needle::kernels {

// The constants every implementation shares.
namespace softmax_consts {
inline constexpr float kExpFloor = -87.0f;          // exp(-87) is still a normal float
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to integer
inline constexpr float kLn2Hi = 0.693145751953125f;  // few mantissa bits: n * kLn2Hi is exact
inline constexpr float kLn2Lo = 1.42860682030941723e-6f;
// Taylor coefficients of exp(r), highest degree first: 1/7!, 1/6!, ..., 1/1!, 1/0!.
inline constexpr float kPoly[8] = {1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f,
                                   1.0f / 6.0f,    0.5f,           1.0f,          1.0f};
}  // namespace softmax_consts

// exp(x) for x <= 0: x = n ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to degree
// 7 (relative error < 2e-8 there), times 2^n built in the exponent bits. Below -87 the
// argument is clamped to -87. Plain arithmetic so that compilers can vectorise it.
inline float exp_nonpositive_ref(float x) {
  using namespace softmax_consts;
  x = std::max(x, kExpFloor);
  // Round to nearest by adding and removing 1.5 * 2^23 (exact for |t| < 2^22): std::nearbyint
  // is a libm call that stops vectorisation.
  const float n = (x * kLog2e + kRoundMagic) - kRoundMagic;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = kPoly[0];
  p = p * r + kPoly[1];
  p = p * r + kPoly[2];
  p = p * r + kPoly[3];
  p = p * r + kPoly[4];
  p = p * r + kPoly[5];
  p = p * r + kPoly[6];
  p = p * r + kPoly[7];
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  return p * __builtin_bit_cast(float, bits);  // std::bit_cast: missing in emscripten 3.1.6's libc++
}

// Reductions use 8 partial lanes so the loops vectorise without -ffast-math.
inline void softmax_ref(float* s, int n) {
  constexpr int L = 8;
  float mx_lane[L];
  for (int k = 0; k < L; ++k) mx_lane[k] = s[0];
  int i = 0;
  for (; i + L <= n; i += L)
    for (int k = 0; k < L; ++k) mx_lane[k] = mx_lane[k] > s[i + k] ? mx_lane[k] : s[i + k];
  float mx = s[0];
  for (int k = 0; k < L; ++k) mx = std::max(mx, mx_lane[k]);
  for (; i < n; ++i) mx = std::max(mx, s[i]);
  for (int j = 0; j < n; ++j) s[j] = exp_nonpositive_ref(s[j] - mx);
  float sum_lane[L] = {};
  i = 0;
  for (; i + L <= n; i += L)
    for (int k = 0; k < L; ++k) sum_lane[k] += s[i + k];
  float sum = 0;
  for (int k = 0; k < L; ++k) sum += sum_lane[k];
  for (; i < n; ++i) sum += s[i];
  const float inv = 1.0f / sum;
  for (int j = 0; j < n; ++j) s[j] *= inv;
}

}  // namespace needle::kernels
