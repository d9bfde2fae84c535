// Engine: the generation protocol (NEEDLE.md section 5), the two tokenizer formats, caps,
// streaming, and errors that name the problem and leave the engine usable.
#include <gtest/gtest.h>

#include "needle/needle.hpp"
#include "test_util.hpp"

namespace needle {
namespace {

const std::string kTiny = NEEDLE_TESTDATA_DIR "/tiny.safetensors";
const std::string kSpm = NEEDLE_TESTDATA_DIR "/tokenizer/needle_spm.model";
const std::string kVocab = NEEDLE_TESTDATA_DIR "/tokenizer/vocab.txt";
const std::string kTools =
    R"([{"name":"get_weather","description":"Get current weather for a city","parameters":{"location":{"type":"string"}}}])";

Engine load(const std::string& weights = kTiny, const std::string& tok = kSpm) {
  auto blob = map_file(weights);
  EXPECT_TRUE(blob.ok()) << blob.error().message;
  const auto tok_bytes = test::read_bytes(tok);
  auto e = Engine::load(std::move(blob).value(), tok_bytes);
  EXPECT_TRUE(e.ok()) << e.error().message;
  return std::move(e).value();
}

RunResult run_ok(Engine& e, std::string_view q, std::string_view tools, RunOptions opt = {}) {
  auto r = e.run(q, tools, opt);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(r).value() : RunResult{};
}

TEST(Engine, ModelProtoAndVocabTextGiveTheSameAnswer) {
  Engine a = load(kTiny, kSpm), b = load(kTiny, kVocab);
  for (const char* q : {"What's the weather in Paris?", "  Set   a timer\tfor 10 minutes\n", "東京の天気は？ 🌧"}) {
    RunOptions opt;
    opt.max_tokens = 24;
    const RunResult ra = run_ok(a, q, kTools, opt), rb = run_ok(b, q, kTools, opt);
    EXPECT_EQ(a.encoder_ids(q, kTools), b.encoder_ids(q, kTools)) << q;
    EXPECT_EQ(ra.tokens, rb.tokens) << q;
    EXPECT_EQ(ra.text, rb.text) << q;
  }
}

TEST(Engine, EncoderIdsFollowTheProtocol) {
  Engine e = load();
  const Tokenizer& tok = e.tokenizer();
  const int max_enc = e.config().max_enc_len;
  // Short: query ids, <tools>, tools ids; no BOS, no EOS.
  const auto q = tok.encode("What's the weather in Paris?");
  const auto t = tok.encode(kTools);
  std::vector<std::int32_t> want = q;
  want.push_back(5);
  want.insert(want.end(), t.begin(), t.end());
  EXPECT_EQ(e.encoder_ids("What's the weather in Paris?", kTools), want);
  // A query longer than the encoder: cut to max_enc_len - 2, then <tools> and one tools id.
  std::string long_query;
  for (int i = 0; i < 2 * max_enc; ++i) long_query += "word" + std::to_string(i) + " ";
  const auto lq = tok.encode(long_query);
  ASSERT_GT(lq.size(), std::size_t(max_enc));
  const auto ids = e.encoder_ids(long_query, kTools);
  ASSERT_EQ(ids.size(), std::size_t(max_enc));
  EXPECT_TRUE(std::equal(ids.begin(), ids.begin() + max_enc - 2, lq.begin()));
  EXPECT_EQ(ids[max_enc - 2], 5);
  EXPECT_EQ(ids[max_enc - 1], t[0]);
  // Long tools: cut to what remains after the query and <tools>.
  std::string long_tools = "[";
  for (int i = 0; i < 300; ++i) long_tools += (i ? "," : "") + std::string(R"({"name":"tool_)") + std::to_string(i) + R"("})";
  long_tools += "]";
  const auto ids2 = e.encoder_ids("hi", long_tools);
  EXPECT_EQ(ids2.size(), std::size_t(max_enc));
  EXPECT_EQ(ids2[tok.encode("hi").size()], 5);
  // And the run itself accepts both (no crash at the cap).
  RunOptions opt;
  opt.max_tokens = 4;
  run_ok(e, long_query, long_tools, opt);
}

TEST(Engine, ErrorsNameTheProblemAndLeaveTheEngineUsable) {
  Engine e = load();
  RunOptions opt;
  opt.max_tokens = 16;
  const RunResult before = run_ok(e, "Turn on the lights", kTools, opt);

  auto empty = e.run("", kTools, opt);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(empty.error().message.find("query is empty"), std::string::npos);

  const std::string huge(NEEDLE_MAX_QUERY_BYTES + 1, 'a');
  auto big = e.run(huge, kTools, opt);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("limit"), std::string::npos);

  RunOptions bad;
  bad.max_tokens = -1;
  auto neg = e.run("hi", kTools, bad);
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.error().message.find("max_tokens"), std::string::npos);

