// JSON with Python's semantics: parse (simdjson On-Demand) into a small tree, and write
// bytes identical to Python's `json.dumps(x, separators=(",", ":"))` (ensure_ascii on).
//
// Why Python's: the canonical tools JSON is what the encoder reads, and the reference
// pipeline produced it with json.loads + json.dumps, so token parity needs the same bytes:
// duplicate keys keep their first position and last value, integers keep every digit,
// floats print as Python's repr, non-ASCII is escaped as \uXXXX.
//
// Known differences from Python's json.loads, all of them inputs that are not valid
// JSON (RFC 8259) or cannot be UTF-8: the literals NaN / Infinity / -Infinity and lone
// surrogate escapes ("\ud800") are rejected here, while Python accepts them.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "needle/error.hpp"

// Deepest array/object nesting json::parse accepts. The parser and writer recurse once
// per level, so this bounds their stack use (a few hundred bytes a level).
#ifndef NEEDLE_JSON_MAX_DEPTH
#define NEEDLE_JSON_MAX_DEPTH 128
#endif

namespace needle::json {

inline constexpr std::size_t kMaxDepth = NEEDLE_JSON_MAX_DEPTH;

enum class Type : std::uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

// One JSON value. Objects are `keys` and `items` side by side, in first-seen key order.
struct Value {
  Type type = Type::kNull;
  bool boolean = false;
  std::string text;               // kString: the UTF-8 text; kNumber: Python's spelling
  std::vector<Value> items;       // kArray: the elements; kObject: the values
  std::vector<std::string> keys;  // kObject only, parallel to items

  static Value null() { return Value{}; }
  static Value from_bool(bool b) {
    Value v;
    v.type = Type::kBool;
    v.boolean = b;
    return v;
  }
  static Value from_string(std::string s) {
    Value v;
    v.type = Type::kString;
    v.text = std::move(s);
    return v;
  }
  static Value from_int(std::int64_t i);
  static Value from_double(double d);
  static Value array() {
    Value v;
    v.type = Type::kArray;
    return v;
  }
  static Value object() {
    Value v;
    v.type = Type::kObject;
    return v;
  }

  bool is_null() const { return type == Type::kNull; }
  bool is_bool() const { return type == Type::kBool; }
  bool is_number() const { return type == Type::kNumber; }
  bool is_string() const { return type == Type::kString; }
  bool is_array() const { return type == Type::kArray; }
  bool is_object() const { return type == Type::kObject; }

  // Object member lookup (linear: tool objects are small; index large ones yourself).
  const Value* find(std::string_view key) const {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == key) return &items[i];
    }
    return nullptr;
  }
  Value* find(std::string_view key) {
    return const_cast<Value*>(static_cast<const Value&>(*this).find(key));
  }
  // Python's `d[key] = value`: replaces in place if the key exists, else appends.
  void set(std::string_view key, Value value) {
    if (Value* old = find(key)) {
      *old = std::move(value);
      return;
    }
    keys.emplace_back(key);
    items.push_back(std::move(value));
  }
  void push_back(Value value) { items.push_back(std::move(value)); }
};

inline std::string_view type_name(Type t) {
  switch (t) {
    case Type::kNull: return "null";
    case Type::kBool: return "boolean";
    case Type::kNumber: return "number";
    case Type::kString: return "string";
    case Type::kArray: return "array";
    case Type::kObject: return "object";
  }
  return "value";
}

// ---- UTF-8 ------------------------------------------------------------------------------

// Decodes one UTF-8 sequence starting at p (p < end) the way Python's strict decoder
// judges it. Returns the bytes consumed; on an invalid sequence *cp is U+FFFD, `*valid`
// false, and the length is that of the maximal invalid subpart (what errors='replace'
// turns into one U+FFFD).
inline std::size_t decode_utf8(const unsigned char* p, const unsigned char* end,
                               char32_t* cp, bool* valid) {
  const unsigned char b0 = p[0];
  *valid = true;
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  char32_t c = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    c = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    c = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // UTF-16 surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    c = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    *valid = false;
    *cp = 0xFFFD;
    return 1;
  }
  for (std::size_t i = 1; i < len; ++i) {
    const unsigned char lo_i = i == 1 ? lo : 0x80;
    const unsigned char hi_i = i == 1 ? hi : 0xBF;
    if (p + i >= end || p[i] < lo_i || p[i] > hi_i) {
      *valid = false;
      *cp = 0xFFFD;
      return i;
    }
    c = (c << 6) | (p[i] & 0x3F);
  }
  *cp = c;
  return len;
}

