// The generation protocol of NEEDLE.md section 5: encoder ids from query + tools, greedy
// decoding from the start token, stop rules, and the returned text.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "needle/json.hpp"
#include "needle/model.hpp"
#include "needle/tokenizer.hpp"

namespace needle {

inline constexpr std::int32_t kEosId = 1;
inline constexpr std::int32_t kToolCallId = 4;
inline constexpr std::int32_t kToolsId = 5;

// enc(query)[:max_enc_len-2] + [<tools>] + enc(tools)[:max_enc_len - len(query ids) - 1].
inline std::vector<std::int32_t> encoder_ids(const Tokenizer& tok, const Config& c,
                                             std::string_view query, std::string_view tools) {
  std::vector<std::int32_t> ids = tok.encode(query);
  if (ids.size() > std::size_t(c.max_enc_len - 2)) ids.resize(std::size_t(c.max_enc_len - 2));
  const std::size_t remaining = std::size_t(c.max_enc_len) - ids.size() - 1;
  ids.push_back(kToolsId);
  std::vector<std::int32_t> tool_ids = tok.encode(tools);
  ids.insert(ids.end(), tool_ids.begin(),
             tool_ids.begin() + std::min(remaining, tool_ids.size()));
  return ids;
}

// Decoded output text: a leading <tool_call> removed, and surrounding whitespace trimmed when
// what remains is JSON. The reference keeps an answer that is not JSON (one cut off at the
// length cap, say) exactly as decoded: the real-model fixture has seven such texts, each with
// its leading space. NEEDLE.md section 5.5 says "trimmed"; the fixture wins.
// The <tool_call> is decoded with the rest and then cut from the text, as the reference does:
// decoding without it would drop the answer's leading space as a dummy prefix.
inline std::string output_text(const Tokenizer& tok, std::span<const std::int32_t> generated) {
  std::string text = tok.decode(generated);
  const std::string_view tool_call = tok.piece(kToolCallId);
  if (!generated.empty() && generated.front() == kToolCallId && !tool_call.empty() &&
      text.compare(0, tool_call.size(), tool_call) == 0)
    text.erase(0, tool_call.size());
  const auto is_space = [](char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
  };
  std::size_t b = 0, e = text.size();
  while (b < e && is_space(text[b])) ++b;
  while (e > b && is_space(text[e - 1])) --e;
  std::string trimmed = text.substr(b, e - b);
  if (json::parse(trimmed).ok()) return trimmed;
  return text;
}

}  // namespace needle

namespace needle {

// The output text as it grows, for streaming: push() each generated id and get back the
// characters it completes. It follows output_text (leading <tool_call> and whitespace dropped)
// and never splits a UTF-8 character: while a run of byte pieces may still complete one, the
// replacement characters decode() shows for the unfinished tail are held back. Trailing
// whitespace is streamed; the final text (trimmed, names mapped back) is authoritative.
class TextStreamer {
 public:
  explicit TextStreamer(const Tokenizer& tok) : tok_(tok) {}

  std::string push(std::int32_t id) {
    if (ids_.empty() && !skipped_tool_call_ && id == kToolCallId) {
      skipped_tool_call_ = true;
      return {};
    }
    ids_.push_back(id);
    const std::string text = tok_.decode(ids_);
    std::string_view view = text;
    while (!view.empty() && is_space(view.front())) view.remove_prefix(1);
    if (tok_.piece_type(id) == PieceType::kByte) {
      constexpr std::string_view kFffd = "\xEF\xBF\xBD";
      while (view.size() >= kFffd.size() && view.substr(view.size() - kFffd.size()) == kFffd)
        view.remove_suffix(kFffd.size());
    }
    if (view.size() <= emitted_ || view.substr(0, emitted_) != std::string_view(text_).substr(0, emitted_))
      return {};
    std::string delta(view.substr(emitted_));
    text_.assign(view);
    emitted_ = view.size();
    return delta;
  }

 private:
  static bool is_space(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
  }
  const Tokenizer& tok_;
  std::vector<std::int32_t> ids_;
  std::string text_;  // what has been emitted
  std::size_t emitted_ = 0;
  bool skipped_tool_call_ = false;
};

// Greedy decoding from the start token (</s>) until EOS or the decoder sequence (start token
// included) reaches max_dec_len; at most `max_new` ids. One id per next(), so a caller can
// stream and stop between steps; greedy_decode below is the whole loop.
class GreedyDecoder {
 public:
  GreedyDecoder(const Config& c, int max_new) : limit_(std::min(max_new, c.max_dec_len - 1)) {}

  // One decoder step on the last id, then `pick(logits)` chooses the next: plain argmax, or a
  // constrained choice (NEEDLE.md section 8). Returns that id, or kEosId once decoding has
  // ended (EOS picked, or the limit reached); an ended decoder stays ended.
  template <class Pick>
  std::int32_t next(const Model& model, Workspace& ws, DecoderState& st, std::vector<float>& logits,
                    Pick&& pick) {
    if (generated_ >= limit_) done_ = true;
    if (done_) return kEosId;
    logits.resize(std::size_t(model.config().vocab_size));
    model.decode_step(last_, ws, st, logits.data());
    const std::int32_t id = pick(std::span<float>(logits));
    if (id == kEosId) {
      done_ = true;
      return kEosId;
    }
    last_ = id;
    ++generated_;
    return id;
  }

  bool done() const { return done_; }
  int generated() const { return generated_; }

 private:
  int limit_;
  int generated_ = 0;
  std::int32_t last_ = kEosId;  // the start token
  bool done_ = false;
};

// The whole greedy loop: `on_token(id)` is told each generated id and returns false to stop.
template <class Pick, class OnToken>
std::vector<std::int32_t> greedy_decode(const Model& model, Workspace& ws, DecoderState& st,
                                        std::vector<float>& logits, int max_new, Pick&& pick,
                                        OnToken&& on_token) {
  GreedyDecoder decoder(model.config(), max_new);
  std::vector<std::int32_t> out;
  for (;;) {
    const std::int32_t id = decoder.next(model, ws, st, logits, pick);
    if (id == kEosId) break;
    out.push_back(id);
    if (!on_token(id)) break;
  }
  return out;
}

}  // namespace needle