  for (const char* tools : {"[{\"name\": ", "[{\"description\":\"no name\"}]", "[{\"name\":\"a\"},{\"name\":\"A\"}]", ""}) {
    auto bad_tools = e.run("hi", tools, opt);
    ASSERT_FALSE(bad_tools.ok()) << tools;
    EXPECT_EQ(bad_tools.error().code, ErrorCode::kBadTools) << tools;
  }
  // The same tools in another format give the same answer (canonicalised first).
  const std::string openai =
      R"([{"type":"function","function":{"name":"getWeather","description":"Get current weather for a city","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}])";
  const std::string flat =
      R"([{"name":"get_weather","description":"Get current weather for a city","parameters":{"location":{"type":"string","required":false}}}])";
  EXPECT_EQ(run_ok(e, "weather in Oslo", openai, opt).tokens, run_ok(e, "weather in Oslo", flat, opt).tokens);

  // Invalid UTF-8 and control characters are input, not errors: byte fallback handles them.
  run_ok(e, std::string("caf\xc3\x28 \x01\x7f", 8), kTools, opt);

  const RunResult after = run_ok(e, "Turn on the lights", kTools, opt);
  EXPECT_EQ(before.tokens, after.tokens);
  EXPECT_EQ(before.text, after.text);
}

TEST(Engine, RunsAreIndependent) {
  // The KV cache and workspaces are reused: a long run in between must not leak into the next.
  Engine e = load();
  RunOptions opt;
  opt.max_tokens = 20;
  const RunResult a1 = run_ok(e, "What's the weather in Paris?", kTools, opt);
  std::string many;
  for (int i = 0; i < 200; ++i) many += "filler ";
  run_ok(e, many, "[]", RunOptions{});
  const RunResult a2 = run_ok(e, "What's the weather in Paris?", kTools, opt);
  EXPECT_EQ(a1.tokens, a2.tokens);
  Engine fresh = load();
  EXPECT_EQ(run_ok(fresh, "What's the weather in Paris?", kTools, opt).tokens, a1.tokens);
}

TEST(Engine, MaxTokensAndDecoderLengthCap) {
  Engine e = load();
  RunOptions opt;
  opt.max_tokens = 3;
  EXPECT_LE(run_ok(e, "Set a timer for 5 minutes", kTools, opt).tokens.size(), 3u);

  // The tiny model with max_dec_len 16: at most 15 generated ids (start token included).
  auto blob = map_file(NEEDLE_TESTDATA_DIR "/tiny_dec16.safetensors");
  ASSERT_TRUE(blob.ok()) << blob.error().message;
  auto capped = Engine::load(std::move(blob).value(), test::read_bytes(kSpm));
  ASSERT_TRUE(capped.ok()) << capped.error().message;
  ASSERT_EQ(capped->config().max_dec_len, 16);
  int longest = 0;
  for (const char* q : {"a", "hello there", "what time is it", "play some jazz", "call mom"}) {
    auto r = capped->run(q, kTools, RunOptions{});
    ASSERT_TRUE(r.ok());
    EXPECT_LE(r->tokens.size(), 15u);
    longest = std::max(longest, static_cast<int>(r->tokens.size()));
  }
  EXPECT_EQ(longest, 15) << "no query reached the cap: the cap is not exercised";
}

