// Tool retrieval (NEEDLE.md section 10): embed a text with the encoder and the contrastive head
// (or the mean-pooled fallback), rank tool descriptions by cosine similarity to a query.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string_view>
#include <vector>

#include "needle/model.hpp"
#include "needle/tokenizer.hpp"

namespace needle {

inline constexpr int kEmbedMaxTokens = 256;

struct Embedding {
  std::vector<float> vector;  // L2-normalised
  bool used_head = false;     // false: mean-pooled encoder output (no retrieval head)
};

// embed(text) = l2norm(relu(mean_pool(encoder(enc(text)[:256])) Wh + bh) Wp), no tools separator.
inline Embedding embed_text(const Model& model, const Tokenizer& tok, std::string_view text,
                            Workspace& ws, std::vector<float>& enc) {
  std::vector<std::int32_t> ids = tok.encode(text);
  if (ids.size() > std::size_t(kEmbedMaxTokens)) ids.resize(kEmbedMaxTokens);
  Embedding e;
  if (ids.empty()) {  // nothing to pool: a zero vector of the right size, cosine 0 with all
    e.used_head = model.weights.retrieval.has_value();
    e.vector.assign(e.used_head ? std::size_t(model.weights.retrieval->proj.out)
                                : std::size_t(model.config().d_model), 0.f);
    return e;
  }
  model.encode(ids, ws, enc);
  e.used_head = model.embed(enc.data(), static_cast<int>(ids.size()), ws, e.vector);
  return e;
}

struct RankedTool {
  int index = 0;       // position in the descriptions given
  float score = 0;     // cosine similarity with the query
};

// The k best descriptions for `query`, best first (ties: lower index first).
inline std::vector<RankedTool> rank_by_cosine(const std::vector<float>& query,
                                              const std::vector<std::vector<float>>& docs, int k) {
  std::vector<RankedTool> r(docs.size());
  for (std::size_t i = 0; i < docs.size(); ++i) {
    float dot = 0;
    for (std::size_t j = 0; j < query.size() && j < docs[i].size(); ++j) dot += query[j] * docs[i][j];
    r[i] = {static_cast<int>(i), dot};  // both sides are unit vectors: dot = cosine
  }
  std::stable_sort(r.begin(), r.end(), [](const RankedTool& a, const RankedTool& b) { return a.score > b.score; });
  if (k >= 0 && std::size_t(k) < r.size()) r.resize(std::size_t(k));
  return r;
}

}  // namespace needle
