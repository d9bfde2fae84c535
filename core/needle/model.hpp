// The Needle encoder-decoder (NEEDLE.md section 4): encoder over a whole sequence, decoder one
// token at a time with a self-attention KV cache, cross-attention K/V computed once per call.
// Keys and values are kept head-major ([kv_head][position][head_dim]) so one query head's
// scores are a contiguous rows-dot.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "needle/config.hpp"
#include "needle/ops.hpp"
#include "needle/weights.hpp"

namespace needle {

// Scratch for the encoder and the decoder. Buffers only grow, so a warm engine allocates
// nothing per call.
struct Workspace {
  std::vector<float> x, h, q, k, v, attn, o, scores, ffn_a, ffn_b;
  std::vector<float> kt, vh;  // the encoder layer's keys [kv_head][head_dim][T], values [kv_head][T][head_dim]
  std::vector<float> qh, oh;  // one head's queries / outputs, [T][head_dim]
  static void fit(std::vector<float>& b, std::size_t n) {
    if (b.size() < n) b.resize(n);
  }
};

// Per-call decoder state: cross K/V (from the encoder output) and the self-attention cache.
struct DecoderState {
  int enc_len = 0;
  int pos = 0;                   // position of the next token fed to decode_step
  std::vector<float> cross_k, cross_v;  // [layer][kv_head][enc_len][head_dim]
  std::vector<float> self_k, self_v;    // [layer][kv_head][max_dec_len][head_dim]
};

struct Model {
  Weights weights;
  ops::RopeTable rope;

  static Model create(Weights w) {
    Model m;
    const Config& c = w.config;
    m.rope.build(c.head_dim(), c.rope_theta, std::max(c.max_enc_len, c.max_dec_len));
    m.weights = std::move(w);
    return m;
  }

  const Config& config() const { return weights.config; }

  // Encoder output Norm(x; encoder_final_norm) for `ids` into enc ([ids.size()][d_model]).
  // Ids must be < vocab_size and ids.size() <= max_enc_len (the caller checks).
  void encode(std::span<const std::int32_t> ids, Workspace& ws, std::vector<float>& enc) const {
    const Config& c = config();
    const int T = static_cast<int>(ids.size()), d = c.d_model;
    Workspace::fit(ws.x, std::size_t(T) * d);
    embed_tokens(ids, ws.x.data());
    for (const EncoderLayer& layer : weights.encoder) {
      Workspace::fit(ws.h, std::size_t(T) * d);
      ops::rms_norm_rows(ws.x.data(), layer.norm, T, d, ws.h.data());
      self_attention_block(layer.self_attn, ws.h.data(), T, ws);
      add_scaled(ws.x.data(), ws.o.data(), layer.self_attn_gate, std::size_t(T) * d);
      if (layer.ffn) ffn_block(*layer.ffn, T, ws);
    }
    enc.resize(std::size_t(T) * d);
    ops::rms_norm_rows(ws.x.data(), weights.encoder_final_norm, T, d, enc.data());
  }

  // Computes every decoder layer's cross-attention K/V from `enc` and resets the cache.
  void begin_decode(const float* enc, int enc_len, Workspace& ws, DecoderState& st) const {
    const Config& c = config();
    const int hd = c.head_dim(), kvh = c.num_kv_heads, kvd = c.kv_dim();
    const std::size_t per_layer = std::size_t(kvh) * enc_len * hd;
    st.enc_len = enc_len;
    st.pos = 0;
    st.cross_k.resize(per_layer * weights.decoder.size());
    st.cross_v.resize(per_layer * weights.decoder.size());
    const std::size_t cache = std::size_t(kvh) * c.max_dec_len * hd * weights.decoder.size();
    if (st.self_k.size() < cache) {
      st.self_k.resize(cache);
      st.self_v.resize(cache);
    }
    Workspace::fit(ws.k, std::size_t(enc_len) * kvd);
    Workspace::fit(ws.v, std::size_t(enc_len) * kvd);
    for (std::size_t l = 0; l < weights.decoder.size(); ++l) {
      const AttentionWeights& a = weights.decoder[l].cross_attn;
      ops::project(a.wk, enc, enc_len, ws.k.data());
      ops::project(a.wv, enc, enc_len, ws.v.data());
      float* kout = st.cross_k.data() + l * per_layer;
      float* vout = st.cross_v.data() + l * per_layer;
      for (int t = 0; t < enc_len; ++t)
        for (int g = 0; g < kvh; ++g) {
          const float* ksrc = ws.k.data() + std::size_t(t) * kvd + g * hd;
          float* kdst = kout + (std::size_t(g) * enc_len + t) * hd;
          ops::rms_norm(ksrc, a.k_norm, hd, kdst);
          const float* vsrc = ws.v.data() + std::size_t(t) * kvd + g * hd;
          std::copy(vsrc, vsrc + hd, vout + (std::size_t(g) * enc_len + t) * hd);
        }
    }
  }