TEST(Engine, StreamingCallbackSeesEveryTokenAndCanStop) {
  Engine e = load();
  RunOptions opt;
  opt.max_tokens = 12;
  std::vector<std::int32_t> seen;
  std::string streamed;
  auto r = e.run("What's the weather in Paris?", kTools, opt, [&](std::int32_t id, std::string_view text) {
    seen.push_back(id);
    streamed += text;
    return true;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(seen, r->tokens);
  EXPECT_FALSE(streamed.empty());
  // The streamed text is the final text (which is trimmed) up to trailing whitespace.
  EXPECT_EQ(streamed.substr(0, r->text.size()), r->text);
  EXPECT_EQ(streamed.find_first_not_of(" \t\n\r\f\v", r->text.size()), std::string::npos);
  int calls = 0;
  auto stopped = e.run("What's the weather in Paris?", kTools, opt,
                       [&](std::int32_t, std::string_view) { return ++calls < 2; });
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->tokens.size(), 2u);
  EXPECT_TRUE(std::equal(stopped->tokens.begin(), stopped->tokens.end(), r->tokens.begin()));
}

// ---- the resumable generation: Engine::start, Generation::next / finish ----------------------

// The ids of NEEDLE.md section 5 by a loop written out here from the model's primitives (not
// through GreedyDecoder or Generation): the oracle the stepwise API is checked against.
std::vector<std::int32_t> reference_ids(const Engine& e, std::string_view q, std::string_view tools,
                                        DecodeMode mode, int max_tokens) {
  auto canonical = canonicalize_tools(tools);
  EXPECT_TRUE(canonical.ok());
  const Model& model = e.model();
  const int max_dec = e.config().max_dec_len;
  const std::vector<std::int32_t> ids = e.encoder_ids(q, canonical->json);
  Workspace ws;
  DecoderState dec;
  std::vector<float> enc, logits(std::size_t(e.config().vocab_size));
  model.encode(ids, ws, enc);
  model.begin_decode(enc.data(), int(ids.size()), ws, dec);
  const int limit = std::min(max_tokens > 0 ? max_tokens : max_dec - 1, max_dec - 1);
  const TokenTable table = TokenTable::build(e.tokenizer());
  Constrainer c(table, *canonical, mode, limit);
  std::vector<std::int32_t> out;
  std::int32_t token = kEosId;
  while (int(out.size()) < limit) {
    model.decode_step(token, ws, dec, logits.data());
    token = c.pick(logits);
    if (token == kEosId) break;
    c.accept(token);
    out.push_back(token);
  }
  return out;
}

// Every step until done; the step texts concatenated.
struct Stepped {
  std::vector<std::int32_t> ids;
  std::string text;
  int done_steps = 0;
};
Stepped step_to_end(Generation& g) {
  Stepped s;
  for (int guard = 0; guard < 10000; ++guard) {
    auto step = g.next();
    EXPECT_TRUE(step.ok()) << step.error().message;
    if (!step.ok()) break;
    if (step->done) {
      ++s.done_steps;
      EXPECT_TRUE(g.done());
      break;
    }
    EXPECT_NE(step->id, kEosId);
    s.ids.push_back(step->id);
    s.text += step->text;
  }
  return s;
}

TEST(Generation, StepsMatchRunAndAnIndependentLoopInEveryMode) {
  Engine e = load();
  const std::string two_tools =
      R"([{"name":"get_weather","description":"Weather for a city","parameters":{"location":{"type":"string"}}},)"
      R"({"name":"set_timer","description":"Start a timer","parameters":{"minutes":{"type":"integer"}}}])";
  int runs = 0, capped = 0, ended_by_eos = 0;
  for (const DecodeMode mode : {DecodeMode::kOff, DecodeMode::kStrict, DecodeMode::kTyped}) {
    for (const char* q : {"What's the weather in Paris?", "set a timer for 10 minutes", "東京の天気は？ 🌧", "x"}) {
      for (const std::string_view tools : {std::string_view(kTools), std::string_view(two_tools)}) {
        for (const int max_tokens : {0, 5}) {
          RunOptions opt;
          opt.mode = mode;
          opt.max_tokens = max_tokens;
          const std::string where = std::string(q) + " mode " + std::to_string(int(mode)) + " max_tokens " +
                                    std::to_string(max_tokens);
          const std::vector<std::int32_t> want = reference_ids(e, q, tools, mode, max_tokens);
          std::string run_streamed;
          auto ran = e.run(q, tools, opt, [&](std::int32_t, std::string_view text) {
            run_streamed += text;
            return true;
          });
          ASSERT_TRUE(ran.ok()) << ran.error().message;
          EXPECT_EQ(ran->tokens, want) << where;

          auto g = e.start(q, tools, opt);
          ASSERT_TRUE(g.ok()) << g.error().message;
          EXPECT_FALSE(g->done());
          const Stepped s = step_to_end(*g);
          EXPECT_EQ(s.ids, want) << where;
          EXPECT_EQ(s.done_steps, 1) << where;
          EXPECT_EQ(s.text, run_streamed) << where;
          EXPECT_TRUE(std::equal(g->tokens().begin(), g->tokens().end(), want.begin(), want.end()));
          // Once done, next() keeps saying so without decoding further.
          auto again = g->next();
          ASSERT_TRUE(again.ok());
          EXPECT_TRUE(again->done);
          auto fin = g->finish();
          ASSERT_TRUE(fin.ok()) << fin.error().message;
          EXPECT_EQ(fin->tokens, ran->tokens) << where;
          EXPECT_EQ(fin->text, ran->text) << where;
          EXPECT_EQ(fin->calls.calls.size(), ran->calls.calls.size()) << where;
          EXPECT_EQ(fin->calls.violations, ran->calls.violations) << where;
          EXPECT_EQ(fin->encoder_tokens, ran->encoder_tokens) << where;
          EXPECT_EQ(fin->encoder_tokens, int(e.encoder_ids(q, canonicalize_tools(tools)->json).size()));
          EXPECT_GT(fin->timings.encode_ms, 0.0);
          EXPECT_GT(fin->timings.decode_ms, 0.0);
          EXPECT_EQ(fin->timings.load_ms, e.load_ms());
          ++runs;
          capped += max_tokens > 0 && int(want.size()) == max_tokens;
          ended_by_eos += int(want.size()) < (max_tokens > 0 ? max_tokens : e.config().max_dec_len - 1);
        }
      }
    }
  }
  EXPECT_EQ(runs, 48);
  EXPECT_GT(capped, 0) << "no run reached max_tokens: the cap is not exercised";
  EXPECT_GT(ended_by_eos, 0) << "no run ended by EOS: that stop is not exercised";
}

TEST(Generation, FinishEarlyIsRunStoppedByItsCallback) {
  Engine e = load();
  RunOptions opt;
  opt.max_tokens = 12;
  int calls = 0;
  auto stopped = e.run("What's the weather in Paris?", kTools, opt,
                       [&](std::int32_t, std::string_view) { return ++calls < 3; });
  ASSERT_TRUE(stopped.ok());
  ASSERT_EQ(stopped->tokens.size(), 3u);
  auto g = e.start("What's the weather in Paris?", kTools, opt);
  ASSERT_TRUE(g.ok());
  for (int i = 0; i < 3; ++i) {
    auto step = g->next();
    ASSERT_TRUE(step.ok());
    ASSERT_FALSE(step->done);
  }
  EXPECT_FALSE(g->done());
  auto fin = g->finish();
  ASSERT_TRUE(fin.ok());
  EXPECT_EQ(fin->tokens, stopped->tokens);
  EXPECT_EQ(fin->text, stopped->text);
}

TEST(Generation, StaleFinishedOrMovedFromGenerationsFailAndTheEngineStaysUsable) {
  Engine e = load();
  RunOptions opt;
  opt.max_tokens = 10;
  const std::vector<std::int32_t> paris = reference_ids(e, "What's the weather in Paris?", kTools, opt.mode, 10);
  // The second generation is capped shorter, so the two differ whatever the weights say.
  RunOptions short_opt = opt;
  short_opt.max_tokens = 3;
  const std::vector<std::int32_t> timer = reference_ids(e, "set a timer", kTools, opt.mode, 3);
  ASSERT_GT(paris.size(), timer.size()) << "the two must decode differently for staleness to show";
  const auto expect_error = [](const auto& r, std::string_view word) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(word), std::string::npos) << r.error().message;
  };

  auto first = e.start("What's the weather in Paris?", kTools, opt);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->next().ok());
  // A second start makes the first stale; the second runs as if alone.
  auto second = e.start("set a timer", kTools, short_opt);
  ASSERT_TRUE(second.ok());
  expect_error(first->next(), "stale");
  expect_error(first->finish(), "stale");
  EXPECT_EQ(step_to_end(*second).ids, timer);
  // run() makes a live generation stale too.
  auto third = e.start("What's the weather in Paris?", kTools, opt);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(run_ok(e, "set a timer", kTools, short_opt).tokens, timer);
  expect_error(third->next(), "stale");
  // So does a start that fails.
  auto fourth = e.start("What's the weather in Paris?", kTools, opt);
  ASSERT_TRUE(fourth.ok());
  expect_error(e.start("", kTools, opt), "empty");
  expect_error(fourth->next(), "stale");

  // embed and retrieve_tools share only scratch space: a generation survives them.
  auto g = e.start("What's the weather in Paris?", kTools, opt);
  ASSERT_TRUE(g.ok());
  auto firstStep = g->next();
  ASSERT_TRUE(firstStep.ok());
  ASSERT_TRUE(e.embed("something else entirely, and longer than the query").ok());
  ASSERT_TRUE(e.retrieve_tools("lights", {"Turn the lights on", "Set a timer"}, 1).ok());
  Stepped rest = step_to_end(*g);
  rest.ids.insert(rest.ids.begin(), firstStep->id);
  EXPECT_EQ(rest.ids, paris);

  // Finished: both calls refuse.
  ASSERT_TRUE(g->finish().ok());
  expect_error(g->next(), "finished");
  expect_error(g->finish(), "finished");

  // Moved from: refuses, the moved-to one carries on.
  auto h = e.start("What's the weather in Paris?", kTools, opt);
  ASSERT_TRUE(h.ok());
  Generation moved = std::move(h).value();
  expect_error(h->next(), "moved");
  EXPECT_EQ(step_to_end(moved).ids, paris);

  // Bad options fail start with the option named.
  RunOptions bad;
  bad.max_tokens = -1;
  expect_error(e.start("hi", kTools, bad), "max_tokens");
}

