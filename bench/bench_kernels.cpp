// Kernel throughput: the reference against the SIMD kernels at the full model's shapes.
// Prints figures (medians over repeated runs); not a test. Builds natively (AVX2 when the
// CPU has it) and with em++ -msimd128 for Node (tests/wasm/run_kernel_tests.sh).
//
//   bench_kernels            all figures
//   bench_kernels --quick    fewer repetitions
//   bench_kernels --best     the fastest repetition instead of the median (busy machine)
//   bench_kernels matmul     only the figures whose name contains "matmul"
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "int4.hpp"
#include "int4_ref.hpp"
#include "softmax_ref.hpp"


namespace {

using namespace needle::kernels;

int g_reps = 7;              // timed repetitions; the median is reported
double g_rep_seconds = 0.05;  // each repetition runs the kernel this long (at least once)
bool g_best = false;          // report the fastest repetition instead (on a busy machine)

// Median seconds per call of f().
template <class F>
double median_seconds(F&& f) {
  using clock = std::chrono::steady_clock;
  // Warm up: caches, the dispatch check and, under WASM, the engine's tier-up from its
  // baseline compiler to the optimising one (a hot function is recompiled after a while).
  auto t0 = clock::now();
  int warm_calls = 0;
  do {
    f();
    ++warm_calls;
  } while (std::chrono::duration<double>(clock::now() - t0).count() < g_rep_seconds);
  const double once = std::chrono::duration<double>(clock::now() - t0).count() / warm_calls;
  const int iters = std::max(1, static_cast<int>(g_rep_seconds / std::max(once, 1e-9)));
  std::vector<double> per_call;
  for (int r = 0; r < g_reps; ++r) {
    t0 = clock::now();
    for (int i = 0; i < iters; ++i) f();
    per_call.push_back(std::chrono::duration<double>(clock::now() - t0).count() / iters);
  }
  if (g_best) return *std::min_element(per_call.begin(), per_call.end());
  std::nth_element(per_call.begin(), per_call.begin() + per_call.size() / 2, per_call.end());
  return per_call[per_call.size() / 2];
}

const char* g_filter = nullptr;  // run only figures whose name contains this
bool selected(const char* name) { return g_filter == nullptr || std::strstr(name, g_filter) != nullptr; }

// Keeps results observable so no kernel call is optimised away.
double g_sink = 0.0;
void consume(const std::vector<float>& v) {
  for (float f : v) g_sink += f;
}

struct OwnedInt4 {
  std::vector<std::uint8_t> packed;
  std::vector<float> scales;
  Int4Matrix view;
};

OwnedInt4 random_int4(int in, int out, std::mt19937& rng) {
  OwnedInt4 m;
  const int in_pad = (in + 31) / 32 * 32;
  m.packed.resize(static_cast<size_t>(in_pad / 2) * out);
  for (auto& b : m.packed) b = static_cast<std::uint8_t>(rng());
  std::uniform_real_distribution<float> s(0.01f, 0.1f);
  m.scales.resize(static_cast<size_t>(in_pad / 32) * out);
  for (auto& v : m.scales) v = s(rng);
  m.view = Int4Matrix{m.packed.data(), m.scales.data(), in, in_pad, out};
  return m;
}

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& f : v) f = d(rng);
  return v;
}

void row(const char* what, const char* unit, double ref_value, double fast_value) {
  std::printf("%-34s %9.3f %9.3f %-7s x%.1f\n", what, ref_value, fast_value, unit, fast_value / ref_value);
}

void bench_int4_matvec(int in, int out, std::mt19937& rng) {
  char name[64];
  std::snprintf(name, sizeof name, "int4_matvec %dx%d", in, out);
  if (!selected(name)) return;
  OwnedInt4 m = random_int4(in, out, rng);
  const auto x = random_floats(in, rng);
  std::vector<float> y(out);
  const double elems = double(in) * out;
  const double t_ref = median_seconds([&] { int4_matvec_ref(m.view, x.data(), y.data()); });
  consume(y);
  const double t_fast = median_seconds([&] { int4_matvec(m.view, x.data(), y.data()); });
  consume(y);
  row(name, "Gelem/s", elems / t_ref * 1e-9, elems / t_fast * 1e-9);
  std::printf("%-34s %9s %9.1f us/call\n", "", "", t_fast * 1e6);
}

void bench_int4_matmul(int in, int out, int n, std::mt19937& rng) {
  char name[64];
  std::snprintf(name, sizeof name, "int4_matmul %dx%d n=%d", in, out, n);
  if (!selected(name)) return;
  OwnedInt4 m = random_int4(in, out, rng);
  const auto x = random_floats(static_cast<size_t>(n) * in, rng);
  std::vector<float> y(static_cast<size_t>(n) * out);
  const double macs = double(in) * out * n;
  const double t_ref = median_seconds([&] { int4_matmul_ref(m.view, x.data(), n, y.data()); });
  consume(y);
  const double t_fast = median_seconds([&] { int4_matmul(m.view, x.data(), n, y.data()); });
  consume(y);
  row(name, "GMAC/s", macs / t_ref * 1e-9, macs / t_fast * 1e-9);
}

