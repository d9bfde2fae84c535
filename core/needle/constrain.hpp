// Constrained decoding (NEEDLE.md section 8): which token may come next.
//
// Two modes behind one small interface (pick the next id from the logits, accept it):
//
//   strict  upstream Needle's semantics, exactly (needle/model/constrained.py, Cactus
//           Compute, MIT), because token parity with the reference needs them: a char-level
//           state machine notices when the output is inside `"name":"..."` or an argument
//           key at the top level of `"arguments":{...}`; there the tokens whose text leaves
//           the trie of tool names / that tool's argument keys are masked. Values are free.
//   typed   ours, the default: the whole output follows a grammar: a JSON array of
//           {"name": <tool>, "arguments": {...}} objects, argument values of the types the
//           schema declares (enum members, nested items/properties), valid string escapes,
//           every required key before the object closes, no key twice, EOS only once the
//           JSON is complete, and a forced shortest completion at the length cap. The JSON
//           is compact, as Needle was trained (json.dumps with "," and ":"): whitespace
//           only inside strings or around the whole array; and <tool_call> only opens the
//           answer, markup pieces such as <tools> never appear in it. Its legal
//           set is a subset of strict's, so whenever strict's choice is legal typed keeps it
//           (token parity with the reference on every answer that was already well formed).
//
// Byte-level equivalence with the reference. Upstream walks Python strings code point by
// code point; here every string is UTF-8 and walked byte by byte. The two agree because
// every test the machine makes is on ASCII (quotes, brackets, ':', ',', whitespace) and
// UTF-8 never puts an ASCII byte inside a multi-byte character; trie walks over UTF-8
// bytes accept exactly the strings a code-point trie accepts. One detail is upstream's
// on purpose: a byte piece <0xNN> reads as the code point U+00NN (chr(0xNN)), so its
// strict text is that code point's UTF-8, not the raw byte; typed uses the raw byte,
// which is what the detokenised output contains.
//
// Typed mode's deliberate limits (all documented choices, none can make the output
// invalid JSON):
// - A call object is exactly {"name", "arguments"} in that order, as Needle was trained.
// - Schemas are read from the canonical tools (section 7). Canonicalisation overwrites a
//   property's "required" with its own true/false, so a nested object's JSON-Schema
//   "required" list is lost; nested Needle-style "required": true flags are kept. A
//   "properties" object restricts the keys to those listed (no additionalProperties).
// - "enum" members must be spelled exactly (compact; raw UTF-8 or \u-escaped).
// - Keys are tracked (no repeats, required ones present) for the first 63 keys of an
//   object schema; objects without "properties" accept any keys, repeats included.
// - Types: string, number, integer, boolean, null, array ("items"), object
//   ("properties"), unions as type arrays, "nullable"; anything else accepts any value.
//   Formats, lengths, patterns and anyOf/oneOf are not enforced.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "needle/json.hpp"
#include "needle/tokenizer.hpp"
#include "needle/tools.hpp"

// Deepest nesting the typed grammar tracks (the array of calls, a call and its arguments
// object take 4 levels). Deeper '[' / '{' inside values are refused, so the model closes.
#ifndef NEEDLE_TYPED_MAX_DEPTH
#define NEEDLE_TYPED_MAX_DEPTH 32
#endif
// Nesting of parameter schemas (items / properties) that typed decoding follows; deeper
// schemas accept any JSON value.
#ifndef NEEDLE_SCHEMA_MAX_DEPTH
#define NEEDLE_SCHEMA_MAX_DEPTH 8
#endif

namespace needle {

enum class DecodeMode : std::uint8_t { kOff, kStrict, kTyped };

constexpr std::string_view decode_mode_name(DecodeMode mode) {
  switch (mode) {
    case DecodeMode::kOff: return "off";
    case DecodeMode::kStrict: return "strict";
    case DecodeMode::kTyped: return "typed";
  }
  return "off";
}

// First index of the largest logit: the reference's argmax tie rule, and decoding with no
// constraint.
inline std::int32_t argmax(std::span<const float> logits) {
  std::int32_t best = 0;
  float best_v = -std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < logits.size(); ++i)
    if (logits[i] > best_v) {
      best_v = logits[i];
      best = static_cast<std::int32_t>(i);
    }
  return best;
}

// Per-token text for constraining, computed once per tokenizer: upstream's token string
// (strict_text) and the bytes the token adds to the detokenised output (text), each with
// an index by first byte so that a step only looks at tokens that can start there.
class TokenTable {
 public:
  static TokenTable build(const Tokenizer& tok);
  // A table from plain strings (tests, tools without a tokenizer): texts[id] is both the
  // strict text and the output text of id; empty means a control token.
  // Its only markup piece is tool_call_id.
  static TokenTable from_texts(std::span<const std::string> texts, std::int32_t eos_id = 1,
                               std::int32_t tool_call_id = 4);

  int vocab_size() const { return static_cast<int>(strict_.size()); }
  // Upstream's string: "" for control/unknown pieces, chr(0xNN) (as UTF-8) for byte
  // pieces, else the piece with U+2581 read as a space.
  std::string_view strict_text(std::int32_t id) const { return view(strict_[std::size_t(id)]); }
  // The raw bytes the token contributes to the output text.
  std::string_view text(std::int32_t id) const { return view(text_[std::size_t(id)]); }
  std::int32_t eos_id() const { return eos_id_; }
  std::int32_t tool_call_id() const { return tool_call_id_; }
  // A user-defined piece (<tool_call>, <tools>): markup of the protocol, not answer text.
  bool is_markup(std::int32_t id) const { return markup_[std::size_t(id)] != 0; }
  // Ids whose strict text starts with `first`, ascending.
  std::span<const std::int32_t> strict_starting_with(std::uint8_t first) const {
    return {strict_ids_.data() + strict_start_[first], strict_start_[first + 1u] - strict_start_[first]};
  }
  // Ids whose text starts with `first`, longest text first (what greedy tokenising wants).
  std::span<const std::int32_t> starting_with(std::uint8_t first) const {
    return {text_ids_.data() + text_start_[first], text_start_[first + 1u] - text_start_[first]};
  }

 private:
  struct Slice {
    std::uint32_t offset = 0, length = 0;
  };
  std::string_view view(Slice s) const { return {arena_.data() + s.offset, s.length}; }
  Slice add(std::string_view s) {
    Slice out{static_cast<std::uint32_t>(arena_.size()), static_cast<std::uint32_t>(s.size())};
    arena_.append(s);
    return out;
  }
  void index();

  std::string arena_;
  std::vector<Slice> strict_, text_;
  std::vector<std::int32_t> strict_ids_, text_ids_;
  std::vector<std::uint8_t> markup_;
  std::array<std::uint32_t, 257> strict_start_{}, text_start_{};
  std::int32_t eos_id_ = -1, tool_call_id_ = -1;
};

inline TokenTable TokenTable::build(const Tokenizer& tok) {
  TokenTable t;
  const int n = tok.vocab_size();
  t.strict_.reserve(std::size_t(n));
  t.text_.reserve(std::size_t(n));
  std::string s;
  for (int id = 0; id < n; ++id) {
    const PieceType type = tok.piece_type(id);
    const std::string_view piece = tok.piece(id);
    s.clear();
    if (type == PieceType::kByte) {
      const int v = tokenizer_detail::byte_piece_value(piece);
      if (v >= 0x80) {  // U+0080..U+00FF in UTF-8
        s.push_back(static_cast<char>(0xC0 | (v >> 6)));
        s.push_back(static_cast<char>(0x80 | (v & 0x3F)));
      } else if (v >= 0) {
        s.push_back(static_cast<char>(v));
      }
    } else if (type != PieceType::kControl && type != PieceType::kUnknown) {
      for (std::size_t i = 0; i < piece.size();) {
        if (piece.substr(i, 3) == tokenizer_detail::kSpaceSymbol) {
          s.push_back(' ');
          i += 3;
        } else {
          s.push_back(piece[i++]);
        }
      }
    }
    t.strict_.push_back(t.add(s));
    t.text_.push_back(t.add(tok.token_text(id)));
    t.markup_.push_back(type == PieceType::kUserDefined);
  }
  t.eos_id_ = tok.eos_id();
  t.tool_call_id_ = tok.find_piece("<tool_call>");
  t.index();
  return t;
}

inline TokenTable TokenTable::from_texts(std::span<const std::string> texts, std::int32_t eos_id,
                                         std::int32_t tool_call_id) {
  TokenTable t;
  for (const std::string& s : texts) {
    t.strict_.push_back(t.add(s));
    t.text_.push_back(t.strict_.back());
  }
  t.markup_.assign(texts.size(), 0);
  if (tool_call_id >= 0 && std::size_t(tool_call_id) < texts.size()) t.markup_[std::size_t(tool_call_id)] = 1;
  t.eos_id_ = eos_id;
  t.tool_call_id_ = tool_call_id;
  t.index();
  return t;
}

