// The embind surface of the core for the npm package (js/): class NeedleWasm.
//
// Adapts types and errors only; the core decides. The module is built without C++
// exceptions, so nothing throws across this boundary: every call returns a plain object,
// {ok: true, ...} or {ok: false, code, message} with code = needle::error_code_name, and
// js/ turns failures into a NeedleError. A failed call leaves the instance as it was.
//
// Memory: the caller mallocs the weights and tokenizer bytes in this module's heap and
// hands both to load(), which takes ownership of them whatever happens: the weights stay
// as the engine's Blob (views into them, no float copy of INT4 matrices) and are freed with
// the engine; the tokenizer bytes are parsed and freed at once.
//
// Stepwise generation (start / next / finish / cancel) lets js/ yield to the event loop
// between tokens. One generation lives at a time: start() returns its number, the step calls
// take it back, and any later start, run, run_stream, run_batch, load or dispose ends it, so a
// superseded stream fails with a message that says so.
//
// Callbacks (run_stream's onToken) must not throw: a JS exception would unwind through
// the WebAssembly frames without running C++ destructors.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <malloc.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "needle/json.hpp"
#include "needle/needle.hpp"

namespace {

using emscripten::val;
using needle::ErrorCode;

val failure(const needle::Error& e) {
  val out = val::object();
  out.set("ok", false);
  out.set("code", std::string(needle::error_code_name(e.code)));
  out.set("message", e.message);
  return out;
}

val failure(ErrorCode code, std::string message) {
  return failure(needle::make_error(code, std::move(message)));
}

val success() {
  val out = val::object();
  out.set("ok", true);
  return out;
}

// A fresh JS typed array holding a copy of `v` (the vector dies with this call).
template <class T>
val copy_to_js(const char* array_type, const std::vector<T>& v) {
  return val::global(array_type).new_(emscripten::typed_memory_view(v.size(), v.data()));
}

// Run options as JSON: {"maxTokens": n, "mode": "off" | "strict" | "typed"}. Unknown keys
// are refused, so a typo is not silently ignored.
needle::Result<needle::RunOptions> parse_run_options(std::string_view text) {
  needle::RunOptions opt;
  if (text.empty()) return opt;
  auto parsed = needle::json::parse(text);
  if (!parsed.ok()) return needle::make_error(ErrorCode::kInvalidArgument, "options: " + parsed.error().message);
  if (!parsed->is_object())
    return needle::make_error(ErrorCode::kInvalidArgument, "options must be a JSON object");
  for (std::size_t i = 0; i < parsed->keys.size(); ++i) {
    const std::string& key = parsed->keys[i];
    const needle::json::Value& v = parsed->items[i];
    if (key == "maxTokens") {
      if (v.is_null()) continue;
      int n = -1;
      const char* end = v.text.data() + v.text.size();
      if (!v.is_number() || std::from_chars(v.text.data(), end, n).ptr != end || n < 0)
        return needle::make_error(ErrorCode::kInvalidArgument,
                                  "options.maxTokens must be an integer >= 0, got " + needle::json::dump(v));
      opt.max_tokens = n;
    } else if (key == "mode") {
      if (v.is_null()) continue;
      if (!v.is_string())
        return needle::make_error(ErrorCode::kInvalidArgument,
                                  "options.mode must be a string, got " + needle::json::dump(v));
      auto mode = needle::parse_decode_mode(v.text);
      if (!mode.ok()) return needle::make_error(ErrorCode::kInvalidArgument, "options." + mode.error().message);
      opt.mode = *mode;
    } else {
      return needle::make_error(ErrorCode::kInvalidArgument,
                                "options: unknown key \"" + key + "\" (known: maxTokens, mode)");
    }
  }
  return opt;
}

// The parsed calls as JSON text (JSON.parse on the JS side is the cheapest way across).
std::string calls_json(const needle::ParsedCalls& parsed) {
  needle::json::Value calls = needle::json::Value::array();
  for (const needle::Call& c : parsed.calls) {
    needle::json::Value call = needle::json::Value::object();
    call.set("name", needle::json::Value::from_string(c.name));
    call.set("arguments", c.arguments);
    calls.push_back(std::move(call));
  }
  return needle::json::dump(calls);
}

val run_result(const needle::RunResult& r) {
  val out = success();
  out.set("text", r.text);
  out.set("calls", calls_json(r.calls));
  val violations = val::array();
  for (const std::string& v : r.calls.violations) violations.call<void>("push", v);
  out.set("violations", violations);
  out.set("tokens", copy_to_js("Int32Array", r.tokens));
  out.set("encoderTokens", r.encoder_tokens);
  val timings = val::object();
  timings.set("loadMs", r.timings.load_ms);
  timings.set("encodeMs", r.timings.encode_ms);
  timings.set("decodeMs", r.timings.decode_ms);
  out.set("timings", timings);
  return out;
}

class NeedleWasm {
 public:
  // Takes ownership of both buffers (see the top of this file); replaces the current model
  // only when the new one loads.
  val load(std::uintptr_t weights, std::size_t weights_len, std::uintptr_t tokenizer,
           std::size_t tokenizer_len) {
    auto* const w = reinterpret_cast<std::uint8_t*>(weights);
    std::unique_ptr<std::uint8_t, decltype(&std::free)> tok(reinterpret_cast<std::uint8_t*>(tokenizer),
                                                            &std::free);
    needle::Blob blob{std::shared_ptr<const void>(w, [](const void* p) { std::free(const_cast<void*>(p)); }),
                      std::span<const std::uint8_t>(w, weights_len)};
    if (busy_) return busy();
    if (weights == 0 || tokenizer == 0)
      return failure(ErrorCode::kInvalidArgument, "load: a null weights or tokenizer pointer");
    auto engine = needle::Engine::load(std::move(blob), std::span<const std::uint8_t>(tok.get(), tokenizer_len));
    if (!engine.ok()) return failure(engine.error());
    end_generation();  // it points into the engine being replaced
    engine_.emplace(std::move(engine).value());
    return info();
  }

