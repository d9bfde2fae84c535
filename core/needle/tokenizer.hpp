// SentencePiece-compatible BPE tokenizer (NEEDLE.md section 6).
//
// Loads a SentencePiece `.model` (parsed by sentencepiece_proto.hpp, no protobuf) or a
// text vocabulary (`piece<TAB>score` per line, line number = id) and encodes / decodes
// exactly like SentencePiece 0.1.97's BPE model with identity normalisation:
//
//   normalise  drop leading spaces, collapse runs of ' ', drop trailing ones, prefix one
//              space (dummy prefix), ' ' -> U+2581 "▁". Only ASCII ' ' is whitespace here
//              (identity normalisation: tabs and newlines are ordinary characters).
//              Invalid UTF-8 becomes U+FFFD, one per bad byte. User-defined pieces
//              (<tool_call>, <tools>) pass through untouched.
//   split      user-defined pieces as frozen units (longest match), else one character.
//   merge      repeatedly merge the adjacent pair whose concatenation is a NORMAL,
//              USER_DEFINED or UNUSED piece with the highest score, leftmost on ties;
//              a priority queue of candidate pairs over a linked list of symbols. The
//              text is first cut where no merge can ever cross (see encode), so the
//              queues stay small; the result is the same as one queue over everything.
//   resegment  a merged UNUSED piece is split back into the two parts it was made from.
//   emit       the piece id; a symbol that is not a piece becomes its UTF-8 bytes
//              <0xNN> (byte fallback) or, without byte pieces, one <unk> per run.
//
// Decoding is the library's too: byte pieces re-assembled as UTF-8 (U+FFFD per invalid
// byte), ▁ -> ' ', the leading ▁ of pieces at the start dropped, control pieces empty,
// <unk> as " ⁇ ".
//
// A `.model` with a non-empty precompiled_charsmap (nmt_nfkc or any rule other than
// identity) is rejected: Needle trains with identity normalisation, and applying a
// charsmap would need the darts double-array matcher, which the engine does not carry.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "needle/error.hpp"
#include "needle/sentencepiece_proto.hpp"

namespace needle {

using PieceType = spm::PieceType;

class Tokenizer {
 public:
  // encode() handles inputs up to this size and returns no ids for longer ones (symbol
  // indices are 32-bit and normalisation can triple the size). Needle's encoder reads
  // 1024 tokens, so callers cut long text far below this.
  static constexpr std::size_t kMaxInputBytes = std::size_t{1} << 28;

  static Result<Tokenizer> from_model_proto(std::span<const std::uint8_t> bytes);
  static Result<Tokenizer> from_vocab_text(std::string_view text);
  // Either format: a `.model` starts with the tag of ModelProto.pieces (0x0A) or another
  // field tag below 0x20; a text vocabulary's first line is printable text.
  static Result<Tokenizer> load(std::span<const std::uint8_t> bytes);

  // A default-constructed (empty) Tokenizer encodes everything to no ids.
  std::vector<std::int32_t> encode(std::string_view utf8) const;
  // Ids outside [0, vocab_size()) are skipped (SentencePiece refuses the whole call).
  std::string decode(std::span<const std::int32_t> ids) const;

  int vocab_size() const { return static_cast<int>(pieces_.size()); }
  // The piece of `id`; empty when out of range.
  std::string_view piece(int id) const {
    if (!valid(id)) return {};
    const Entry& e = pieces_[static_cast<std::size_t>(id)];
    return {arena_.data() + e.offset, e.length};
  }
  // The text a token contributes to the output, for constrained decoding: the piece with
  // ▁ read as a space, a byte piece as its single raw byte, control/unknown pieces empty.
  std::string_view token_text(int id) const {
    if (!valid(id)) return {};
    const Entry& e = pieces_[static_cast<std::size_t>(id)];
    return {arena_.data() + e.text_offset, e.text_length};
  }
  // kUnused when out of range: such an id produces no text and is never merged.
  PieceType piece_type(int id) const {
    return valid(id) ? pieces_[static_cast<std::size_t>(id)].type : PieceType::kUnused;
  }
  float score(int id) const { return valid(id) ? pieces_[static_cast<std::size_t>(id)].score : 0.0f; }
  // The id of a piece given as text (e.g. "<tool_call>", "▁the"), or -1.
  int find_piece(std::string_view piece) const;

  int unk_id() const { return unk_id_; }
  int bos_id() const { return bos_id_; }  // -1 when the vocabulary has none
  int eos_id() const { return eos_id_; }
  int pad_id() const { return pad_id_; }
  bool byte_fallback() const { return byte_fallback_; }
  bool add_dummy_prefix() const { return add_dummy_prefix_; }
  bool remove_extra_whitespaces() const { return remove_extra_whitespaces_; }
  bool escape_whitespaces() const { return escape_whitespaces_; }