// Counting sort of the ids by first byte; text buckets then longest first.
inline void TokenTable::index() {
  const auto bucket = [&](const std::vector<Slice>& slices, std::vector<std::int32_t>& ids,
                          std::array<std::uint32_t, 257>& start) {
    std::array<std::uint32_t, 257> count{};
    for (const Slice& s : slices)
      if (s.length > 0) ++count[static_cast<std::uint8_t>(arena_[s.offset]) + 1u];
    for (std::size_t b = 0; b < 256; ++b) count[b + 1] += count[b];
    start = count;
    ids.assign(start[256], 0);
    for (std::size_t id = 0; id < slices.size(); ++id) {
      const Slice& s = slices[id];
      if (s.length > 0) ids[count[static_cast<std::uint8_t>(arena_[s.offset])]++] = std::int32_t(id);
    }
  };
  bucket(strict_, strict_ids_, strict_start_);
  bucket(text_, text_ids_, text_start_);
  for (std::size_t b = 0; b < 256; ++b) {
    std::stable_sort(text_ids_.begin() + text_start_[b], text_ids_.begin() + text_start_[b + 1],
                     [&](std::int32_t x, std::int32_t y) {
                       return text_[std::size_t(x)].length > text_[std::size_t(y)].length;
                     });
  }
}

namespace constrain_detail {

inline bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Byte tries in one arena, several roots. Node i's edges are [begin, end) of bytes_ /
// children_, sorted by byte; children always have larger indices than their parent.
class Trie {
 public:
  struct Node {
    std::uint32_t begin = 0, end = 0;
    std::int32_t value = -1;  // >= 0: a word ends here
    std::int32_t key = -1;    // the key that word spells (two spellings may share one)
    std::uint32_t depth = 0;  // length of the prefix this node stands for
    std::uint64_t keys = 0;   // key_bit() of every key in the subtree
  };
  struct Word {
    std::string text;
    std::int32_t value;
    std::int32_t key = -1;  // -1: the value itself
  };

  // Keys >= 63 share bit 63, so sets of them are never "used up" (see Object frames).
  static std::uint64_t key_bit(std::int32_t key) {
    return std::uint64_t{1} << std::min<std::int32_t>(key, 63);
  }

  // Adds a trie of `words` and returns its root; a word given twice keeps its last value.
  std::uint32_t add(std::vector<Word> words) {
    std::stable_sort(words.begin(), words.end(),
                     [](const Word& a, const Word& b) { return a.text < b.text; });
    struct Task {
      std::uint32_t node;
      std::size_t lo, hi;
      std::uint32_t depth;
    };
    const auto root = static_cast<std::uint32_t>(nodes_.size());
    nodes_.emplace_back();
    std::vector<Task> stack{{root, 0, words.size(), 0}};
    std::vector<std::pair<std::size_t, std::size_t>> groups;
    while (!stack.empty()) {
      const Task t = stack.back();
      stack.pop_back();
      nodes_[t.node].depth = t.depth;
      std::size_t i = t.lo;
      for (; i < t.hi && words[i].text.size() == t.depth; ++i) {
        nodes_[t.node].value = words[i].value;
        nodes_[t.node].key = words[i].key >= 0 ? words[i].key : words[i].value;
      }
      groups.clear();
      const auto begin = static_cast<std::uint32_t>(bytes_.size());
      for (std::size_t j = i; j < t.hi;) {
        const char b = words[j].text[t.depth];
        std::size_t k = j + 1;
        while (k < t.hi && words[k].text[t.depth] == b) ++k;
        bytes_.push_back(static_cast<std::uint8_t>(b));
        children_.push_back(0);
        groups.emplace_back(j, k);
        j = k;
      }
      nodes_[t.node].begin = begin;
      nodes_[t.node].end = static_cast<std::uint32_t>(bytes_.size());
      for (std::size_t g = 0; g < groups.size(); ++g) {
        const auto child = static_cast<std::uint32_t>(nodes_.size());
        nodes_.emplace_back();
        children_[begin + g] = child;
        stack.push_back({child, groups[g].first, groups[g].second, t.depth + 1});
      }
    }
    for (std::size_t n = nodes_.size(); n-- > root;) {  // children first
      Node& node = nodes_[n];
      if (node.key >= 0) node.keys |= key_bit(node.key);
      for (std::uint32_t e = node.begin; e < node.end; ++e) node.keys |= nodes_[children_[e]].keys;
    }
    return root;
  }

  const Node& node(std::uint32_t i) const { return nodes_[i]; }
  std::int32_t child(std::uint32_t node, std::uint8_t byte) const {
    const Node& n = nodes_[node];
    const auto first = bytes_.begin() + n.begin, last = bytes_.begin() + n.end;
    const auto it = std::lower_bound(first, last, byte);
    return it != last && *it == byte ? std::int32_t(children_[std::size_t(it - bytes_.begin())]) : -1;
  }
  std::span<const std::uint8_t> edge_bytes(std::uint32_t node) const {
    return {bytes_.data() + nodes_[node].begin, nodes_[node].end - nodes_[node].begin};
  }
  std::span<const std::uint32_t> edge_children(std::uint32_t node) const {
    return {children_.data() + nodes_[node].begin, nodes_[node].end - nodes_[node].begin};
  }
  // The node reached by walking `s` from `root`, or -1.
  std::int32_t find(std::uint32_t root, std::string_view s) const {
    std::int32_t n = std::int32_t(root);
    for (const char c : s) {
      n = child(std::uint32_t(n), static_cast<std::uint8_t>(c));
      if (n < 0) return -1;
    }
    return n;
  }
  // Breadth-first: the node ending the shortest word below `from` whose key_bit is in
  // `allowed` (lexicographically first among the shortest), or -1.
  std::int32_t shortest(std::uint32_t from, std::uint64_t allowed) const {
    std::vector<std::uint32_t> queue{from};
    for (std::size_t q = 0; q < queue.size(); ++q) {
      const Node& n = nodes_[queue[q]];
      if (n.value >= 0 && (key_bit(n.key) & allowed) != 0) return std::int32_t(queue[q]);
      for (std::uint32_t e = n.begin; e < n.end; ++e)
        if ((nodes_[children_[e]].keys & allowed) != 0) queue.push_back(children_[e]);
    }
    return -1;
  }

 private:
  std::vector<Node> nodes_;
  std::vector<std::uint8_t> bytes_;
  std::vector<std::uint32_t> children_;
};

// JSON string contents with the minimal escaping (quote, backslash, control characters);
// other bytes stay raw, as a model writes them.
inline void append_escaped(std::string& out, std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\' || u < 0x20) json::detail::append_ascii_escape(out, u);
    else out += c;
  }
}

// Compact JSON with raw (not \u-escaped) UTF-8: how a model spells a value.
inline void append_compact(std::string& out, const json::Value& v) {
  switch (v.type) {
    case json::Type::kNull: out += "null"; return;
    case json::Type::kBool: out += v.boolean ? "true" : "false"; return;
    case json::Type::kNumber: out += v.text; return;
    case json::Type::kString:
      out += '"';
      append_escaped(out, v.text);
      out += '"';
      return;
    case json::Type::kArray:
      out += '[';
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i) out += ',';
        append_compact(out, v.items[i]);
      }
      out += ']';
      return;
    case json::Type::kObject:
      out += '{';
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i) out += ',';
        out += '"';
        append_escaped(out, v.keys[i]);
        out += "\":";
        append_compact(out, v.items[i]);
      }
      out += '}';
      return;
  }
}

// ---- strict: upstream's tries and state machine -----------------------------------------

// The tries upstream builds from the canonical tools JSON (ToolConstraints): one of tool
// names and, per tool, one of argument keys.
struct StrictTries {
  Trie trie;
  std::uint32_t names_root = 0;
  std::vector<std::int32_t> param_root;  // per name-trie value: its key trie root, or -1

  static StrictTries build(std::string_view tools_json);
  // The key trie of `function` (upstream: param_tries.get(function)), or -1.
  std::int32_t param_root_of(std::string_view function) const {
    const std::int32_t n = trie.find(names_root, function);
    if (n < 0) return -1;
    const std::int32_t v = trie.node(std::uint32_t(n)).value;
    return v < 0 ? -1 : param_root[std::size_t(v)];
  }
};

