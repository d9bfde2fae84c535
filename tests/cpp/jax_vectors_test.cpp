// The engine against the upstream JAX reference's outputs on a tiny model
// (../shared/fixtures/jax_tiny_vectors.json; see its README for provenance).
#include <gtest/gtest.h>

#include <cmath>

#include "needle/model.hpp"
#include "needle/ops.hpp"
#include "test_util.hpp"

namespace needle {
namespace {

constexpr float kTol = 1e-4f;

struct Fixture {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  Fixture() {
    auto err = parser.load(NEEDLE_FIXTURES_DIR "/jax_tiny_vectors.json").get(root);
    if (err) ADD_FAILURE() << "cannot read jax_tiny_vectors.json: " << simdjson::error_message(err);
  }
  std::vector<float> f(std::string_view path) { return test::floats_of(root.at_pointer(path).value()); }
  std::int64_t i(std::string_view path) { return root.at_pointer(path).get_int64().value(); }
};

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, float tol,
                     const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t k = 0; k < got.size(); ++k)
    ASSERT_NEAR(got[k], want[k], tol) << what << " at index " << k;
}

// The fixture's weights as a SafeTensors file; attention projections INT4 when `quantized`
// (the fixture's `_q` variants).
std::vector<std::uint8_t> fixture_model(Fixture& fx, bool quantized) {
  test::SafeTensorsWriter wr;
  const int d = static_cast<int>(fx.i("/config/d_model"));
  for (const char* k : {"vocab_size", "d_model", "num_heads", "num_kv_heads", "num_encoder_layers",
                        "num_decoder_layers"})
    wr.metadata.emplace_back(k, std::to_string(fx.i(std::string("/config/") + k)));
  wr.metadata.emplace_back("rope_theta", "10000.0");
  wr.metadata.emplace_back("no_feedforward", "true");
  const int vocab = static_cast<int>(fx.i("/config/vocab_size"));
  wr.add_f32("embedding", {vocab, d}, fx.f("/weights/embedding"));
  wr.add_f32("encoder_final_norm", {d}, fx.f("/weights/encoder_final_norm"));
  wr.add_f32("decoder_final_norm", {d}, fx.f("/weights/decoder_final_norm"));
  auto attn = [&](const std::string& src, const std::string& dst) {
    const std::pair<const char*, const char*> names[] = {
        {"q_proj", "wq"}, {"k_proj", "wk"}, {"v_proj", "wv"}, {"out_proj", "wo"}};
    for (auto [from, to] : names) {
      auto e = fx.root.at_pointer(src + "/" + from).value();
      const int in = static_cast<int>(e.get_array().size());
      const int out = static_cast<int>(e.at(0).get_array().size());
      const std::vector<float> w = test::floats_of(e);
      if (quantized) test::add_int4(wr, dst + "." + to, w, in, out);
      else wr.add_f32(dst + "." + to, {in, out}, w);
    }
    const auto qn = fx.f(src + "/q_norm"), kn = fx.f(src + "/k_norm");
    wr.add_f32(dst + ".q_norm", {static_cast<std::int64_t>(qn.size())}, qn);
    wr.add_f32(dst + ".k_norm", {static_cast<std::int64_t>(kn.size())}, kn);
  };
  for (int l = 0; l < fx.i("/config/num_encoder_layers"); ++l) {
    const std::string src = "/weights/encoder_layers/" + std::to_string(l);
    const std::string dst = "encoder." + std::to_string(l);
    wr.add_f32(dst + ".norm", {d}, fx.f(src + "/norm"));
    wr.add_f32(dst + ".self_attn_gate", {}, fx.f(src + "/self_attn_gate"));
    attn(src + "/self_attn", dst + ".self_attn");
  }
  for (int l = 0; l < fx.i("/config/num_decoder_layers"); ++l) {
    const std::string src = "/weights/decoder_layers/" + std::to_string(l);
    const std::string dst = "decoder." + std::to_string(l);
    wr.add_f32(dst + ".self_attn_norm", {d}, fx.f(src + "/self_attn_norm"));
    wr.add_f32(dst + ".cross_attn_norm", {d}, fx.f(src + "/cross_attn_norm"));
    wr.add_f32(dst + ".self_attn_gate", {1}, fx.f(src + "/self_attn_gate"));
    wr.add_f32(dst + ".cross_attn_gate", {}, fx.f(src + "/cross_attn_gate"));
    attn(src + "/self_attn", dst + ".self_attn");
    attn(src + "/cross_attn", dst + ".cross_attn");
  }
  return wr.bytes();
}

