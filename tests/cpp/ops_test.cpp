// Numeric building blocks: the polynomial exp used by softmax, and softmax itself, against
// double precision.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "needle/ops.hpp"

namespace needle {
namespace {

TEST(Ops, ExpNonPositiveIsAccurateEverywhere) {
  double worst = 0;
  for (int i = 0; i <= 2000000; ++i) {
    const float x = -87.0f * static_cast<float>(i) / 2000000.0f;
    const double want = std::exp(static_cast<double>(x));
    const double got = ops::exp_nonpositive(x);
    worst = std::max(worst, std::fabs(got - want) / want);
  }
  EXPECT_LT(worst, 3e-7) << "worst relative error over [-87, 0]";
  EXPECT_EQ(ops::exp_nonpositive(0.0f), 1.0f);
  EXPECT_GE(ops::exp_nonpositive(-1000.0f), 0.0f);
  EXPECT_LT(ops::exp_nonpositive(-1000.0f), 1e-37f);
  EXPECT_FALSE(std::isnan(ops::exp_nonpositive(-INFINITY)));
}

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