// Upstream: `for key in properties` with `if isinstance(key, str) and key`: a dict gives
// its keys, a list its string items, a string its characters. Other values make Python
// raise (no constraint at all); here they give no keys.
inline void strict_param_keys(const json::Value& props, std::vector<Trie::Word>& out) {
  if (props.is_object()) {
    for (const std::string& k : props.keys)
      if (!k.empty()) out.push_back({k, 0});
  } else if (props.is_array()) {
    for (const json::Value& item : props.items)
      if (item.is_string() && !item.text.empty()) out.push_back({item.text, 0});
  } else if (props.is_string()) {
    for (std::size_t i = 0; i < props.text.size();) {
      const std::size_t n = std::max<std::size_t>(1, tokenizer_detail::valid_utf8_length(
                                                         std::string_view(props.text).substr(i)));
      out.push_back({props.text.substr(i, n), 0});
      i += n;
    }
  }
}

inline StrictTries StrictTries::build(std::string_view tools_json) {
  StrictTries t;
  std::vector<std::string> names;                       // first-seen order
  std::unordered_map<std::string, std::int32_t> roots;  // name -> key trie root or -1
  auto parsed = json::parse(tools_json);
  if (parsed.ok() && parsed->is_array()) {  // invalid JSON or not a list: no constraints
    for (const json::Value& tool : parsed->items) {
      if (!tool.is_object()) continue;
      const json::Value* name = tool.find("name");
      if (name == nullptr || !name->is_string() || name->text.empty()) continue;
      auto [it, fresh] = roots.emplace(name->text, -1);
      if (fresh) names.push_back(name->text);
      const json::Value* params = tool.find("parameters");
      if (params != nullptr && !params->is_object()) continue;  // not a dict: keep any old trie
      std::vector<Trie::Word> keys;
      if (params != nullptr) {
        const json::Value* props = params->find("properties");
        strict_param_keys(props != nullptr ? *props : *params, keys);
      }
      it->second = std::int32_t(t.trie.add(std::move(keys)));
    }
  }
  std::vector<Trie::Word> words;
  for (std::size_t i = 0; i < names.size(); ++i) {
    words.push_back({names[i], std::int32_t(i)});
    t.param_root.push_back(roots[names[i]]);
  }
  t.names_root = t.trie.add(std::move(words));
  return t;
}

// Upstream's JsonStateMachine, fed the strict text of every accepted token. `buffer` is
// only ever read through its last 13 bytes and its last non-whitespace byte, so those two
// are all that is kept.
struct StrictMachine {
  enum class State : std::uint8_t { kFree, kInName, kInArgKey };
  State state = State::kFree;
  std::string constrained_buf, current_function;
  bool in_arguments = false, in_string = false, prev_char_escape = false;
  int arguments_depth = 0, nesting_depth = 0;

  void feed(std::string_view text) {
    for (const char c : text) feed_char(c);
  }

  void feed_char(char ch) {
    if (state != State::kFree) {
      if (ch == '"') {
        if (state == State::kInName) current_function = constrained_buf;
        constrained_buf.clear();
        state = State::kFree;
      } else {
        constrained_buf += ch;
      }
      append(ch);
      return;
    }
    const char before = last_non_ws_;  // last non-whitespace byte before ch
    append(ch);
    if (in_string) {
      if (prev_char_escape) {
        prev_char_escape = false;
        return;
      }
      if (ch == '\\') {
        prev_char_escape = true;
        return;
      }
      if (ch == '"') in_string = false;
      return;
    }
    if (ch == '{' || ch == '[') {
      ++nesting_depth;
    } else if (ch == '}' || ch == ']') {
      nesting_depth = std::max(0, nesting_depth - 1);
      if (ch == '}' && in_arguments && nesting_depth < arguments_depth) in_arguments = false;
      return;
    }
    if (!in_arguments && ends_with("\"name\":\"")) {
      state = State::kInName;
      constrained_buf.clear();
      return;
    }
    if (ends_with("\"arguments\":{")) {
      in_arguments = true;
      arguments_depth = nesting_depth;
      return;
    }
    if (in_arguments && nesting_depth == arguments_depth && (ends_with("{\"") || ends_with(",\""))) {
      state = State::kInArgKey;
      constrained_buf.clear();
      return;
    }
    if (ch == '"' && before == ':') in_string = true;
  }

 private:
  static constexpr std::size_t kTail = 16;
  void append(char ch) {
    if (tail_len_ == kTail) {
      std::memmove(tail_.data(), tail_.data() + 1, kTail - 1);
      tail_[kTail - 1] = ch;
    } else {
      tail_[tail_len_++] = ch;
    }
    if (!is_ws(ch)) last_non_ws_ = ch;
  }
  bool ends_with(std::string_view s) const {
    return tail_len_ >= s.size() &&
           std::string_view(tail_.data() + tail_len_ - s.size(), s.size()) == s;
  }
  std::array<char, kTail> tail_{};
  std::size_t tail_len_ = 0;
  char last_non_ws_ = 0;  // 0: nothing yet
};

// ---- typed: schemas -----------------------------------------------------------------------

enum Kind : std::uint8_t {
  kString = 1,
  kNumber = 2,   // any number, integers included
  kInteger = 4,  // integers only (no fraction, no exponent)
  kBoolean = 8,
  kNull = 16,
  kArray = 32,
  kObject = 64,
  kAnyKind = 127,
};

struct SchemaNode {
  std::uint8_t kinds = kAnyKind;
  std::int32_t enum_set = -1;  // literal set of the allowed spellings, or -1
  std::int32_t items = 0;      // schema of array items (0: any)
  std::int32_t object = -1;    // ObjectSchema with restricted keys, or -1 (any keys)
};

// Keys are matched as spelled in JSON (without the quotes): raw UTF-8 with minimal
// escapes, and also \u-escaped (as the encoder saw them in the canonical tools) when
// that differs. Trie values index `spellings`; node keys index `keys`.
struct ObjectSchema {
  std::uint32_t root = 0;
  std::vector<std::string> keys;             // per key: its raw spelling
  std::vector<std::int32_t> schemas;         // per key
  std::vector<std::string> spellings;        // every spelling
  std::vector<std::int32_t> spelling_key;    // per spelling: its key
  std::uint64_t required = 0;                // key_bit of required keys (the first 63)
};

// The typed grammar's data for one tool list: names, each tool's arguments object, and
// every parameter schema compiled to SchemaNodes.
struct ToolSchemas {
  static constexpr std::int32_t kAny = 0;
  static constexpr std::int32_t kBools = 0, kNulls = 1, kBoolsAndNull = 2;  // literal sets

  Trie trie;
  std::uint32_t names_root = 0;
  std::vector<std::string> names;    // per tool, snake_case as the model writes it
  std::vector<std::int32_t> args;    // per tool: its arguments ObjectSchema
  std::vector<SchemaNode> nodes;     // nodes[kAny] accepts anything
  std::vector<ObjectSchema> objects;
  std::vector<std::vector<std::string>> literals;  // sorted spellings

  static ToolSchemas build(const CanonicalTools& tools);

  std::int32_t tool_index(std::string_view name) const {
    const std::int32_t n = trie.find(names_root, name);
    return n < 0 ? -1 : trie.node(std::uint32_t(n)).value;
  }
  // Index of a key (as spelled in JSON) in an object schema, or -1.
  std::int32_t key_index(std::int32_t object, std::string_view spelled) const {
    const std::int32_t n = trie.find(objects[std::size_t(object)].root, spelled);
    return n < 0 || trie.node(std::uint32_t(n)).value < 0 ? -1 : trie.node(std::uint32_t(n)).key;
  }

 private:
  std::int32_t compile(const json::Value& schema, int depth);
  std::int32_t add_object(const std::vector<std::string_view>& keys, std::vector<std::int32_t> schemas,
                          const std::vector<bool>& required);
  std::int32_t add_literals(std::vector<std::string> spellings) {
    std::sort(spellings.begin(), spellings.end());
    spellings.erase(std::unique(spellings.begin(), spellings.end()), spellings.end());
    literals.push_back(std::move(spellings));
    return std::int32_t(literals.size() - 1);
  }
};

// A "type" value -> kinds. Python spellings are read like tools.hpp reads them; a union
// array gives the union; anything unknown gives any.
inline std::uint8_t kinds_of(const json::Value& type) {
  const auto one = [](std::string_view t) -> std::uint8_t {
    static constexpr std::pair<std::string_view, std::uint8_t> kNames[] = {
        {"string", kString}, {"str", kString},    {"number", kNumber}, {"float", kNumber},
        {"integer", kInteger}, {"int", kInteger}, {"boolean", kBoolean}, {"bool", kBoolean},
        {"null", kNull},     {"None", kNull},     {"array", kArray},   {"list", kArray},
        {"object", kObject}, {"dict", kObject}};
    for (const auto& [name, kind] : kNames)
      if (t == name) return kind;
    return kAnyKind;
  };
  if (type.is_string()) return one(type.text);
  if (!type.is_array() || type.items.empty()) return kAnyKind;
  std::uint8_t kinds = 0;
  for (const json::Value& t : type.items) {
    if (!t.is_string()) return kAnyKind;
    kinds |= one(t.text);
  }
  return kinds;
}