Model load_model(const std::vector<std::uint8_t>& bytes) {
  auto st = parse_safetensors(bytes);
  EXPECT_TRUE(st.ok()) << st.error().message;
  auto c = parse_config(*st);
  EXPECT_TRUE(c.ok()) << c.error().message;
  auto w = build_weights(*st, *c);
  EXPECT_TRUE(w.ok()) << w.error().message;
  return Model::create(std::move(w).value());
}

TEST(JaxVectors, ZeroCentredRmsNorm) {
  Fixture fx;
  const auto x = fx.f("/zc_rms_norm/x");
  for (const char* which : {"zero", "nonzero"}) {
    auto g = fx.f(std::string("/zc_rms_norm/scale_") + which);
    for (float& v : g) v += 1.0f;  // the engine stores 1 + g
    std::vector<float> y(x.size());
    ops::rms_norm(x.data(), g.data(), static_cast<int>(x.size()), y.data());
    expect_near_all(y, fx.f(std::string("/zc_rms_norm/out_") + which), 1e-6f, which);
  }
}

TEST(JaxVectors, RopeTablesAndRotation) {
  Fixture fx;
  ops::RopeTable rope;
  rope.build(static_cast<int>(fx.i("/rope/head_dim")), 10000.f, 4);
  for (int pos : {0, 1}) {
    const auto c = fx.f("/rope/cos_table_pos" + std::to_string(pos));
    const auto s = fx.f("/rope/sin_table_pos" + std::to_string(pos));
    for (int i = 0; i < rope.half; ++i) {
      EXPECT_NEAR(rope.cos[pos * rope.half + i], c[i], 1e-7f);
      EXPECT_NEAR(rope.sin[pos * rope.half + i], s[i], 1e-7f);
    }
  }
  auto q = fx.f("/rope/q_before");
  rope.apply(q.data(), 0);
  expect_near_all(q, fx.f("/rope/q_after_pos0"), 1e-7f, "pos0");
  // Position 1 by hand from the fixture's tables: the half-split form, not interleaved pairs.
  auto q1 = fx.f("/rope/q_before");
  const auto c = fx.f("/rope/cos_table_pos1"), s = fx.f("/rope/sin_table_pos1");
  const std::vector<float> want = {q1[0] * c[0] - q1[2] * s[0], q1[1] * c[1] - q1[3] * s[1],
                                   q1[2] * c[0] + q1[0] * s[0], q1[3] * c[1] + q1[1] * s[1]};
  rope.apply(q1.data(), 1);
  expect_near_all(q1, want, 1e-6f, "pos1");
}

TEST(JaxVectors, Int4QuantisationMatchesReference) {
  Fixture fx;
  const auto w = fx.f("/quantization/w");
  const auto shape = fx.f("/quantization/w_shape");
  const int in = static_cast<int>(shape[0]), out = static_cast<int>(shape[1]);
  const auto q = test::quantize_int4(w, in, out);
  expect_near_all(q.scales, fx.f("/quantization/scales"), 1e-7f, "scales");
  const auto want_q = fx.f("/quantization/w_quantized_int");
  // The kernel must compute with exactly q * scale: feed unit vectors and read rows back.
  std::vector<float> x(in, 0.f), y(out);
  kernels::Int4Matrix m{q.packed.data(), q.scales.data(), in, q.in_pad, out};
  for (int i = 0; i < in; ++i) {
    std::fill(x.begin(), x.end(), 0.f);
    x[i] = 1.f;
    kernels::int4_matvec(m, x.data(), y.data());
    for (int o = 0; o < out; ++o)
      ASSERT_FLOAT_EQ(y[o], want_q[std::size_t(i) * out + o] * q.scales[o]) << i << "," << o;
  }
}

