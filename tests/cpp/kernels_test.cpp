// Kernel tests: every implementation (reference, AVX2 or SIMD128, the dispatching names) against an
// exact double-precision oracle built from the LOGICAL matrix (integers q[i][o] and scales,
// packed by this file's own packer, never decoded by the code under test), and the SIMD
// ones against the reference, at awkward sizes, with garbage in the padding rows, NaN
// sentinels after x, and unaligned pointers. Built natively by CMake, and with em++ for
// Node by tests/wasm/run_kernel_tests.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "int4.hpp"
#include "int4_ref.hpp"

namespace {

using namespace needle::kernels;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Error bound for an fp32 sum of `terms` products in any order, relative to sum |x*w|:
// the classic gamma_n = n*u/(1-n*u) with u = 2^-24, n = terms + 2 (the product and the
// scale multiplication). A swapped nibble or a sign-extension bug moves the result by a
// sizeable fraction of sum |x*w|, far beyond this.
double rounding_bound(int terms) {
  const double u = std::ldexp(1.0, -24);
  const double n = terms + 2;
  return n * u / (1.0 - n * u);
}
// Absolute floor so that a sum that is exactly zero has room for nothing but zero.
constexpr double kAbsFloor = 1e-30;

// ---- implementations under test -----------------------------------------------------------

struct Impl {
  std::string name;
  bool available;
  void (*int4_matvec)(const Int4Matrix&, const float*, float*);
  void (*int4_matmul)(const Int4Matrix&, const float*, int, float*);
  void (*f32_matvec)(const float*, int, int, const float*, float*);
  void (*f32_matmul)(const float*, int, int, const float*, int, float*);
  void (*f32_rows_dot)(const float*, int, int, const float*, float*);
  void (*bf16_rows_dot)(const std::uint16_t*, int, int, const float*, float*);
};

std::vector<Impl> implementations() {
  std::vector<Impl> impls;
  impls.push_back({"ref", true, int4_matvec_ref, int4_matmul_ref, f32_matvec_ref, f32_matmul_ref, f32_rows_dot_ref, bf16_rows_dot_ref});
  impls.push_back({"dispatch", true, int4_matvec, int4_matmul, f32_matvec, f32_matmul, f32_rows_dot, bf16_rows_dot});
#if defined(NEEDLE_KERNELS_HAVE_AVX2)
  impls.push_back({"avx2", cpu_has_avx2_fma(), int4_matvec_avx2, int4_matmul_avx2, f32_matvec_avx2,
                   f32_matmul_avx2, f32_rows_dot_avx2, bf16_rows_dot_avx2});
#endif
#if defined(NEEDLE_KERNELS_HAVE_SIMD128)
  impls.push_back({"simd128", true, int4_matvec_simd128, int4_matmul_simd128, f32_matvec_simd128,
                   f32_matmul_simd128, f32_rows_dot_simd128, bf16_rows_dot_simd128});
#endif
  return impls;
}

// ---- test data -----------------------------------------------------------------------------

// A quantised matrix known by its logical content; the packed bytes are derived from it here.
struct LogicalInt4 {
  int in = 0, in_pad = 0, out = 0;
  std::vector<int> q;          // [in_pad][out], -8..7, padding rows random garbage too
  std::vector<float> scales;   // [in_pad/32][out]; groups entirely >= in hold NaN
  // Storage with a leading offset so the views are deliberately misaligned.
  std::vector<std::uint8_t> packed_storage;
  std::vector<float> scales_storage;