  // Feeds `token` at position st.pos and writes vocab_size logits. st.pos < max_dec_len.
  void decode_step(std::int32_t token, Workspace& ws, DecoderState& st, float* logits) const {
    const Config& c = config();
    const int d = c.d_model, hd = c.head_dim(), H = c.num_heads, kvh = c.num_kv_heads;
    const int group = H / kvh, kvd = c.kv_dim(), maxlen = c.max_dec_len;
    const int pos = st.pos;
    Workspace::fit(ws.x, d);
    Workspace::fit(ws.h, d);
    Workspace::fit(ws.q, d);
    Workspace::fit(ws.k, kvd);
    Workspace::fit(ws.v, kvd);
    Workspace::fit(ws.attn, d);
    Workspace::fit(ws.o, d);
    Workspace::fit(ws.scores, std::size_t(std::max(pos + 1, st.enc_len)));
    float* x = ws.x.data();
    embed_tokens(std::span<const std::int32_t>(&token, 1), x);
    const std::size_t self_per_layer = std::size_t(kvh) * maxlen * hd;
    const std::size_t cross_per_layer = std::size_t(kvh) * st.enc_len * hd;
    for (std::size_t l = 0; l < weights.decoder.size(); ++l) {
      const DecoderLayer& layer = weights.decoder[l];
      // Self-attention: the new key is rotated once and cached; cached keys are never touched.
      {
        const AttentionWeights& a = layer.self_attn;
        ops::rms_norm(x, layer.self_attn_norm, d, ws.h.data());
        ops::project(a.wq, ws.h.data(), 1, ws.q.data());
        ops::project(a.wk, ws.h.data(), 1, ws.k.data());
        ops::project(a.wv, ws.h.data(), 1, ws.v.data());
        float* kc = st.self_k.data() + l * self_per_layer;
        float* vc = st.self_v.data() + l * self_per_layer;
        for (int g = 0; g < kvh; ++g) {
          float* kdst = kc + (std::size_t(g) * maxlen + pos) * hd;
          ops::rms_norm(ws.k.data() + g * hd, a.k_norm, hd, kdst);
          rope.apply(kdst, pos);
          std::copy(ws.v.data() + g * hd, ws.v.data() + (g + 1) * hd,
                    vc + (std::size_t(g) * maxlen + pos) * hd);
        }
        for (int h = 0; h < H; ++h) {
          float* qh = ws.q.data() + h * hd;
          ops::rms_norm(qh, a.q_norm, hd, qh);
          rope.apply(qh, pos);
          ops::scale_query(qh, hd);
          const std::size_t off = std::size_t(h / group) * maxlen * hd;
          ops::attend(qh, kc + off, vc + off, pos + 1, hd, ws.scores.data(),
                      ws.attn.data() + h * hd);
        }
        ops::project(a.wo, ws.attn.data(), 1, ws.o.data());
        add_scaled(x, ws.o.data(), layer.self_attn_gate, d);
      }
      // Cross-attention over the encoder output, no RoPE.
      {
        const AttentionWeights& a = layer.cross_attn;
        ops::rms_norm(x, layer.cross_attn_norm, d, ws.h.data());
        ops::project(a.wq, ws.h.data(), 1, ws.q.data());
        const float* kc = st.cross_k.data() + l * cross_per_layer;
        const float* vc = st.cross_v.data() + l * cross_per_layer;
        for (int h = 0; h < H; ++h) {
          float* qh = ws.q.data() + h * hd;
          ops::rms_norm(qh, a.q_norm, hd, qh);
          ops::scale_query(qh, hd);
          const std::size_t off = std::size_t(h / group) * st.enc_len * hd;
          ops::attend(qh, kc + off, vc + off, st.enc_len, hd, ws.scores.data(),
                      ws.attn.data() + h * hd);
        }
        ops::project(a.wo, ws.attn.data(), 1, ws.o.data());
        add_scaled(x, ws.o.data(), layer.cross_attn_gate, d);
      }
      if (layer.ffn) ffn_block(*layer.ffn, 1, ws);
    }
    ops::rms_norm(x, weights.decoder_final_norm, d, ws.h.data());
    weights.embedding.dot_all(ws.h.data(), logits);
    ++st.pos;
  }

  // Retrieval embedding (NEEDLE.md section 10) of an already-encoded sequence `enc` [T][d].
  // Returns true when the model's retrieval head was used, false for the mean-pool fallback.
  bool embed(const float* enc, int T, Workspace& ws, std::vector<float>& out) const {
    const int d = config().d_model;
    Workspace::fit(ws.h, d);
    std::vector<double> mean(d, 0.0);
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < d; ++i) mean[i] += enc[std::size_t(t) * d + i];
    for (int i = 0; i < d; ++i) ws.h[i] = static_cast<float>(mean[i] / std::max(T, 1));
    if (weights.retrieval) {
      const RetrievalHead& r = *weights.retrieval;
      Workspace::fit(ws.q, r.hidden.out);
      ops::project(r.hidden, ws.h.data(), 1, ws.q.data());
      for (int i = 0; i < r.hidden.out; ++i) ws.q[i] = std::max(0.f, ws.q[i] + r.bias[i]);
      out.resize(r.proj.out);
      ops::project(r.proj, ws.q.data(), 1, out.data());
    } else {
      out.assign(ws.h.begin(), ws.h.begin() + d);
    }
    double norm = 0;
    for (float v : out) norm += double(v) * v;
    const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.f;
    for (float& v : out) v *= inv;
    return weights.retrieval.has_value();
  }

