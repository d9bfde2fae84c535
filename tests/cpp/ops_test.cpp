// Numeric building blocks against double precision: softmax as the model calls it (its exp
// and every ISA's kernel are tested in kernels_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "needle/ops.hpp"

namespace needle {
namespace {

TEST(Ops, SoftmaxMatchesDoublePrecision) {
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.f, 4.f);
  for (int len : {1, 2, 7, 8, 9, 63, 64, 65, 1000}) {
    std::vector<float> s(len);
    for (float& v : s) v = n(rng);
    if (len > 3) s[2] = s[1];  // a tie
    std::vector<double> want(len);
    double mx = -INFINITY, sum = 0;
    for (float v : s) mx = std::max(mx, double(v));
    for (int i = 0; i < len; ++i) sum += (want[i] = std::exp(double(s[i]) - mx));
    ops::softmax(s.data(), len);
    double total = 0;
    for (int i = 0; i < len; ++i) {
      EXPECT_NEAR(s[i], want[i] / sum, 1e-6) << "len " << len << " i " << i;
      total += s[i];
    }
    EXPECT_NEAR(total, 1.0, 1e-5);
  }
}

}  // namespace
}  // namespace needle