  Int4Matrix view() const {
    return Int4Matrix{packed_storage.data() + 1, scales_storage.data() + 1, in, in_pad, out};
  }
  double weight(int i, int o) const {
    return static_cast<double>(q[static_cast<size_t>(i) * out + o]) * scales[static_cast<size_t>(i / 32) * out + o];
  }
};

LogicalInt4 make_int4(int in, int in_pad, int out, std::mt19937& rng) {
  LogicalInt4 m;
  m.in = in;
  m.in_pad = in_pad;
  m.out = out;
  std::uniform_int_distribution<int> nibble(-8, 7);
  std::uniform_real_distribution<float> scale(0.01f, 0.2f);
  m.q.resize(static_cast<size_t>(in_pad) * out);
  for (int& v : m.q) v = nibble(rng);
  // Make the padding rows' garbage nonzero, so ignoring them is actually tested.
  for (int i = in; i < in_pad; ++i) {
    for (int o = 0; o < out; ++o) {
      int& v = m.q[static_cast<size_t>(i) * out + o];
      if (v == 0) v = -8;
    }
  }
  const int groups = in_pad / 32;
  m.scales.resize(static_cast<size_t>(groups) * out);
  for (int g = 0; g < groups; ++g) {
    for (int o = 0; o < out; ++o) {
      const float s = (rng() & 1) ? scale(rng) : -scale(rng);
      m.scales[static_cast<size_t>(g) * out + o] = g * 32 >= in ? kNaN : s;
    }
  }
  // Pack: low nibble = row 2p, high nibble = row 2p+1, two's complement.
  m.packed_storage.assign(1 + static_cast<size_t>(in_pad / 2) * out, 0xAB);
  for (int p = 0; p < in_pad / 2; ++p) {
    for (int o = 0; o < out; ++o) {
      const int lo = m.q[static_cast<size_t>(2 * p) * out + o];
      const int hi = m.q[static_cast<size_t>(2 * p + 1) * out + o];
      m.packed_storage[1 + static_cast<size_t>(p) * out + o] =
          static_cast<std::uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
    }
  }
  m.scales_storage.assign(1 + m.scales.size(), kNaN);
  std::copy(m.scales.begin(), m.scales.end(), m.scales_storage.begin() + 1);
  return m;
}

int round_up_32(int v) { return (v + 31) / 32 * 32; }

// A float buffer whose data starts one float past a 32-byte boundary and is followed by
// `guard` sentinel floats: reading x past its end yields NaN, writing y past its end shows.
struct Buffer {
  static constexpr int kGuard = 16;
  std::vector<float> storage;
  int size;
  Buffer(int n, float fill) : storage(static_cast<size_t>(n) + 1 + kGuard, fill), size(n) {
    storage[0] = kNaN;
    for (int g = 0; g < kGuard; ++g) storage[1 + static_cast<size_t>(n) + g] = kNaN;
  }
  float* data() { return storage.data() + 1; }
  const float* data() const { return storage.data() + 1; }
  float operator[](int i) const { return data()[i]; }
  bool guard_intact() const {
    for (int g = 0; g < kGuard; ++g) {
      if (!std::isnan(storage[1 + static_cast<size_t>(size) + g])) return false;
    }
    return true;
  }
};

Buffer random_buffer(int n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Buffer b(n, 0.0f);
  for (int i = 0; i < n; ++i) b.data()[i] = dist(rng);
  return b;
}

// Checks y[o] against an exact sum computed by `term(i, o)` over i < terms.
template <class Term>
void expect_close_to_exact(const float* y, int rows, int cols, int terms, Term term, const std::string& what) {
  const double bound = rounding_bound(terms);
  int failures = 0;
  for (int t = 0; t < rows; ++t) {
    for (int o = 0; o < cols; ++o) {
      double exact = 0.0, magnitude = 0.0;
      for (int i = 0; i < terms; ++i) {
        const double v = term(t, i, o);
        exact += v;
        magnitude += std::fabs(v);
      }
      const double got = y[static_cast<size_t>(t) * cols + o];
      const double tol = bound * magnitude + kAbsFloor;
      if (!(std::fabs(got - exact) <= tol) && failures++ < 5) {
        ADD_FAILURE() << what << " row " << t << " col " << o << ": got " << got << ", exact " << exact
                      << ", tolerance " << tol;
      }
    }
  }
  EXPECT_EQ(failures, 0) << what;
}

void expect_close_to_ref(const float* y, const float* ref, int count, double tol_each_scale,
                         const std::vector<double>& magnitude, const std::string& what) {
  int failures = 0;
  for (int e = 0; e < count; ++e) {
    const double tol = 2.0 * tol_each_scale * magnitude[e] + kAbsFloor;
    if (!(std::fabs(static_cast<double>(y[e]) - ref[e]) <= tol) && failures++ < 5) {
      ADD_FAILURE() << what << " element " << e << ": got " << y[e] << ", ref " << ref[e];
    }
  }
  EXPECT_EQ(failures, 0) << what;
}

const int kIns[] = {1, 3, 31, 32, 33, 63, 64, 65, 513};
const int kOuts[] = {1, 3, 7, 8, 9, 31, 33, 513};
const int kNs[] = {1, 2, 3, 5, 17, 64};

// ---- nibble decoding -------------------------------------------------------------------------

TEST(Int4Decode, EveryByteDecodesToItsTwoSignedNibbles) {
  for (int lo = -8; lo <= 7; ++lo) {
    for (int hi = -8; hi <= 7; ++hi) {
      const auto byte = static_cast<std::uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      EXPECT_EQ(int4_low(byte), lo) << "byte " << int(byte);
      EXPECT_EQ(int4_high(byte), hi) << "byte " << int(byte);
    }
  }
}

// Hand-written bytes through every implementation: with x = e_0 the output is the low
// nibbles, with x = e_1 the high nibbles. Swapped nibbles or a missing sign extension
// (0x8F -> 15 / 8 instead of -1 / -8) fail here.
TEST(Int4Decode, HandWrittenBytesThroughEveryKernel) {
  // Rows 0/1 = the bytes below; rows 2..31 padding (garbage 0x99 = -7/-7, must be ignored).
  // The 9-byte pattern repeats over 81 columns so that every vector width and every
  // scalar tail of the SIMD kernels (64, 16, 8 and 1 columns) sees it.
  constexpr int kPattern = 9, kOut = 81;
  const std::uint8_t pattern[kPattern] = {0x8F, 0x17, 0x70, 0x08, 0x80, 0xFF, 0x00, 0x7F, 0xF7};
  const int pattern_lo[kPattern] = {-1, 7, 0, -8, 0, -1, 0, -1, 7};
  const int pattern_hi[kPattern] = {-8, 1, 7, 0, -8, -1, 0, 7, -1};
  int expect_lo[kOut], expect_hi[kOut];
  std::vector<std::uint8_t> packed(16 * kOut, 0x99);
  std::vector<float> scales(kOut, 1.0f);
  for (int o = 0; o < kOut; ++o) {
    packed[o] = pattern[(o + o / kPattern) % kPattern];
    expect_lo[o] = pattern_lo[(o + o / kPattern) % kPattern];
    expect_hi[o] = pattern_hi[(o + o / kPattern) % kPattern];
    if (o % 5 == 2) scales[o] = 0.5f;  // non-unit scales, results still exact
  }
  const Int4Matrix w{packed.data(), scales.data(), 2, 32, kOut};

  for (const Impl& impl : implementations()) {
    if (!impl.available) continue;
    for (int which = 0; which < 2; ++which) {
      const float x[2] = {which == 0 ? 1.0f : 0.0f, which == 1 ? 1.0f : 0.0f};
      float y[kOut];
      impl.int4_matvec(w, x, y);
      // Many tokens take the matmul's panel path, which decodes separately from the matvec.
      constexpr int kTokens = 8;
      float xs[2 * kTokens];
      for (int t = 0; t < kTokens; ++t) {
        xs[2 * t] = x[0];
        xs[2 * t + 1] = x[1];
      }
      float ys[kTokens * kOut];
      impl.int4_matmul(w, xs, kTokens, ys);
      for (int o = 0; o < kOut; ++o) {
        const float expect = static_cast<float>(which == 0 ? expect_lo[o] : expect_hi[o]) * scales[o];
        EXPECT_EQ(y[o], expect) << impl.name << " matvec " << (which ? "high" : "low") << " col " << o;
        for (int t = 0; t < kTokens; ++t) {
          EXPECT_EQ(ys[t * kOut + o], expect) << impl.name << " matmul " << (which ? "high" : "low") << " col " << o;
        }
      }
    }
  }
}

// Scale groups are 32 rows: rows 31 and 32 must use different scales.
TEST(Int4Decode, ScaleGroupBoundaryAtRow32) {
  constexpr int kOut = 8;
  std::vector<std::uint8_t> packed(32 * kOut, 0);
  for (int o = 0; o < kOut; ++o) {
    packed[15 * kOut + o] = 0x10;  // row 31 = +1 (high nibble of pair 15)
    packed[16 * kOut + o] = 0x01;  // row 32 = +1 (low nibble of pair 16)
  }
  std::vector<float> scales(2 * kOut);
  for (int o = 0; o < kOut; ++o) {
    scales[o] = 2.0f;
    scales[kOut + o] = 3.0f;
  }
  const Int4Matrix w{packed.data(), scales.data(), 64, 64, kOut};
  for (const Impl& impl : implementations()) {
    if (!impl.available) continue;
    std::vector<float> x(64, 0.0f);
    x[31] = 1.0f;
    x[32] = 10.0f;
    float y[kOut];
    impl.int4_matvec(w, x.data(), y);
    for (int o = 0; o < kOut; ++o) EXPECT_EQ(y[o], 2.0f + 30.0f) << impl.name;
  }
}

// ---- int4 against the exact oracle -----------------------------------------------------------

TEST(Int4Kernels, MatvecMatchesExactSumAtAwkwardSizes) {
  std::mt19937 rng(1234);
  for (int in : kIns) {
    for (int out : kOuts) {
      for (int extra_group = 0; extra_group < 2; ++extra_group) {
        const LogicalInt4 m = make_int4(in, round_up_32(in) + 32 * extra_group, out, rng);
        const Buffer x = random_buffer(in, rng);
        Buffer y_ref(out, kNaN);
        int4_matvec_ref(m.view(), x.data(), y_ref.data());
        std::vector<double> magnitude(out, 0.0);
        for (int o = 0; o < out; ++o) {
          for (int i = 0; i < in; ++i) magnitude[o] += std::fabs(x[i] * m.weight(i, o));
        }
        for (const Impl& impl : implementations()) {
          if (!impl.available) continue;
          const std::string what = impl.name + " int4_matvec in=" + std::to_string(in) +
                                   " in_pad=" + std::to_string(m.in_pad) + " out=" + std::to_string(out);
          Buffer y(out, kNaN);  // NaN: every element must be overwritten
          impl.int4_matvec(m.view(), x.data(), y.data());
          expect_close_to_exact(
              y.data(), 1, out, in, [&](int, int i, int o) { return x[i] * m.weight(i, o); }, what);
          expect_close_to_ref(y.data(), y_ref.data(), out, rounding_bound(in), magnitude, what + " vs ref");
          EXPECT_TRUE(y.guard_intact()) << what << ": wrote past y";
        }
      }
    }
  }
}

TEST(Int4Kernels, MatmulMatchesExactSumAtAwkwardSizes) {
  std::mt19937 rng(99);
  for (int in : kIns) {
    for (int out : kOuts) {
      const LogicalInt4 m = make_int4(in, round_up_32(in) + 32 * (in & 1), out, rng);
      for (int n : kNs) {
        const Buffer x = random_buffer(n * in, rng);
        Buffer y_ref(n * out, kNaN);
        int4_matmul_ref(m.view(), x.data(), n, y_ref.data());
        std::vector<double> magnitude(static_cast<size_t>(n) * out, 0.0);
        for (int t = 0; t < n; ++t) {
          for (int o = 0; o < out; ++o) {
            for (int i = 0; i < in; ++i) magnitude[t * out + o] += std::fabs(x[t * in + i] * m.weight(i, o));
          }
        }
        for (const Impl& impl : implementations()) {
          if (!impl.available) continue;
          const std::string what = impl.name + " int4_matmul in=" + std::to_string(in) + " out=" +
                                   std::to_string(out) + " n=" + std::to_string(n);
          Buffer y(n * out, kNaN);
          impl.int4_matmul(m.view(), x.data(), n, y.data());
          expect_close_to_exact(
              y.data(), n, out, in, [&](int t, int i, int o) { return x[t * in + i] * m.weight(i, o); }, what);
          expect_close_to_ref(y.data(), y_ref.data(), n * out, rounding_bound(in), magnitude, what + " vs ref");
          EXPECT_TRUE(y.guard_intact()) << what << ": wrote past y";
        }
      }
    }
  }
}

// A matrix with no input rows is a zero map (every y overwritten with 0).
TEST(Int4Kernels, ZeroInputRowsGiveZeros) {
  std::vector<std::uint8_t> packed(16 * 5, 0x77);
  std::vector<float> scales(5, 1.0f);
  const Int4Matrix w{packed.data(), scales.data(), 0, 32, 5};
  for (const Impl& impl : implementations()) {
    if (!impl.available) continue;
    std::vector<float> y(20, kNaN);
    impl.int4_matvec(w, nullptr, y.data());
    for (int o = 0; o < 5; ++o) EXPECT_EQ(y[o], 0.0f) << impl.name;
    std::fill(y.begin(), y.end(), kNaN);
    impl.int4_matmul(w, nullptr, 4, y.data());
    for (float v : y) EXPECT_EQ(v, 0.0f) << impl.name;
  }
}

// ---- f32 -------------------------------------------------------------------------------------

TEST(F32Kernels, MatvecAndMatmulMatchExactSum) {
  std::mt19937 rng(7);
  for (int in : kIns) {
    for (int out : kOuts) {
      const Buffer w = random_buffer(in * out, rng);
      for (int n : kNs) {
        const Buffer x = random_buffer(n * in, rng);
        Buffer y_ref(n * out, kNaN);
        f32_matmul_ref(w.data(), in, out, x.data(), n, y_ref.data());
        std::vector<double> magnitude(static_cast<size_t>(n) * out, 0.0);
        for (int t = 0; t < n; ++t) {
          for (int o = 0; o < out; ++o) {
            for (int i = 0; i < in; ++i) magnitude[t * out + o] += std::fabs(double(x[t * in + i]) * w[i * out + o]);
          }
        }
        auto term = [&](int t, int i, int o) { return double(x[t * in + i]) * w[i * out + o]; };
        for (const Impl& impl : implementations()) {
          if (!impl.available) continue;
          const std::string sizes = " in=" + std::to_string(in) + " out=" + std::to_string(out) + " n=" + std::to_string(n);
          Buffer y(n * out, kNaN);
          impl.f32_matmul(w.data(), in, out, x.data(), n, y.data());
          expect_close_to_exact(y.data(), n, out, in, term, impl.name + " f32_matmul" + sizes);
          expect_close_to_ref(y.data(), y_ref.data(), n * out, rounding_bound(in), magnitude,
                              impl.name + " f32_matmul vs ref" + sizes);
          EXPECT_TRUE(y.guard_intact()) << impl.name << " f32_matmul" << sizes;
          if (n == 1) {
            Buffer yv(out, kNaN);
            impl.f32_matvec(w.data(), in, out, x.data(), yv.data());
            expect_close_to_exact(yv.data(), 1, out, in, term, impl.name + " f32_matvec" + sizes);
            EXPECT_TRUE(yv.guard_intact()) << impl.name << " f32_matvec" << sizes;
          }
        }
      }
    }
  }
}

TEST(F32Kernels, RowsDotMatchesExactSum) {
  std::mt19937 rng(11);
  for (int d : kIns) {
    for (int n_rows : kOuts) {
      const Buffer rows = random_buffer(n_rows * d, rng);
      const Buffer h = random_buffer(d, rng);
      Buffer ref(n_rows, kNaN);
      f32_rows_dot_ref(rows.data(), n_rows, d, h.data(), ref.data());
      std::vector<double> magnitude(n_rows, 0.0);
      for (int r = 0; r < n_rows; ++r) {
        for (int k = 0; k < d; ++k) magnitude[r] += std::fabs(double(rows[r * d + k]) * h[k]);
      }
      for (const Impl& impl : implementations()) {
        if (!impl.available) continue;
        const std::string what = impl.name + " f32_rows_dot d=" + std::to_string(d) + " rows=" + std::to_string(n_rows);
        Buffer out(n_rows, kNaN);
        impl.f32_rows_dot(rows.data(), n_rows, d, h.data(), out.data());
        // Laid out as a 1 x n_rows result over d terms.
        expect_close_to_exact(
            out.data(), 1, n_rows, d, [&](int, int k, int r) { return double(rows[r * d + k]) * h[k]; }, what);
        expect_close_to_ref(out.data(), ref.data(), n_rows, rounding_bound(d), magnitude, what + " vs ref");
        EXPECT_TRUE(out.guard_intact()) << what;
      }
    }
  }
}

// BF16 rows: every implementation equals the exact sum over the exactly widened values, and
// the F32 kernel on those widened rows up to summation order (same rounding bound).
TEST(F32Kernels, Bf16RowsDotMatchesExactSum) {
  std::mt19937 rng(12);
  for (int d : kIns) {
    for (int n_rows : kOuts) {
      const Buffer src = random_buffer(n_rows * d, rng);
      std::vector<std::uint16_t> rows(std::size_t(n_rows) * d + 1);  // +1: a misaligned start
      Buffer widened(n_rows * d, 0.f);
      for (int i = 0; i < n_rows * d; ++i) {
        std::uint32_t bits;
        const float v = src[i];
        std::memcpy(&bits, &v, 4);
        rows[i + 1] = static_cast<std::uint16_t>(bits >> 16);
        widened.data()[i] = bf16_to_f32(rows[i + 1]);
      }
      const Buffer h = random_buffer(d, rng);
      Buffer ref(n_rows, kNaN);
      f32_rows_dot_ref(widened.data(), n_rows, d, h.data(), ref.data());
      std::vector<double> magnitude(n_rows, 0.0);
      for (int r = 0; r < n_rows; ++r)
        for (int k = 0; k < d; ++k) magnitude[r] += std::fabs(double(widened[r * d + k]) * h[k]);
      for (const Impl& impl : implementations()) {
        if (!impl.available) continue;
        const std::string what = impl.name + " bf16_rows_dot d=" + std::to_string(d) + " rows=" + std::to_string(n_rows);
        Buffer out(n_rows, kNaN);
        impl.bf16_rows_dot(rows.data() + 1, n_rows, d, h.data(), out.data());
        expect_close_to_exact(
            out.data(), 1, n_rows, d, [&](int, int k, int r) { return double(widened[r * d + k]) * h[k]; }, what);
        expect_close_to_ref(out.data(), ref.data(), n_rows, rounding_bound(d), magnitude, what + " vs f32 ref");
        EXPECT_TRUE(out.guard_intact()) << what;
      }
    }
  }
  // The widening itself: 1.0 is 0x3F80, -2.5 is 0xC020.
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xC020), -2.5f);
}