void bench_f32_matvec(int in, int out, std::mt19937& rng) {
  char name[64];
  std::snprintf(name, sizeof name, "f32_matvec %dx%d", in, out);
  if (!selected(name)) return;
  const auto w = random_floats(static_cast<size_t>(in) * out, rng);
  const auto x = random_floats(in, rng);
  std::vector<float> y(out);
  const double elems = double(in) * out;
  const double t_ref = median_seconds([&] { f32_matvec_ref(w.data(), in, out, x.data(), y.data()); });
  consume(y);
  const double t_fast = median_seconds([&] { f32_matvec(w.data(), in, out, x.data(), y.data()); });
  consume(y);
  row(name, "Gelem/s", elems / t_ref * 1e-9, elems / t_fast * 1e-9);
}

void bench_f32_matmul(int in, int out, int n, std::mt19937& rng) {
  char name[64];
  std::snprintf(name, sizeof name, "f32_matmul %dx%d n=%d", in, out, n);
  if (!selected(name)) return;
  const auto w = random_floats(static_cast<size_t>(in) * out, rng);
  const auto x = random_floats(static_cast<size_t>(n) * in, rng);
  std::vector<float> y(static_cast<size_t>(n) * out);
  const double macs = double(in) * out * n;
  const double t_ref = median_seconds([&] { f32_matmul_ref(w.data(), in, out, x.data(), n, y.data()); });
  consume(y);
  const double t_fast = median_seconds([&] { f32_matmul(w.data(), in, out, x.data(), n, y.data()); });
  consume(y);
  row(name, "GMAC/s", macs / t_ref * 1e-9, macs / t_fast * 1e-9);
}

// Logits: the dot of h with every row of an embedding, F32 rows or BF16 ones (the published
// model's layout, half the bytes).
template <class Row>
void bench_rows_dot(int n_rows, int d, std::mt19937& rng) {
  constexpr bool kBf16 = std::is_same_v<Row, std::uint16_t>;
  char name[64];
  std::snprintf(name, sizeof name, "%s_rows_dot %dx%d", kBf16 ? "bf16" : "f32", n_rows, d);
  if (!selected(name)) return;
  const auto values = random_floats(static_cast<size_t>(n_rows) * d, rng);
  std::vector<Row> rows(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if constexpr (kBf16) {
      std::uint32_t bits;
      std::memcpy(&bits, &values[i], sizeof bits);
      rows[i] = static_cast<std::uint16_t>(bits >> 16);
    } else {
      rows[i] = values[i];
    }
  }
  const auto h = random_floats(d, rng);
  std::vector<float> out(n_rows);
  const double macs = double(n_rows) * d;
  const auto run = [&](auto f32_kernel, auto bf16_kernel) {
    if constexpr (kBf16) bf16_kernel(rows.data(), n_rows, d, h.data(), out.data());
    else f32_kernel(rows.data(), n_rows, d, h.data(), out.data());
  };
  const double t_ref = median_seconds([&] { run(f32_rows_dot_ref, bf16_rows_dot_ref); });
  consume(out);
  const double t_fast = median_seconds([&] { run(f32_rows_dot, bf16_rows_dot); });
  consume(out);
  row(name, "GMAC/s", macs / t_ref * 1e-9, macs / t_fast * 1e-9);
  std::printf("%-34s %9s %9.1f us/call\n", "", "", t_fast * 1e6);
}

// In-place softmax of n scores (attention rows). Each call restarts from the same scores, so
// the copy is timed with both implementations alike (a 4 KB memcpy, small next to the exps).
void bench_softmax(int n, std::mt19937& rng) {
  char name[64];
  std::snprintf(name, sizeof name, "softmax n=%d", n);
  if (!selected(name)) return;
  std::vector<float> scores = random_floats(n, rng);
  for (float& v : scores) v *= 8.0f;
  std::vector<float> s(n);
  const double t_ref = median_seconds([&] {
    std::memcpy(s.data(), scores.data(), sizeof(float) * n);
    softmax_ref(s.data(), n);
  });
  consume(s);
  const double t_fast = median_seconds([&] {
    std::memcpy(s.data(), scores.data(), sizeof(float) * n);
    softmax(s.data(), n);
  });
  consume(s);
  row(name, "Gelem/s", n / t_ref * 1e-9, n / t_fast * 1e-9);
  std::printf("%-34s %9.2f %9.2f us/call\n", "", t_ref * 1e6, t_fast * 1e6);
}

