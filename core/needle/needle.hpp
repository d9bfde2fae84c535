// The one include a user of the core needs: Engine = weights + tokenizer + a reusable
// workspace; load once, then run queries.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "needle/blob.hpp"
#include "needle/calls.hpp"
#include "needle/config.hpp"
#include "needle/constrain.hpp"
#include "needle/error.hpp"
#include "needle/generate.hpp"
#include "needle/model.hpp"
#include "needle/retrieval.hpp"
#include "needle/safetensors.hpp"
#include "needle/tokenizer.hpp"
#include "needle/tools.hpp"
#include "needle/weights.hpp"

#ifndef NEEDLE_MAX_RETRIEVAL_DOCS
#define NEEDLE_MAX_RETRIEVAL_DOCS 10000u
#endif

#ifndef NEEDLE_MAX_QUERY_BYTES
#define NEEDLE_MAX_QUERY_BYTES (1u << 20)
#endif

namespace needle {

struct Timings {
  double load_ms = 0;    // parse + validate weights and tokenizer (the load call)
  double encode_ms = 0;  // tokenize + encoder + cross-attention K/V
  double decode_ms = 0;  // all decoder steps
};

struct RunOptions {
  int max_tokens = 0;                     // 0: up to max_dec_len - 1 generated ids
  DecodeMode mode = DecodeMode::kTyped;   // constrained decoding (NEEDLE.md section 8)
};

// Parses "off" / "strict" / "typed".
inline Result<DecodeMode> parse_decode_mode(std::string_view s) {
  if (s == "typed") return DecodeMode::kTyped;
  if (s == "strict") return DecodeMode::kStrict;
  if (s == "off") return DecodeMode::kOff;
  return make_error(ErrorCode::kInvalidArgument,
                    "mode must be typed, strict or off, got '" + std::string(s) + "'");
}

struct RunResult {
  std::string text;                  // tool names as the caller wrote them
  ParsedCalls calls;                 // the text parsed against the tools, with violations
  std::vector<std::int32_t> tokens;  // generated ids, without the start token, EOS excluded
  int encoder_tokens = 0;
  Timings timings;
};

// Called with each generated id and the text it completes (see TextStreamer: whole UTF-8
// characters only, possibly empty); return false to stop generating.
using TokenCallback = std::function<bool(std::int32_t id, std::string_view text)>;

// One step of a Generation: a generated id and the text it completes, or the end.
struct GenerationStep {
  std::int32_t id = kEosId;  // the generated id; kEosId when done
  std::string text;          // the characters `id` completes (TextStreamer), possibly ""
  bool done = false;         // generation ended (EOS or the length cap): no id in this step
};

class Engine;

// One run of the generation protocol, a step at a time: Engine::start() encodes, next()
// generates one id, finish() gives the run's RunResult (after the end, or early to stop).
// It borrows its Engine's workspace and caches, so an engine has one live generation: a
// later start() or run() makes this one stale, and its next()/finish() then fail (they
// never touch the engine's buffers). The Engine must outlive it and must not move.
class Generation {
 public:
  Generation(Generation&&) noexcept = default;
  Generation& operator=(Generation&&) noexcept = default;

  Result<GenerationStep> next();
  // The RunResult of the ids generated so far; the generation is over afterwards.
  Result<RunResult> finish();

  bool done() const { return s_ && s_->decoder.done(); }
  std::span<const std::int32_t> tokens() const {
    return s_ ? std::span<const std::int32_t>(s_->result.tokens) : std::span<const std::int32_t>();
  }

 private:
  friend class Engine;
  // On the heap: the Constrainer borrows `tools`, and a Generation must stay movable.
  struct State {
    State(Engine& e, std::uint64_t epoch, CanonicalTools canonical, const TokenTable& table,
          const Tokenizer& tok, const Config& config, DecodeMode mode, int limit)
        : engine(&e),
          epoch(epoch),
          tools(std::move(canonical)),
          constrainer(table, tools, mode, limit),
          streamer(tok),
          decoder(config, limit) {}
    Engine* engine;
    std::uint64_t epoch;  // the engine's generation count when this one started
    CanonicalTools tools;
    Constrainer constrainer;
    TextStreamer streamer;
    GreedyDecoder decoder;
    RunResult result;  // tokens and timings as they accumulate
    bool finished = false;
  };
  explicit Generation(std::unique_ptr<State> s) : s_(std::move(s)) {}
  Status check_live(const char* what) const;