// ---- softmax -----------------------------------------------------------------------------

struct SoftmaxImpl {
  std::string name;
  bool available;
  void (*softmax)(float*, int);
};

std::vector<SoftmaxImpl> softmax_implementations() {
  std::vector<SoftmaxImpl> impls;
  impls.push_back({"ref", true, softmax_ref});
  impls.push_back({"dispatch", true, softmax});
#if defined(NEEDLE_KERNELS_HAVE_AVX2)
  impls.push_back({"avx2", cpu_has_avx2_fma(), softmax_avx2});
#endif
#if defined(NEEDLE_KERNELS_HAVE_SIMD128)
  impls.push_back({"simd128", true, softmax_simd128});
#endif
  return impls;
}

// Worst relative error of the polynomial exp over [-87, 0] in any implementation (Taylor
// truncation < 2e-8 plus fp32 rounding of the reduction and Horner steps, a few ulp).
constexpr double kExpRelError = 3e-7;
// Weights of scores more than 87 below the max: exp(-87) ~ 1.6e-38 by design, where the
// exact value may be 0. Anything larger is a real error.
constexpr double kUnderflowFloor = 2e-38;

// Relative error bound of one softmax output over n scores against the oracle below: its own
// exp, the sum's exps and its n-1 additions in any order (gamma), the reciprocal and the
// final product. The oracle takes s[i] - max rounded to fp32, as every implementation does,
// so that rounding (up to 87 * 2^-24) is not part of the bound.
double softmax_bound(int n) {
  const double u = std::ldexp(1.0, -24);
  return 2 * kExpRelError + (n + 2) * u / (1 - (n + 2) * u);
}

