// Shared helpers for the C++ tests: writing SafeTensors files in memory (valid and broken),
// INT4 quantisation as the upstream reference does it, and reading JSON fixtures.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <simdjson.h>

namespace needle::test {

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::string s = read_text(path);
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

inline bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

// Builds a SafeTensors file tensor by tensor; the header can be replaced to test bad files.
struct SafeTensorsWriter {
  struct Entry {
    std::string name, dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<Entry> entries;
  std::vector<std::pair<std::string, std::string>> metadata;

  void add_raw(const std::string& name, const std::string& dtype, std::vector<std::int64_t> shape,
               std::vector<std::uint8_t> bytes) {
    entries.push_back({name, dtype, std::move(shape), std::move(bytes)});
  }
  void add_f32(const std::string& name, std::vector<std::int64_t> shape, const std::vector<float>& v) {
    std::vector<std::uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    add_raw(name, "F32", std::move(shape), std::move(b));
  }
  Entry* find(const std::string& name) {
    for (auto& e : entries)
      if (e.name == name) return &e;
    return nullptr;
  }
  void remove(const std::string& name) {
    for (auto it = entries.begin(); it != entries.end(); ++it)
      if (it->name == name) {
        entries.erase(it);
        return;
      }
  }

  std::string header_json() const {
    std::ostringstream h;
    h << "{";
    bool first = true;
    if (!metadata.empty()) {
      h << "\"__metadata__\":{";
      for (std::size_t i = 0; i < metadata.size(); ++i)
        h << (i ? "," : "") << "\"" << metadata[i].first << "\":\"" << metadata[i].second << "\"";
      h << "}";
      first = false;
    }
    std::size_t offset = 0;
    for (const auto& e : entries) {
      h << (first ? "" : ",") << "\"" << e.name << "\":{\"dtype\":\"" << e.dtype << "\",\"shape\":[";
      for (std::size_t i = 0; i < e.shape.size(); ++i) h << (i ? "," : "") << e.shape[i];
      h << "],\"data_offsets\":[" << offset << "," << offset + e.bytes.size() << "]}";
      offset += e.bytes.size();
      first = false;
    }
    h << "}";
    return h.str();
  }

  std::vector<std::uint8_t> data_section() const {
    std::vector<std::uint8_t> d;
    for (const auto& e : entries) d.insert(d.end(), e.bytes.begin(), e.bytes.end());
    return d;
  }