inline std::int32_t ToolSchemas::add_object(const std::vector<std::string_view>& keys,
                                            std::vector<std::int32_t> schemas,
                                            const std::vector<bool>& required) {
  ObjectSchema o;
  std::vector<Trie::Word> words;
  for (std::size_t k = 0; k < keys.size(); ++k) {
    std::string raw, ascii;
    append_escaped(raw, keys[k]);
    json::append_string(ascii, keys[k]);
    ascii = ascii.substr(1, ascii.size() - 2);
    for (std::string* spelling : {&raw, &ascii}) {
      if (spelling == &ascii && ascii == raw) break;
      words.push_back({*spelling, std::int32_t(o.spellings.size()), std::int32_t(k)});
      o.spellings.push_back(*spelling);
      o.spelling_key.push_back(std::int32_t(k));
    }
    o.keys.push_back(std::move(raw));
    if (required[k] && k < 63) o.required |= Trie::key_bit(std::int32_t(k));
  }
  o.root = trie.add(std::move(words));
  o.schemas = std::move(schemas);
  objects.push_back(std::move(o));
  return std::int32_t(objects.size() - 1);
}

inline std::int32_t ToolSchemas::compile(const json::Value& schema, int depth) {
  if (depth > NEEDLE_SCHEMA_MAX_DEPTH) return kAny;
  SchemaNode n;
  // A flat tool may give a parameter as just its type ("location": "string").
  const json::Value* type = schema.is_object() ? schema.find("type") : &schema;
  n.kinds = type != nullptr ? kinds_of(*type) : std::uint8_t{kAnyKind};
  if (schema.is_object()) {
    if (const json::Value* nb = schema.find("nullable");
        nb != nullptr && nb->is_bool() && nb->boolean && n.kinds != kAnyKind) {
      n.kinds |= kNull;
    }
    if (const json::Value* e = schema.find("enum"); e != nullptr && e->is_array() && !e->items.empty()) {
      // The raw spelling and the \u-escaped one the encoder saw in the tools JSON.
      std::vector<std::string> spellings;
      for (const json::Value& member : e->items) {
        append_compact(spellings.emplace_back(), member);
        json::append(spellings.emplace_back(), member);
      }
      // Literal frames count matched bytes in 16 bits; absurdly long members: no enum.
      const bool short_enough = std::all_of(spellings.begin(), spellings.end(),
                                            [](const std::string& x) { return x.size() < 60000; });
      if (short_enough) n.enum_set = add_literals(std::move(spellings));
    }
    if (const json::Value* items = schema.find("items"); items != nullptr && !items->is_array()) {
      n.items = compile(*items, depth + 1);
    }
    if (const json::Value* props = schema.find("properties"); props != nullptr && props->is_object()) {
      std::vector<std::string_view> required_names;
      if (const json::Value* req = schema.find("required"); req != nullptr && req->is_array()) {
        for (const json::Value& r : req->items)
          if (r.is_string()) required_names.push_back(r.text);
      }
      std::vector<std::string_view> keys;
      std::vector<std::int32_t> schemas;
      std::vector<bool> required;
      for (std::size_t k = 0; k < props->keys.size(); ++k) {
        const json::Value& p = props->items[k];
        const json::Value* own = p.is_object() ? p.find("required") : nullptr;
        keys.push_back(props->keys[k]);
        schemas.push_back(compile(p, depth + 1));
        required.push_back((own != nullptr && own->is_bool() && own->boolean) ||
                           std::find(required_names.begin(), required_names.end(),
                                     props->keys[k]) != required_names.end());
      }
      n.object = add_object(keys, std::move(schemas), required);
    }
  }
  nodes.push_back(n);
  return std::int32_t(nodes.size() - 1);
}

inline ToolSchemas ToolSchemas::build(const CanonicalTools& tools) {
  ToolSchemas s;
  s.nodes.emplace_back();  // kAny
  s.add_literals({"false", "true"});
  s.add_literals({"null"});
  s.add_literals({"false", "null", "true"});
  std::vector<Trie::Word> words;
  for (std::size_t t = 0; t < tools.tools.size(); ++t) {
    const Tool& tool = tools.tools[t];
    std::string spelled;
    append_escaped(spelled, tool.name);
    words.push_back({spelled, std::int32_t(t)});
    s.names.push_back(std::move(spelled));
    std::vector<std::string_view> keys;
    std::vector<std::int32_t> schemas;
    std::vector<bool> required;
    for (const ToolParam& p : tool.params) {
      keys.push_back(p.name);
      auto schema = json::parse(p.schema_json);
      schemas.push_back(schema.ok() ? s.compile(*schema, 1) : kAny);
      required.push_back(p.required);
    }
    s.args.push_back(s.add_object(keys, std::move(schemas), required));
  }
  s.names_root = s.trie.add(std::move(words));
  return s;
}

// ---- typed: the grammar -------------------------------------------------------------------

// One level of the pushdown automaton. Field use per kind:
//   kObject   a = key trie node, b = ObjectSchema (-1: any keys), c = current key, used
//   kArray    b = item schema
//   kCall     a = name trie node, b = tool, pos = offset in a fixed key literal
//   kString   pos = hex digits / continuation bytes left, a..b = next byte range, c = \u value
//   kNumber   a = 1 when integers only
//   kLiteral  a = literal set, b..c = candidate range [b, c), pos = bytes matched
struct Frame {
  enum Kind : std::uint8_t { kRoot, kCalls, kCall, kObject, kArray, kString, kNumber, kLiteral };
  std::uint8_t kind = kRoot, sub = 0;
  std::uint16_t pos = 0;
  std::int32_t a = 0, b = 0, c = 0;
  std::uint64_t used = 0;
};

struct TypedState {
  std::array<Frame, NEEDLE_TYPED_MAX_DEPTH> frames;
  std::uint32_t depth = 1;  // frames[0] is the root
  void copy_from(const TypedState& o) {
    depth = o.depth;
    std::copy_n(o.frames.begin(), depth, frames.begin());
  }
};

class TypedGrammar {
 public:
  explicit TypedGrammar(const ToolSchemas& s) : s_(&s) {}

  // Feeds one byte; false when it is not legal here (the state is then garbage).
  bool feed(TypedState& st, std::uint8_t ch) const;
  bool feed(TypedState& st, std::string_view text) const {
    for (const char c : text)
      if (!feed(st, static_cast<std::uint8_t>(c))) return false;
    return true;
  }
  // The array of calls has been closed (only whitespace may follow).
  static bool complete(const TypedState& st) { return st.depth == 1 && st.frames[0].sub == 1; }
  // Appends the shortest text that makes the output complete, legal from `st`.
  void completion(const TypedState& st, std::string& out) const;

 private:
  enum Step { kTaken, kRejected, kEnded };  // kEnded: the frame ended before this byte

  static bool push(TypedState& st, const Frame& f) {
    if (st.depth >= st.frames.size()) return false;
    st.frames[st.depth++] = f;
    return true;
  }
  bool start_value(TypedState& st, std::int32_t schema, std::uint8_t ch) const;
  bool start_literal(TypedState& st, std::int32_t set, std::uint8_t ch) const {
    Frame f;
    f.kind = Frame::kLiteral;
    f.a = set;
    f.c = std::int32_t(s_->literals[std::size_t(set)].size());
    return push(st, f) && literal(st.frames[st.depth - 1], ch) == kTaken;
  }
  bool call(TypedState& st, Frame& f, std::uint8_t ch) const;
  bool object(TypedState& st, Frame& f, std::uint8_t ch) const;
  static Step string(Frame& f, std::uint8_t ch);
  static Step number(Frame& f, std::uint8_t ch);
  Step literal(Frame& f, std::uint8_t ch) const;
  bool has_free_key(const Frame& f) const {
    return (s_->trie.node(s_->objects[std::size_t(f.b)].root).keys & ~f.used) != 0;
  }
  bool required_done(const Frame& f) const {
    return f.b < 0 || (s_->objects[std::size_t(f.b)].required & ~f.used) == 0;
  }

