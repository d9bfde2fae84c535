// The weights loader: a valid file loads as views; every malformed file is an error that names
// the problem; no input, however broken, makes it read out of bounds or crash.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "needle/model.hpp"
#include "needle/weights.hpp"
#include "test_util.hpp"

namespace needle {
namespace {

using test::SafeTensorsWriter;

SafeTensorsWriter tiny() { return test::make_tiny_model(test::TinyModelSpec{}); }

// Expects a kBadWeights error whose message contains every one of `needles`.
void expect_error(const std::vector<std::uint8_t>& bytes, std::vector<std::string> needles) {
  auto w = load_weights(bytes);
  ASSERT_FALSE(w.ok()) << "loaded although broken; expected: " << needles[0];
  EXPECT_EQ(w.error().code, ErrorCode::kBadWeights);
  for (const auto& n : needles)
    EXPECT_NE(w.error().message.find(n), std::string::npos)
        << "message '" << w.error().message << "' does not name '" << n << "'";
}

std::vector<std::uint8_t> with_header(const SafeTensorsWriter& wr, const std::string& header) {
  return SafeTensorsWriter::assemble(header, wr.data_section());
}

void replace_once(std::string& s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  ASSERT_NE(pos, std::string::npos) << from;
  s.replace(pos, from.size(), to);
}

TEST(Weights, ValidTinyModelLoadsAsViews) {
  const auto bytes = tiny().bytes();
  auto w = load_weights(bytes);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->config.d_model, 32);
  EXPECT_EQ(w->config.num_kv_heads, 2);
  EXPECT_EQ(w->config.max_dec_len, 16);
  ASSERT_EQ(w->encoder.size(), 2u);
  ASSERT_EQ(w->decoder.size(), 2u);
  const auto* wq = w->encoder[0].self_attn.wq.q4.packed;
  EXPECT_TRUE(wq >= bytes.data() && wq < bytes.data() + bytes.size())
      << "INT4 weights must be views into the file, not copies";
  EXPECT_TRUE(w->embedding.f32 >= reinterpret_cast<const float*>(bytes.data()) &&
              w->embedding.f32 < reinterpret_cast<const float*>(bytes.data() + bytes.size()));
  EXPECT_FALSE(w->retrieval.has_value());
}

TEST(Weights, MissingMetadataFallsBackToDefaults) {
  auto wr = tiny();
  wr.metadata.clear();
  // The released model's defaults (d_model 512, ...) then disagree with the tensors: an error
  // naming a tensor and the expected shape, not a crash.
  expect_error(wr.bytes(), {"embedding", "512"});
}

TEST(Weights, TruncatedFiles) {
  const auto bytes = tiny().bytes();
  for (std::size_t n : {std::size_t{0}, std::size_t{3}, std::size_t{7}})
    expect_error(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + n), {"truncated"});
  expect_error(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 40), {"header length"});
  // Data cut short: the last tensor's offsets now run past the end.
  auto wr = tiny();
  const std::string last = wr.entries.back().name;
  expect_error(std::vector<std::uint8_t>(bytes.begin(), bytes.end() - 1), {last, "out of range"});
}

TEST(Weights, HeaderNotJson) {
  const auto wr = tiny();
  expect_error(with_header(wr, "{\"embedding\": {"), {"not valid JSON"});
  expect_error(with_header(wr, "[1, 2, 3]"), {"not a JSON object"});
  expect_error(with_header(wr, "{\"embedding\": 7}"), {"embedding", "not an object"});
}