// Every streamed piece is whole UTF-8 and the pieces add up to the text, over many random
// generations (the random model emits byte pieces, CJK pieces and broken byte runs).
TEST(Engine, StreamedTextIsWholeUtf8AndAddsUpToTheText) {
  Engine e = load();
  const auto valid_utf8 = [](std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
      if (n == 0 || i + n > s.size()) return false;
      for (std::size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
      i += n;
    }
    return true;
  };
  int byte_pieces = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string q = "query number " + std::to_string(i * 7919) + " 東京 🌧 é";
    std::string streamed;
    RunOptions opt;
    opt.max_tokens = 40;
    auto r = e.run(q, kTools, opt, [&](std::int32_t id, std::string_view piece) {
      EXPECT_TRUE(valid_utf8(piece)) << "piece of id " << id << " splits a character";
      byte_pieces += e.tokenizer().piece_type(id) == PieceType::kByte;
      streamed += piece;
      return true;
    });
    ASSERT_TRUE(r.ok());
    // Held-back replacement characters at the very end are the only thing that may be missing.
    EXPECT_EQ(r->text.substr(0, std::min(r->text.size(), streamed.size())),
              streamed.substr(0, std::min(r->text.size(), streamed.size())))
        << q;
  }
  EXPECT_GT(byte_pieces, 0) << "no byte pieces generated: the UTF-8 assembly is not exercised";
}