  // Completion pieces.
  void min_value(std::int32_t schema, std::string& out) const;
  void object_tail(std::int32_t object, std::uint64_t used, bool comma, std::string& out) const;
  std::int32_t pick_spelling(const ObjectSchema& o, std::uint32_t node, std::uint64_t used) const;
  // From after the name: the arguments with their required keys, and the call's '}'.
  void call_tail(std::int32_t tool, std::string& out) const {
    out += ",\"arguments\":{";
    object_tail(s_->args[std::size_t(tool)], 0, false, out);
    out += '}';
  }

  const ToolSchemas* s_;
};

inline constexpr std::string_view kNameKey = "name\"";
inline constexpr std::string_view kArgumentsKey = "arguments\"";

inline bool TypedGrammar::feed(TypedState& st, std::uint8_t ch) const {
  // Compact JSON: past the root, a whitespace byte is legal only where a frame takes it as
  // text (strings, names, keys, enum spellings); every structural position refuses it.
  for (;;) {
    Frame& f = st.frames[st.depth - 1];
    Step step;
    switch (f.kind) {
      case Frame::kRoot:
        if (is_ws(static_cast<char>(ch))) return true;
        if (f.sub == 0 && ch == '[') {
          f.sub = 1;
          Frame calls;
          calls.kind = Frame::kCalls;
          return push(st, calls);
        }
        return false;
      case Frame::kCalls:  // sub 0: after '[', 1: after ',', 2: after a call
        if (f.sub != 2 && ch == '{' && !s_->names.empty()) {
          f.sub = 2;
          Frame c;
          c.kind = Frame::kCall;
          return push(st, c);
        }
        if (f.sub != 1 && ch == ']') {
          --st.depth;
          return true;
        }
        if (f.sub == 2 && ch == ',') {
          f.sub = 1;
          return true;
        }
        return false;
      case Frame::kCall: return call(st, f, ch);
      case Frame::kObject: return object(st, f, ch);
      case Frame::kArray:  // sub 0: after '[', 1: after ',', 2: after an item
        if (f.sub == 2) {
          if (ch == ',') {
            f.sub = 1;
            return true;
          }
          if (ch == ']') {
            --st.depth;
            return true;
          }
          return false;
        }
        if (f.sub == 0 && ch == ']') {
          --st.depth;
          return true;
        }
        f.sub = 2;
        return start_value(st, f.b, ch);
      case Frame::kString: step = string(f, ch); break;
      case Frame::kNumber: step = number(f, ch); break;
      default: step = literal(f, ch); break;
    }
    if (step == kTaken) {
      if (f.kind == Frame::kString && f.sub == 7) --st.depth;  // closing quote consumed
      return true;
    }
    if (step == kRejected) return false;
    --st.depth;  // kEnded: the byte belongs to the parent
  }
}

// {"name":"<tool>","arguments":{...}}, compact. Subs:
// 0 before "name", 1 in "name" (pos), 2 before ':', 3 before the name value, 4 in the
// name (a = trie node), 5 before ',', 6 before "arguments", 7 in it (pos), 8 before ':',
// 9 before '{', 10 after the arguments object.
inline bool TypedGrammar::call(TypedState& st, Frame& f, std::uint8_t ch) const {
  const auto expect = [&](char want, std::uint8_t next) {
    if (ch != static_cast<std::uint8_t>(want)) return false;
    f.sub = next;
    return true;
  };
  switch (f.sub) {
    case 0: f.pos = 0; return expect('"', 1);
    case 1:
    case 7: {
      const std::string_view lit = f.sub == 1 ? kNameKey : kArgumentsKey;
      if (ch != static_cast<std::uint8_t>(lit[f.pos])) return false;
      if (++f.pos == lit.size()) f.sub = f.sub == 1 ? 2 : 8;
      return true;
    }
    case 2: return expect(':', 3);
    case 3: f.a = std::int32_t(s_->names_root); return expect('"', 4);
    case 4: {
      if (ch == '"') {
        const std::int32_t tool = s_->trie.node(std::uint32_t(f.a)).value;
        if (tool < 0) return false;
        f.b = tool;
        f.sub = 5;
        return true;
      }
      const std::int32_t next = s_->trie.child(std::uint32_t(f.a), ch);
      if (next < 0) return false;
      f.a = next;
      return true;
    }
    case 5: return expect(',', 6);
    case 6: f.pos = 0; return expect('"', 7);
    case 8: return expect(':', 9);
    case 9: {
      if (ch != '{') return false;
      f.sub = 10;
      Frame o;
      o.kind = Frame::kObject;
      o.b = s_->args[std::size_t(f.b)];
      return push(st, o);
    }
    default:
      if (ch != '}') return false;
      --st.depth;
      return true;
  }
}

// Subs: 0 after '{', 1 after ',', 2 in a schema key (a = trie node), 3 before ':',
// 4 before the value, 5 after the value.
inline bool TypedGrammar::object(TypedState& st, Frame& f, std::uint8_t ch) const {
  const bool restricted = f.b >= 0;
  const auto begin_key = [&] {
    if (!restricted) {
      f.sub = 3;
      Frame key;
      key.kind = Frame::kString;
      return push(st, key);
    }
    if (!has_free_key(f)) return false;
    f.sub = 2;
    f.a = std::int32_t(s_->objects[std::size_t(f.b)].root);
    return true;
  };
  switch (f.sub) {
    case 0:
    case 5:
      if (ch == '}') {
        if (!required_done(f)) return false;
        --st.depth;
        return true;
      }
      if (f.sub == 0 && ch == '"') return begin_key();
      if (f.sub == 5 && ch == ',' && (!restricted || has_free_key(f))) {
        f.sub = 1;
        return true;
      }
      return false;
    case 1:
      return ch == '"' && begin_key();
    case 2: {
      if (ch == '"') {
        const Trie::Node& end = s_->trie.node(std::uint32_t(f.a));
        if (end.value < 0) return false;
        const std::int32_t key = end.key;
        const std::uint64_t bit = key < 63 ? Trie::key_bit(key) : 0;  // later keys: untracked
        if ((f.used & bit) != 0) return false;
        f.used |= bit;
        f.c = key;
        f.sub = 3;
        return true;
      }
      const std::int32_t next = s_->trie.child(std::uint32_t(f.a), ch);
      if (next < 0 || (s_->trie.node(std::uint32_t(next)).keys & ~f.used) == 0) return false;
      f.a = next;
      return true;
    }
    case 3:
      if (ch != ':') return false;
      f.sub = 4;
      return true;
    default: {  // 4
      const std::int32_t schema =
          restricted ? s_->objects[std::size_t(f.b)].schemas[std::size_t(f.c)] : ToolSchemas::kAny;
      f.sub = 5;
      return start_value(st, schema, ch);
    }
  }
}

inline bool TypedGrammar::start_value(TypedState& st, std::int32_t schema, std::uint8_t ch) const {
  const SchemaNode& n = s_->nodes[std::size_t(schema)];
  if (n.enum_set >= 0) return start_literal(st, n.enum_set, ch);
  Frame f;
  switch (ch) {
    case '"':
      if ((n.kinds & kString) == 0) return false;
      f.kind = Frame::kString;
      return push(st, f);
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      if ((n.kinds & (kNumber | kInteger)) == 0) return false;
      f.kind = Frame::kNumber;
      f.a = (n.kinds & kNumber) == 0;
      return push(st, f) && number(st.frames[st.depth - 1], ch) == kTaken;
    case 't':
    case 'f':
      if ((n.kinds & kBoolean) == 0) return false;
      return start_literal(st, (n.kinds & kNull) ? ToolSchemas::kBoolsAndNull : ToolSchemas::kBools, ch);
    case 'n':
      if ((n.kinds & kNull) == 0) return false;
      return start_literal(st, (n.kinds & kBoolean) ? ToolSchemas::kBoolsAndNull : ToolSchemas::kNulls, ch);
    case '[':
      if ((n.kinds & kArray) == 0) return false;
      f.kind = Frame::kArray;
      f.b = n.items;
      return push(st, f);
    case '{':
      if ((n.kinds & kObject) == 0) return false;
      f.kind = Frame::kObject;
      f.b = n.object;
      return push(st, f);
    default: return false;
  }
}