  // The loaded model's facts: what js/ shows as `needle.info`.
  val info() const {
    if (!engine_) return not_loaded();
    const needle::Config& c = engine_->config();
    val out = success();
    out.set("vocabSize", c.vocab_size);
    out.set("dModel", c.d_model);
    out.set("encoderLayers", c.num_encoder_layers);
    out.set("decoderLayers", c.num_decoder_layers);
    out.set("maxEncLen", c.max_enc_len);
    out.set("maxDecLen", c.max_dec_len);
    out.set("embedding", std::string(engine_->has_retrieval_head() ? "head" : "mean_pool"));
    out.set("kernels", std::string(needle::kernels::kernels_backend()));
    out.set("loadMs", engine_->load_ms());
    return out;
  }

  val run(const std::string& query, const std::string& tools, const std::string& options) {
    return run_impl(query, tools, options, nullptr);
  }

  // onToken(id, text) after each generated id, with the text it completes (the core's
  // TextStreamer: whole UTF-8 characters, possibly ""). Returning false stops.
  val run_stream(const std::string& query, const std::string& tools, const std::string& options,
                 val on_token) {
    if (on_token.typeOf().as<std::string>() != "function")
      return failure(ErrorCode::kInvalidArgument, "run_stream: onToken must be a function");
    return run_impl(query, tools, options, [&](std::int32_t id, std::string_view text) {
      return !on_token(id, std::string(text)).isFalse();
    });
  }

  // Encodes and sets up a generation; returns {ok, generation}: the number next(), finish()
  // and cancel() take.
  val start(const std::string& query, const std::string& tools, const std::string& options) {
    if (busy_) return busy();
    if (!engine_) return not_loaded();
    auto opt = parse_run_options(options);
    if (!opt.ok()) return failure(opt.error());
    end_generation();
    auto gen = engine_->start(query, tools, *opt);
    if (!gen.ok()) return failure(gen.error());
    generation_.emplace(std::move(gen).value());
    ++generation_number_;
    val out = success();
    out.set("generation", generation_number_);
    return out;
  }