// NEEDLE.md 5.5 as the real-model fixture shows it: <tool_call> cut from the decoded text,
// whitespace trimmed when the rest is JSON, an answer that is not JSON kept as decoded (the
// fixture's seven truncated answers keep their leading space).
TEST(Engine, OutputTextTrimsOnlyJson) {
  Engine e = load();
  const Tokenizer& tok = e.tokenizer();
  const auto with_tool_call = [&](std::string_view body) {
    std::vector<std::int32_t> ids = {kToolCallId};
    const auto b = tok.encode(body);
    ids.insert(ids.end(), b.begin(), b.end());
    return ids;
  };
  const std::string valid = R"([{"name":"get_weather","arguments":{"location":"Paris"}}])";
  EXPECT_EQ(output_text(tok, with_tool_call(valid)), valid);
  const std::string cut = R"([{"name":"get_weather","arguments":{"location":"Par)";
  EXPECT_EQ(output_text(tok, with_tool_call(cut)), " " + cut);
  EXPECT_EQ(output_text(tok, tok.encode(valid)), valid);  // no <tool_call>: nothing to cut
  EXPECT_EQ(output_text(tok, {}), "");
}

TEST(Engine, LoadErrors) {
  const auto tok = test::read_bytes(kSpm);
  // A tokenizer that does not belong to the model: vocabulary sizes differ.
  test::TinyModelSpec spec;  // vocab 300
  auto wrong = Engine::load(Blob::from_vector(test::make_tiny_model(spec).bytes()), tok);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kBadTokenizer);
  EXPECT_NE(wrong.error().message.find("wrong vocab"), std::string::npos);
  // Garbage tokenizer bytes.
  auto blob = map_file(kTiny);
  ASSERT_TRUE(blob.ok());
  const std::vector<std::uint8_t> junk = {0xff, 0x00, 0x13, 0x37};
  auto bad_tok = Engine::load(std::move(blob).value(), junk);
  ASSERT_FALSE(bad_tok.ok());
  EXPECT_EQ(bad_tok.error().code, ErrorCode::kBadTokenizer);
  // Weights and tokenizer swapped.
  auto swapped = Engine::load(Blob::from_vector(tok), test::read_bytes(kTiny));
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.error().code, ErrorCode::kBadWeights);
  // Missing file.
  auto missing = map_file("/nonexistent/needle.safetensors");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kIo);
  EXPECT_NE(missing.error().message.find("/nonexistent/needle.safetensors"), std::string::npos);
}