// Subs: 0 plain, 1 after '\', 2 in \uXXXX (pos digits, c value), 3 expecting the '\' of
// a low surrogate, 4 its 'u', 5 its hex digits, 6 in a UTF-8 sequence (pos bytes left,
// next in [a, b]), 7 closed (set by the closing quote; the caller pops).
inline TypedGrammar::Step TypedGrammar::string(Frame& f, std::uint8_t ch) {
  const auto hex = [](std::uint8_t c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  switch (f.sub) {
    case 0:
      if (ch == '"') {
        f.sub = 7;
        return kTaken;
      }
      if (ch == '\\') {
        f.sub = 1;
        return kTaken;
      }
      if (ch < 0x20) return kRejected;
      if (ch < 0x80) return kTaken;
      // A UTF-8 lead byte and the range of its first continuation byte (RFC 3629).
      f.a = 0x80;
      f.b = 0xBF;
      if (ch >= 0xC2 && ch <= 0xDF) {
        f.pos = 1;
      } else if (ch >= 0xE0 && ch <= 0xEF) {
        f.pos = 2;
        if (ch == 0xE0) f.a = 0xA0;
        if (ch == 0xED) f.b = 0x9F;
      } else if (ch >= 0xF0 && ch <= 0xF4) {
        f.pos = 3;
        if (ch == 0xF0) f.a = 0x90;
        if (ch == 0xF4) f.b = 0x8F;
      } else {
        return kRejected;
      }
      f.sub = 6;
      return kTaken;
    case 1:
      if (ch == 'u') {
        f.sub = 2;
        f.pos = 0;
        f.c = 0;
        return kTaken;
      }
      if (std::string_view("\"\\/bfnrt").find(static_cast<char>(ch)) == std::string_view::npos)
        return kRejected;
      f.sub = 0;
      return kTaken;
    case 2:
    case 5: {
      const int d = hex(ch);
      if (d < 0) return kRejected;
      if (f.sub == 5 && f.pos == 0 && d != 0xD) return kRejected;  // low surrogates are Dxxx
      f.c = f.c * 16 + d;
      ++f.pos;
      // Decide surrogates at the second digit so no path dead-ends: a lone low
      // surrogate (DC..DF) is refused, a low one is required after a high one.
      if (f.pos == 2) {
        const bool surrogate = f.c >= 0xD8 && f.c <= 0xDF;
        const bool low = f.c >= 0xDC && f.c <= 0xDF;
        if (f.sub == 2 ? (surrogate && low) : !low) return kRejected;
      }
      if (f.pos == 4) {
        f.sub = f.sub == 2 && f.c >= 0xD800 && f.c <= 0xDBFF ? 3 : 0;
        f.pos = 0;
        f.c = 0;
      }
      return kTaken;
    }
    case 3:
      if (ch != '\\') return kRejected;
      f.sub = 4;
      return kTaken;
    case 4:
      if (ch != 'u') return kRejected;
      f.sub = 5;
      f.pos = 0;
      f.c = 0;
      return kTaken;
    case 6:
      if (ch < f.a || ch > f.b) return kRejected;
      f.a = 0x80;
      f.b = 0xBF;
      if (--f.pos == 0) f.sub = 0;
      return kTaken;
    default: return kRejected;
  }
}

// JSON numbers. Subs: 0 start, 1 after '-', 2 after a leading 0, 3 in integer digits,
// 4 after '.', 5 in fraction digits, 6 after 'e', 7 after the exponent sign, 8 in
// exponent digits. 2, 3, 5 and 8 may end.
inline TypedGrammar::Step TypedGrammar::number(Frame& f, std::uint8_t ch) {
  const bool digit = ch >= '0' && ch <= '9';
  const bool integers = f.a != 0;
  const auto go = [&](std::uint8_t s) {
    f.sub = s;
    return kTaken;
  };
  switch (f.sub) {
    case 0:
      if (ch == '-') return go(1);
      [[fallthrough]];
    case 1:
      if (ch == '0') return go(2);
      return digit ? go(3) : kRejected;
    case 2:
    case 3:
      if (digit && f.sub == 3) return kTaken;
      if (!integers && ch == '.') return go(4);
      if (!integers && (ch == 'e' || ch == 'E')) return go(6);
      return kEnded;
    case 4: return digit ? go(5) : kRejected;
    case 5:
      if (digit) return kTaken;
      if (ch == 'e' || ch == 'E') return go(6);
      return kEnded;
    case 6:
      if (ch == '+' || ch == '-') return go(7);
      return digit ? go(8) : kRejected;
    case 7: return digit ? go(8) : kRejected;
    default: return digit ? kTaken : kEnded;
  }
}

// Candidates [b, c) of a sorted literal set share their first `pos` bytes; the ones of
// length pos (complete) sort first, and the rest are ordered by their byte at pos.
inline TypedGrammar::Step TypedGrammar::literal(Frame& f, std::uint8_t ch) const {
  const std::vector<std::string>& set = s_->literals[std::size_t(f.a)];
  std::int32_t i = f.b;
  while (i < f.c && set[std::size_t(i)].size() == f.pos) ++i;
  const bool complete = i > f.b;
  while (i < f.c && static_cast<std::uint8_t>(set[std::size_t(i)][f.pos]) < ch) ++i;
  std::int32_t j = i;
  while (j < f.c && static_cast<std::uint8_t>(set[std::size_t(j)][f.pos]) == ch) ++j;
  if (j > i) {
    f.b = i;
    f.c = j;
    ++f.pos;
    return kTaken;
  }
  return complete ? kEnded : kRejected;
}

// ---- typed: the shortest completion -------------------------------------------------------
// Every choice below is the one the same rule makes again after any prefix of the text it
// produced has been fed (lowest-index missing required key first, else the shortest key
// or name, lexicographically first on ties), so forcing the completion one token at a
// time spells exactly the text computed at the start.

inline void TypedGrammar::min_value(std::int32_t schema, std::string& out) const {
  const SchemaNode& n = s_->nodes[std::size_t(schema)];
  if (n.enum_set >= 0) {
    const auto& set = s_->literals[std::size_t(n.enum_set)];
    const auto it = std::min_element(set.begin(), set.end(), [](const auto& x, const auto& y) {
      return x.size() < y.size();
    });
    out += *it;
  } else if (n.kinds & (kNumber | kInteger)) {
    out += '0';
  } else if (n.kinds & kString) {
    out += "\"\"";
  } else if (n.kinds & kArray) {
    out += "[]";
  } else if (n.kinds & kObject) {
    out += '{';
    object_tail(n.object, 0, false, out);
  } else if (n.kinds & kBoolean) {
    out += "true";
  } else {
    out += "null";
  }
}

// Missing required keys with minimal values, then '}'.
inline void TypedGrammar::object_tail(std::int32_t object, std::uint64_t used, bool comma,
                                      std::string& out) const {
  if (object >= 0) {
    const ObjectSchema& o = s_->objects[std::size_t(object)];
    const std::uint64_t missing = o.required & ~used;
    for (std::size_t k = 0; k < o.keys.size() && k < 63; ++k) {
      if ((missing & Trie::key_bit(std::int32_t(k))) == 0) continue;
      if (comma) out += ',';
      comma = true;
      out += '"';
      out += o.keys[k];
      out += "\":";
      min_value(o.schemas[k], out);
    }
  }
  out += '}';
}

// The key spelling a completion writes from trie `node`: the lowest-index missing
// required key below it (its first spelling through `node`), else the shortest unused.
inline std::int32_t TypedGrammar::pick_spelling(const ObjectSchema& o, std::uint32_t node,
                                                std::uint64_t used) const {
  const std::uint64_t missing = o.required & ~used & s_->trie.node(node).keys;
  if (missing != 0) {
    const std::int32_t key = std::countr_zero(missing);
    const std::uint32_t depth = s_->trie.node(node).depth;
    for (std::size_t sp = 0; sp < o.spellings.size(); ++sp)
      if (o.spelling_key[sp] == key &&
          s_->trie.find(o.root, std::string_view(o.spellings[sp]).substr(0, depth)) == std::int32_t(node))
        return std::int32_t(sp);
  }
  return s_->trie.node(std::uint32_t(s_->trie.shortest(node, ~used))).value;
}

inline void TypedGrammar::completion(const TypedState& st, std::string& out) const {
  for (std::uint32_t d = st.depth; d-- > 0;) {
    const Frame& f = st.frames[d];
    switch (f.kind) {
      case Frame::kRoot:
        if (f.sub == 0) out += "[]";
        break;
      case Frame::kCalls:
        if (f.sub == 1) {
          const std::int32_t tool =
              s_->trie.node(std::uint32_t(s_->trie.shortest(s_->names_root, ~std::uint64_t{0}))).value;
          out += "{\"name\":\"";
          out += s_->names[std::size_t(tool)];
          out += '"';
          call_tail(tool, out);
        }
        out += ']';
        break;
      case Frame::kCall: {
        std::int32_t tool = f.b;
        if (f.sub <= 4) {
          static constexpr std::string_view kPrefix = "\"name\":\"";
          std::uint32_t node = s_->names_root;
          if (f.sub == 0) out += kPrefix;
          if (f.sub == 1) out += kPrefix.substr(1 + f.pos);
          if (f.sub == 2) out += kPrefix.substr(6);
          if (f.sub == 3) out += kPrefix.substr(7);
          if (f.sub == 4) node = std::uint32_t(f.a);
          tool = s_->trie.node(std::uint32_t(s_->trie.shortest(node, ~std::uint64_t{0}))).value;
          out += std::string_view(s_->names[std::size_t(tool)]).substr(s_->trie.node(node).depth);
          out += '"';
        }
        static constexpr std::string_view kArgs = ",\"arguments\":{";
        if (f.sub <= 9) {
          if (f.sub <= 5) out += kArgs;
          if (f.sub == 6) out += kArgs.substr(1);
          if (f.sub == 7) out += kArgs.substr(2 + f.pos);
          if (f.sub == 8) out += kArgs.substr(12);
          if (f.sub == 9) out += kArgs.substr(13);
          object_tail(s_->args[std::size_t(tool)], 0, false, out);
        }
        out += '}';
        break;
      }
      case Frame::kObject: {
        const bool restricted = f.b >= 0;
        std::uint64_t used = f.used;
        std::int32_t key = f.c;
        if (f.sub == 1 || f.sub == 2) {  // a key must be written first
          if (!restricted) {
            out += "\"\"";
          } else {
            const ObjectSchema& o = s_->objects[std::size_t(f.b)];
            const std::uint32_t node = f.sub == 1 ? o.root : std::uint32_t(f.a);
            const std::int32_t spelling = pick_spelling(o, node, used);
            key = o.spelling_key[std::size_t(spelling)];
            if (f.sub == 1) out += '"';
            out += std::string_view(o.spellings[std::size_t(spelling)]).substr(s_->trie.node(node).depth);
            out += '"';
            if (key < 63) used |= Trie::key_bit(key);
          }
        }
        if (f.sub >= 1 && f.sub <= 4) {
          if (f.sub != 4) out += ':';
          min_value(restricted ? s_->objects[std::size_t(f.b)].schemas[std::size_t(key)]
                               : ToolSchemas::kAny,
                    out);
        }
        object_tail(f.b, used, f.sub != 0, out);
        break;
      }
      case Frame::kArray:
        if (f.sub == 1) min_value(f.b, out);
        out += ']';
        break;
      case Frame::kString:
        switch (f.sub) {
          case 1: out += '\\'; break;
          case 2: {
            const std::int32_t value = f.c << (4 * (4 - f.pos));
            out.append(std::size_t(4 - f.pos), '0');
            if (value >= 0xD800 && value <= 0xDBFF) out += "\\udc00";
            break;
          }
          case 5: out += std::string_view("dc00").substr(f.pos); break;
          case 3: out += "\\udc00"; break;
          case 4: out += "udc00"; break;
          case 6:
            out += static_cast<char>(f.a);
            out.append(std::size_t(f.pos - 1), static_cast<char>(0x80));
            break;
          default: break;
        }
        out += '"';
        break;
      case Frame::kNumber:
        if (f.sub == 1 || f.sub == 4 || f.sub == 6 || f.sub == 7) out += '0';
        break;
      case Frame::kLiteral: {
        const auto& set = s_->literals[std::size_t(f.a)];
        std::int32_t best = f.b;
        for (std::int32_t i = f.b; i < f.c; ++i)
          if (set[std::size_t(i)].size() < set[std::size_t(best)].size()) best = i;
        out += std::string_view(set[std::size_t(best)]).substr(f.pos);
        break;
      }
    }
  }
}

}  // namespace constrain_detail