// The ceiling the matmul figures are read against: multiply-adds per second on 12
// independent accumulators in the backend's widest float vectors (SIMD128: f32x4 mul then
// add, as it has no fused multiply-add; AVX2: 8-wide FMA; ref: scalar). No memory traffic.
constexpr int kPeakIters = 1 << 18;
constexpr int kPeakChains = 12;
volatile float g_peak_factor = 0.999f;  // read per call: the compiler may not reuse a result

#if defined(NEEDLE_KERNELS_HAVE_SIMD128)
constexpr int kPeakLanes = 4;
float peak_loop(float factor) {
  const v128_t a = wasm_f32x4_splat(factor), b = wasm_f32x4_splat(1e-3f);
  v128_t acc[kPeakChains];
  NEEDLE_SIMD128_UNROLL for (int j = 0; j < kPeakChains; ++j) acc[j] = wasm_f32x4_splat(float(j));
  for (int i = 0; i < kPeakIters; ++i) {
    NEEDLE_SIMD128_UNROLL for (int j = 0; j < kPeakChains; ++j) acc[j] = wasm_f32x4_add(wasm_f32x4_mul(acc[j], a), b);
  }
  float sum = 0.0f;
  NEEDLE_SIMD128_UNROLL for (int j = 0; j < kPeakChains; ++j) sum += wasm_f32x4_extract_lane(acc[j], 0);
  return sum;
}
#elif defined(NEEDLE_KERNELS_HAVE_AVX2)
constexpr int kPeakLanes = 8;
NEEDLE_TARGET_AVX2 float peak_loop(float factor) {
  const __m256 a = _mm256_set1_ps(factor), b = _mm256_set1_ps(1e-3f);
  __m256 acc[kPeakChains];
  for (int j = 0; j < kPeakChains; ++j) acc[j] = _mm256_set1_ps(float(j));
  for (int i = 0; i < kPeakIters; ++i) {
    for (int j = 0; j < kPeakChains; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  }
  float sum = 0.0f;
  for (int j = 0; j < kPeakChains; ++j) sum += _mm256_cvtss_f32(acc[j]);
  return sum;
}
#endif

double peak_gmacs() {
#if defined(NEEDLE_KERNELS_HAVE_SIMD128) || defined(NEEDLE_KERNELS_HAVE_AVX2)
  if (std::strcmp(kernels_backend(), "ref") != 0) {
    const double t = median_seconds([] { g_sink += peak_loop(g_peak_factor); });
    return double(kPeakChains) * kPeakLanes * kPeakIters / t * 1e-9;
  }
#endif
  float acc[kPeakChains];
  const double t = median_seconds([&] {
    const float factor = g_peak_factor;
    for (int j = 0; j < kPeakChains; ++j) acc[j] = float(j);
    for (int i = 0; i < kPeakIters; ++i) {
      for (int j = 0; j < kPeakChains; ++j) acc[j] = acc[j] * factor + 1e-3f;
    }
    for (float f : acc) g_sink += f;
  });
  return double(kPeakChains) * kPeakIters / t * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  for (int a = 1; a < argc; ++a) {
    if (std::strcmp(argv[a], "--quick") == 0) {
      g_reps = 3;
      g_rep_seconds = 0.02;
    } else if (std::strcmp(argv[a], "--best") == 0) {
      g_best = true;
    } else {
      g_filter = argv[a];
    }
  }
  std::printf("needle kernels: backend %s (%s of %d runs)\n", kernels_backend(), g_best ? "best" : "medians",
              g_reps);
  std::printf("%-34s %9s %9s %-7s %s\n", "", "ref", kernels_backend(), "unit", "ratio");
  if (selected("peak")) {
    std::printf("%-34s %9s %9.1f GMAC/s (float multiply-add ceiling)\n", "peak", "", peak_gmacs());
  }
  std::mt19937 rng(42);
  bench_int4_matvec(512, 512, rng);
  bench_int4_matvec(512, 256, rng);
  bench_int4_matvec(512, 2048, rng);
  bench_int4_matvec(2048, 512, rng);
  for (int n : {3, 6, 12, 24, 64}) bench_int4_matmul(512, 512, n, rng);
  bench_int4_matmul(512, 512, 256, rng);
  bench_int4_matmul(512, 2048, 256, rng);
  bench_int4_matmul(2048, 512, 256, rng);
  bench_f32_matvec(512, 512, rng);
  bench_f32_matmul(512, 512, 256, rng);
  bench_rows_dot<float>(8192, 512, rng);
  bench_rows_dot<std::uint16_t>(8192, 512, rng);
  // Attention shapes of ops.hpp: encoder scores (Q K^T via keys transposed) and context over
  // 1024 tokens, decoder scores of one head over 512 cached keys.
  bench_f32_matmul(64, 1024, 1024, rng);
  bench_f32_matmul(1024, 64, 1024, rng);
  bench_rows_dot<float>(512, 64, rng);
  bench_softmax(1024, rng);
  std::printf("(checksum %g)\n", g_sink);
  return 0;
}