  std::unique_ptr<State> s_;
};

class Engine {
 public:
  // Takes ownership of the weights bytes (views into them are kept); the tokenizer bytes are
  // parsed and may be freed after the call. Nothing is half-built on failure.
  static Result<Engine> load(Blob weights, std::span<const std::uint8_t> tokenizer_bytes) {
    const auto t0 = std::chrono::steady_clock::now();
    auto w = load_weights(weights.bytes);
    if (!w.ok()) return std::move(w).error();
    const Config& config = w->config;
    auto tok = Tokenizer::load(tokenizer_bytes);
    if (!tok.ok()) return std::move(tok).error();
    if (tok->vocab_size() != config.vocab_size)
      return make_error(ErrorCode::kBadTokenizer,
                        "tokenizer has " + std::to_string(tok->vocab_size()) +
                            " pieces but the model's vocab_size is " +
                            std::to_string(config.vocab_size) + ": wrong vocab for these weights");
    Engine e;
    e.blob_ = std::move(weights);
    e.model_ = Model::create(std::move(w).value());
    e.tokenizer_ = std::move(tok).value();
    e.token_table_ = TokenTable::build(e.tokenizer_);
    e.load_ms_ = ms_since(t0);
    return e;
  }

  const Config& config() const { return model_.config(); }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  const Model& model() const { return model_; }
  double load_ms() const { return load_ms_; }

  // The encoder input of NEEDLE.md section 5 for an already canonical tools string.
  std::vector<std::int32_t> encoder_ids(std::string_view query, std::string_view tools) const {
    return needle::encoder_ids(tokenizer_, config(), query, tools);
  }

  // Encodes the query and tools and sets up one generation (see Generation). Makes any
  // earlier generation of this engine stale.
  Result<Generation> start(std::string_view query, std::string_view tools, const RunOptions& opt = {}) {
    ++generation_count_;  // every start, even one that fails, ends the previous generation
    NEEDLE_RETURN_IF_ERROR(check_query(query));
    if (opt.max_tokens < 0)
      return make_error(ErrorCode::kInvalidArgument,
                        "max_tokens must be >= 0, got " + std::to_string(opt.max_tokens));
    const auto t0 = std::chrono::steady_clock::now();
    // NEEDLE.md section 5.1: the encoder reads the canonical form of whatever format came in.
    auto canonical = canonicalize_tools(tools);
    if (!canonical.ok()) return std::move(canonical).error();
    const std::vector<std::int32_t> ids = encoder_ids(query, canonical->json);
    model_.encode(ids, ws_, enc_);
    model_.begin_decode(enc_.data(), static_cast<int>(ids.size()), ws_, dec_);
    const auto t1 = std::chrono::steady_clock::now();
    const int limit = std::min(opt.max_tokens > 0 ? opt.max_tokens : config().max_dec_len - 1,
                               config().max_dec_len - 1);
    auto state = std::make_unique<Generation::State>(*this, generation_count_, std::move(canonical).value(),
                                                     token_table_, tokenizer_, config(), opt.mode, limit);
    RunResult& r = state->result;
    r.encoder_tokens = static_cast<int>(ids.size());
    r.timings.load_ms = load_ms_;
    r.timings.encode_ms = ms_between(t0, t1);
    r.timings.decode_ms = ms_since(t1);  // building the constraints; next() adds its steps
    return Generation(std::move(state));
  }

  // start(), next() until done or until on_token returns false, finish().
  Result<RunResult> run(std::string_view query, std::string_view tools, const RunOptions& opt = {},
                        const TokenCallback& on_token = nullptr) {
    auto gen = start(query, tools, opt);
    if (!gen.ok()) return std::move(gen).error();
    for (;;) {
      auto step = gen->next();
      if (!step.ok()) return std::move(step).error();
      if (step->done || (on_token && !on_token(step->id, step->text))) break;
    }
    return gen->finish();
  }

