// Fuzzes a whole run on the tiny random model (build/testdata/tiny.safetensors): any query
// and any tools text, in every decoding mode. Input: the query, a NUL byte, the tools text.
// After each input the engine must still answer a fixed request exactly as it did before
// any fuzzing: bad input never leaves state behind. Seeds: tests/fuzz/corpus/run.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "needle/needle.hpp"

namespace {

constexpr std::string_view kQuery = "What's the weather in Paris?";
constexpr std::string_view kTools = R"([{"name":"get_weather","parameters":{"location":{"type":"string"}}}])";

struct Fixture {
  needle::Engine engine;
  std::string reference;  // the fixed request's answer, before any fuzz input
};

Fixture& fixture() {
  static std::optional<Fixture> f = [] {
    const char* dir = std::getenv("NEEDLE_TESTDATA_DIR");
    const std::string root = dir ? dir : NEEDLE_TESTDATA_DIR;
    auto blob = needle::map_file(root + "/tiny.safetensors");
    auto vocab = needle::map_file(root + "/tokenizer/vocab.txt");
    if (!blob.ok() || !vocab.ok()) std::abort();
    auto engine = needle::Engine::load(std::move(blob).value(), vocab->bytes);
    if (!engine.ok()) std::abort();
    needle::RunOptions opt;
    opt.max_tokens = 8;
    auto r = engine->run(kQuery, kTools, opt);
    if (!r.ok()) std::abort();
    return std::optional<Fixture>(Fixture{std::move(engine).value(), r->text});
  }();
  return *f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view query = input.substr(0, nul);
  const std::string_view tools = nul == std::string_view::npos ? std::string_view("[]") : input.substr(nul + 1);
  for (const needle::DecodeMode mode : {needle::DecodeMode::kTyped, needle::DecodeMode::kStrict, needle::DecodeMode::kOff}) {
    needle::RunOptions opt;
    opt.max_tokens = 6;
    opt.mode = mode;
    auto r = f.engine.run(query, tools, opt);
    if (!r.ok() && r.error().message.empty()) __builtin_trap();  // errors name the problem
  }
  needle::RunOptions opt;
  opt.max_tokens = 8;
  auto r = f.engine.run(kQuery, kTools, opt);
  if (!r.ok() || r->text != f.reference) __builtin_trap();  // the engine is as it was
  return 0;
}