// Offset of the first byte that is not valid UTF-8 (Python's UnicodeDecodeError.start),
// or npos when all of `s` is valid.
inline std::size_t find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const begin = p;
  const auto* const end = p + s.size();
  while (p < end) {
    // ASCII fast path, 8 bytes at a time.
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & 0x8080808080808080ull) break;
      p += 8;
    }
    if (p == end) break;
    if (*p < 0x80) {
      ++p;
      continue;
    }
    char32_t cp;
    bool valid;
    const std::size_t n = decode_utf8(p, end, &cp, &valid);
    if (!valid) return static_cast<std::size_t>(p - begin);
    p += n;
  }
  return std::string_view::npos;
}

// ---- writing ----------------------------------------------------------------------------

namespace detail {
inline void append_u_escape(std::string& out, unsigned unit) {
  static constexpr char kHex[] = "0123456789abcdef";  // Python writes lowercase hex
  char buf[6] = {'\\', 'u', kHex[(unit >> 12) & 0xF], kHex[(unit >> 8) & 0xF],
                 kHex[(unit >> 4) & 0xF], kHex[unit & 0xF]};
  out.append(buf, 6);
}

// An ASCII byte that JSON strings must escape (quote, backslash, controls, and DEL which
// Python escapes too), spelled as Python spells it.
inline void append_ascii_escape(std::string& out, unsigned char b) {
  switch (b) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    default: append_u_escape(out, b); break;  // other controls and DEL
  }
}
}  // namespace detail

// Appends `s` as a JSON string literal exactly as Python's json.dumps(ensure_ascii=True)
// writes it. `s` should be UTF-8; each maximal invalid subpart becomes \ufffd, as Python
// would show bytes decoded with errors="replace".
inline void append_string(std::string& out, std::string_view s) {
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  while (p < end) {
    // Copy the longest run that needs no escaping in one go.
    const auto* run = p;
    while (p < end && *p >= 0x20 && *p < 0x7F && *p != '"' && *p != '\\') ++p;
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    if (p == end) break;
    const unsigned char b = *p;
    if (b < 0x80) {
      detail::append_ascii_escape(out, b);
      ++p;
      continue;
    }
    char32_t cp;
    bool valid;
    p += decode_utf8(p, end, &cp, &valid);
    if (cp >= 0x10000) {
      const char32_t v = cp - 0x10000;
      detail::append_u_escape(out, 0xD800 + static_cast<unsigned>(v >> 10));
      detail::append_u_escape(out, 0xDC00 + static_cast<unsigned>(v & 0x3FF));
    } else {
      detail::append_u_escape(out, static_cast<unsigned>(cp));
    }
  }
  out.push_back('"');
}

inline void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

namespace detail {

// The shortest decimal digits that read back as `v` (v finite, > 0), and the decimal
// exponent of the first digit, i.e. v ~= 0.d1d2d3... * 10^(exp10 + 1).
// printf's "%.*e" is correctly rounded (glibc, musl), so for each length we try the
// nearest digit string; when the rounding interval is lopsided (v a power of two) the
// nearest can miss while its neighbour on the other side still reads back, so that one
// is tried too. Among equally short candidates the nearest wins, as in Python's repr.
// std::to_chars(double) would do this, but Emscripten's libc++ lacks it.
inline void shortest_digits(double v, std::string* digits, int* exp10) {
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*e", precision - 1, v);
    const double back = std::strtod(buf, nullptr);
    // buf is "d.ddde[+-]xx": split into digits and exponent.
    std::string d;
    const char* q = buf;
    for (; *q != 'e'; ++q) {
      if (*q != '.') d.push_back(*q);
    }
    int e = std::atoi(q + 1);
    if (back == v) {
      *digits = std::move(d);
      *exp10 = e;
      return;
    }
    // The neighbouring candidate with the same number of digits, on v's other side.
    std::string n = d;
    int ne = e;
    if (back < v) {
      int i = static_cast<int>(n.size()) - 1;
      while (i >= 0 && n[i] == '9') n[i--] = '0';
      if (i >= 0) {
        ++n[i];
      } else {  // 9.99 -> 10.0: one more decade
        n.insert(n.begin(), '1');
        n.pop_back();
        ++ne;
      }
    } else {
      if (n.find_first_not_of('0', 1) == std::string::npos && n[0] == '1') {
        // 1.00 -> 0.999: the grid is finer below a power of ten.
        n.assign(n.size(), '9');
        --ne;
      } else {
        int i = static_cast<int>(n.size()) - 1;
        while (n[i] == '0') n[i--] = '9';
        --n[i];
      }
    }
    std::string text = n.substr(0, 1) + "." + n.substr(1) + "e" + std::to_string(ne);
    if (std::strtod(text.c_str(), nullptr) == v) {
      *digits = std::move(n);
      *exp10 = ne;
      return;
    }
  }
  // Unreachable for finite doubles: 17 significant digits always read back.
  std::snprintf(buf, sizeof buf, "%.16e", v);
  digits->clear();
  const char* q = buf;
  for (; *q != 'e'; ++q) {
    if (*q != '.') digits->push_back(*q);
  }
  *exp10 = std::atoi(q + 1);
}

}  // namespace detail