  // The file with `header` as its JSON header (padded with spaces to 8 bytes, as writers do).
  static std::vector<std::uint8_t> assemble(std::string header, const std::vector<std::uint8_t>& data) {
    while ((8 + header.size()) % 8) header += ' ';
    std::vector<std::uint8_t> out(8);
    std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(n >> (8 * i));
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
  }
  std::vector<std::uint8_t> bytes() const { return assemble(header_json(), data_section()); }
};

// Upstream INT4 quantisation (checked against the JAX fixture): per column and group of 32
// input rows, scale = max|w| / 7, q = clip(round(w / scale), -8, 7). Rows padded to 32.
struct Int4Packed {
  std::vector<std::uint8_t> packed;  // [in_pad/2][out]
  std::vector<float> scales;         // [in_pad/32][out]
  std::vector<float> dequantized;    // [in][out], q * scale, what the kernels must compute with
  int in_pad = 0;
};

inline Int4Packed quantize_int4(const std::vector<float>& w, int in, int out) {
  Int4Packed r;
  r.in_pad = (in + 31) / 32 * 32;
  r.packed.assign(std::size_t(r.in_pad / 2) * out, 0);
  r.scales.assign(std::size_t(r.in_pad / 32) * out, 0.f);
  r.dequantized.assign(std::size_t(in) * out, 0.f);
  for (int g = 0; g < r.in_pad / 32; ++g)
    for (int o = 0; o < out; ++o) {
      float mx = 0;
      for (int i = g * 32; i < std::min(in, g * 32 + 32); ++i) mx = std::max(mx, std::fabs(w[std::size_t(i) * out + o]));
      const float scale = mx / 7.0f;
      r.scales[std::size_t(g) * out + o] = scale;
      for (int i = g * 32; i < g * 32 + 32; ++i) {
        int q = 0;
        if (i < in && scale > 0) {
          q = static_cast<int>(std::nearbyint(w[std::size_t(i) * out + o] / scale));
          q = std::clamp(q, -8, 7);
          r.dequantized[std::size_t(i) * out + o] = static_cast<float>(q) * scale;
        }
        std::uint8_t& byte = r.packed[std::size_t(i / 2) * out + o];
        const std::uint8_t nib = static_cast<std::uint8_t>(q & 0xF);
        byte = (i % 2 == 0) ? static_cast<std::uint8_t>((byte & 0xF0) | nib)
                            : static_cast<std::uint8_t>((byte & 0x0F) | (nib << 4));
      }
    }
  return r;
}

inline void add_int4(SafeTensorsWriter& wr, const std::string& name, const std::vector<float>& w,
                     int in, int out) {
  Int4Packed q = quantize_int4(w, in, out);
  wr.add_raw(name, "I4", {q.in_pad / 2, out}, q.packed);
  wr.add_f32(name + ".scale", {q.in_pad / 32, out}, q.scales);
}

// simdjson helpers: flatten a JSON array of numbers (any nesting) into floats.
inline void flatten(simdjson::dom::element e, std::vector<float>& out) {
  if (e.is_array()) {
    simdjson::dom::array arr = e.get_array().value_unsafe();
    for (simdjson::dom::element x : arr) flatten(x, out);
  } else {
    out.push_back(static_cast<float>(e.get_double().value_unsafe()));
  }
}
inline std::vector<float> floats_of(simdjson::dom::element e) {
  std::vector<float> v;
  flatten(e, v);
  return v;
}

// A random tiny Needle model (d_model 32, 4 heads, 2 kv heads, 2+2 layers, vocab `vocab`)
// with non-zero norms and gates, INT4 projections. Deterministic for a seed.
struct TinyModelSpec {
  int vocab = 300, d = 32, heads = 4, kv_heads = 2, enc_layers = 2, dec_layers = 2;
  int max_enc_len = 64, max_dec_len = 16;
  bool int4 = true;
  unsigned seed = 1;
};

inline SafeTensorsWriter make_tiny_model(const TinyModelSpec& s) {
  std::mt19937 rng(s.seed);
  std::normal_distribution<float> n01(0.f, 1.f);
  auto randv = [&](std::size_t n, float sd) {
    std::vector<float> v(n);
    for (auto& x : v) x = n01(rng) * sd;
    return v;
  };
  SafeTensorsWriter wr;
  wr.metadata = {{"vocab_size", std::to_string(s.vocab)}, {"d_model", std::to_string(s.d)},
                 {"num_heads", std::to_string(s.heads)}, {"num_kv_heads", std::to_string(s.kv_heads)},
                 {"num_encoder_layers", std::to_string(s.enc_layers)},
                 {"num_decoder_layers", std::to_string(s.dec_layers)},
                 {"max_enc_len", std::to_string(s.max_enc_len)},
                 {"max_dec_len", std::to_string(s.max_dec_len)}, {"rope_theta", "10000"},
                 {"no_feedforward", "true"}};
  const int d = s.d, hd = d / s.heads, kvd = s.kv_heads * hd;
  const float wsd = 1.0f / std::sqrt(static_cast<float>(d));
  auto proj = [&](const std::string& name, int in, int out) {
    auto w = randv(std::size_t(in) * out, wsd);
    if (s.int4) add_int4(wr, name, w, in, out);
    else wr.add_f32(name, {in, out}, w);
  };
  auto attn = [&](const std::string& p) {
    proj(p + ".wq", d, d);
    proj(p + ".wk", d, kvd);
    proj(p + ".wv", d, kvd);
    proj(p + ".wo", d, d);
    wr.add_f32(p + ".q_norm", {hd}, randv(hd, 0.3f));
    wr.add_f32(p + ".k_norm", {hd}, randv(hd, 0.3f));
  };
  wr.add_f32("embedding", {s.vocab, d}, randv(std::size_t(s.vocab) * d, 1.0f));
  wr.add_f32("encoder_final_norm", {d}, randv(d, 0.3f));
  wr.add_f32("decoder_final_norm", {d}, randv(d, 0.3f));
  for (int i = 0; i < s.enc_layers; ++i) {
    const std::string p = "encoder." + std::to_string(i);
    wr.add_f32(p + ".norm", {d}, randv(d, 0.3f));
    wr.add_f32(p + ".self_attn_gate", {}, randv(1, 1.0f));
    attn(p + ".self_attn");
  }
  for (int i = 0; i < s.dec_layers; ++i) {
    const std::string p = "decoder." + std::to_string(i);
    wr.add_f32(p + ".self_attn_norm", {d}, randv(d, 0.3f));
    wr.add_f32(p + ".cross_attn_norm", {d}, randv(d, 0.3f));
    wr.add_f32(p + ".self_attn_gate", {1}, randv(1, 1.0f));
    wr.add_f32(p + ".cross_attn_gate", {}, randv(1, 1.0f));
    attn(p + ".self_attn");
    attn(p + ".cross_attn");
  }
  return wr;
}

}  // namespace needle::test