  // x[t] = E[ids[t]] * sqrt(d_model).
  void embed_tokens(std::span<const std::int32_t> ids, float* x) const {
    const int d = config().d_model;
    const float scale = std::sqrt(static_cast<float>(d));
    for (std::size_t t = 0; t < ids.size(); ++t) weights.embedding.row(ids[t], scale, x + t * d);
  }

 private:
  static void add_scaled(float* x, const float* y, float g, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) x[i] += g * y[i];
  }

  // Bidirectional self-attention of the encoder over h [T][d]; result (after Wo) in ws.o.
  void self_attention_block(const AttentionWeights& a, const float* h, int T,
                            Workspace& ws) const {
    const Config& c = config();
    const int d = c.d_model, hd = c.head_dim(), H = c.num_heads, kvh = c.num_kv_heads;
    const int group = H / kvh, kvd = c.kv_dim();
    Workspace::fit(ws.q, std::size_t(T) * d);
    Workspace::fit(ws.k, std::size_t(T) * kvd);
    Workspace::fit(ws.v, std::size_t(T) * kvd);
    Workspace::fit(ws.kt, std::size_t(T) * kvd);
    Workspace::fit(ws.vh, std::size_t(T) * kvd);
    Workspace::fit(ws.attn, std::size_t(T) * d);
    Workspace::fit(ws.o, std::size_t(T) * d);
    Workspace::fit(ws.scores, std::size_t(T) * T);
    Workspace::fit(ws.qh, std::size_t(T) * hd);
    Workspace::fit(ws.oh, std::size_t(T) * hd);
    ops::project(a.wq, h, T, ws.q.data());
    ops::project(a.wk, h, T, ws.k.data());
    ops::project(a.wv, h, T, ws.v.data());
    for (int t = 0; t < T; ++t)
      for (int g = 0; g < kvh; ++g) {
        float* k = ws.k.data() + std::size_t(t) * kvd + g * hd;
        ops::rms_norm(k, a.k_norm, hd, k);
        rope.apply(k, t);
        float* kt = ws.kt.data() + std::size_t(g) * hd * T;
        for (int j = 0; j < hd; ++j) kt[std::size_t(j) * T + t] = k[j];
        const float* vsrc = ws.v.data() + std::size_t(t) * kvd + g * hd;
        std::copy(vsrc, vsrc + hd, ws.vh.data() + (std::size_t(g) * T + t) * hd);
      }
    for (int h2 = 0; h2 < H; ++h2) {
      for (int t = 0; t < T; ++t) {
        float* qrow = ws.qh.data() + std::size_t(t) * hd;
        ops::rms_norm(ws.q.data() + std::size_t(t) * d + h2 * hd, a.q_norm, hd, qrow);
        rope.apply(qrow, t);
        ops::scale_query(qrow, hd);
      }
      const std::size_t off = std::size_t(h2 / group) * T * hd;
      ops::attend_all(ws.qh.data(), ws.kt.data() + off, ws.vh.data() + off, T, hd,
                      ws.scores.data(), ws.oh.data());
      for (int t = 0; t < T; ++t)
        std::copy(ws.oh.data() + std::size_t(t) * hd, ws.oh.data() + std::size_t(t + 1) * hd,
                  ws.attn.data() + std::size_t(t) * d + h2 * hd);
    }
    ops::project(a.wo, ws.attn.data(), T, ws.o.data());
  }

  // x += sigmoid(ffn_gate) * down(relu(x' gate_proj) * relu(x' up_proj)), x' = Norm(x; ffn_norm).
  void ffn_block(const FfnWeights& f, int T, Workspace& ws) const {
    const int d = config().d_model, F = f.gate_proj.out;
    Workspace::fit(ws.h, std::size_t(T) * d);
    Workspace::fit(ws.ffn_a, std::size_t(T) * F);
    Workspace::fit(ws.ffn_b, std::size_t(T) * F);
    Workspace::fit(ws.o, std::size_t(T) * d);
    ops::rms_norm_rows(ws.x.data(), f.norm, T, d, ws.h.data());
    ops::project(f.gate_proj, ws.h.data(), T, ws.ffn_a.data());
    ops::project(f.up_proj, ws.h.data(), T, ws.ffn_b.data());
    for (std::size_t i = 0; i < std::size_t(T) * F; ++i)
      ws.ffn_a[i] = std::max(0.f, ws.ffn_a[i]) * std::max(0.f, ws.ffn_b[i]);
    ops::project(f.down_proj, ws.ffn_a.data(), T, ws.o.data());
    add_scaled(ws.x.data(), ws.o.data(), f.gate, std::size_t(T) * d);
  }
};

}  // namespace needle