  // One step: {ok, id, text, done}; done: generation ended, no id.
  val next(double generation) {
    if (val refused = check_generation(generation, "next"); !refused.isUndefined()) return refused;
    auto step = generation_->next();
    if (!step.ok()) return failure(step.error());
    val out = success();
    out.set("id", step->id);
    out.set("text", step->text);
    out.set("done", step->done);
    return out;
  }

  // The run's result (what run() returns) for the ids generated so far; ends the generation.
  val finish(double generation) {
    if (val refused = check_generation(generation, "finish"); !refused.isUndefined()) return refused;
    auto r = generation_->finish();
    end_generation();
    if (!r.ok()) return failure(r.error());
    return run_result(*r);
  }

  // Ends the generation without a result (an abort); a superseded one is already gone.
  void cancel(double generation) {
    if (generation_ && generation == generation_number_) end_generation();
  }

  // items: a JSON array of {"query": string, "tools": JSON text or value, "options"?: object}.
  // Returns an array with one result object per item; an item's failure fails that item only.
  val run_batch(const std::string& items_json) {
    if (busy_) return busy();
    if (!engine_) return not_loaded();
    auto items = needle::json::parse(items_json);
    if (!items.ok()) return failure(ErrorCode::kInvalidArgument, "run_batch: " + items.error().message);
    if (!items->is_array())
      return failure(ErrorCode::kInvalidArgument, "run_batch: items must be a JSON array");
    val results = val::array();
    for (std::size_t i = 0; i < items->items.size(); ++i) {
      const needle::json::Value& item = items->items[i];
      const std::string where = "run_batch: item " + std::to_string(i);
      const needle::json::Value* query = item.is_object() ? item.find("query") : nullptr;
      const needle::json::Value* tools = item.is_object() ? item.find("tools") : nullptr;
      const needle::json::Value* options = item.is_object() ? item.find("options") : nullptr;
      if (query == nullptr || !query->is_string() || tools == nullptr) {
        results.call<void>("push", failure(ErrorCode::kInvalidArgument,
                                           where + " must be an object with a string \"query\" and \"tools\""));
        continue;
      }
      const std::string tools_text = tools->is_string() ? tools->text : needle::json::dump(*tools);
      const std::string options_text = options && !options->is_null() ? needle::json::dump(*options) : "";
      results.call<void>("push", run_impl(query->text, tools_text, options_text, nullptr));
    }
    return results;
  }

  // descriptions: a JSON array of strings. k < 0: rank them all. Results best first.
  val retrieve_tools(const std::string& query, const std::string& descriptions_json, int k) {
    if (busy_) return busy();
    if (!engine_) return not_loaded();
    auto parsed = needle::json::parse(descriptions_json);
    if (!parsed.ok()) return failure(ErrorCode::kInvalidArgument, "descriptions: " + parsed.error().message);
    std::vector<std::string> descriptions;
    if (!parsed->is_array())
      return failure(ErrorCode::kInvalidArgument, "descriptions must be a JSON array of strings");
    for (needle::json::Value& d : parsed->items) {
      if (!d.is_string())
        return failure(ErrorCode::kInvalidArgument, "descriptions must be a JSON array of strings");
      descriptions.push_back(std::move(d.text));
    }
    Busy guard(busy_);
    auto ranked = engine_->retrieve_tools(query, descriptions, k);
    if (!ranked.ok()) return failure(ranked.error());
    val out = success();
    out.set("embedding", std::string(engine_->has_retrieval_head() ? "head" : "mean_pool"));
    val results = val::array();
    for (const needle::RankedTool& r : *ranked) {
      val item = val::object();
      item.set("index", r.index);
      item.set("score", r.score);
      results.call<void>("push", item);
    }
    out.set("results", results);
    return out;
  }