  // Retrieval embedding of `text` (NEEDLE.md section 10).
  Result<Embedding> embed(std::string_view text) {
    NEEDLE_RETURN_IF_ERROR(check_text(text, "text"));
    return embed_text(model_, tokenizer_, text, ws_, enc_);
  }

  // The k descriptions closest to `query`, best first. k < 0 ranks them all.
  Result<std::vector<RankedTool>> retrieve_tools(std::string_view query,
                                                 const std::vector<std::string>& descriptions,
                                                 int k) {
    NEEDLE_RETURN_IF_ERROR(check_query(query));
    if (descriptions.size() > NEEDLE_MAX_RETRIEVAL_DOCS)
      return make_error(ErrorCode::kInvalidArgument,
                        std::to_string(descriptions.size()) + " descriptions; the limit is " +
                            std::to_string(NEEDLE_MAX_RETRIEVAL_DOCS));
    const Embedding q = embed_text(model_, tokenizer_, query, ws_, enc_);
    std::vector<std::vector<float>> docs;
    docs.reserve(descriptions.size());
    for (std::size_t i = 0; i < descriptions.size(); ++i) {
      NEEDLE_RETURN_IF_ERROR(check_text(descriptions[i], "description " + std::to_string(i)));
      docs.push_back(embed_text(model_, tokenizer_, descriptions[i], ws_, enc_).vector);
    }
    return rank_by_cosine(q.vector, docs, k);
  }

  bool has_retrieval_head() const { return model_.weights.retrieval.has_value(); }

 private:
  static Status check_text(std::string_view text, const std::string& what) {
    if (text.size() > NEEDLE_MAX_QUERY_BYTES)
      return make_error(ErrorCode::kInvalidArgument,
                        what + " is " + std::to_string(text.size()) + " bytes; the limit is " +
                            std::to_string(NEEDLE_MAX_QUERY_BYTES));
    return {};
  }
  static Status check_query(std::string_view query) {
    if (query.empty()) return make_error(ErrorCode::kInvalidArgument, "query is empty");
    return check_text(query, "query");
  }
  friend class Generation;

  static double ms_between(std::chrono::steady_clock::time_point a,
                           std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  }
  static double ms_since(std::chrono::steady_clock::time_point a) {
    return ms_between(a, std::chrono::steady_clock::now());
  }

  Blob blob_;
  Model model_;
  Tokenizer tokenizer_;
  TokenTable token_table_;  // per-token texts and indexes for constrained decoding, built once
  double load_ms_ = 0;
  Workspace ws_;
  DecoderState dec_;
  std::vector<float> enc_, logits_;
  std::uint64_t generation_count_ = 0;  // start() calls so far: tells a Generation it is stale
};

inline Status Generation::check_live(const char* what) const {
  if (!s_) return make_error(ErrorCode::kInvalidArgument, std::string(what) + ": this Generation was moved from");
  if (s_->finished)
    return make_error(ErrorCode::kInvalidArgument, std::string(what) + ": this Generation is finished");
  if (s_->engine->generation_count_ != s_->epoch)
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) +
                          ": this Generation is stale: its engine started another generation (start or run) since");
  return {};
}

inline Result<GenerationStep> Generation::next() {
  NEEDLE_RETURN_IF_ERROR(check_live("Generation::next"));
  State& s = *s_;
  Engine& e = *s.engine;
  const auto t0 = std::chrono::steady_clock::now();
  GenerationStep step;
  step.id = s.decoder.next(e.model_, e.ws_, e.dec_, e.logits_, [&](std::span<float> logits) {
    return s.constrainer.pick(logits);
  });
  if (step.id == kEosId) {
    step.done = true;
  } else {
    s.constrainer.accept(step.id);
    s.result.tokens.push_back(step.id);
    step.text = s.streamer.push(step.id);
  }
  s.result.timings.decode_ms += Engine::ms_since(t0);
  return step;
}

inline Result<RunResult> Generation::finish() {
  NEEDLE_RETURN_IF_ERROR(check_live("Generation::finish"));
  State& s = *s_;
  s.finished = true;
  RunResult r = std::move(s.result);
  const std::string text = output_text(s.engine->tokenizer_, r.tokens);
  r.calls = parse_calls(text, s.tools);
  r.text = restore_tool_names(text, s.tools);
  return r;
}

}  // namespace needle