// Appends `v` as Python's float repr does: shortest round-trip digits, positional
// notation when the exponent is in [-4, 16), else "1e+16" style; integral values keep
// ".0"; infinities and NaN as json.dumps writes them (not valid JSON, but Python's bytes).
inline void append_double(std::string& out, double v) {
  if (v != v) {
    out += "NaN";
    return;
  }
  if (v == std::numeric_limits<double>::infinity()) {
    out += "Infinity";
    return;
  }
  if (v == -std::numeric_limits<double>::infinity()) {
    out += "-Infinity";
    return;
  }
  if (std::signbit(v)) {
    out.push_back('-');
    v = -v;
  }
  if (v == 0) {
    out += "0.0";
    return;
  }
  std::string digits;
  int exp10 = 0;
  detail::shortest_digits(v, &digits, &exp10);
  const int n = static_cast<int>(digits.size());
  const int point = exp10 + 1;  // digits before the decimal point
  if (exp10 < -4 || exp10 >= 16) {
    out.push_back(digits[0]);
    if (n > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    out.push_back(exp10 < 0 ? '-' : '+');
    const int mag = exp10 < 0 ? -exp10 : exp10;
    if (mag < 10) out.push_back('0');  // Python pads the exponent to two digits
    out += std::to_string(mag);
  } else if (point <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-point), '0');
    out += digits;
  } else if (point >= n) {
    out += digits;
    out.append(static_cast<std::size_t>(point - n), '0');
    out += ".0";
  } else {
    out.append(digits, 0, static_cast<std::size_t>(point));
    out.push_back('.');
    out.append(digits, static_cast<std::size_t>(point), std::string::npos);
  }
}

inline Value Value::from_int(std::int64_t i) {
  Value v;
  v.type = Type::kNumber;
  append_int(v.text, i);
  return v;
}

inline Value Value::from_double(double d) {
  Value v;
  v.type = Type::kNumber;
  append_double(v.text, d);
  return v;
}

// Appends `v` compactly, as json.dumps(v, separators=(",", ":")) would.
inline void append(std::string& out, const Value& v) {
  switch (v.type) {
    case Type::kNull: out += "null"; return;
    case Type::kBool: out += v.boolean ? "true" : "false"; return;
    case Type::kNumber: out += v.text; return;
    case Type::kString: append_string(out, v.text); return;
    case Type::kArray:
      out.push_back('[');
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i) out.push_back(',');
        append(out, v.items[i]);
      }
      out.push_back(']');
      return;
    case Type::kObject:
      out.push_back('{');
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i) out.push_back(',');
        append_string(out, v.keys[i]);
        out.push_back(':');
        append(out, v.items[i]);
      }
      out.push_back('}');
      return;
  }
}

inline std::string dump(const Value& v) {
  std::string out;
  append(out, v);
  return out;
}

// ---- parsing ----------------------------------------------------------------------------

namespace detail {

// Checks the RFC 8259 number grammar (simdjson's On-Demand front end does not for
// integers it is not asked to convert) and says whether it is an integer.
inline bool valid_number(std::string_view t, bool* is_integer) {
  std::size_t i = 0;
  const auto digit = [&](std::size_t k) { return k < t.size() && t[k] >= '0' && t[k] <= '9'; };
  if (i < t.size() && t[i] == '-') ++i;
  if (!digit(i)) return false;
  if (t[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  *is_integer = true;
  if (i < t.size() && t[i] == '.') {
    *is_integer = false;
    ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    *is_integer = false;
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == t.size();
}

// Where a stage-1 failure (raised before any value is visited) happened: the first raw
// control character inside a string, or the opening quote of an unterminated string.
inline std::size_t locate_string_error(std::string_view s) {
  bool in_string = false;
  std::size_t open = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (!in_string) {
      if (c == '"') {
        in_string = true;
        open = i;
      }
    } else if (c == '\\') {
      ++i;
    } else if (c == '"') {
      in_string = false;
    } else if (c < 0x20) {
      return i;
    }
  }
  return in_string ? open : s.size();
}

inline std::string_view raw_token(simdjson::ondemand::value& v) { return v.raw_json_token(); }
inline std::string_view raw_token(simdjson::ondemand::document& d) {
  std::string_view s;
  if (d.raw_json_token().get(s) != simdjson::SUCCESS) return {};
  return s;
}

// Where brackets stop balancing, for simdjson's "ended early" error which has no
// location: a closer with no opener, content after the top-level container, or the end
// of the input while a container is still open.
inline std::size_t locate_unbalanced(std::string_view s) {
  std::size_t depth = 0;
  bool in_string = false, closed_top = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if (closed_top) return i;
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (depth == 0) return i;
      if (--depth == 0) closed_top = true;
    }
  }
  return s.size();
}

class Parser {
 public:
  Parser(std::string_view text, std::size_t max_depth, ErrorCode code)
      : text_(text), base_(text.data()), max_depth_(max_depth), code_(code) {}