// Everything a tool list contributes to constraining; build once per tool list and share
// between runs.
struct ToolConstraints {
  constrain_detail::StrictTries strict;
  constrain_detail::ToolSchemas typed;

  static ToolConstraints build(const CanonicalTools& tools) {
    return {constrain_detail::StrictTries::build(tools.json),
            constrain_detail::ToolSchemas::build(tools)};
  }
};

// One generation's constraint state. Per step: `pick(logits)` chooses the id, then
// `accept(id)` for every generated id (not for EOS, which ends the run). With
// generate.hpp, `limit` being the same cap greedy_decode applies
// (min(max_new, max_dec_len - 1)):
//
//   Constrainer c(table, tools, DecodeMode::kTyped, limit);
//   ids = greedy_decode(model, ws, st, logits, limit,
//                       [&](std::span<float> l) { return c.pick(l); },
//                       [&](std::int32_t id) { c.accept(id); return true; });
//
//
// With `max_tokens` > 0 (the number of ids the run may generate), typed mode also keeps
// room to close: it never picks a token after which the forced completion would no
// longer fit, and once the remaining budget equals the completion's length it emits that
// completion, token by token (greedy longest match), so the final text always parses.
// Budgets below the shortest answer ("[]") cannot be honoured.
class Constrainer {
 public:
  // Borrows `table` and `tools`; both must outlive the Constrainer.
  Constrainer(const TokenTable& table, const ToolConstraints& tools, DecodeMode mode,
              int max_tokens = 0)
      : table_(&table), tools_(&tools), grammar_(tools.typed), mode_(mode), budget_(max_tokens) {}
  // Builds (and owns) the tool constraints; nothing is built when mode is kOff.
  Constrainer(const TokenTable& table, const CanonicalTools& tools, DecodeMode mode,
              int max_tokens = 0)
      : Constrainer(table,
                    std::make_unique<ToolConstraints>(mode == DecodeMode::kOff
                                                          ? ToolConstraints{}
                                                          : ToolConstraints::build(tools)),
                    mode, max_tokens) {}

  DecodeMode mode() const { return mode_; }

  std::int32_t pick(std::span<const float> logits) {
    switch (mode_) {
      case DecodeMode::kOff: return argmax(logits);
      case DecodeMode::kStrict: return pick_strict(logits);
      case DecodeMode::kTyped: return pick_typed(logits);
    }
    return argmax(logits);
  }

  void accept(std::int32_t token) {
    if (mode_ == DecodeMode::kOff || token < 0 || token >= table_->vocab_size()) return;
    ++generated_;
    strict_.feed(table_->strict_text(token));
    if (mode_ != DecodeMode::kTyped || token == table_->eos_id()) return;
    const bool opening = !started_ && token == table_->tool_call_id();
    started_ = true;
    if (opening || broken_) return;
    scratch_.copy_from(typed_);
    if (grammar_.feed(scratch_, table_->text(token))) {
      typed_.copy_from(scratch_);
    } else {
      broken_ = true;  // an id the grammar refused was forced on us: fall back to strict
    }
  }

  // Typed: whether the output is complete JSON (EOS is legal).
  bool complete() const { return constrain_detail::TypedGrammar::complete(typed_); }
  // Typed: the shortest text that completes the output from here ("" when complete).
  std::string completion_text() const {
    std::string out;
    grammar_.completion(typed_, out);
    return out;
  }
  // Typed: completion_text() as token ids (greedy longest match); empty if complete.
  std::vector<std::int32_t> close() const {
    std::vector<std::int32_t> ids;
    const std::string text = completion_text();
    for (std::size_t i = 0; i < text.size();) {
      const auto [id, n] = longest_token(std::string_view(text).substr(i));
      if (id < 0) break;  // a vocabulary without byte pieces may not spell it
      ids.push_back(id);
      i += n;
    }
    return ids;
  }

  // The legal set of this step as 0/1 per id, computed by definition (slow; for tests):
  // strict: upstream's mask; typed: strict's mask AND the grammar, or the grammar alone
  // when that is empty. The length budget is not applied.
  std::vector<std::uint8_t> mask() const;
  const constrain_detail::StrictMachine& strict_state() const { return strict_; }
  // Typed: an accepted id broke the grammar, so typed fell back to strict.
  bool broken() const { return broken_; }

 private:
  struct StrictMask {
    bool active = false;
    std::uint32_t node = 0;
  };
  struct Best {
    std::int32_t id = -1;
    float value = 0;
    // First index among the largest logits, like argmax.
    bool beats(std::int32_t other, float v) const {
      return id < 0 || v > value || (v == value && other < id);
    }
  };

  Constrainer(const TokenTable& table, std::unique_ptr<ToolConstraints> owned, DecodeMode mode,
              int max_tokens)
      : table_(&table),
        tools_(owned.get()),
        owned_(std::move(owned)),
        grammar_(tools_->typed),
        mode_(mode),
        budget_(max_tokens) {}

