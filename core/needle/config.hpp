// Model configuration from the weights file's __metadata__ (NEEDLE.md section 2).
// Every key may be missing (the released model's value is used); nonsense is rejected.
#pragma once

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

#include "needle/error.hpp"
#include "needle/safetensors.hpp"

namespace needle {

struct Config {
  int vocab_size = 8192;
  int d_model = 512;
  int num_heads = 8;
  int num_kv_heads = 4;
  int num_encoder_layers = 12;
  int num_decoder_layers = 8;
  int max_enc_len = 1024;
  int max_dec_len = 512;
  float rope_theta = 10000.0f;
  bool no_feedforward = true;
  int ffn_dim = 2048;
  std::string activation = "drelu";

  int head_dim() const { return d_model / num_heads; }
  int kv_dim() const { return num_kv_heads * head_dim(); }
};

namespace detail {

inline Status parse_int_meta(const SafeTensors& st, std::string_view key, int lo, int hi,
                             int* out) {
  const std::string* v = st.meta(key);
  if (!v) return {};
  int value = 0;
  const char* b = v->data();
  const char* e = b + v->size();
  auto [ptr, ec] = std::from_chars(b, e, value);
  if (ec != std::errc() || ptr != e)
    return make_error(ErrorCode::kBadWeights, "config '" + std::string(key) +
                                                  "' is not an integer: '" + *v + "'");
  if (value < lo || value > hi)
    return make_error(ErrorCode::kBadWeights,
                      "config '" + std::string(key) + "' = " + *v + " is out of range [" +
                          std::to_string(lo) + ", " + std::to_string(hi) + "]");
  *out = value;
  return {};
}

inline Status parse_bool_meta(const SafeTensors& st, std::string_view key, bool* out) {
  const std::string* v = st.meta(key);
  if (!v) return {};
  if (*v == "true" || *v == "True" || *v == "1") *out = true;
  else if (*v == "false" || *v == "False" || *v == "0") *out = false;
  else
    return make_error(ErrorCode::kBadWeights,
                      "config '" + std::string(key) + "' is not a boolean: '" + *v + "'");
  return {};
}

}  // namespace detail

inline Result<Config> parse_config(const SafeTensors& st) {
  Config c;
  using detail::parse_int_meta;
  NEEDLE_RETURN_IF_ERROR(parse_int_meta(st, "vocab_size", 6, 1 << 20, &c.vocab_size));
  NEEDLE_RETURN_IF_ERROR(parse_int_meta(st, "d_model", 1, 16384, &c.d_model));
  NEEDLE_RETURN_IF_ERROR(parse_int_meta(st, "num_heads", 1, 1024, &c.num_heads));
  NEEDLE_RETURN_IF_ERROR(parse_int_meta(st, "num_kv_heads", 1, 1024, &c.num_kv_heads));
  NEEDLE_RETURN_IF_ERROR(parse_int_meta(st, "num_encoder_layers", 1, 256, &c.num_encoder_layers));
  NEEDLE_RETURN_IF_ERROR(parse_int_meta(st, "num_decoder_layers", 1, 256, &c.num_decoder_layers));
  NEEDLE_RETURN_IF_ERROR(parse_int_meta(st, "max_enc_len", 2, 1 << 16, &c.max_enc_len));
  NEEDLE_RETURN_IF_ERROR(parse_int_meta(st, "max_dec_len", 2, 1 << 16, &c.max_dec_len));
  NEEDLE_RETURN_IF_ERROR(parse_int_meta(st, "ffn_dim", 1, 1 << 17, &c.ffn_dim));
  NEEDLE_RETURN_IF_ERROR(detail::parse_bool_meta(st, "no_feedforward", &c.no_feedforward));
  if (const std::string* v = st.meta("rope_theta")) {
    char* end = nullptr;
    const double theta = std::strtod(v->c_str(), &end);
    if (end != v->c_str() + v->size() || !std::isfinite(theta) || theta <= 1.0)
      return make_error(ErrorCode::kBadWeights,
                        "config 'rope_theta' must be a finite number > 1: '" + *v + "'");
    c.rope_theta = static_cast<float>(theta);
  }
  if (const std::string* v = st.meta("activation")) c.activation = *v;

  auto bad = [](std::string m) { return make_error(ErrorCode::kBadWeights, std::move(m)); };
  if (c.d_model % c.num_heads != 0)
    return bad("config: d_model " + std::to_string(c.d_model) + " is not divisible by num_heads " +
               std::to_string(c.num_heads));
  if (c.head_dim() % 2 != 0)
    return bad("config: head_dim " + std::to_string(c.head_dim()) + " must be even for RoPE");
  if (c.num_heads % c.num_kv_heads != 0)
    return bad("config: num_heads " + std::to_string(c.num_heads) +
               " is not a multiple of num_kv_heads " + std::to_string(c.num_kv_heads));
  if (!c.no_feedforward && c.activation != "drelu")
    return bad("config: activation '" + c.activation + "' is not supported (only drelu)");
  return c;
}

}  // namespace needle