// Checks every implementation against a double-precision softmax of `scores`.
void expect_softmax_matches_double(const std::vector<float>& scores, const std::string& what) {
  const int n = static_cast<int>(scores.size());
  float mx = scores[0];
  for (float v : scores) mx = std::max(mx, v);
  std::vector<double> want(n);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += want[i] = std::exp(static_cast<double>(scores[i] - mx));
  for (double& w : want) w /= sum;
  const double rel = softmax_bound(n);
  for (const SoftmaxImpl& impl : softmax_implementations()) {
    if (!impl.available) continue;
    Buffer s(n, 0.0f);
    std::copy(scores.begin(), scores.end(), s.data());
    impl.softmax(s.data(), n);
    int failures = 0;
    double total = 0;
    for (int i = 0; i < n; ++i) {
      total += s[i];
      const double tol = rel * want[i] + kUnderflowFloor;
      if (!(std::fabs(s[i] - want[i]) <= tol) && failures++ < 5) {
        ADD_FAILURE() << impl.name << " softmax " << what << " n=" << n << " i=" << i << ": got " << s[i]
                      << ", want " << want[i] << ", tolerance " << tol;
      }
    }
    EXPECT_EQ(failures, 0) << impl.name << " " << what << " n=" << n;
    EXPECT_NEAR(total, 1.0, 2 * rel) << impl.name << " " << what << " n=" << n;
    EXPECT_TRUE(s.guard_intact()) << impl.name << " " << what << " n=" << n;
  }
}

