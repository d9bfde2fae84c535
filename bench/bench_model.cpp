// Model benchmark on a full-size random-weight model (d_model 512, 12+8 layers, vocab 8192):
// load ms, prefill tok/s, decode tok/s and end-to-end ms for a short, a medium (5 tools) and a
// long (20 tools) case. Prints medians; not a test.
//   bench_model [WEIGHTS [TOKENIZER]]   (defaults: the build's generated test data)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "needle/needle.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string tools_json(int n) {
  static const char* verbs[] = {"get", "set", "create", "delete", "list", "send", "find", "update"};
  static const char* nouns[] = {"weather", "timer", "message", "event", "light", "alarm",
                                "reminder", "contact", "song", "note", "order", "flight"};
  std::string s = "[";
  for (int i = 0; i < n; ++i) {
    const std::string name = std::string(verbs[i % 8]) + "_" + nouns[(i * 5) % 12] +
                             (i >= 8 ? "_" + std::to_string(i) : "");
    s += (i ? "," : "");
    s += "{\"name\":\"" + name + "\",\"description\":\"" + verbs[i % 8] + " a " + nouns[(i * 5) % 12] +
         " for the user, given the details they mention\",\"parameters\":{"
         "\"target\":{\"type\":\"string\",\"description\":\"what to act on\",\"required\":true},"
         "\"when\":{\"type\":\"string\",\"description\":\"date or time, ISO 8601\",\"required\":false},"
         "\"count\":{\"type\":\"integer\",\"description\":\"how many\",\"required\":false}}}";
  }
  return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
  const std::string weights_path = argc > 1 ? argv[1] : NEEDLE_TESTDATA_DIR "/full.safetensors";
  const std::string tok_path =
      argc > 2 ? argv[2] : NEEDLE_TESTDATA_DIR "/tokenizer/needle_spm.model";
  auto tok_blob = needle::map_file(tok_path);
  if (!tok_blob.ok()) {
    std::fprintf(stderr, "bench_model: %s\n", tok_blob.error().message.c_str());
    return 1;
  }

  std::vector<double> load;
  needle::Result<needle::Engine> engine = needle::make_error(needle::ErrorCode::kInternal, "");
  for (int i = 0; i < 7; ++i) {
    auto blob = needle::map_file(weights_path);
    if (!blob.ok()) {
      std::fprintf(stderr, "bench_model: %s\n", blob.error().message.c_str());
      return 1;
    }
    const auto t0 = Clock::now();
    engine = needle::Engine::load(std::move(blob).value(), tok_blob->bytes);
    load.push_back(ms(t0, Clock::now()));
    if (!engine.ok()) {
      std::fprintf(stderr, "bench_model: %s\n", engine.error().message.c_str());
      return 1;
    }
  }
  const needle::Model& model = engine->model();
  const needle::Config& c = model.config();
  std::printf("model: d_model %d, %d+%d layers, vocab %d, kernels %s\n", c.d_model,
              c.num_encoder_layers, c.num_decoder_layers, c.vocab_size,
              needle::kernels::kernels_backend());
  std::printf("load (parse + validate, file mapped): %.2f ms median of %zu\n", median(load), load.size());

  needle::Workspace ws;
  needle::DecoderState st;
  std::vector<float> enc, logits(c.vocab_size);

  // Prefill: encoder + cross K/V over n tokens.
  for (int n : {64, 256, 512, 1024}) {
    std::vector<std::int32_t> ids(n);
    for (int i = 0; i < n; ++i) ids[i] = 300 + (i * 37) % 7000;
    std::vector<double> t;
    for (int r = 0; r < (n >= 512 ? 3 : 5); ++r) {
      const auto t0 = Clock::now();
      model.encode(ids, ws, enc);
      model.begin_decode(enc.data(), n, ws, st);
      t.push_back(ms(t0, Clock::now()));
    }
    std::printf("prefill %4d tokens: %8.2f ms  %8.0f tok/s\n", n, median(t), n / median(t) * 1e3);
  }

  // Decode: 32 steps after a 256-token prefill, forced (EOS ignored). 15 repetitions: on
  // these shared machines five gave medians 20 % apart from one run to the next.
  {
    std::vector<double> t;
    for (int r = 0; r < 15; ++r) {
      std::vector<std::int32_t> ids(256, 400);
      model.encode(ids, ws, enc);
      model.begin_decode(enc.data(), 256, ws, st);
      std::int32_t tok = 1;
      const auto t0 = Clock::now();
      for (int s = 0; s < 32; ++s) {
        model.decode_step(tok, ws, st, logits.data());
        tok = needle::argmax(logits);
      }
      t.push_back(ms(t0, Clock::now()));
    }
    std::printf("decode 32 steps (256 enc tokens): %.2f ms  %.0f tok/s\n", median(t), 32 / median(t) * 1e3);
  }

  // End to end: tokenize + encoder + 32 forced decoder steps.
  struct Case { const char* name; std::string query, tools; };
  const Case cases[] = {
      {"short", "What's the weather in Paris?", tools_json(1)},
      {"medium", "Set a timer for 10 minutes and then remind me to call Alice at 5pm", tools_json(5)},
      {"long", "Send a message to Bob saying I will be late for the meeting tomorrow", tools_json(20)},
  };
  for (const Case& k : cases) {
    std::vector<double> t;
    int n_enc = 0;
    for (int r = 0; r < 5; ++r) {
      const auto t0 = Clock::now();
      const auto ids = engine->encoder_ids(k.query, k.tools);
      n_enc = static_cast<int>(ids.size());
      model.encode(ids, ws, enc);
      model.begin_decode(enc.data(), n_enc, ws, st);
      std::int32_t tok = 1;
      for (int s = 0; s < 32; ++s) {
        model.decode_step(tok, ws, st, logits.data());
        tok = needle::argmax(logits);
      }
      t.push_back(ms(t0, Clock::now()));
    }
    std::printf("end-to-end %-6s (%4d enc tokens, 32 generated): %8.2f ms\n", k.name, n_enc, median(t));
  }
  return 0;
}