  // Fills `out` from a document or value (both expose the same getters).
  template <class Node>
  Status parse(Node& node, std::size_t depth, Value& out) {
    simdjson::ondemand::json_type type;
    if (auto e = node.type().get(type)) return fail(node, e, "expected a value");
    switch (type) {
      case simdjson::ondemand::json_type::array: return parse_array(node, depth, out);
      case simdjson::ondemand::json_type::object: return parse_object(node, depth, out);
      case simdjson::ondemand::json_type::string: {
        std::string_view s;
        if (auto e = node.get_string().get(s)) return fail(node, e, "bad string");
        out.type = Type::kString;
        out.text.assign(s);
        return {};
      }
      case simdjson::ondemand::json_type::boolean: {
        bool b;
        if (auto e = node.get_bool().get(b)) return fail(node, e, "bad literal");
        out.type = Type::kBool;
        out.boolean = b;
        return {};
      }
      case simdjson::ondemand::json_type::null: {
        bool is_null = false;
        if (auto e = node.is_null().get(is_null); e || !is_null) {
          return fail(node, e ? e : simdjson::N_ATOM_ERROR, "bad literal");
        }
        out.type = Type::kNull;
        return {};
      }
      case simdjson::ondemand::json_type::number: return parse_number(node, out);
    }
    return fail(node, simdjson::INCORRECT_TYPE, "expected a value");
  }

  // Offset in the input of the node's first byte, when simdjson can say.
  template <class Node>
  std::size_t offset_of(Node& node) {
    const char* loc = nullptr;
    if (node.current_location().get(loc) == simdjson::SUCCESS && loc >= base_) {
      last_offset_ = static_cast<std::size_t>(loc - base_);
    }
    return last_offset_;
  }

  template <class Node>
  Error fail(Node& node, simdjson::error_code e, std::string_view what) {
    const std::size_t at = e == simdjson::INCOMPLETE_ARRAY_OR_OBJECT ? locate_unbalanced(text_)
                                                                      : offset_of(node);
    std::string msg = "invalid JSON at byte " + std::to_string(at) + ": " + std::string(what);
    if (e != simdjson::SUCCESS) {
      msg += " (";
      msg += simdjson::error_message(e);
      msg += ")";
    }
    return Error{code_, std::move(msg)};
  }