void check_forward(bool quantized) {
  Fixture fx;
  const auto bytes = fixture_model(fx, quantized);
  const Model m = load_model(bytes);
  const std::string sfx = quantized ? "_q" : "";
  std::vector<std::int32_t> ids;
  for (float v : fx.f("/inputs/enc_ids")) ids.push_back(static_cast<std::int32_t>(v));
  Workspace ws;
  std::vector<float> enc;
  m.encode(ids, ws, enc);
  expect_near_all(enc, fx.f("/forward/enc_out" + sfx), kTol, "enc_out" + sfx);

  DecoderState st;
  m.begin_decode(enc.data(), static_cast<int>(ids.size()), ws, st);
  std::vector<float> logits(m.config().vocab_size);
  m.decode_step(static_cast<std::int32_t>(fx.i("/inputs/dec_start_id")), ws, st, logits.data());
  expect_near_all(logits, fx.f("/forward/logits" + sfx), kTol, "logits" + sfx);
  if (!quantized) {
    std::vector<float> h(ws.h.begin(), ws.h.begin() + m.config().d_model);
    expect_near_all(h, fx.f("/forward/dec_out"), kTol, "dec_out");
  }
  const auto pred = std::max_element(logits.begin(), logits.end()) - logits.begin();
  EXPECT_EQ(pred, fx.i("/forward/pred_token" + sfx));
}

TEST(JaxVectors, ForwardFloat) { check_forward(false); }
TEST(JaxVectors, ForwardInt4) { check_forward(true); }

TEST(JaxVectors, EmbeddingScale) {
  Fixture fx;
  const auto bytes = fixture_model(fx, false);
  const Model m = load_model(bytes);
  std::vector<std::int32_t> ids;
  for (float v : fx.f("/inputs/enc_ids")) ids.push_back(static_cast<std::int32_t>(v));
  std::vector<float> x(ids.size() * m.config().d_model);
  m.embed_tokens(ids, x.data());
  expect_near_all(x, fx.f("/forward/enc_embed"), 1e-6f, "enc_embed");
}

TEST(JaxVectors, MultiStepDecodingWithKvCache) {
  Fixture fx;
  const auto bytes = fixture_model(fx, true);
  const Model m = load_model(bytes);
  std::vector<std::int32_t> ids;
  for (float v : fx.f("/inputs/enc_ids")) ids.push_back(static_cast<std::int32_t>(v));
  Workspace ws;
  std::vector<float> enc;
  m.encode(ids, ws, enc);
  DecoderState st;
  m.begin_decode(enc.data(), static_cast<int>(ids.size()), ws, st);
  std::vector<float> logits(m.config().vocab_size);
  auto steps = fx.root.at_pointer("/multi_step/steps").get_array().value();
  int n = 0;
  for (auto step : steps) {
    m.decode_step(static_cast<std::int32_t>(step["input_token"].get_int64().value()), ws, st,
                  logits.data());
    const auto top = test::floats_of(step["top5_tokens"].value());
    const auto top_logits = test::floats_of(step["top5_logits"].value());
    for (std::size_t k = 0; k < top.size(); ++k)
      EXPECT_NEAR(logits[static_cast<std::size_t>(top[k])], top_logits[k], kTol) << "step " << n;
    const auto pred = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(pred, step["pred_token"].get_int64().value()) << "step " << n;
    ++n;
  }
  EXPECT_EQ(n, 3);
}

}  // namespace
}  // namespace needle
