// The engine against an independent float64 NumPy implementation of NEEDLE.md
// (scripts/reference.py) on random tiny models with non-zero norms and gates, every weight
// dtype and layout: INT4, BF16 and F16 floats, FFN layers, retrieval head, F32 projections.
// The JAX fixture's norms and gates are all zero; these models catch a wrong norm or gate.
#include <gtest/gtest.h>

#include <cmath>

#include "needle/model.hpp"
#include "needle/weights.hpp"
#include "test_util.hpp"

namespace needle {
namespace {

class ReferenceTest : public ::testing::TestWithParam<const char*> {};

void expect_close(const std::vector<float>& got, const std::vector<float>& want, float tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  float worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const float err = std::fabs(got[i] - want[i]) / std::max(1.0f, std::fabs(want[i]));
    if (err > worst) worst = err, at = i;
  }
  EXPECT_LE(worst, tol) << what << ": worst relative error at index " << at << " (got "
                        << got[at] << ", want " << want[at] << ")";
}

TEST_P(ReferenceTest, MatchesFloat64Reference) {
  const std::string name = GetParam();
  const std::string model_path = std::string(NEEDLE_TESTDATA_DIR) + "/" + name + ".safetensors";
  const std::string ref_path = std::string(NEEDLE_TESTDATA_DIR) + "/" + name + ".ref.json";
  ASSERT_TRUE(test::file_exists(model_path)) << model_path << " missing: build needle_testdata";
  const auto bytes = test::read_bytes(model_path);
  auto w = load_weights(bytes);
  ASSERT_TRUE(w.ok()) << w.error().message;
  const Model m = Model::create(std::move(w).value());

  simdjson::dom::parser parser;
  simdjson::dom::element ref;
  ASSERT_FALSE(parser.load(ref_path).get(ref)) << ref_path;
  std::vector<std::int32_t> ids;
  for (float v : test::floats_of(ref["enc_ids"].value())) ids.push_back(static_cast<std::int32_t>(v));

  Workspace ws;
  std::vector<float> enc;
  m.encode(ids, ws, enc);
  expect_close(enc, test::floats_of(ref["enc_out"].value()), 2e-4f, name + " enc_out");

  // Teacher-forced: feed the reference's tokens, compare every step's logits and argmax.
  DecoderState st;
  m.begin_decode(enc.data(), static_cast<int>(ids.size()), ws, st);
  std::vector<float> logits(m.config().vocab_size);
  std::int32_t input = 1;
  int steps = 0, distinct = 0, last = -1;
  simdjson::dom::array steps_json = ref["steps"].get_array().value();
  for (auto step : steps_json) {
    m.decode_step(input, ws, st, logits.data());
    expect_close(logits, test::floats_of(step["logits"].value()), 2e-4f,
                 name + " logits step " + std::to_string(steps));
    const auto want = static_cast<std::int32_t>(step["token"].get_int64().value());
    const double margin = step["margin"].get_double().value();
    const auto got = static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (margin > 1e-3) {
      EXPECT_EQ(got, want) << name << " step " << steps << " margin " << margin;
    }
    distinct += want != last;
    last = want;
    input = want;
    ++steps;
  }
  EXPECT_GE(steps, 2) << "the reference generated too little to test the KV cache";
  EXPECT_GE(distinct, 2) << "degenerate model: the same token every step";

  std::vector<float> emb;
  std::vector<std::int32_t> emb_ids(ids.begin(), ids.begin() + std::min<std::size_t>(ids.size(), 256));
  m.encode(emb_ids, ws, enc);
  const bool head = m.embed(enc.data(), static_cast<int>(emb_ids.size()), ws, emb);
  std::string_view kind;
  ASSERT_FALSE(ref["embed"]["kind"].get_string().get(kind));
  EXPECT_EQ(head ? "head" : "mean_pool", kind);
  expect_close(emb, test::floats_of(ref["embed"]["vector"].value()), 2e-4f, name + " embed");
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ReferenceTest,
                         ::testing::Values("tiny", "tiny_bf16", "tiny_f16", "tiny_ffn",
                                           "tiny_retrieval", "tiny_floatproj"));

}  // namespace
}  // namespace needle