 private:
  struct Entry {
    std::uint32_t offset = 0, length = 0;            // piece, in arena_
    std::uint32_t text_offset = 0, text_length = 0;  // token_text, in arena_
    float score = 0.0f;
    std::uint32_t rank = 0;  // score as an unsigned integer with the same order
    PieceType type = PieceType::kNormal;
  };
  // What the library's normaliser needs besides the pieces.
  struct Spec {
    bool byte_fallback = false;
    bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;
    std::int32_t bos_id = -1, eos_id = -1, pad_id = -1;
    std::string_view unk_surface = " \xE2\x81\x87 ";
  };

  bool valid(int id) const { return id >= 0 && static_cast<std::size_t>(id) < pieces_.size(); }
  // `source` names the file in messages; a text vocabulary names pieces by line number.
  static Result<Tokenizer> build(std::span<const spm::PieceView> pieces, const Spec& spec,
                                 std::string_view source, bool by_line);
  std::size_t match_user_defined(std::string_view s) const;
  bool bigram_in_some_piece(std::uint64_t bigram) const;
  std::string normalize(std::string_view input) const;
  bool mergeable(int id) const {
    const PieceType t = pieces_[static_cast<std::size_t>(id)].type;
    return t == PieceType::kNormal || t == PieceType::kUserDefined || t == PieceType::kUnused;
  }

  std::string arena_;  // every piece, then every token_text; entries hold offsets
  std::vector<Entry> pieces_;
  std::vector<std::int32_t> slots_;  // open-addressing hash table piece -> id, -1 empty
  // User-defined piece ids sorted by first byte, longest first; user_start_[b] is where
  // those starting with byte b begin.
  std::vector<std::int32_t> user_defined_;
  std::array<std::uint32_t, 257> user_start_{};
  std::array<std::int32_t, 256> byte_ids_{};
  // Every pair of adjacent characters inside a mergeable piece (tokenizer_detail::bigram),
  // open addressing, kNoBigram = empty. A merge can only ever join two characters that
  // form one of these.
  std::vector<std::uint64_t> bigrams_;
  bool has_unused_ = false;
  std::string unk_surface_;
  std::int32_t unk_id_ = -1, bos_id_ = -1, eos_id_ = -1, pad_id_ = -1;
  bool byte_fallback_ = false;
  bool add_dummy_prefix_ = true, remove_extra_whitespaces_ = true, escape_whitespaces_ = true;
};

// ---- implementation -------------------------------------------------------------------

namespace tokenizer_detail {

inline constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";        // U+2581 ▁
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";    // U+FFFD

// Length of the valid UTF-8 sequence at the start of s (1..4), or 0 when it is not one:
// truncated, bad continuation byte, overlong, a surrogate or above U+10FFFF. The same
// acceptance rule as SentencePiece's DecodeUTF8.
inline std::size_t valid_utf8_length(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<std::uint8_t>(s[i]); };
  const auto trail = [&](std::size_t i) { return (b(i) & 0xC0) == 0x80; };
  if (s.empty()) return 0;
  const std::uint8_t c = b(0);
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    return s.size() >= 2 && trail(1) && c >= 0xC2 ? 2 : 0;
  }
  if ((c & 0xF0) == 0xE0) {
    if (s.size() < 3 || !trail(1) || !trail(2)) return 0;
    const std::uint32_t cp = (c & 0x0Fu) << 12 | (b(1) & 0x3Fu) << 6 | (b(2) & 0x3Fu);
    return cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF) ? 3 : 0;
  }
  if ((c & 0xF8) == 0xF0) {
    if (s.size() < 4 || !trail(1) || !trail(2) || !trail(3)) return 0;
    const std::uint32_t cp =
        (c & 0x07u) << 18 | (b(1) & 0x3Fu) << 12 | (b(2) & 0x3Fu) << 6 | (b(3) & 0x3Fu);
    return cp >= 0x10000 && cp <= 0x10FFFF ? 4 : 0;
  }
  return 0;
}

// SentencePiece splits normalised text by the lead byte alone (OneCharLen).
inline std::size_t one_char_length(std::string_view s) {
  static constexpr std::uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return std::min<std::size_t>(s.size(), kLen[static_cast<std::uint8_t>(s[0]) >> 4]);
}