TEST(Engine, RetrievalRanksByCosineWithHeadOrMeanPool) {
  for (const char* model : {"/tiny_retrieval.safetensors", "/tiny.safetensors"}) {
    Engine e = load(std::string(NEEDLE_TESTDATA_DIR) + model, kSpm);
    const bool head = std::string(model).find("retrieval") != std::string::npos;
    EXPECT_EQ(e.has_retrieval_head(), head);
    const std::vector<std::string> docs = {"Get the weather forecast for a city", "Set a countdown timer",
                                           "Send an email to a contact", "Turn the lights on or off"};
    auto q = e.embed("Will it rain in Paris tomorrow?");
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(q->used_head, head);
    double norm = 0;
    for (float v : q->vector) norm += double(v) * v;
    EXPECT_NEAR(norm, 1.0, 1e-5);
    // Independent ranking from the embeddings themselves.
    std::vector<std::pair<float, int>> want;
    for (int i = 0; i < 4; ++i) {
      auto d = e.embed(docs[i]);
      ASSERT_TRUE(d.ok());
      double dot = 0;
      for (std::size_t j = 0; j < d->vector.size(); ++j) dot += double(d->vector[j]) * q->vector[j];
      want.push_back({static_cast<float>(dot), i});
    }
    std::stable_sort(want.begin(), want.end(), [](auto& a, auto& b) { return a.first > b.first; });
    auto ranked = e.retrieve_tools("Will it rain in Paris tomorrow?", docs, 3);
    ASSERT_TRUE(ranked.ok()) << ranked.error().message;
    ASSERT_EQ(ranked->size(), 3u);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ((*ranked)[i].index, want[i].second) << model << " rank " << i;
      EXPECT_NEAR((*ranked)[i].score, want[i].first, 1e-5);
    }
    auto all = e.retrieve_tools("lights", docs, -1);
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), 4u);
    // Long text: only the first 256 tokens count.
    std::string long_text;
    for (int i = 0; i < 600; ++i) long_text += "token" + std::to_string(i) + " ";
    auto a = e.embed(long_text), b = e.embed(long_text + " and a different ending entirely");
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->vector, b->vector);
    // Errors.
    auto empty_query = e.retrieve_tools("", docs, 2);
    ASSERT_FALSE(empty_query.ok());
    EXPECT_EQ(empty_query.error().code, ErrorCode::kInvalidArgument);
    auto none = e.retrieve_tools("lights", {}, 2);
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
  }
}

}  // namespace
}  // namespace needle
