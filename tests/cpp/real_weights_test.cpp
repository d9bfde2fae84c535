// The real Needle weights on the 560 examples the upstream Python pipeline produced with them
// (../shared/fixtures/needle_real_e2e_560.json): strict constrained decoding must reproduce
// every expected id. The weights cannot be downloaded on the build machines, so this skips
// unless NEEDLE_WEIGHTS (needle.safetensors) and NEEDLE_VOCAB (vocab.txt or .model) are set.
#include <gtest/gtest.h>

#include <cstdlib>

#include "needle/needle.hpp"
#include "test_util.hpp"

namespace needle {
namespace {

TEST(RealWeights, Fixture560TokenExactInStrictMode) {
  const char* weights = std::getenv("NEEDLE_WEIGHTS");
  const char* vocab = std::getenv("NEEDLE_VOCAB");
  if (!weights || !vocab || !*weights || !*vocab)
    GTEST_SKIP() << "real Needle weights not available: set NEEDLE_WEIGHTS=/path/needle.safetensors "
                    "and NEEDLE_VOCAB=/path/vocab.txt to run the 560-example token-exact test";
  auto blob = map_file(weights);
  ASSERT_TRUE(blob.ok()) << blob.error().message;
  auto vocab_blob = map_file(vocab);
  ASSERT_TRUE(vocab_blob.ok()) << vocab_blob.error().message;
  auto engine = Engine::load(std::move(blob).value(), vocab_blob->bytes);
  ASSERT_TRUE(engine.ok()) << engine.error().message;

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_FALSE(parser.load(NEEDLE_FIXTURES_DIR "/needle_real_e2e_560.json").get(root));
  simdjson::dom::array examples = root["examples"].get_array().value();
  int exact = 0, total = 0, reported = 0;
  for (simdjson::dom::element ex : examples) {
    ++total;
    const std::string query(ex["query"].get_string().value());
    const std::string tools(ex["tools"].get_string().value());
    std::vector<std::int32_t> want;
    for (float v : test::floats_of(ex["expected_token_ids"].value())) want.push_back(static_cast<std::int32_t>(v));
    RunOptions opt;
    opt.mode = DecodeMode::kStrict;
    auto r = engine->run(query, tools, opt);
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (r->tokens == want) {
      ++exact;
      EXPECT_EQ(r->text, std::string(ex["expected_text"].get_string().value())) << query;
    } else if (reported++ < 10) {
      std::size_t k = 0;
      while (k < want.size() && k < r->tokens.size() && want[k] == r->tokens[k]) ++k;
      ADD_FAILURE() << "example " << total - 1 << " (" << query << "): first difference at step " << k
                    << "\n  got:  " << r->text << "\n  want: " << ex["expected_text"].get_string().value();
    }
  }
  std::printf("real weights: %d/%d token-exact\n", exact, total);
  EXPECT_EQ(total, 560);
  EXPECT_EQ(exact, total);
}

}  // namespace
}  // namespace needle