// A character (1..4 bytes, as one_char_length cuts it) packed into an integer; the UTF-8
// lead byte fixes the length, so distinct characters pack differently. A pair of them
// packs into a "bigram" key.
inline std::uint64_t bigram(std::string_view a, std::string_view b) {
  const auto pack = [](std::string_view c) {
    std::uint32_t v = 0;
    for (const char ch : c) v = v << 8 | static_cast<std::uint8_t>(ch);
    return v;
  };
  return std::uint64_t{pack(a)} << 32 | pack(b);
}
// Never the key of two characters of valid UTF-8, which is all normalised text holds
// outside user-defined pieces.
inline constexpr std::uint64_t kNoBigram = ~std::uint64_t{0};

inline std::uint64_t hash_u64(std::uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Maps float scores to unsigned integers of the same order, so that a queue entry's
// priority is one integer compare. -0 and +0 compare equal as floats, so both map alike.
inline std::uint32_t score_rank(float score) {
  if (score == 0.0f) score = 0.0f;
  std::uint32_t bits;
  std::memcpy(&bits, &score, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

inline std::uint64_t hash_bytes(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (const char c : s) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h ^ (h >> 29);
}

// "<0xNN>" with upper-case hex, exactly as SentencePiece writes byte pieces; else -1.
inline int byte_piece_value(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int v = 0;
  for (const char c : piece.substr(3, 2)) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

inline std::string quoted(std::string_view piece) {
  std::string out = "'";
  for (const char c : piece.substr(0, 40)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  if (piece.size() > 40) out += "...";
  return out + "'";
}

inline Error tokenizer_error(std::string message) {
  return make_error(ErrorCode::kBadTokenizer, std::move(message));
}

}  // namespace tokenizer_detail

inline int Tokenizer::find_piece(std::string_view s) const {
  if (slots_.empty()) return -1;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = tokenizer_detail::hash_bytes(s) & mask;; i = (i + 1) & mask) {
    const std::int32_t id = slots_[i];
    if (id < 0) return -1;
    if (piece(id) == s) return id;
  }
}

inline bool Tokenizer::bigram_in_some_piece(std::uint64_t key) const {
  const std::size_t mask = bigrams_.size() - 1;
  for (std::size_t i = tokenizer_detail::hash_u64(key) & mask;; i = (i + 1) & mask) {
    if (bigrams_[i] == key) return true;
    if (bigrams_[i] == tokenizer_detail::kNoBigram) return false;
  }
}

inline Result<Tokenizer> Tokenizer::build(std::span<const spm::PieceView> pieces,
                                          const Spec& spec, std::string_view source,
                                          bool by_line) {
  using namespace tokenizer_detail;
  const std::string where = std::string(source) + ": ";
  const auto place = [&](std::size_t id) {
    return by_line ? "line " + std::to_string(id + 1) : "id " + std::to_string(id);
  };
  const auto name_of = [&](std::size_t id) {
    return "piece " + quoted(pieces[id].piece) + " (" + place(id) + ")";
  };
  if (pieces.empty()) return tokenizer_error(where + "the vocabulary is empty");
  if (pieces.size() > 0x7FFFFFFF) return tokenizer_error(where + "too many pieces");

  Tokenizer t;
  t.byte_fallback_ = spec.byte_fallback;
  t.add_dummy_prefix_ = spec.add_dummy_prefix;
  t.remove_extra_whitespaces_ = spec.remove_extra_whitespaces;
  t.escape_whitespaces_ = spec.escape_whitespaces;
  t.unk_surface_ = std::string(spec.unk_surface);
  t.byte_ids_.fill(-1);

  std::size_t arena_size = 0;
  for (const auto& p : pieces) arena_size += 2 * p.piece.size();
  if (arena_size > 0xFFFFFFFFu) return tokenizer_error(where + "the vocabulary is too large");
  t.arena_.reserve(arena_size);
  t.pieces_.reserve(pieces.size());
  for (const auto& p : pieces) {
    Entry e;
    e.offset = static_cast<std::uint32_t>(t.arena_.size());
    e.length = static_cast<std::uint32_t>(p.piece.size());
    e.score = p.score;
    e.rank = score_rank(p.score);
    e.type = p.type;
    t.arena_.append(p.piece);
    t.pieces_.push_back(e);
  }

  // Hash table, and the checks the library makes when it loads a model.
  std::size_t table_size = 16;
  while (table_size < 2 * pieces.size()) table_size *= 2;
  t.slots_.assign(table_size, -1);
  const std::size_t mask = table_size - 1;
  int byte_count = 0;
  for (std::size_t id = 0; id < pieces.size(); ++id) {
    const spm::PieceView& p = pieces[id];
    if (p.piece.empty()) return tokenizer_error(where + "the piece at " + place(id) + " is empty");
    if (!std::isfinite(p.score)) {
      return tokenizer_error(where + name_of(id) + " has a non-finite score");
    }
    std::size_t i = hash_bytes(p.piece) & mask;
    for (; t.slots_[i] >= 0; i = (i + 1) & mask) {
      if (t.piece(t.slots_[i]) == p.piece) {
        return tokenizer_error(where + "duplicate " + name_of(id) + ": already at " +
                               place(static_cast<std::size_t>(t.slots_[i])));
      }
    }
    t.slots_[i] = static_cast<std::int32_t>(id);
    if (p.type == PieceType::kUnknown) {
      if (t.unk_id_ >= 0) {
        return tokenizer_error(where + name_of(id) + " is a second UNKNOWN piece (the first is at " +
                               place(static_cast<std::size_t>(t.unk_id_)) + ")");
      }
      t.unk_id_ = static_cast<std::int32_t>(id);
    }
    if (p.type == PieceType::kByte) {
      const int value = byte_piece_value(p.piece);
      if (value < 0) {
        return tokenizer_error(where + name_of(id) + " has type BYTE but is not of the form <0xNN>");
      }
      if (!spec.byte_fallback) {
        return tokenizer_error(where + name_of(id) + " is a BYTE piece but byte_fallback is off");
      }
      if (t.byte_ids_[static_cast<std::size_t>(value)] < 0) ++byte_count;
      t.byte_ids_[static_cast<std::size_t>(value)] = static_cast<std::int32_t>(id);
    }
  }
  if (t.unk_id_ < 0) return tokenizer_error(where + "no piece has type UNKNOWN (<unk>)");
  if (spec.byte_fallback && byte_count != 256) {
    return tokenizer_error(where + "byte_fallback is on but only " + std::to_string(byte_count) +
                           " of the 256 byte pieces <0x00>..<0xFF> are present");
  }
  const auto check_id = [&](std::int32_t id, const char* what) -> Status {
    if (id < -1 || id >= static_cast<std::int32_t>(pieces.size())) {
      return tokenizer_error(where + what + " = " + std::to_string(id) +
                             " is outside the vocabulary of " + std::to_string(pieces.size()) +
                             " pieces");
    }
    return {};
  };
  NEEDLE_RETURN_IF_ERROR(check_id(spec.bos_id, "bos_id"));
  NEEDLE_RETURN_IF_ERROR(check_id(spec.eos_id, "eos_id"));
  NEEDLE_RETURN_IF_ERROR(check_id(spec.pad_id, "pad_id"));
  t.bos_id_ = spec.bos_id;
  t.eos_id_ = spec.eos_id;
  t.pad_id_ = spec.pad_id;

  // token_text after the pieces, in the same arena.
  for (Entry& e : t.pieces_) {
    const std::string_view p(t.arena_.data() + e.offset, e.length);
    e.text_offset = static_cast<std::uint32_t>(t.arena_.size());
    if (e.type == PieceType::kByte) {
      t.arena_.push_back(static_cast<char>(byte_piece_value(p)));
    } else if (e.type != PieceType::kControl && e.type != PieceType::kUnknown) {
      for (std::size_t i = 0; i < p.size();) {
        if (p.substr(i, 3) == kSpaceSymbol) {
          t.arena_.push_back(' ');
          i += 3;
        } else {
          t.arena_.push_back(p[i++]);
        }
      }
    }
    e.text_length = static_cast<std::uint32_t>(t.arena_.size() - e.text_offset);
  }

  // User-defined pieces, bucketed by first byte, longest first (longest match wins).
  for (std::size_t id = 0; id < pieces.size(); ++id) {
    if (pieces[id].type == PieceType::kUserDefined) {
      t.user_defined_.push_back(static_cast<std::int32_t>(id));
    }
  }
  std::sort(t.user_defined_.begin(), t.user_defined_.end(), [&](std::int32_t a, std::int32_t b) {
    const std::string_view pa = t.piece(a), pb = t.piece(b);
    const auto fa = static_cast<std::uint8_t>(pa[0]), fb = static_cast<std::uint8_t>(pb[0]);
    if (fa != fb) return fa < fb;
    return pa.size() > pb.size();
  });
  std::size_t k = 0;
  for (int b = 0; b < 256; ++b) {
    t.user_start_[static_cast<std::size_t>(b)] = static_cast<std::uint32_t>(k);
    while (k < t.user_defined_.size() &&
           static_cast<std::uint8_t>(t.piece(t.user_defined_[k])[0]) == b) {
      ++k;
    }
  }
  t.user_start_[256] = static_cast<std::uint32_t>(k);

  // Character bigrams inside mergeable pieces.
  std::vector<std::uint64_t> keys;
  for (std::size_t id = 0; id < pieces.size(); ++id) {
    t.has_unused_ = t.has_unused_ || pieces[id].type == PieceType::kUnused;
    if (!t.mergeable(static_cast<int>(id))) continue;
    std::string_view rest = pieces[id].piece;
    std::string_view prev = rest.substr(0, one_char_length(rest));
    rest.remove_prefix(prev.size());
    while (!rest.empty()) {
      const std::string_view c = rest.substr(0, one_char_length(rest));
      if (const std::uint64_t key = bigram(prev, c); key != kNoBigram) keys.push_back(key);
      prev = c;
      rest.remove_prefix(c.size());
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::size_t bigram_slots = 16;
  while (bigram_slots < 2 * keys.size()) bigram_slots *= 2;
  t.bigrams_.assign(bigram_slots, kNoBigram);
  for (const std::uint64_t key : keys) {
    std::size_t i = hash_u64(key) & (bigram_slots - 1);
    while (t.bigrams_[i] != kNoBigram) i = (i + 1) & (bigram_slots - 1);
    t.bigrams_[i] = key;
  }
  return t;
}

inline Result<Tokenizer> Tokenizer::from_model_proto(std::span<const std::uint8_t> bytes) {
  using tokenizer_detail::tokenizer_error;
  auto parsed = spm::parse_model_proto(bytes);
  if (!parsed.ok()) return std::move(parsed).error();
  const spm::ModelProtoView& m = parsed.value();
  const std::string where = "SentencePiece model: ";
  if (m.model_type != spm::ModelType::kBpe) {
    static constexpr const char* kNames[] = {"?", "UNIGRAM", "BPE", "WORD", "CHAR"};
    const auto t = static_cast<std::int32_t>(m.model_type);
    return tokenizer_error(where + "model_type is " + (t >= 1 && t <= 4 ? kNames[t] : "unknown") +
                           " (" + std::to_string(t) + "); only BPE models are supported");
  }
  if (m.pieces.empty()) return tokenizer_error(where + "the vocabulary is empty (no pieces)");
  if (!m.normalizer.precompiled_charsmap.empty()) {
    return tokenizer_error(where + "normalizer_spec '" + std::string(m.normalizer.name) +
                           "' has a precompiled_charsmap; only identity normalisation "
                           "(normalization_rule_name=identity) is supported");
  }
  if (m.has_denormalizer && !m.denormalizer.precompiled_charsmap.empty()) {
    return tokenizer_error(where + "denormalizer_spec has a precompiled_charsmap; "
                           "denormalisation is not supported");
  }
  if (m.treat_whitespace_as_suffix) {
    return tokenizer_error(where + "treat_whitespace_as_suffix is not supported");
  }
  // The library takes <unk> from the piece types; the trainer's unk_id must agree.
  if (m.unk_id < 0 || static_cast<std::size_t>(m.unk_id) >= m.pieces.size() ||
      m.pieces[static_cast<std::size_t>(m.unk_id)].type != PieceType::kUnknown) {
    return tokenizer_error(where + "trainer_spec.unk_id = " + std::to_string(m.unk_id) +
                           " is not an UNKNOWN piece of the " + std::to_string(m.pieces.size()) +
                           "-piece vocabulary");
  }
  Spec spec;
  spec.byte_fallback = m.byte_fallback;
  spec.add_dummy_prefix = m.normalizer.add_dummy_prefix;
  spec.remove_extra_whitespaces = m.normalizer.remove_extra_whitespaces;
  spec.escape_whitespaces = m.normalizer.escape_whitespaces;
  spec.bos_id = m.bos_id;
  spec.eos_id = m.eos_id;
  spec.pad_id = m.pad_id;
  spec.unk_surface = m.unk_surface;
  return build(m.pieces, spec, "SentencePiece model", /*by_line=*/false);
}

// A text vocabulary: `piece<TAB>score` per line (spm_export_vocab's format; the last
// TAB splits, since a piece may itself be a TAB), or, when no line has a TAB, the legacy
// one-piece-per-line form, whose learned pieces get score -id: SentencePiece's BPE
// trainer scores them -0, -1, -2, ... in id order, so the merge order is the same.
//
// Piece types are not in the file, so they are inferred the way SentencePiece lays out
// a vocabulary: <unk> is UNKNOWN; <s>, </s>, <pad> are CONTROL; <0xNN> are BYTE; the
// other pieces of the leading "meta" block are USER_DEFINED (<tool_call>, <tools>, and
// any others a Needle version adds); the rest are NORMAL. The trainer writes specials
// and user-defined symbols first, then the 256 bytes, then learned pieces scored -0, -1,
// ...; so the meta block ends at the first piece after a byte piece, and, with scores,
// at the first score that is not +0. Without byte pieces (and without scores) it is the
// leading run of <...> pieces. The normaliser flags are taken to be true, as Needle
// trained; byte fallback is on when byte pieces are present.
inline Result<Tokenizer> Tokenizer::from_vocab_text(std::string_view text) {
  using namespace tokenizer_detail;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 BOM
  if (text.empty()) return tokenizer_error("vocab.txt: the file is empty");
  const bool scored = text.find('\t') != std::string_view::npos;

  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    const std::size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
  }
  // CRLF files: the CR ends the score; without scores, only a CR on every line is one.
  const bool crlf = std::all_of(lines.begin(), lines.end(),
                                [](std::string_view l) { return !l.empty() && l.back() == '\r'; });

  std::vector<spm::PieceView> pieces;
  pieces.reserve(lines.size());
  Spec spec;
  bool in_meta = true, seen_byte = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string at = "vocab.txt line " + std::to_string(i + 1) + ": ";
    std::string_view line = lines[i];
    spm::PieceView p;
    if (scored) {
      const std::size_t tab = line.rfind('\t');
      if (tab == std::string_view::npos) {
        return tokenizer_error(at + "no TAB between piece and score in " + quoted(line));
      }
      p.piece = line.substr(0, tab);
      std::string_view score_text = line.substr(tab + 1);
      while (!score_text.empty() && (score_text.back() == '\r' || score_text.back() == ' ')) {
        score_text.remove_suffix(1);
      }
      // strtof needs a terminated string; "-0", "-12", "-1.5e+03" are all fine.
      const std::string score_str(score_text);
      char* end = nullptr;
      p.score = score_str.empty() ? NAN : std::strtof(score_str.c_str(), &end);
      if (score_str.empty() || end != score_str.c_str() + score_str.size() ||
          !std::isfinite(p.score)) {
        return tokenizer_error(at + "score " + quoted(score_text) + " of piece " +
                               quoted(p.piece) + " is not a finite number");
      }
    } else {
      if (crlf) line.remove_suffix(1);
      p.piece = line;
      p.score = -static_cast<float>(i);  // made +0 below for the meta block
    }
    if (p.piece.empty()) return tokenizer_error(at + "empty piece");

    const int byte = byte_piece_value(p.piece);
    if (seen_byte && byte < 0) in_meta = false;
    if (scored && (p.score != 0.0f || std::signbit(p.score))) in_meta = false;
    if (!scored && !seen_byte && byte < 0 &&
        !(p.piece.size() > 2 && p.piece.front() == '<' && p.piece.back() == '>')) {
      in_meta = false;
    }
    if (p.piece == "<unk>") {
      p.type = PieceType::kUnknown;
    } else if (p.piece == "<s>" || p.piece == "</s>" || p.piece == "<pad>") {
      p.type = PieceType::kControl;
    } else if (byte >= 0) {
      p.type = PieceType::kByte;
      seen_byte = true;
    } else {
      p.type = in_meta ? PieceType::kUserDefined : PieceType::kNormal;
    }
    if (!scored && p.type != PieceType::kNormal) p.score = 0.0f;
    const auto id = static_cast<std::int32_t>(pieces.size());
    if (p.piece == "<s>") spec.bos_id = id;
    if (p.piece == "</s>") spec.eos_id = id;
    if (p.piece == "<pad>") spec.pad_id = id;
    pieces.push_back(p);
  }
  if (pieces.size() < 4) {
    return tokenizer_error("vocab.txt: " + std::to_string(pieces.size()) +
                           " pieces cannot hold the special ids 0..3 (<pad> </s> <s> <unk>)");
  }
  spec.byte_fallback = seen_byte;
  return build(pieces, spec, "vocab.txt", /*by_line=*/true);
}

inline Result<Tokenizer> Tokenizer::load(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) {
    return tokenizer_detail::tokenizer_error("tokenizer file is empty");
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  // Every ModelProto field tag SentencePiece writes (fields 1..5) is a byte below 0x20;
  // a text vocabulary starts with a piece, and its first line has no control bytes
  // besides TAB and CR.
  const std::string_view first = text.substr(0, text.find('\n'));
  const bool texty = bytes[0] != 0x0A && std::none_of(first.begin(), first.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 && c != '\t' && c != '\r';
  });
  return texty ? from_vocab_text(text) : from_model_proto(bytes);
}

inline std::size_t Tokenizer::match_user_defined(std::string_view s) const {
  const auto b = static_cast<std::uint8_t>(s[0]);
  for (std::uint32_t k = user_start_[b]; k < user_start_[b + 1u]; ++k) {
    const std::string_view p = piece(user_defined_[k]);
    if (s.substr(0, p.size()) == p) return p.size();
  }
  return 0;
}

inline std::string Tokenizer::normalize(std::string_view input) const {
  using namespace tokenizer_detail;
  // Like the library's NormalizePrefix: a user-defined piece as it is, else one valid
  // UTF-8 character, else U+FFFD for one bad byte.
  const auto next_unit = [&](std::string_view s, std::string_view& unit) -> std::size_t {
    if (const std::size_t n = match_user_defined(s); n > 0) {
      unit = s.substr(0, n);
      return n;
    }
    if (const std::size_t n = valid_utf8_length(s); n > 0) {
      unit = s.substr(0, n);
      return n;
    }
    unit = kReplacementChar;
    return 1;
  };
  std::string out;
  std::string_view unit;
  if (remove_extra_whitespaces_) {
    while (!input.empty()) {
      const std::size_t n = next_unit(input, unit);
      if (unit != " ") break;
      input.remove_prefix(n);
    }
  }
  if (input.empty()) return out;
  out.reserve(input.size() * 3 / 2 + 8);
  const std::string_view space = escape_whitespaces_ ? kSpaceSymbol : std::string_view(" ");
  if (add_dummy_prefix_) out.append(space);
  bool prev_space = remove_extra_whitespaces_;
  while (!input.empty()) {
    input.remove_prefix(next_unit(input, unit));
    if (prev_space) {
      while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    }
    if (!unit.empty()) {
      for (const char c : unit) {
        if (c == ' ' && escape_whitespaces_) out.append(kSpaceSymbol);
        else out.push_back(c);
      }
      prev_space = unit.back() == ' ';
    }
    if (!remove_extra_whitespaces_) prev_space = false;
  }
  if (remove_extra_whitespaces_) {
    while (out.size() >= space.size() && std::string_view(out).substr(out.size() - space.size()) == space) {
      out.resize(out.size() - space.size());
    }
  }
  return out;
}

inline std::vector<std::int32_t> Tokenizer::encode(std::string_view utf8) const {
  using namespace tokenizer_detail;
  std::vector<std::int32_t> ids;
  if (pieces_.empty() || utf8.size() > kMaxInputBytes) return ids;
  const std::string normalized = normalize(utf8);
  if (normalized.empty()) return ids;
  const std::string_view text = normalized;

  // Symbols: a doubly linked list over the normalised text; a merged-away symbol keeps
  // length 0.
  struct Symbol {
    std::int32_t prev, next;
    std::uint32_t begin, length;
    bool frozen;  // a user-defined piece: never merged
  };
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t n = match_user_defined(text.substr(pos));
    const bool frozen = n > 0;
    if (!frozen) n = one_char_length(text.substr(pos));
    const auto index = static_cast<std::int32_t>(symbols.size());
    symbols.push_back({index - 1, pos + n < text.size() ? index + 1 : -1,
                       static_cast<std::uint32_t>(pos), static_cast<std::uint32_t>(n), frozen});
    pos += n;
  }

  // Candidate merges. A pair goes stale when either side changes; sizes only grow, so
  // "both sides still have the lengths they had" is an exact staleness test.
  // Priority: score, then the leftmost first, packed so that a larger key wins.
  struct Pair {
    std::uint64_t key;     // score_rank << 32 | ~left
    std::int32_t right;
    std::uint32_t length;  // of the merged piece
  };
  const auto lower = [](const Pair& a, const Pair& b) { return a.key < b.key; };
  std::priority_queue<Pair, std::vector<Pair>, decltype(lower)> agenda(lower);
  // Only for UNUSED pieces: how the last candidate pair forming each was split.
  std::unordered_map<std::int32_t, std::pair<std::string_view, std::string_view>> unused_parts;

  const auto view = [&](const Symbol& s) { return text.substr(s.begin, s.length); };
  const auto add_pair = [&](std::int32_t left, std::int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[static_cast<std::size_t>(left)];
    const Symbol& r = symbols[static_cast<std::size_t>(right)];
    if (l.frozen || r.frozen) return;
    const std::string_view merged = text.substr(l.begin, l.length + r.length);
    const int id = find_piece(merged);
    if (id < 0 || !mergeable(id)) return;
    const Entry& e = pieces_[static_cast<std::size_t>(id)];
    agenda.push({std::uint64_t{e.rank} << 32 | ~static_cast<std::uint32_t>(left), right,
                 static_cast<std::uint32_t>(merged.size())});
    if (e.type == PieceType::kUnused) unused_parts[id] = {view(l), view(r)};
  };
  const auto merge_all = [&](std::size_t first, std::size_t last) {  // symbols [first, last)
    for (std::size_t i = first + 1; i < last; ++i) {
      add_pair(static_cast<std::int32_t>(i - 1), static_cast<std::int32_t>(i));
    }
    while (!agenda.empty()) {
      const Pair top = agenda.top();
      agenda.pop();
      const auto left = static_cast<std::int32_t>(~static_cast<std::uint32_t>(top.key));
      Symbol& l = symbols[static_cast<std::size_t>(left)];
      Symbol& r = symbols[static_cast<std::size_t>(top.right)];
      if (l.length == 0 || r.length == 0 || l.length + r.length != top.length) continue;
      l.length += r.length;
      l.next = r.next;
      if (r.next >= 0) symbols[static_cast<std::size_t>(r.next)].prev = left;
      r.length = 0;
      add_pair(l.prev, left);
      add_pair(left, l.next);
    }
  };
  // Merges never cross a boundary between two characters that no mergeable piece holds
  // side by side, nor the edge of a user-defined piece, so the runs between such
  // boundaries are merged one at a time: the same merges as one global queue, since
  // merges in different runs never touch each other. (A pair across a boundary is never
  // a piece, so add_pair rejects it.) Not with UNUSED pieces, out of caution: their
  // resegmentation uses the split recorded by the globally last candidate pair, so the
  // library's global order is kept there (Needle's vocabulary has none).
  if (has_unused_) {
    merge_all(0, symbols.size());
  } else {
    std::size_t first = 0;
    for (std::size_t i = 1; i < symbols.size(); ++i) {
      const Symbol& a = symbols[i - 1];
      const Symbol& b = symbols[i];
      if (a.frozen || b.frozen || !bigram_in_some_piece(bigram(view(a), view(b)))) {
        merge_all(first, i);
        first = i;
      }
    }
    merge_all(first, symbols.size());
  }

  // Emit: resegment UNUSED pieces, byte-fallback (or <unk>) for what is not a piece.
  ids.reserve(symbols.size());
  bool prev_unknown = false;
  const auto emit = [&](auto&& self, std::string_view w) -> void {
    int id = find_piece(w);
    if (id >= 0 && pieces_[static_cast<std::size_t>(id)].type == PieceType::kUnused) {
      if (const auto it = unused_parts.find(id); it != unused_parts.end()) {
        self(self, it->second.first);
        self(self, it->second.second);
        return;
      }
    }
    if (id < 0) id = unk_id_;
    const PieceType type = pieces_[static_cast<std::size_t>(id)].type;
    const bool unknown = type == PieceType::kUnknown;
    if (unknown && byte_fallback_) {
      for (const char c : w) ids.push_back(byte_ids_[static_cast<std::uint8_t>(c)]);
    } else if (!(unknown && prev_unknown)) {  // the library folds a run of <unk> into one
      ids.push_back(id);
    }
    prev_unknown = unknown;
  };
  for (std::int32_t i = 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next) {
    emit(emit, view(symbols[static_cast<std::size_t>(i)]));
  }
  return ids;
}

inline std::string Tokenizer::decode(std::span<const std::int32_t> ids) const {
  using namespace tokenizer_detail;
  std::string text;
  std::string bytes;  // a run of byte pieces, re-assembled as UTF-8 when it ends
  const auto flush_bytes = [&] {
    std::string_view rest = bytes;
    while (!rest.empty()) {
      const std::size_t n = valid_utf8_length(rest);
      if (n == 0) {
        text.append(kReplacementChar);
        rest.remove_prefix(1);
      } else {
        text.append(rest.substr(0, n));
        rest.remove_prefix(n);
      }
    }
    bytes.clear();
  };
  // The library drops the ▁ that starts a piece while the output is still empty (the
  // dummy prefix); with remove_extra_whitespaces it keeps doing so for every piece until
  // some text has been produced.
  bool at_start = true, start_space_seen = false;
  for (const std::int32_t id : ids) {
    if (!valid(id)) continue;
    const Entry& e = pieces_[static_cast<std::size_t>(id)];
    if (e.type == PieceType::kByte) {
      bytes.push_back(token_text(id)[0]);
      continue;
    }
    flush_bytes();
    if (start_space_seen || !text.empty()) at_start = false;
    start_space_seen = false;
    if (e.type == PieceType::kControl) continue;
    if (e.type == PieceType::kUnknown) {
      text.append(unk_surface_);
      continue;
    }
    std::string_view out = token_text(id);
    if (at_start && (add_dummy_prefix_ || remove_extra_whitespaces_) &&
        piece(id).substr(0, 3) == kSpaceSymbol) {
      out.remove_prefix(1);
      start_space_seen = !remove_extra_whitespaces_;
    }
    text.append(out);
  }
  flush_bytes();
  return text;
}

}  // namespace needle