TEST(Weights, OffsetsOutOfRangeOrOverlapping) {
  auto wr = tiny();
  std::string h = wr.header_json();
  const std::size_t data_size = wr.data_section().size();
  std::string bad = h;
  replace_once(bad, "\"embedding\":{\"dtype\":\"F32\",\"shape\":[300,32],\"data_offsets\":[0,38400]}",
               "\"embedding\":{\"dtype\":\"F32\",\"shape\":[300,32],\"data_offsets\":[" +
                   std::to_string(data_size) + "," + std::to_string(data_size + 38400) + "]}");
  expect_error(with_header(wr, bad), {"embedding", "out of range"});
  // encoder_final_norm claims the embedding's first bytes.
  std::string overlap = h;
  replace_once(overlap, "\"encoder_final_norm\":{\"dtype\":\"F32\",\"shape\":[32],\"data_offsets\":[38400,38528]}",
               "\"encoder_final_norm\":{\"dtype\":\"F32\",\"shape\":[32],\"data_offsets\":[0,128]}");
  expect_error(with_header(wr, overlap), {"overlap", "encoder_final_norm"});
  std::string reversed = h;
  replace_once(reversed, "\"data_offsets\":[38400,38528]", "\"data_offsets\":[38528,38400]");
  expect_error(with_header(wr, reversed), {"encoder_final_norm", "out of range"});
}

TEST(Weights, SizeDisagreesWithDtypeAndShape) {
  auto wr = tiny();
  wr.find("decoder_final_norm")->bytes.resize(31 * 4);
  expect_error(wr.bytes(), {"decoder_final_norm", "bytes"});
}

TEST(Weights, ShapeDisagreesWithConfig) {
  auto wr = tiny();
  // A norm of the wrong length.
  wr.find("encoder.1.norm")->shape = {16};
  wr.find("encoder.1.norm")->bytes.resize(16 * 4);
  expect_error(wr.bytes(), {"encoder.1.norm", "32"});
  // An INT4 matrix of the wrong width.
  auto wr2 = tiny();
  auto* e = wr2.find("decoder.0.cross_attn.wk");
  e->shape = {16, 32};
  e->bytes.resize(16 * 32);
  expect_error(wr2.bytes(), {"decoder.0.cross_attn.wk", "[16, 16]"});
  // A gate that is not a scalar.
  auto wr3 = tiny();
  wr3.find("encoder.0.self_attn_gate")->shape = {2};
  wr3.find("encoder.0.self_attn_gate")->bytes.resize(8);
  expect_error(wr3.bytes(), {"encoder.0.self_attn_gate", "[] or [1]"});
}

TEST(Weights, MissingTensorOrScale) {
  for (const std::string name : {"decoder.1.cross_attn.wo", "encoder.0.self_attn.k_norm",
                                 "embedding", "decoder.1.self_attn.wv.scale"}) {
    auto wr = tiny();
    wr.remove(name);
    expect_error(wr.bytes(), {"missing tensor '" + name + "'"});
  }
}

TEST(Weights, UnknownDtype) {
  auto wr = tiny();
  wr.find("encoder_final_norm")->dtype = "F64";
  expect_error(wr.bytes(), {"encoder_final_norm", "unknown dtype 'F64'"});
}

TEST(Weights, NonFiniteValues) {
  auto wr = tiny();
  auto* s = wr.find("encoder.1.self_attn.wq.scale");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(s->bytes.data() + 8, &nan, 4);
  expect_error(wr.bytes(), {"encoder.1.self_attn.wq.scale", "NaN"});
  auto wr2 = tiny();
  const float inf = std::numeric_limits<float>::infinity();
  std::memcpy(wr2.find("decoder.0.self_attn_norm")->bytes.data(), &inf, 4);
  expect_error(wr2.bytes(), {"decoder.0.self_attn_norm", "infinite"});
}

TEST(Weights, NonsenseConfig) {
  const std::pair<std::string, std::string> cases[] = {
      {"num_heads", "5"}, {"num_encoder_layers", "0"}, {"d_model", "abc"},
      {"max_enc_len", "-3"}, {"rope_theta", "nan"}, {"no_feedforward", "maybe"}};
  for (const auto& [key, value] : cases) {
    auto wr = tiny();
    for (auto& kv : wr.metadata)
      if (kv.first == key) kv.second = value;
    expect_error(wr.bytes(), {key});
  }
  auto wr = tiny();
  for (auto& kv : wr.metadata)
    if (kv.first == "num_kv_heads") kv.second = "3";
  expect_error(wr.bytes(), {"num_kv_heads"});
}

TEST(Weights, DuplicateTensorName) {
  auto wr = tiny();
  std::string h = wr.header_json();
  // A second entry named like the first one, pointing at the same bytes' range shifted.
  replace_once(h, "\"decoder_final_norm\":", "\"encoder_final_norm\":");
  expect_error(with_header(wr, h), {"encoder_final_norm", "twice"});
}