  StrictMask strict_mask() const;
  bool strict_allows(std::int32_t id, const StrictMask& m) const;
  std::int32_t strict_choice(std::span<const float> logits, StrictMask& m) const;
  std::int32_t pick_strict(std::span<const float> logits) {
    StrictMask m = strict_mask();
    return strict_choice(logits, m);
  }
  bool typed_allows(std::int32_t id) const;
  std::int32_t typed_scan(std::span<const float> logits, const StrictMask* m,
                          std::span<const std::int32_t> excluded) const;
  std::int32_t typed_choice(std::span<const float> logits, std::span<const std::int32_t> excluded) const;
  std::int32_t pick_typed(std::span<const float> logits);
  std::pair<std::int32_t, std::size_t> longest_token(std::string_view text) const;
  int token_cost(std::string_view text) const;  // greedy token count, INT_MAX if unspellable

  const TokenTable* table_;
  const ToolConstraints* tools_;
  std::unique_ptr<ToolConstraints> owned_;
  constrain_detail::TypedGrammar grammar_;
  DecodeMode mode_;
  int budget_ = 0, generated_ = 0;
  bool started_ = false, broken_ = false;
  constrain_detail::StrictMachine strict_;
  constrain_detail::TypedState typed_;
  mutable constrain_detail::TypedState scratch_;
};

inline Constrainer::StrictMask Constrainer::strict_mask() const {
  using State = constrain_detail::StrictMachine::State;
  const auto& tries = tools_->strict;
  std::int32_t root = -1;
  if (strict_.state == State::kInName) root = std::int32_t(tries.names_root);
  if (strict_.state == State::kInArgKey) root = tries.param_root_of(strict_.current_function);
  if (root < 0) return {};
  const std::int32_t node = tries.trie.find(std::uint32_t(root), strict_.constrained_buf);
  if (node < 0) return {};  // off the trie: upstream falls back to no mask
  return {true, std::uint32_t(node)};
}

// Upstream's _check_token_valid on a non-empty token string.
inline bool Constrainer::strict_allows(std::int32_t id, const StrictMask& m) const {
  if (!m.active) return true;
  const std::string_view s = table_->strict_text(id);
  if (s.empty()) return false;
  const auto& trie = tools_->strict.trie;
  std::uint32_t node = m.node;
  for (const char c : s) {
    if (c == '"') return trie.node(node).value >= 0;
    const std::int32_t next = trie.child(node, static_cast<std::uint8_t>(c));
    if (next < 0) return false;
    node = std::uint32_t(next);
  }
  return true;
}

// Masked argmax: the unconstrained argmax when it is legal, else a scan of the tokens
// that start with a legal byte. No legal token at all: no mask (m.active turns false).
inline std::int32_t Constrainer::strict_choice(std::span<const float> logits, StrictMask& m) const {
  const std::int32_t top = argmax(logits);
  if (!m.active || strict_allows(top, m)) return top;
  const auto& trie = tools_->strict.trie;
  Best best;
  const auto scan = [&](std::uint8_t first) {
    for (const std::int32_t id : table_->strict_starting_with(first)) {
      if (std::size_t(id) >= logits.size()) continue;
      const float v = logits[std::size_t(id)];
      if (best.beats(id, v) && strict_allows(id, m)) best = {id, v};
    }
  };
  for (const std::uint8_t b : trie.edge_bytes(m.node)) scan(b);
  if (trie.node(m.node).value >= 0) scan('"');
  if (best.id < 0) {
    m.active = false;
    return top;
  }
  return best.id;
}

inline bool Constrainer::typed_allows(std::int32_t id) const {
  if (id == table_->eos_id()) return complete();
  if (id == table_->tool_call_id()) return !started_;  // it opens the answer, nothing else
  if (table_->is_markup(id)) return false;
  const std::string_view text = table_->text(id);
  if (text.empty()) return false;
  scratch_.copy_from(typed_);
  return grammar_.feed(scratch_, text);
}

// Best id the grammar allows (and strict's mask, when given), skipping `excluded`.
inline std::int32_t Constrainer::typed_scan(std::span<const float> logits, const StrictMask* m,
                                            std::span<const std::int32_t> excluded) const {
  Best best;
  const auto consider = [&](std::int32_t id) {
    if (id < 0 || std::size_t(id) >= logits.size()) return;
    const float v = logits[std::size_t(id)];
    if (!best.beats(id, v)) return;
    if (std::find(excluded.begin(), excluded.end(), id) != excluded.end()) return;
    if (m != nullptr && !strict_allows(id, *m)) return;
    if (typed_allows(id)) best = {id, v};
  };
  for (int b = 0; b < 256; ++b) {
    const auto ids = table_->starting_with(static_cast<std::uint8_t>(b));
    if (ids.empty()) continue;
    scratch_.copy_from(typed_);
    if (!grammar_.feed(scratch_, static_cast<std::uint8_t>(b))) continue;
    for (const std::int32_t id : ids) consider(id);
  }
  consider(table_->eos_id());
  if (!started_) consider(table_->tool_call_id());
  return best.id;
}

// Strict's choice when the grammar allows it (the parity rule), else the best token
// both allow, else the best the grammar allows.
inline std::int32_t Constrainer::typed_choice(std::span<const float> logits,
                                              std::span<const std::int32_t> excluded) const {
  StrictMask m = strict_mask();
  const std::int32_t s = strict_choice(logits, m);
  if (std::find(excluded.begin(), excluded.end(), s) == excluded.end() && typed_allows(s)) return s;
  std::int32_t t = typed_scan(logits, m.active ? &m : nullptr, excluded);
  if (t < 0 && m.active) t = typed_scan(logits, nullptr, excluded);
  return t >= 0 ? t : s;  // nothing legal: only with a vocabulary that cannot spell JSON
}

inline std::int32_t Constrainer::pick_typed(std::span<const float> logits) {
  if (broken_) return pick_strict(logits);
  if (budget_ <= 0) return typed_choice(logits, {});
  const int left = budget_ - generated_;  // ids still allowed, this one included
  std::string closing;
  grammar_.completion(typed_, closing);
  const auto force = [&]() -> std::int32_t {
    const std::int32_t id = longest_token(closing).first;
    return id >= 0 ? id : typed_choice(logits, {});
  };
  if (!closing.empty() && left <= int(closing.size()) && left <= token_cost(closing)) return force();
  // Pick, but never a token after which the completion no longer fits.
  std::vector<std::int32_t> excluded;
  std::string after;
  for (int attempt = 0; attempt < 8; ++attempt) {
    const std::int32_t id = typed_choice(logits, excluded);
    if (id == table_->eos_id() || (!started_ && id == table_->tool_call_id())) {
      if (id == table_->eos_id() || left - 1 >= token_cost(closing)) return id;
    } else {
      scratch_.copy_from(typed_);
      if (!grammar_.feed(scratch_, table_->text(id))) return id;  // fallback choice
      after.clear();
      grammar_.completion(scratch_, after);
      if (int(after.size()) <= left - 1 || token_cost(after) <= left - 1) return id;
    }
    excluded.push_back(id);
  }
  return closing.empty() ? typed_choice(logits, {}) : force();
}

inline std::pair<std::int32_t, std::size_t> Constrainer::longest_token(std::string_view text) const {
  if (text.empty()) return {-1, 0};
  for (const std::int32_t id : table_->starting_with(static_cast<std::uint8_t>(text[0]))) {
    const std::string_view t = table_->text(id);
    if (text.substr(0, t.size()) == t) return {id, t.size()};  // longest first
  }
  return {-1, 0};
}

inline int Constrainer::token_cost(std::string_view text) const {
  int n = 0;
  for (std::size_t i = 0; i < text.size(); ++n) {
    const std::size_t len = longest_token(text.substr(i)).second;
    if (len == 0) return std::numeric_limits<int>::max();
    i += len;
  }
  return n;
}

inline std::vector<std::uint8_t> Constrainer::mask() const {
  const int n = table_->vocab_size();
  std::vector<std::uint8_t> strict(std::size_t(n), 1);
  if (mode_ == DecodeMode::kOff) return strict;
  const StrictMask m = strict_mask();
  if (m.active) {
    bool any = false;
    for (int id = 0; id < n; ++id) any |= (strict[std::size_t(id)] = strict_allows(id, m)) != 0;
    if (!any) std::fill(strict.begin(), strict.end(), 1);
  }
  if (mode_ == DecodeMode::kStrict || broken_) return strict;
  std::vector<std::uint8_t> typed(static_cast<std::size_t>(n)), both(static_cast<std::size_t>(n));
  bool any_typed = false, any_both = false;
  for (int id = 0; id < n; ++id) {
    typed[std::size_t(id)] = typed_allows(id);
    both[std::size_t(id)] = typed[std::size_t(id)] && strict[std::size_t(id)];
    any_typed |= typed[std::size_t(id)] != 0;
    any_both |= both[std::size_t(id)] != 0;
  }
  if (any_both) return both;
  return any_typed ? typed : strict;
}

}  // namespace needle