const int kSoftmaxLens[] = {1, 2, 3, 7, 8, 9, 31, 33, 64, 65, 1000, 1025};

TEST(SoftmaxKernels, ExpNonPositiveRefIsAccurateEverywhere) {
  double worst = 0;
  for (int i = 0; i <= 2000000; ++i) {
    const float x = -87.0f * static_cast<float>(i) / 2000000.0f;
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(exp_nonpositive_ref(x) - want) / want);
  }
  EXPECT_LT(worst, kExpRelError) << "worst relative error over [-87, 0]";
  EXPECT_EQ(exp_nonpositive_ref(0.0f), 1.0f);
  EXPECT_GT(exp_nonpositive_ref(-1000.0f), 0.0f);  // clamped to exp(-87), a normal float
  EXPECT_LT(exp_nonpositive_ref(-1000.0f), kUnderflowFloor);
  EXPECT_EQ(exp_nonpositive_ref(-INFINITY), exp_nonpositive_ref(-87.0f));
}

// Each implementation's own exp, seen through two scores {0, x}: s[1] = e^x / (1 + e^x).
TEST(SoftmaxKernels, TwoScoresTraceTheExpOverItsWholeRange) {
  for (int i = 0; i <= 20000; ++i) {
    const float x = -87.0f * static_cast<float>(i) / 20000.0f;
    const double e = std::exp(static_cast<double>(x));
    for (const SoftmaxImpl& impl : softmax_implementations()) {
      if (!impl.available) continue;
      float s[2] = {0.0f, x};
      impl.softmax(s, 2);
      const double want = e / (1 + e);
      ASSERT_LE(std::fabs(s[1] - want), softmax_bound(2) * want) << impl.name << " x=" << x;
      ASSERT_LE(std::fabs(s[0] - 1 / (1 + e)), softmax_bound(2) / (1 + e)) << impl.name << " x=" << x;
    }
  }
}

