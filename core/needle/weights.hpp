// Config + tensor views -> typed per-layer weights, by name (NEEDLE.md section 9).
// Big matrices stay views into the caller's bytes (INT4 packed data, aligned F32). Only small
// or non-F32 tensors are converted into owned F32: norms (stored as 1 + g, the factor the
// forward pass multiplies by), sigmoid(gates), scales, and a BF16/F16 embedding.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "int4.hpp"
#include "needle/config.hpp"
#include "needle/error.hpp"
#include "needle/safetensors.hpp"

namespace needle {

// A projection W [in, out] (y = x W): INT4 in the published layout, or dense F32.
struct Matrix {
  int in = 0;
  int out = 0;
  kernels::Int4Matrix q4{};     // q4.packed != nullptr when quantised
  const float* f32 = nullptr;   // [in, out] row-major otherwise

  bool quantized() const { return q4.packed != nullptr; }
};

struct AttentionWeights {
  Matrix wq, wk, wv, wo;
  const float* q_norm = nullptr;  // 1 + g, [head_dim]
  const float* k_norm = nullptr;
};

struct FfnWeights {
  const float* norm = nullptr;  // 1 + g, [d_model]
  float gate = 0;               // sigmoid(ffn_gate)
  Matrix gate_proj, up_proj, down_proj;
};

struct EncoderLayer {
  const float* norm = nullptr;
  float self_attn_gate = 0;  // sigmoid applied
  AttentionWeights self_attn;
  std::optional<FfnWeights> ffn;
};

struct DecoderLayer {
  const float* self_attn_norm = nullptr;
  const float* cross_attn_norm = nullptr;
  float self_attn_gate = 0;
  float cross_attn_gate = 0;
  AttentionWeights self_attn, cross_attn;
  std::optional<FfnWeights> ffn;
};

struct RetrievalHead {
  Matrix hidden;                  // [d, d/4]
  const float* bias = nullptr;    // [d/4]
  Matrix proj;                    // [d/4, c]
};

// The token embedding E [vocab, d_model], read two ways: a row per input token (x = E[id] *
// sqrt(d)) and all rows against the decoder output (tied logits, h E^T). Kept in the file's
// dtype when that is F32 or BF16 (the published files store BF16): widening BF16 is exact, so
// both give the same numbers, and BF16 halves the bytes the logits read every step.
struct EmbeddingTable {
  const float* f32 = nullptr;           // [rows, dim], or
  const std::uint16_t* bf16 = nullptr;  // [rows, dim]
  int rows = 0, dim = 0;