 private:
  template <class Node>
  Status parse_number(Node& node, Value& out) {
    offset_of(node);
    std::string_view raw = raw_token(node);
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' ||
                            raw.back() == '\r')) {
      raw.remove_suffix(1);
    }
    bool is_integer = false;
    if (!valid_number(raw, &is_integer)) {
      return fail(node, simdjson::NUMBER_ERROR, "malformed number '" + std::string(raw) + "'");
    }
    out.type = Type::kNumber;
    if (is_integer) {
      // Python ints are exact at any size; "-0" is int 0.
      out.text = raw == "-0" ? std::string("0") : std::string(raw);
      return {};
    }
    double d;
    if (auto e = node.get_double().get(d)) {
      // simdjson refuses out-of-range exponents; Python's float() turns them into
      // +-inf (json.dumps then writes Infinity) or 0.0. strtod agrees with Python here.
      if (e != simdjson::NUMBER_ERROR) return fail(node, e, "bad number");
      d = std::strtod(std::string(raw).c_str(), nullptr);
    }
    out.text.clear();
    append_double(out.text, d);
    return {};
  }

  template <class Node>
  Status parse_array(Node& node, std::size_t depth, Value& out) {
    if (depth >= max_depth_) return too_deep(node);
    simdjson::ondemand::array arr;
    if (auto e = node.get_array().get(arr)) return fail(node, e, "bad array");
    out.type = Type::kArray;
    for (auto element : arr) {
      simdjson::ondemand::value child;
      if (auto e = std::move(element).get(child)) return fail(node, e, "bad array element");
      out.items.emplace_back();
      NEEDLE_RETURN_IF_ERROR(parse(child, depth + 1, out.items.back()));
    }
    return {};
  }

  template <class Node>
  Status parse_object(Node& node, std::size_t depth, Value& out) {
    if (depth >= max_depth_) return too_deep(node);
    simdjson::ondemand::object obj;
    if (auto e = node.get_object().get(obj)) return fail(node, e, "bad object");
    out.type = Type::kObject;
    // Duplicate keys keep their first slot and take the last value, like a Python dict.
    // Small objects are searched linearly; large ones get an index so this stays linear.
    // The index owns its keys: views into `out.keys` would dangle when it reallocates.
    constexpr std::size_t kIndexFrom = 16;
    std::unordered_map<std::string, std::size_t> index;
    for (auto field_result : obj) {
      simdjson::ondemand::field field;
      if (auto e = std::move(field_result).get(field)) return fail(node, e, "bad object member");
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return fail(node, e, "bad object key");
      std::size_t slot = out.keys.size();
      if (out.keys.size() < kIndexFrom) {
        for (std::size_t i = 0; i < out.keys.size(); ++i) {
          if (out.keys[i] == key) slot = i;
        }
      } else {
        if (index.empty()) {
          for (std::size_t i = 0; i < out.keys.size(); ++i) index.emplace(out.keys[i], i);
        }
        if (auto it = index.find(std::string(key)); it != index.end()) slot = it->second;
      }
      if (slot == out.keys.size()) {
        out.keys.emplace_back(key);
        out.items.emplace_back();
        if (!index.empty()) index.emplace(out.keys.back(), slot);
      } else {
        out.items[slot] = Value{};
      }
      simdjson::ondemand::value child = field.value();
      NEEDLE_RETURN_IF_ERROR(parse(child, depth + 1, out.items[slot]));
    }
    return {};
  }

  template <class Node>
  Error too_deep(Node& node) {
    return fail(node, simdjson::SUCCESS,
                "nested deeper than " + std::to_string(max_depth_) + " arrays/objects");
  }

  std::string_view text_;  // the padded copy, without its padding
  const char* base_;
  std::size_t max_depth_;
  ErrorCode code_;
  std::size_t last_offset_ = 0;
};

}  // namespace detail

// Parses `text` (UTF-8 JSON) as Python's json.loads would, into a Value.
// Errors carry `code` and name the byte offset of the problem.
inline Result<Value> parse(std::string_view text, ErrorCode code = ErrorCode::kInvalidArgument,
                           std::size_t max_depth = kMaxDepth) {
  if (const std::size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    return Error{code, "invalid UTF-8 at byte " + std::to_string(bad)};
  }
  // On-Demand reads up to SIMDJSON_PADDING bytes past the end: it needs its own copy.
  const simdjson::padded_string padded(text);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (auto e = parser.iterate(padded).get(doc)) {
    if (e == simdjson::EMPTY) return Error{code, "invalid JSON: the input is empty"};
    const std::size_t at = detail::locate_string_error(text);
    return Error{code, "invalid JSON at byte " + std::to_string(at) + " (" +
                           std::string(simdjson::error_message(e)) + ")"};
  }
  const char* const text_end = padded.data() + text.size();
  const char* trailing = nullptr;
  // A scalar document's token runs, trailing spaces included, up to the next token:
  // it must reach the end. (simdjson checks this for some scalar getters, not all.)
  simdjson::ondemand::json_type root_type;
  if (doc.type().get(root_type) == simdjson::SUCCESS &&
      root_type != simdjson::ondemand::json_type::array &&
      root_type != simdjson::ondemand::json_type::object) {
    const std::string_view raw = detail::raw_token(doc);
    if (raw.data() != nullptr && raw.data() + raw.size() != text_end) trailing = raw.data() + raw.size();
  }
  detail::Parser p(std::string_view(padded.data(), text.size()), max_depth, code);
  Value out;
  if (trailing == nullptr) NEEDLE_RETURN_IF_ERROR(p.parse(doc, 0, out));
  // A container is done when simdjson has no location left to report.
  if ((out.is_array() || out.is_object()) &&
      doc.current_location().get(trailing) != simdjson::SUCCESS) {
    trailing = nullptr;
  }
  if (trailing != nullptr) {
    return Error{code, "invalid JSON at byte " + std::to_string(trailing - padded.data()) +
                           ": unexpected content after the top-level value"};
  }
  return out;
}

}  // namespace needle::json