TEST(SoftmaxKernels, MatchesDoublePrecisionAtAwkwardLengths) {
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0.f, 4.f);
  std::uniform_real_distribution<float> wide(-300.f, 300.f);
  for (int n : kSoftmaxLens) {
    const std::string len = " n=" + std::to_string(n);
    std::vector<float> s(n);
    for (float& v : s) v = normal(rng);
    expect_softmax_matches_double(s, "normal(0, 4)");
    // Most weights underflow; the max may sit in the tail.
    for (float& v : s) v = wide(rng);
    expect_softmax_matches_double(s, "uniform(-300, 300)");
    // Without subtracting the max these would overflow (positive) or underflow (negative).
    for (float& v : s) v = 5000.f + normal(rng);
    expect_softmax_matches_double(s, "5000 + normal");
    for (float& v : s) v = -5000.f + normal(rng);
    expect_softmax_matches_double(s, "-5000 + normal");
    // Ties: all equal (1/n each), and the max repeated at both ends and in the middle.
    std::fill(s.begin(), s.end(), 1.25f);
    expect_softmax_matches_double(s, "all equal");
    std::fill(s.begin(), s.end(), -1e30f);
    expect_softmax_matches_double(s, "all -1e30");
    for (float& v : s) v = normal(rng);
    s[0] = s[n / 2] = s[n - 1] = 20.f;
    expect_softmax_matches_double(s, "tied max");
    // Masked-like scores: very negative values (down to -FLT_MAX and -inf) among normal ones.
    for (int i = 0; i < n; ++i) {
      const float very_negative[] = {-1e30f, -std::numeric_limits<float>::max(), -INFINITY, -1e4f};
      s[i] = i % 3 == 1 ? very_negative[(i / 3) % 4] : normal(rng);
    }
    expect_softmax_matches_double(s, "very negative mixed in");
    if (n > 1) {  // the only finite score last, everything before it very negative
      for (int i = 0; i < n - 1; ++i) s[i] = i % 2 ? -INFINITY : -std::numeric_limits<float>::max();
      s[n - 1] = -3.f;
      expect_softmax_matches_double(s, "only the last score finite");
    }
  }
}

TEST(Dispatch, ReportsBackend) {
  const std::string backend = kernels_backend();
  EXPECT_TRUE(backend == "avx2" || backend == "simd128" || backend == "ref") << backend;
#if defined(NEEDLE_KERNELS_HAVE_AVX2)
  EXPECT_EQ(backend, cpu_has_avx2_fma() ? "avx2" : "ref");
#endif
  std::printf("kernels backend: %s\n", backend.c_str());
}

}  // namespace