  // The retrieval embedding of `text` (L2-normalised), and which head made it.
  val encode_contrastive(const std::string& text) {
    if (busy_) return busy();
    if (!engine_) return not_loaded();
    Busy guard(busy_);
    auto e = engine_->embed(text);
    if (!e.ok()) return failure(e.error());
    val out = success();
    out.set("embedding", std::string(e->used_head ? "head" : "mean_pool"));
    out.set("vector", copy_to_js("Float32Array", e->vector));
    return out;
  }

  // Frees the model and its weights. Later calls answer not_loaded; load() may follow.
  val dispose() {
    if (busy_) return busy();
    end_generation();
    engine_.reset();
    return success();
  }

  bool loaded() const { return engine_.has_value(); }

  // The allocator's view of the heap: bytes in use (weights included) and the heap's size.
  static val memory() {
    const struct mallinfo m = mallinfo();
    val out = val::object();
    out.set("heapInUseBytes", static_cast<double>(m.uordblks));
    out.set("heapBytes", static_cast<double>(m.arena));
    return out;
  }

 private:
  // Marks the engine in use, so a callback cannot re-enter it mid-run.
  struct Busy {
    explicit Busy(bool& b) : flag(b) { flag = true; }
    ~Busy() { flag = false; }
    bool& flag;
  };

  static val not_loaded() {
    return failure(ErrorCode::kNotLoaded, "no model is loaded (never loaded, or disposed)");
  }
  static val busy() {
    return failure(ErrorCode::kInvalidArgument,
                   "this NeedleWasm is busy: it was called from inside its own onToken callback");
  }

  val run_impl(const std::string& query, const std::string& tools, const std::string& options,
               const needle::TokenCallback& on_token) {
    if (busy_) return busy();
    if (!engine_) return not_loaded();
    auto opt = parse_run_options(options);
    if (!opt.ok()) return failure(opt.error());
    end_generation();  // the engine's run would make it stale anyway
    Busy guard(busy_);
    auto r = engine_->run(query, tools, *opt, on_token);
    if (!r.ok()) return failure(r.error());
    return run_result(*r);
  }

  // Drops the live generation, if any; before anything that replaces or frees the engine.
  void end_generation() { generation_.reset(); }

  // undefined when `generation` is the live one; otherwise the failure to return.
  val check_generation(double generation, const char* what) const {
    if (busy_) return busy();
    if (!engine_) return not_loaded();
    if (!generation_ || generation != generation_number_)
      return failure(ErrorCode::kInvalidArgument,
                     std::string(what) + ": generation " + std::to_string(static_cast<long long>(generation)) +
                         (generation < 1 || generation > generation_number_
                              ? " was never started"
                              : " is over: finished, cancelled, or superseded by a later start, run, "
                                "run_stream, run_batch, load or dispose on this NeedleWasm"));
    return val::undefined();
  }

  std::optional<needle::Engine> engine_;
  std::optional<needle::Generation> generation_;  // borrows *engine_
  double generation_number_ = 0;                  // of the last start(); a double for JS
  bool busy_ = false;
};

}  // namespace

EMSCRIPTEN_BINDINGS(needle_wasm) {
  emscripten::class_<NeedleWasm>("NeedleWasm")
      .constructor<>()
      .function("load", &NeedleWasm::load)
      .function("info", &NeedleWasm::info)
      .function("run", &NeedleWasm::run)
      .function("run_stream", &NeedleWasm::run_stream)
      .function("start", &NeedleWasm::start)
      .function("next", &NeedleWasm::next)
      .function("finish", &NeedleWasm::finish)
      .function("cancel", &NeedleWasm::cancel)
      .function("run_batch", &NeedleWasm::run_batch)
      .function("retrieve_tools", &NeedleWasm::retrieve_tools)
      .function("encode_contrastive", &NeedleWasm::encode_contrastive)
      .function("dispose", &NeedleWasm::dispose)
      .function("loaded", &NeedleWasm::loaded)
      .class_function("memory", &NeedleWasm::memory);
}