TEST(Weights, IncompleteRetrievalHead) {
  auto wr = tiny();
  wr.add_f32("contrastive_hidden_kernel", {32, 8}, std::vector<float>(32 * 8, 0.1f));
  expect_error(wr.bytes(), {"retrieval head is incomplete"});
}

TEST(Weights, HalfPrecisionNormsAndFloatProjectionsLoad) {
  // The same model with norms in BF16 / F16 and one projection as F32 gives the same numbers.
  auto wr = tiny();
  auto* norm = wr.find("encoder.0.norm");
  std::vector<float> original(32);
  std::memcpy(original.data(), norm->bytes.data(), 128);
  auto to_bf16 = [](float f) {
    std::uint32_t b;
    std::memcpy(&b, &f, 4);
    return static_cast<std::uint16_t>(b >> 16);  // truncation: exact for the test's values below
  };
  std::vector<float> rounded(32);
  std::vector<std::uint8_t> bf(64);
  for (int i = 0; i < 32; ++i) {
    const std::uint16_t h = to_bf16(original[i]);
    bf[2 * i] = h & 0xff;
    bf[2 * i + 1] = h >> 8;
    const std::uint32_t back = std::uint32_t(h) << 16;
    std::memcpy(&rounded[i], &back, 4);
  }
  norm->dtype = "BF16";
  norm->bytes = bf;
  auto w = load_weights(wr.bytes());
  ASSERT_TRUE(w.ok()) << w.error().message;
  for (int i = 0; i < 32; ++i) EXPECT_FLOAT_EQ(w->encoder[0].norm[i], 1.0f + rounded[i]);

  // F16: 1.5 is 0x3E00, -0.25 is 0xB400, a subnormal 2^-24 is 0x0001.
  auto wr2 = tiny();
  auto* n2 = wr2.find("decoder_final_norm");
  std::vector<std::uint8_t> f16(64, 0);
  const std::uint16_t vals[3] = {0x3E00, 0xB400, 0x0001};
  for (int i = 0; i < 3; ++i) {
    f16[2 * i] = vals[i] & 0xff;
    f16[2 * i + 1] = vals[i] >> 8;
  }
  n2->dtype = "F16";
  n2->bytes = f16;
  auto w2 = load_weights(wr2.bytes());
  ASSERT_TRUE(w2.ok()) << w2.error().message;
  EXPECT_FLOAT_EQ(w2->decoder_final_norm[0], 2.5f);
  EXPECT_FLOAT_EQ(w2->decoder_final_norm[1], 0.75f);
  EXPECT_FLOAT_EQ(w2->decoder_final_norm[2], 1.0f + std::ldexp(1.0f, -24));
  EXPECT_FLOAT_EQ(w2->decoder_final_norm[3], 1.0f);

  test::TinyModelSpec spec;
  spec.int4 = false;
  auto w3 = load_weights(test::make_tiny_model(spec).bytes());
  ASSERT_TRUE(w3.ok()) << w3.error().message;
  EXPECT_FALSE(w3->encoder[0].self_attn.wq.quantized());
  EXPECT_NE(w3->encoder[0].self_attn.wq.f32, nullptr);
}

