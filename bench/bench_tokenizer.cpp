// Tokenizer throughput on the generated corpus: load time, encode MB/s (whole corpus as
// one string, and line by line as queries arrive), decode MB/s.
// Usage: bench_tokenizer [tokenizer dir]   (default: the build's testdata/tokenizer)
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "needle/tokenizer.hpp"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : NEEDLE_TESTDATA_DIR "/tokenizer";
  const std::string model = read_file(dir + "/needle_spm.model");
  const std::string corpus = read_file(dir + "/corpus.txt");
  if (model.empty() || corpus.empty()) {
    std::fprintf(stderr, "bench_tokenizer: no needle_spm.model / corpus.txt in %s\n", dir.c_str());
    return 1;
  }

  auto t0 = std::chrono::steady_clock::now();
  auto loaded = needle::Tokenizer::from_model_proto(
      {reinterpret_cast<const std::uint8_t*>(model.data()), model.size()});
  const double load_s = seconds_since(t0);
  if (!loaded.ok()) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", loaded.error().message.c_str());
    return 1;
  }
  const needle::Tokenizer& tok = loaded.value();
  std::printf("load .model (%zu KB, %d pieces): %.2f ms\n", model.size() / 1024, tok.vocab_size(),
              load_s * 1e3);

  std::vector<std::string> lines;
  for (std::size_t pos = 0; pos < corpus.size();) {
    const std::size_t nl = std::min(corpus.find('\n', pos), corpus.size());
    lines.push_back(corpus.substr(pos, nl - pos));
    pos = nl + 1;
  }

  const double mb = static_cast<double>(corpus.size()) / 1e6;
  std::size_t tokens = 0;
  double best_whole = 1e30, best_lines = 1e30, best_decode = 1e30;
  std::vector<std::int32_t> ids;
  for (int rep = 0; rep < 3; ++rep) {
    t0 = std::chrono::steady_clock::now();
    ids = tok.encode(corpus);
    best_whole = std::min(best_whole, seconds_since(t0));

    t0 = std::chrono::steady_clock::now();
    tokens = 0;
    for (const std::string& line : lines) tokens += tok.encode(line).size();
    best_lines = std::min(best_lines, seconds_since(t0));

    t0 = std::chrono::steady_clock::now();
    const std::string text = tok.decode(ids);
    best_decode = std::min(best_decode, seconds_since(t0));
    if (text.empty()) return 1;
  }
  std::printf("encode whole corpus (%.2f MB -> %zu ids): %.1f ms, %.1f MB/s\n", mb, ids.size(),
              best_whole * 1e3, mb / best_whole);
  std::printf("encode %zu lines (%zu ids): %.1f ms, %.1f MB/s\n", lines.size(), tokens,
              best_lines * 1e3, mb / best_lines);
  std::printf("decode %zu ids: %.1f ms, %.1f MB/s of text\n", ids.size(), best_decode * 1e3,
              mb / best_decode);

  // Scaling: 8x the text should cost about 8x the time (n log n), a quadratic merge loop 64x.
  for (const std::string& unit : {corpus.substr(0, 100'000), std::string(100'000, 'a')}) {
    std::string big;
    for (int k = 0; k < 8; ++k) big += unit;
    double small_s = 1e30, big_s = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      t0 = std::chrono::steady_clock::now();
      if (tok.encode(unit).empty()) return 1;
      small_s = std::min(small_s, seconds_since(t0));
      t0 = std::chrono::steady_clock::now();
      if (tok.encode(big).empty()) return 1;
      big_s = std::min(big_s, seconds_since(t0));
    }
    std::printf("scaling (%s): 100 KB %.1f ms, 800 KB %.1f ms, ratio %.1fx (linear: 8x)\n",
                unit[1] == 'a' ? "'a' x 100000" : "corpus", small_s * 1e3, big_s * 1e3, big_s / small_s);
  }
  return 0;
}