  void row(int id, float scale, float* out) const {
    const std::size_t off = std::size_t(id) * dim;
    if (bf16)
      for (int i = 0; i < dim; ++i) out[i] = kernels::bf16_to_f32(bf16[off + i]) * scale;
    else
      for (int i = 0; i < dim; ++i) out[i] = f32[off + i] * scale;
  }
  // logits[r] = dot(E[r], h) for every row, in fp32.
  void dot_all(const float* h, float* logits) const {
    if (bf16) kernels::bf16_rows_dot(bf16, rows, dim, h, logits);
    else kernels::f32_rows_dot(f32, rows, dim, h, logits);
  }
};

struct Weights {
  Config config;
  EmbeddingTable embedding;
  const float* encoder_final_norm = nullptr;
  const float* decoder_final_norm = nullptr;
  std::vector<EncoderLayer> encoder;
  std::vector<DecoderLayer> decoder;
  std::optional<RetrievalHead> retrieval;
  // Converted tensors. Inner buffers never move when the outer vector grows or the Weights
  // object is moved, so the pointers above stay valid.
  std::vector<std::vector<float>> owned;
};

namespace detail {

inline float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  const std::uint32_t man = h & 0x3ffu;
  float v;
  if (exp == 0) v = std::ldexp(static_cast<float>(man), -24);  // zero or subnormal
  else if (exp == 31) v = man ? NAN : INFINITY;
  else v = std::ldexp(static_cast<float>(man | 0x400u), static_cast<int>(exp) - 25);
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits |= sign;
  std::memcpy(&v, &bits, 4);
  return v;
}

inline float bf16_to_f32(std::uint16_t b) {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

// Index of the first NaN/Inf (all exponent bits set), or n. A branch-free pass first (it
// vectorises: every weight is checked at load), the locating pass only on failure.
template <class Bits, Bits kExponent>
std::size_t first_nonfinite(const Bits* v, std::size_t n) {
  Bits any = 0;
  for (std::size_t i = 0; i < n; ++i) any |= static_cast<Bits>((v[i] & kExponent) == kExponent);
  if (!any) return n;
  std::size_t i = 0;
  while ((v[i] & kExponent) != kExponent) ++i;
  return i;
}

inline std::size_t first_nonfinite_f32(const float* v, std::size_t n) {
  static_assert(sizeof(float) == sizeof(std::uint32_t));
  return first_nonfinite<std::uint32_t, 0x7F800000u>(reinterpret_cast<const std::uint32_t*>(v), n);
}

inline std::size_t first_nonfinite_bf16(const std::uint16_t* v, std::size_t n) {
  return first_nonfinite<std::uint16_t, 0x7F80u>(v, n);
}

inline std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Builds typed views; every failure names the tensor.
class WeightsBuilder {
 public:
  WeightsBuilder(const SafeTensors& st, Weights* w) : st_(st), w_(w) {}

  Result<const TensorView*> require(const std::string& name) const {
    const TensorView* t = st_.find(name);
    if (!t) return weights_error("missing tensor '" + name + "'");
    return t;
  }

  // Float tensor of exactly `numel` elements as F32: borrowed when already aligned F32, else
  // converted. Non-finite values are rejected when `check_finite`.
  Result<const float*> floats(const TensorView& t, std::size_t numel, bool check_finite) {
    if (t.dtype == DType::kI4)
      return weights_error("tensor '" + t.name + "': expected a float tensor, found I4");
    if (static_cast<std::size_t>(t.numel()) != numel)
      return weights_error("tensor '" + t.name + "': has " + std::to_string(t.numel()) +
                           " elements " + shape_string(t.shape) + ", the config needs " +
                           std::to_string(numel));
    const float* out = nullptr;
    if (t.dtype == DType::kF32 && reinterpret_cast<std::uintptr_t>(t.data.data()) % 4 == 0) {
      out = reinterpret_cast<const float*>(t.data.data());
    } else {
      std::vector<float>& v = w_->owned.emplace_back(numel);
      for (std::size_t i = 0; i < numel; ++i) {
        const std::uint8_t* p = t.data.data() + i * dtype_size(t.dtype);
        if (t.dtype == DType::kF32) {
          std::memcpy(&v[i], p, 4);
        } else {
          const std::uint16_t h = static_cast<std::uint16_t>(p[0] | (p[1] << 8));
          v[i] = t.dtype == DType::kF16 ? f16_to_f32(h) : bf16_to_f32(h);
        }
      }
      out = v.data();
    }
    if (check_finite)
      if (const std::size_t i = first_nonfinite_f32(out, numel); i < numel)
        return weights_error("tensor '" + t.name + "': value " + std::to_string(i) +
                             " is NaN or infinite");
    return out;
  }

  // A norm vector g of size n, stored as 1 + g.
  Result<const float*> norm(const std::string& name, int n) {
    auto t = require(name);
    if (!t.ok()) return std::move(t).error();
    if ((*t)->shape.size() != 1)
      return weights_error("tensor '" + name + "': shape " + shape_string((*t)->shape) +
                           ", expected [" + std::to_string(n) + "]");
    auto f = floats(**t, static_cast<std::size_t>(n), true);
    if (!f.ok()) return std::move(f).error();
    std::vector<float>& v = w_->owned.emplace_back(*f, *f + n);
    for (float& x : v) x = 1.0f + x;
    return static_cast<const float*>(v.data());
  }

  // A scalar gate of shape [] or [1], returned as sigmoid(gate).
  Result<float> gate(const std::string& name) {
    auto t = require(name);
    if (!t.ok()) return std::move(t).error();
    const auto& shape = (*t)->shape;
    if (!(shape.empty() || (shape.size() == 1 && shape[0] == 1)))
      return weights_error("tensor '" + name + "': a gate must have shape [] or [1], found " +
                           shape_string(shape));
    auto f = floats(**t, 1, true);
    if (!f.ok()) return std::move(f).error();
    return 1.0f / (1.0f + std::exp(-**f));
  }

  // A projection [in, out]: I4 [in_pad/2, out] + F32 scales [in_pad/32, out], or float [in, out].
  Result<Matrix> matrix(const std::string& name, int in, int out) {
    auto t = require(name);
    if (!t.ok()) return std::move(t).error();
    const TensorView& tv = **t;
    Matrix m;
    m.in = in;
    m.out = out;
    if (tv.dtype != DType::kI4) {
      if (tv.shape.size() != 2 || tv.shape[0] != in || tv.shape[1] != out)
        return weights_error("tensor '" + name + "': shape " + shape_string(tv.shape) +
                             ", the config needs [" + std::to_string(in) + ", " +
                             std::to_string(out) + "]");
      auto f = floats(tv, static_cast<std::size_t>(in) * out, true);
      if (!f.ok()) return std::move(f).error();
      m.f32 = *f;
      return m;
    }
    const int in_pad = (in + 31) / 32 * 32;
    if (tv.shape.size() != 2 || tv.shape[0] != in_pad / 2 || tv.shape[1] != out)
      return weights_error("tensor '" + name + "': I4 shape " + shape_string(tv.shape) +
                           ", the config needs [" + std::to_string(in_pad / 2) + ", " +
                           std::to_string(out) + "]");
    const std::string scale_name = name + ".scale";
    auto s = require(scale_name);
    if (!s.ok()) return std::move(s).error();
    if ((*s)->shape.size() != 2 || (*s)->shape[0] != in_pad / 32 || (*s)->shape[1] != out)
      return weights_error("tensor '" + scale_name + "': shape " + shape_string((*s)->shape) +
                           ", the config needs [" + std::to_string(in_pad / 32) + ", " +
                           std::to_string(out) + "]");
    auto scales = floats(**s, static_cast<std::size_t>(in_pad / 32) * out, true);
    if (!scales.ok()) return std::move(scales).error();
    m.q4 = kernels::Int4Matrix{tv.data.data(), *scales, in, in_pad, out};
    return m;
  }

  Result<AttentionWeights> attention(const std::string& prefix, const Config& c) {
    AttentionWeights a;
    const int d = c.d_model, kv = c.kv_dim(), hd = c.head_dim();
    auto wq = matrix(prefix + ".wq", d, d);
    if (!wq.ok()) return std::move(wq).error();
    auto wk = matrix(prefix + ".wk", d, kv);
    if (!wk.ok()) return std::move(wk).error();
    auto wv = matrix(prefix + ".wv", d, kv);
    if (!wv.ok()) return std::move(wv).error();
    auto wo = matrix(prefix + ".wo", d, d);
    if (!wo.ok()) return std::move(wo).error();
    auto qn = norm(prefix + ".q_norm", hd);
    if (!qn.ok()) return std::move(qn).error();
    auto kn = norm(prefix + ".k_norm", hd);
    if (!kn.ok()) return std::move(kn).error();
    a.wq = *wq; a.wk = *wk; a.wv = *wv; a.wo = *wo;
    a.q_norm = *qn; a.k_norm = *kn;
    return a;
  }

  // FFN tensors of layer `i` ("encoder" or "decoder"). NEEDLE.md writes the prefix as
  // `{enc|dec}`; files written with the full layer prefix are accepted too.
  Result<FfnWeights> ffn(const std::string& full_prefix, const std::string& short_prefix,
                         const Config& c) {
    const std::string p = st_.find(full_prefix + ".ffn_gate") ? full_prefix : short_prefix;
    FfnWeights f;
    auto n = norm(p + ".ffn_norm", c.d_model);
    if (!n.ok()) return std::move(n).error();
    auto g = gate(p + ".ffn_gate");
    if (!g.ok()) return std::move(g).error();
    auto gp = matrix(p + ".ffn.gate_proj", c.d_model, c.ffn_dim);
    if (!gp.ok()) return std::move(gp).error();
    auto up = matrix(p + ".ffn.up_proj", c.d_model, c.ffn_dim);
    if (!up.ok()) return std::move(up).error();
    auto down = matrix(p + ".ffn.down_proj", c.ffn_dim, c.d_model);
    if (!down.ok()) return std::move(down).error();
    f.norm = *n; f.gate = *g; f.gate_proj = *gp; f.up_proj = *up; f.down_proj = *down;
    return f;
  }

 private:
  const SafeTensors& st_;
  Weights* w_;
};

}  // namespace detail

// Builds the typed weights. The returned views borrow the bytes `st` borrows.
inline Result<Weights> build_weights(const SafeTensors& st, const Config& c) {
  Weights w;
  w.config = c;
  detail::WeightsBuilder b(st, &w);
  const int d = c.d_model;

  auto emb = b.require("embedding");
  if (!emb.ok()) return std::move(emb).error();
  if ((*emb)->shape.size() != 2 || (*emb)->shape[0] != c.vocab_size || (*emb)->shape[1] != d)
    return detail::weights_error("tensor 'embedding': shape " +
                                 detail::shape_string((*emb)->shape) + ", the config needs [" +
                                 std::to_string(c.vocab_size) + ", " + std::to_string(d) + "]");
  w.embedding.rows = c.vocab_size;
  w.embedding.dim = d;
  const TensorView& et = **emb;
  if (et.dtype == DType::kBF16 && reinterpret_cast<std::uintptr_t>(et.data.data()) % 2 == 0) {
    // A view, no copy. BF16 is non-finite when all exponent bits are set.
    w.embedding.bf16 = reinterpret_cast<const std::uint16_t*>(et.data.data());
    const std::size_t n = static_cast<std::size_t>(c.vocab_size) * d;
    if (const std::size_t i = detail::first_nonfinite_bf16(w.embedding.bf16, n); i < n)
      return detail::weights_error("tensor 'embedding': value " + std::to_string(i) +
                                   " is NaN or infinite");
  } else {
    auto e = b.floats(et, static_cast<std::size_t>(c.vocab_size) * d, true);
    if (!e.ok()) return std::move(e).error();
    w.embedding.f32 = *e;
  }

  auto efn = b.norm("encoder_final_norm", d);
  if (!efn.ok()) return std::move(efn).error();
  w.encoder_final_norm = *efn;
  auto dfn = b.norm("decoder_final_norm", d);
  if (!dfn.ok()) return std::move(dfn).error();
  w.decoder_final_norm = *dfn;

  for (int i = 0; i < c.num_encoder_layers; ++i) {
    const std::string p = "encoder." + std::to_string(i);
    EncoderLayer layer;
    auto n = b.norm(p + ".norm", d);
    if (!n.ok()) return std::move(n).error();
    auto g = b.gate(p + ".self_attn_gate");
    if (!g.ok()) return std::move(g).error();
    auto a = b.attention(p + ".self_attn", c);
    if (!a.ok()) return std::move(a).error();
    layer.norm = *n; layer.self_attn_gate = *g; layer.self_attn = *a;
    if (!c.no_feedforward) {
      auto f = b.ffn(p, "enc." + std::to_string(i), c);
      if (!f.ok()) return std::move(f).error();
      layer.ffn = *f;
    }
    w.encoder.push_back(layer);
  }
  for (int i = 0; i < c.num_decoder_layers; ++i) {
    const std::string p = "decoder." + std::to_string(i);
    DecoderLayer layer;
    auto sn = b.norm(p + ".self_attn_norm", d);
    if (!sn.ok()) return std::move(sn).error();
    auto cn = b.norm(p + ".cross_attn_norm", d);
    if (!cn.ok()) return std::move(cn).error();
    auto sg = b.gate(p + ".self_attn_gate");
    if (!sg.ok()) return std::move(sg).error();
    auto cg = b.gate(p + ".cross_attn_gate");
    if (!cg.ok()) return std::move(cg).error();
    auto sa = b.attention(p + ".self_attn", c);
    if (!sa.ok()) return std::move(sa).error();
    auto ca = b.attention(p + ".cross_attn", c);
    if (!ca.ok()) return std::move(ca).error();
    layer.self_attn_norm = *sn; layer.cross_attn_norm = *cn;
    layer.self_attn_gate = *sg; layer.cross_attn_gate = *cg;
    layer.self_attn = *sa; layer.cross_attn = *ca;
    if (!c.no_feedforward) {
      auto f = b.ffn(p, "dec." + std::to_string(i), c);
      if (!f.ok()) return std::move(f).error();
      layer.ffn = *f;
    }
    w.decoder.push_back(layer);
  }

  // Optional retrieval head: all three tensors or none.
  const char* head_names[] = {"contrastive_hidden_kernel", "contrastive_hidden_bias",
                              "contrastive_proj_kernel"};
  int present = 0;
  for (const char* n : head_names) present += st.find(n) != nullptr;
  if (present != 0 && present != 3)
    return detail::weights_error(
        "retrieval head is incomplete: contrastive_hidden_kernel, contrastive_hidden_bias and "
        "contrastive_proj_kernel must all be present or all absent");
  if (present == 3) {
    const TensorView* proj = st.find("contrastive_proj_kernel");
    const int hidden = d / 4;
    if (proj->shape.size() != 2 || proj->shape[1] <= 0)
      return detail::weights_error("tensor 'contrastive_proj_kernel': shape " +
                                   detail::shape_string(proj->shape) + " is not [d/4, c]");
    const int out_dim = static_cast<int>(proj->shape[1]);
    RetrievalHead h;
    auto hk = b.matrix("contrastive_hidden_kernel", d, hidden);
    if (!hk.ok()) return std::move(hk).error();
    auto hb_t = b.require("contrastive_hidden_bias");
    if (!hb_t.ok()) return std::move(hb_t).error();
    auto hb = b.floats(**hb_t, static_cast<std::size_t>(hidden), true);
    if (!hb.ok()) return std::move(hb).error();
    auto pk = b.matrix("contrastive_proj_kernel", hidden, out_dim);
    if (!pk.ok()) return std::move(pk).error();
    h.hidden = *hk; h.bias = *hb; h.proj = *pk;
    w.retrieval = h;
  }
  return w;
}

}  // namespace needle

namespace needle {

// Container + config + typed weights in one step. The result borrows `file`.
inline Result<Weights> load_weights(std::span<const std::uint8_t> file) {
  auto st = parse_safetensors(file);
  if (!st.ok()) return std::move(st).error();
  auto config = parse_config(*st);
  if (!config.ok()) return std::move(config).error();
  return build_weights(*st, *config);
}

}  // namespace needle