// The published files store the embedding in BF16: kept as a view (no 16 MB F32 copy), with
// the same lookups and logits as the widened F32 table, and NaN/Inf still rejected.
TEST(Weights, Bf16EmbeddingIsAViewWithIdenticalNumbers) {
  auto wr = tiny();
  auto* e = wr.find("embedding");
  std::vector<float> widened(e->bytes.size() / 4);
  std::vector<std::uint8_t> bf(widened.size() * 2);
  for (std::size_t i = 0; i < widened.size(); ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, e->bytes.data() + 4 * i, 4);
    bits &= 0xFFFF0000u;
    std::memcpy(&widened[i], &bits, 4);
    bf[2 * i] = static_cast<std::uint8_t>(bits >> 16);
    bf[2 * i + 1] = static_cast<std::uint8_t>(bits >> 24);
  }
  auto wr_f32 = wr;
  std::memcpy(wr_f32.find("embedding")->bytes.data(), widened.data(), widened.size() * 4);
  e->dtype = "BF16";
  e->bytes = bf;
  const auto bytes = wr.bytes(), bytes_f32 = wr_f32.bytes();
  auto w = load_weights(bytes), w32 = load_weights(bytes_f32);
  ASSERT_TRUE(w.ok() && w32.ok());
  ASSERT_NE(w->embedding.bf16, nullptr);
  EXPECT_EQ(w->embedding.f32, nullptr);
  EXPECT_TRUE(reinterpret_cast<const std::uint8_t*>(w->embedding.bf16) >= bytes.data() &&
              reinterpret_cast<const std::uint8_t*>(w->embedding.bf16) < bytes.data() + bytes.size());
  const Model a = Model::create(std::move(w).value()), b = Model::create(std::move(w32).value());
  Workspace wa, wb;
  std::vector<float> ea, eb;
  const std::vector<std::int32_t> ids = {7, 8, 9, 299, 0};
  a.encode(ids, wa, ea);
  b.encode(ids, wb, eb);
  EXPECT_EQ(ea, eb);
  DecoderState sa, sb;
  a.begin_decode(ea.data(), 5, wa, sa);
  b.begin_decode(eb.data(), 5, wb, sb);
  std::vector<float> la(300), lb(300);
  a.decode_step(1, wa, sa, la.data());
  b.decode_step(1, wb, sb, lb.data());
  for (int i = 0; i < 300; ++i) EXPECT_NEAR(la[i], lb[i], 1e-5f * std::max(1.0f, std::fabs(lb[i]))) << i;

  const std::uint16_t nan_bits = 0x7FC0;
  std::memcpy(e->bytes.data() + 100, &nan_bits, 2);
  expect_error(wr.bytes(), {"embedding", "NaN"});
}

TEST(Weights, ScalarGatesAreSigmoided) {
  auto wr = tiny();
  const float g = 0.7f;
  std::memcpy(wr.find("decoder.1.cross_attn_gate")->bytes.data(), &g, 4);
  auto w = load_weights(wr.bytes());
  ASSERT_TRUE(w.ok());
  EXPECT_FLOAT_EQ(w->decoder[1].cross_attn_gate, 1.0f / (1.0f + std::exp(-0.7f)));
}

// Random truncations and byte flips of a valid file: each load either succeeds or returns an
// error; nothing crashes (run under ASan/valgrind to catch out-of-bounds reads).
TEST(Weights, FuzzedFilesNeverCrash) {
  const auto good = tiny().bytes();
  std::mt19937 rng(1234);
  int loaded = 0, rejected = 0;
  for (int iter = 0; iter < 600; ++iter) {
    std::vector<std::uint8_t> b = good;
    const int mode = iter % 3;
    if (mode == 0) {
      b.resize(std::uniform_int_distribution<std::size_t>(0, b.size())(rng));
    } else {
      // Flip bytes, mostly in the header where they change structure.
      std::uint64_t header_len = 0;
      for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | good[i];
      const std::size_t hi = mode == 1 ? std::min<std::size_t>(8 + header_len, b.size()) : b.size();
      for (int k = 0; k < 3; ++k)
        b[std::uniform_int_distribution<std::size_t>(0, hi - 1)(rng)] =
            static_cast<std::uint8_t>(rng());
    }
    auto w = load_weights(b);
    if (w.ok()) {
      ++loaded;
      // A file that loads must also run: one encoder pass and a decoder step.
      const Model m = Model::create(std::move(w).value());
      Workspace ws;
      std::vector<float> enc;
      std::vector<std::int32_t> ids = {7, 8, 9};
      m.encode(ids, ws, enc);
      DecoderState st;
      m.begin_decode(enc.data(), 3, ws, st);
      std::vector<float> logits(m.config().vocab_size);
      m.decode_step(1, ws, st, logits.data());
    } else {
      ++rejected;
      EXPECT_FALSE(w.error().message.empty());
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(loaded, 0);  // data-section flips still load: the fuzz reaches the forward pass
}

}  // namespace
}  // namespace needle
