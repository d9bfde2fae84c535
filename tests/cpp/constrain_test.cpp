// Constrained decoding (core/needle/constrain.hpp).
//
// Strict mode is checked against an independent oracle written here: a literal port of
// upstream's Python (code points, the whole buffer kept, every token tested for every
// mask), on hand-worked masks and on thousands of guided and random decoding steps with
// the real 8192-piece test tokenizer. Typed mode is checked for what it promises: every
// output is a valid answer (checked by a validator written here, not by calls.hpp), its
// legal set is a subset of strict's, it picks strict's token whenever that is legal, it
// accepts every valid answer (so no valid strict output is unreachable), and it closes
// the output at the length cap.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "needle/calls.hpp"
#include "needle/constrain.hpp"
#include "needle/needle.hpp"
#include "test_util.hpp"

namespace needle {
namespace {

using constrain_detail::ToolSchemas;
using constrain_detail::TypedGrammar;
using constrain_detail::TypedState;

const std::string kTokenizerPath = NEEDLE_TESTDATA_DIR "/tokenizer/needle_spm.model";
const std::string kModelPath = NEEDLE_TESTDATA_DIR "/tiny.safetensors";
const std::string kFixture = NEEDLE_FIXTURES_DIR "/needle_real_e2e_560.json";

const Tokenizer& real_tokenizer() {
  static const Tokenizer tok = [] {
    auto t = Tokenizer::load(test::read_bytes(kTokenizerPath));
    if (!t.ok()) ADD_FAILURE() << t.error().message;
    return t.ok() ? std::move(t).value() : Tokenizer{};
  }();
  return tok;
}
const TokenTable& real_table() {
  static const TokenTable table = TokenTable::build(real_tokenizer());
  return table;
}

CanonicalTools canonical(std::string_view tools_json) {
  auto r = canonicalize_tools(tools_json);
  if (!r.ok()) {
    ADD_FAILURE() << r.error().message << " in " << tools_json;
    return {};
  }
  return std::move(r).value();
}

// The fixture's tool lists (distinct) with one query each.
struct Example {
  std::string query, tools;
};
const std::vector<Example>& fixture_examples() {
  static const std::vector<Example> examples = [] {
    std::vector<Example> out;
    auto doc = json::parse(test::read_text(kFixture));
    if (!doc.ok()) {
      ADD_FAILURE() << "cannot read " << kFixture << ": " << doc.error().message;
      return out;
    }
    std::set<std::string> seen;
    for (const json::Value& e : doc->find("examples")->items) {
      const std::string& tools = e.find("tools")->text;
      if (seen.insert(tools).second) out.push_back({e.find("query")->text, tools});
    }
    return out;
  }();
  return examples;
}

// ---- the upstream oracle (code points, as Python sees them) -----------------------------

std::u32string to_u32(std::string_view s) {
  std::u32string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const int n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    char32_t c = n == 1 ? b : b & (0x7F >> n);
    for (int k = 1; k < n && i + std::size_t(k) < s.size(); ++k)
      c = (c << 6) | (static_cast<unsigned char>(s[i + std::size_t(k)]) & 0x3F);
    out.push_back(c);
    i += std::size_t(n);
  }
  return out;
}

// build_token_strings: control/unknown "", byte pieces chr(0xNN), else ▁ -> ' '.
std::vector<std::u32string> upstream_token_strings(const Tokenizer& tok) {
  std::vector<std::u32string> out;
  for (int id = 0; id < tok.vocab_size(); ++id) {
    const PieceType type = tok.piece_type(id);
    const std::string piece(tok.piece(id));
    if (type == PieceType::kControl || type == PieceType::kUnknown) {
      out.emplace_back();
    } else if (type == PieceType::kByte) {
      out.push_back(std::u32string(1, char32_t(std::stoi(piece.substr(3, 2), nullptr, 16))));
    } else {
      std::u32string s = to_u32(piece);
      std::replace(s.begin(), s.end(), char32_t(0x2581), char32_t(' '));
      out.push_back(s);
    }
  }
  return out;
}

struct OracleTrie {
  std::set<std::u32string> words, prefixes;
  void insert(const std::u32string& w) {
    for (std::size_t i = 0; i <= w.size(); ++i) prefixes.insert(w.substr(0, i));
    words.insert(w);
  }
  // _check_token_valid from the node of `at`.
  bool valid(const std::u32string& token, std::u32string at) const {
    for (const char32_t c : token) {
      if (c == U'"') return words.count(at) != 0;
      at.push_back(c);
      if (prefixes.count(at) == 0) return false;
    }
    return true;
  }
};

struct OracleTools {  // ToolConstraints
  OracleTrie names;
  std::map<std::u32string, OracleTrie> params;
  explicit OracleTools(std::string_view tools_json) {
    auto doc = json::parse(tools_json);
    if (!doc.ok() || !doc->is_array()) return;
    for (const json::Value& tool : doc->items) {
      if (!tool.is_object()) continue;
      const json::Value* name = tool.find("name");
      if (name == nullptr || !name->is_string() || name->text.empty()) continue;
      const std::u32string n = to_u32(name->text);
      names.insert(n);
      const json::Value empty = json::Value::object();
      const json::Value* p = tool.find("parameters");
      if (p == nullptr) p = &empty;
      if (!p->is_object()) continue;
      const json::Value* props = p->find("properties");
      if (props == nullptr) props = p;
      OracleTrie trie;
      if (props->is_object()) {
        for (const std::string& k : props->keys)
          if (!k.empty()) trie.insert(to_u32(k));
      } else if (props->is_array()) {
        for (const json::Value& k : props->items)
          if (k.is_string() && !k.text.empty()) trie.insert(to_u32(k.text));
      } else if (props->is_string()) {
        for (const char32_t c : to_u32(props->text)) trie.insert(std::u32string(1, c));
      }
      params[n] = trie;
    }
  }
};

// JsonStateMachine, line by line.
struct OracleMachine {
  enum State { kFree, kInName, kInArgKey } state = kFree;
  std::u32string buffer, constrained_buf, current_function;
  bool in_arguments = false, in_string = false, prev_char_escape = false;
  int arguments_depth = 0, nesting_depth = 0;

  bool ends_with(std::u32string_view s) const {
    return buffer.size() >= s.size() && std::u32string_view(buffer).substr(buffer.size() - s.size()) == s;
  }
  void feed(const std::u32string& text) {
    for (const char32_t ch : text) feed_char(ch);
  }
  void feed_char(char32_t ch) {
    if (state == kInName || state == kInArgKey) {
      if (ch == U'"') {
        if (state == kInName) current_function = constrained_buf;
        constrained_buf.clear();
        state = kFree;
      } else {
        constrained_buf.push_back(ch);
      }
      buffer.push_back(ch);
      return;
    }
    buffer.push_back(ch);
    if (in_string) {
      if (prev_char_escape) {
        prev_char_escape = false;
        return;
      }
      if (ch == U'\\') {
        prev_char_escape = true;
        return;
      }
      if (ch == U'"') in_string = false;
      return;
    }
    if (ch == U'{' || ch == U'[') {
      nesting_depth += 1;
    } else if (ch == U'}' || ch == U']') {
      nesting_depth = std::max(0, nesting_depth - 1);
      if (ch == U'}' && in_arguments && nesting_depth < arguments_depth) in_arguments = false;
      return;
    }
    if (ends_with(U"\"name\":\"") && !in_arguments) {
      state = kInName;
      constrained_buf.clear();
      return;
    }
    if (ends_with(U"\"arguments\":{")) {
      in_arguments = true;
      arguments_depth = nesting_depth;
      return;
    }
    if (in_arguments && nesting_depth == arguments_depth && buffer.size() >= 2 &&
        (ends_with(U"{\"") || ends_with(U",\""))) {
      state = kInArgKey;
      constrained_buf.clear();
      return;
    }
    if (ch == U'"' && is_value_quote()) in_string = true;
  }
  bool is_value_quote() const {
    for (std::size_t j = buffer.size() - 1; j-- > 0;) {
      const char32_t c = buffer[j];
      if (c == U' ' || c == U'\t' || c == U'\n' || c == U'\r') continue;
      return c == U':';
    }
    return false;
  }
};

// constrain_logits + argmax: the mask (empty = no mask) and the pick.
struct OracleStep {
  std::vector<std::uint8_t> mask;  // empty: unconstrained
  std::int32_t pick = 0;
};
OracleStep oracle_step(const OracleMachine& m, const OracleTools& tools,
                       const std::vector<std::u32string>& strings, std::span<const float> logits) {
  OracleStep r;
  const auto argmax = [&](const std::vector<std::uint8_t>* mask) {
    std::int32_t best = -1;
    for (std::size_t i = 0; i < logits.size(); ++i)
      if ((mask == nullptr || (*mask)[i]) && (best < 0 || logits[i] > logits[std::size_t(best)]))
        best = std::int32_t(i);
    return best;
  };
  r.pick = argmax(nullptr);
  const OracleTrie* trie = nullptr;
  if (m.state == OracleMachine::kInName) trie = &tools.names;
  if (m.state == OracleMachine::kInArgKey) {
    const auto it = tools.params.find(m.current_function);
    if (it != tools.params.end()) trie = &it->second;
  }
  if (trie == nullptr || trie->prefixes.count(m.constrained_buf) == 0) return r;
  std::vector<std::uint8_t> mask(strings.size());
  bool any = false;
  for (std::size_t id = 0; id < strings.size(); ++id)
    any |= (mask[id] = !strings[id].empty() && trie->valid(strings[id], m.constrained_buf)) != 0;
  if (!any) return r;
  r.mask = std::move(mask);
  r.pick = argmax(&r.mask);
  return r;
}

// ---- an independent validator of answers ----------------------------------------------

// Keys of every object at nesting depth 2 (call objects) and 3 (their arguments), as
// raw spellings, by a scan of the text: json::parse folds duplicate keys.
std::vector<std::vector<std::string>> shallow_object_keys(std::string_view text) {
  std::vector<std::vector<std::string>> out;
  std::vector<char> stack;
  std::vector<std::size_t> slot;  // out index per open object at depth 2 or 3
  bool key_next = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      std::size_t j = i + 1;
      while (j < text.size() && text[j] != '"') j += text[j] == '\\' ? 2 : 1;
      if (key_next && (stack.size() == 2 || stack.size() == 3))
        out[slot.back()].emplace_back(text.substr(i + 1, j - i - 1));
      key_next = false;
      i = j;
      continue;
    }
    if (c == '{' || c == '[') {
      stack.push_back(c);
      if (c == '{' && (stack.size() == 2 || stack.size() == 3)) {
        slot.push_back(out.size());
        out.emplace_back();
      }
    } else if (c == '}' || c == ']') {
      if (c == '}' && (stack.size() == 2 || stack.size() == 3)) slot.pop_back();
      if (!stack.empty()) stack.pop_back();
    }
    if (c == '{' || c == ',') key_next = !stack.empty() && stack.back() == '{';
  }
  return out;
}

// Index of the first whitespace byte outside JSON strings in `text`, or npos.
std::size_t first_space_outside_strings(std::string_view text) {
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      return i;
    }
  }
  return std::string_view::npos;
}

// "" when `text` is a valid answer for `tools`: a compact JSON array of {"name",
// "arguments"} objects naming tools, using only their parameters (once each), the required
// ones present, values of the declared top-level type and in the enum.
std::string answer_problem(std::string_view text, const CanonicalTools& tools) {
  auto doc = json::parse(text);
  if (!doc.ok()) return "not JSON: " + doc.error().message;
  if (!doc->is_array()) return "not an array";
  const std::size_t first = text.find_first_not_of(" \t\n\r"), last = text.find_last_not_of(" \t\n\r");
  if (first_space_outside_strings(text.substr(first, last + 1 - first)) != std::string_view::npos)
    return "not compact: whitespace between tokens";
  for (const auto& keys : shallow_object_keys(text)) {
    std::set<std::string> unique(keys.begin(), keys.end());
    if (unique.size() != keys.size()) return "a key is repeated";
  }
  for (const json::Value& call : doc->items) {
    if (!call.is_object() || call.keys != std::vector<std::string>{"name", "arguments"})
      return "a call is not {\"name\", \"arguments\"}";
    const json::Value& name = call.items[0];
    const json::Value& args = call.items[1];
    const Tool* tool = nullptr;
    for (const Tool& t : tools.tools)
      if (name.is_string() && t.name == name.text) tool = &t;
    if (tool == nullptr) return "unknown tool";
    if (!args.is_object()) return "arguments not an object";
    for (std::size_t k = 0; k < args.keys.size(); ++k) {
      const ToolParam* p = nullptr;
      for (const ToolParam& q : tool->params)
        if (q.name == args.keys[k]) p = &q;
      if (p == nullptr) return "unknown argument " + args.keys[k];
      const json::Value& v = args.items[k];
      auto schema = json::parse(p->schema_json);
      const json::Value* type = schema->is_object() ? schema->find("type") : nullptr;
      const json::Value* options = schema->is_object() ? schema->find("enum") : nullptr;
      if (options != nullptr && options->is_array() && !options->items.empty()) {
        bool found = false;
        for (const json::Value& o : options->items) found |= json::dump(o) == json::dump(v);
        if (!found) return p->name + " not in its enum";
        continue;
      }
      if (type != nullptr && type->is_array()) continue;  // unions: not checked here
      const std::string& t = p->type;
      const bool integer = v.is_number() && v.text.find_first_of(".eEIN") == std::string::npos;
      const bool ok = t.empty() || (t == "string" && v.is_string()) ||
                      (t == "number" && v.is_number()) || (t == "integer" && integer) ||
                      (t == "boolean" && v.is_bool()) || (t == "null" && v.is_null()) ||
                      (t == "array" && v.is_array()) || (t == "object" && v.is_object());
      if (!ok) return p->name + " is not of type " + t;
    }
    for (const ToolParam& p : tool->params)
      if (p.required && args.find(p.name) == nullptr) return "missing " + p.name;
  }
  return "";
}

// ---- random tool lists and answers --------------------------------------------------------

const char* const kParamSchemas[] = {
    R"({"type":"string"})",
    R"({"type":"integer"})",
    R"({"type":"number"})",
    R"({"type":"boolean"})",
    R"({"type":"string","enum":["low","medium","high"]})",
    R"({"type":"integer","enum":[1,2,30]})",
    R"({"type":"array","items":{"type":"string"}})",
    R"({"type":"array","items":{"type":"integer"}})",
    R"({"type":"object","properties":{"a":{"type":"string","required":true},"b":{"type":"integer"}}})",
    R"({"type":"object"})",
    R"({"type":["string","null"]})",
    R"({"description":"anything"})",
    R"({"type":"str"})",
    R"({"type":"null"})",
};
const char* const kToolNames[] = {"get_weather", "getWeather2", "send_email", "SearchWeb",
                                  "book-flight",  "calc",        "set_alarm",  "translateText",
                                  "get_time",     "lookup_location"};
const char* const kParamNames[] = {"location", "unit", "days",  "query", "to",   "subject",
                                   "body",     "count", "price", "on",    "tags", "options",
                                   "ids",      "mode",  "note",  "loc",
                                   "citt\u00e0", "\u540d\u524d", "na\u00efve_key"};

std::string random_tools_json(std::mt19937& rng) {
  std::vector<int> names(std::size(kToolNames));
  for (std::size_t i = 0; i < names.size(); ++i) names[i] = int(i);
  std::shuffle(names.begin(), names.end(), rng);
  const int n_tools = 1 + int(rng() % 4);
  std::string out = "[";
  for (int t = 0; t < n_tools; ++t) {
    std::vector<int> params(std::size(kParamNames));
    for (std::size_t i = 0; i < params.size(); ++i) params[i] = int(i);
    std::shuffle(params.begin(), params.end(), rng);
    const int n_params = int(rng() % 6);
    const bool flat = rng() % 2 == 0;
    std::string props, required;
    for (int p = 0; p < n_params; ++p) {
      std::string schema = kParamSchemas[rng() % std::size(kParamSchemas)];
      const bool req = rng() % 2 == 0;
      if (flat) schema.insert(schema.size() - 1, std::string(",\"required\":") + (req ? "true" : "false"));
      if (!props.empty()) props += ",";
      props += "\"" + std::string(kParamNames[params[std::size_t(p)]]) + "\":" + schema;
      if (req && !flat) required += std::string(required.empty() ? "" : ",") + "\"" + kParamNames[params[std::size_t(p)]] + "\"";
    }
    if (t) out += ",";
    const std::string name = "\"" + std::string(kToolNames[names[std::size_t(t)]]) + "\"";
    if (flat) {
      out += "{\"name\":" + name + ",\"description\":\"d\",\"parameters\":{" + props + "}}";
    } else {
      out += "{\"type\":\"function\",\"function\":{\"name\":" + name +
             ",\"parameters\":{\"type\":\"object\",\"properties\":{" + props + "},\"required\":[" +
             required + "]}}}";
    }
  }
  return out + "]";
}

// A random answer, spelled the way a model might: escapes, raw UTF-8, every number form;
// optional whitespace around the array (when `ws`) and between tokens inside it (when
// `interior_ws`, which compact JSON, and so typed mode, refuses).
struct AnswerWriter {
  std::mt19937& rng;
  bool ws;
  std::string out;
  bool interior_ws = false;

  void add_space(bool wanted) {
    static const char* const kSpaces[] = {" ", "\n", "\t", "  ", "\r\n"};
    if (wanted && rng() % 3 == 0) out += kSpaces[rng() % std::size(kSpaces)];
  }
  void space() { add_space(interior_ws); }
  void string_value() {
    static const char* const kStrings[] = {
        "Paris", "", "New York", "a\\\"b", "line\\nbreak", "tab\\t", "\\u00e9t\\u00E9",
        "\\ud83d\\ude00", "caf\xC3\xA9", "\xE6\x97\xA5\xE6\x9C\xAC", "\xF0\x9F\x8E\x89", "\\/\\\\",
        "{\\\"name\\\":\\\"x\\\"}", "[1,2]", "a,b:c", "a{b", "x]", "(:["};
    out += '"';
    out += kStrings[rng() % std::size(kStrings)];
    out += '"';
  }
  void number(bool integer) {
    static const char* const kInts[] = {"0", "7", "-12", "42", "123456789012345678901234567890"};
    static const char* const kNums[] = {"3.14", "-0.5e10", "1E+2", "0.0", "2e-3", "-0"};
    out += integer || rng() % 2 ? kInts[rng() % std::size(kInts)] : kNums[rng() % std::size(kNums)];
  }
  void any_object(int depth) {
    out += '{';
    for (int i = 0, n = int(rng() % 3); i < n; ++i) {
      if (i) out += ',';
      space();
      out += "\"k" + std::to_string(i) + "\"";
      space();
      out += ':';
      space();
      any_value(depth + 1);
    }
    out += '}';
  }
  void any_value(int depth) {
    switch (rng() % (depth > 2 ? 4 : 6)) {
      case 0: string_value(); break;
      case 1: number(false); break;
      case 2: out += rng() % 2 ? "true" : "false"; break;
      case 3: out += "null"; break;
      case 4:
        out += '[';
        for (int i = 0, n = int(rng() % 3); i < n; ++i) {
          if (i) out += ',';
          space();
          any_value(depth + 1);
          space();
        }
        out += ']';
        break;
      default: any_object(depth);
    }
  }
  void value(const json::Value& schema) {
    if (const json::Value* e = schema.find("enum")) {
      out += json::dump(e->items[rng() % e->items.size()]);
      return;
    }
    const json::Value* type = schema.find("type");
    std::string t = type == nullptr ? "" : type->is_string() ? type->text : type->is_array() ? "string|null" : "";
    if (t == "string|null") t = rng() % 2 ? "string" : "null";
    if (t == "string" || t == "str") {
      string_value();
    } else if (t == "integer" || t == "number") {
      number(t == "integer");
    } else if (t == "boolean") {
      out += rng() % 2 ? "true" : "false";
    } else if (t == "null") {
      out += "null";
    } else if (t == "array") {
      out += '[';
      space();
      for (int i = 0, n = int(rng() % 3); i < n; ++i) {
        if (i) out += ',';
        space();
        if (const json::Value* items = schema.find("items")) {
          value(*items);
        } else {
          any_value(1);
        }
        space();
      }
      out += ']';
    } else if (t == "object" && schema.find("properties") != nullptr) {
      object(*schema.find("properties"), schema.find("required"));
    } else if (t == "object") {
      any_object(1);
    } else {
      any_value(0);
    }
  }
  // Required keys always, others by chance, in a random order.
  void object(const json::Value& props, const json::Value* required) {
    std::vector<std::size_t> keys;
    for (std::size_t k = 0; k < props.keys.size(); ++k) {
      const json::Value* own = props.items[k].find("required");
      bool req = own != nullptr && own->is_bool() && own->boolean;
      if (required != nullptr)
        for (const json::Value& r : required->items) req |= r.text == props.keys[k];
      if (req || rng() % 2) keys.push_back(k);
    }
    std::shuffle(keys.begin(), keys.end(), rng);
    out += '{';
    space();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i) {
        out += ',';
        space();
      }
      out += json::dump(json::Value::from_string(props.keys[keys[i]]));
      space();
      out += ':';
      space();
      value(props.items[keys[i]]);
      space();
    }
    out += '}';
  }
  void answer(const CanonicalTools& tools) {
    add_space(ws);
    out += '[';
    space();
    const int n = tools.tools.empty() ? 0 : int(rng() % 3);
    for (int i = 0; i < n; ++i) {
      if (i) {
        out += ',';
        space();
      }
      const Tool& tool = tools.tools[rng() % tools.tools.size()];
      out += '{';
      space();
      out += "\"name\"";
      space();
      out += ':';
      space();
      out += "\"" + tool.name + "\"";
      space();
      out += ',';
      space();
      out += "\"arguments\"";
      space();
      out += ':';
      space();
      json::Value props = json::Value::object();
      for (const ToolParam& p : tool.params) props.set(p.name, *json::parse(p.schema_json));
      object(props, nullptr);
      space();
      out += '}';
      space();
    }
    out += ']';
    add_space(ws);
  }
};

// A plausible target answer for guiding logits, sometimes with a misspelled name or key.
std::string guide_target(const CanonicalTools& tools, std::mt19937& rng) {
  AnswerWriter w{rng, false, {}};
  w.answer(tools);
  std::string s = std::move(w.out);
  if (rng() % 3 == 0 && s.size() > 12) {  // a typo somewhere after `[{"name":"`
    const std::size_t at = 10 + rng() % (s.size() - 12);
    if (std::isalpha(static_cast<unsigned char>(s[at]))) s[at] = char('a' + rng() % 26);
  }
  return s;
}

// Logits as a deterministic function of (seed, step, text so far): noise, plus a bonus
// for tokens that continue `target` while the text still follows it, plus <tool_call>
// first and EOS at the end like the real model.
struct Guide {
  std::string target;
  float noise = 1;
  std::uint64_t seed = 0;

  void fill(const TokenTable& t, std::string_view text, int step, std::vector<float>& logits) const {
    // Uniform noise from splitmix64: Gaussian draws for 8192 logits a step dominate the
    // test's run time otherwise.
    std::uint64_t state = seed * 1000003u + std::uint64_t(step) * 0x9E3779B97F4A7C15u;
    logits.resize(std::size_t(t.vocab_size()));
    for (float& x : logits) {
      std::uint64_t z = (state += 0x9E3779B97F4A7C15u);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
      z ^= z >> 31;
      x = noise * 3.4f * (float(z >> 40) / float(1u << 24) - 0.5f);  // about noise's spread
    }
    if (step == 0) logits[std::size_t(t.tool_call_id())] += 12;
    if (target.compare(0, text.size(), text) != 0 || text.size() > target.size()) return;
    const std::string_view rest = std::string_view(target).substr(text.size());
    if (rest.empty()) {
      logits[std::size_t(t.eos_id())] += 12;
      return;
    }
    for (const std::int32_t id : t.starting_with(static_cast<std::uint8_t>(rest[0]))) {
      const std::string_view s = t.text(id);
      if (rest.substr(0, s.size()) == s) logits[std::size_t(id)] += 6.0f + float(s.size());
    }
  }
};

struct Decoded {  // one guided generation
  std::vector<std::int32_t> ids;
  bool eos = false;
  std::string text;  // raw concatenation, without the leading <tool_call>
};

template <class Hook>
Decoded run_guided(const TokenTable& t, const ToolConstraints& tc, DecodeMode mode, const Guide& g,
               int cap, int budget, Hook&& hook) {
  Decoded r;
  Constrainer c(t, tc, mode, budget);
  std::vector<float> logits;
  for (int step = 0; step < cap; ++step) {
    g.fill(t, r.text, step, logits);
    const std::int32_t id = c.pick(logits);
    hook(c, logits, id);
    if (id == t.eos_id()) {
      r.eos = true;
      break;
    }
    r.ids.push_back(id);
    c.accept(id);
    if (!(step == 0 && id == t.tool_call_id())) r.text += t.text(id);
  }
  return r;
}
Decoded run_guided(const TokenTable& t, const ToolConstraints& tc, DecodeMode mode, const Guide& g,
               int cap, int budget) {
  return run_guided(t, tc, mode, g, cap, budget, [](const Constrainer&, const auto&, std::int32_t) {});
}

std::vector<std::string> tool_lists(int generated, std::uint32_t seed) {
  std::vector<std::string> out;
  for (const Example& e : fixture_examples()) out.push_back(e.tools);
  std::mt19937 rng(seed);
  for (int i = 0; i < generated; ++i) out.push_back(random_tools_json(rng));
  return out;
}

std::set<std::int32_t> allowed(const Constrainer& c) {
  std::set<std::int32_t> out;
  const auto m = c.mask();
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i]) out.insert(std::int32_t(i));
  return out;
}

// ---- TokenTable -----------------------------------------------------------------------------

TEST(TokenTable, StrictTextIsUpstreamsAndTextIsTheOutputBytes) {
  // A vocab.txt with the meta pieces, the 256 byte pieces and a few normal pieces.
  std::string vocab = "<pad>\t0\n</s>\t0\n<s>\t0\n<unk>\t0\n<tool_call>\t0\n<tools>\t0\n";
  for (int b = 0; b < 256; ++b) {
    char piece[8];
    std::snprintf(piece, sizeof piece, "<0x%02X>", b);
    vocab += std::string(piece) + "\t0\n";
  }
  vocab += "\xE2\x96\x81get\t-1\n\":\"\t-2\nA\t-3\n\xE2\x96\x81\xE2\x96\x81x\xE2\x96\x81\t-4\n";
  auto tok = Tokenizer::from_vocab_text(vocab);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const TokenTable t = TokenTable::build(*tok);
  ASSERT_EQ(t.vocab_size(), 266);
  EXPECT_EQ(t.eos_id(), 1);
  EXPECT_EQ(t.tool_call_id(), 4);
  for (int id : {0, 1, 2, 3}) {
    EXPECT_EQ(t.strict_text(id), "") << id;
    EXPECT_EQ(t.text(id), "") << id;
  }
  EXPECT_EQ(t.strict_text(4), "<tool_call>");
  EXPECT_EQ(t.text(5), "<tools>");
  EXPECT_EQ(t.strict_text(6 + 0x41), "A");                  // <0x41>
  EXPECT_EQ(t.strict_text(6 + 0xC3), "\xC3\x83");           // chr(0xC3) = 'Ã' in UTF-8
  EXPECT_EQ(t.text(6 + 0xC3), "\xC3");                      // the raw byte
  EXPECT_EQ(t.strict_text(6 + 0x0A), "\n");
  EXPECT_EQ(t.strict_text(262), " get");
  EXPECT_EQ(t.strict_text(263), "\":\"");
  EXPECT_EQ(t.strict_text(265), "  x ");
  // First-byte buckets: every non-empty token exactly once, under its first byte.
  std::vector<int> strict_seen(266), seen(266);
  for (int b = 0; b < 256; ++b) {
    std::size_t last_len = SIZE_MAX;
    for (std::int32_t id : t.strict_starting_with(std::uint8_t(b))) {
      EXPECT_EQ(std::uint8_t(t.strict_text(id)[0]), b);
      ++strict_seen[std::size_t(id)];
    }
    for (std::int32_t id : t.starting_with(std::uint8_t(b))) {
      EXPECT_EQ(std::uint8_t(t.text(id)[0]), b);
      EXPECT_LE(t.text(id).size(), last_len) << "longest first";
      last_len = t.text(id).size();
      ++seen[std::size_t(id)];
    }
  }
  for (int id = 0; id < 266; ++id) {
    EXPECT_EQ(strict_seen[std::size_t(id)], t.strict_text(id).empty() ? 0 : 1) << id;
    EXPECT_EQ(seen[std::size_t(id)], t.text(id).empty() ? 0 : 1) << id;
  }
  // Strict texts of byte pieces 0xC0..0xFF (U+00C0..U+00FF) all start with 0xC3; the
  // raw text of only one does.
  EXPECT_EQ(t.strict_starting_with(0xC3).size(), 64u);
  EXPECT_EQ(t.starting_with(0xC3).size(), 1u);
}

TEST(TokenTable, RealTokenizerAgreesWithTheOracleStrings) {
  const auto strings = upstream_token_strings(real_tokenizer());
  const TokenTable& t = real_table();
  ASSERT_EQ(std::size_t(t.vocab_size()), strings.size());
  for (int id = 0; id < t.vocab_size(); ++id)
    ASSERT_EQ(to_u32(t.strict_text(id)), strings[std::size_t(id)]) << "id " << id;
}

// ---- strict: hand-worked masks ----------------------------------------------------------------

// A small vocabulary whose masks are derived by hand below.
const std::vector<std::string> kHandVocab = {
    "", "", "", "", "<tool_call>", "<tools>",                               // 0-5
    "[{\"", "name", "\":\"", "get", "_", "weather", "time", "\",\"",        // 6-13
    "arguments", "\":{\"", "location", "unit", "zone", "Paris", "\"}}]",    // 14-20
    "\"", "loc", "ation\"", "g", "get_weather\"", " get", "get_time", "e",  // 21-28
    "zone\":", "xyz", "t", ":", "{", "}", ",", "]", "[", "get_w", "\"x",    // 29-39
    "c", "f\"}}]", " ", "{\"", "1"};                                        // 40-44
const char* const kHandTools =
    R"([{"name":"get_weather","parameters":{"location":{"type":"string","required":true},)"
    R"("unit":{"type":"string","enum":["c","f"]}}},)"
    R"({"name":"get_time","parameters":{"zone":{"type":"string","required":true}}}])";

std::set<std::int32_t> all_ids(int n) {
  std::set<std::int32_t> s;
  for (int i = 0; i < n; ++i) s.insert(i);
  return s;
}

// pick() is the masked argmax (first index on ties) for random logits.
void expect_pick_is_masked_argmax(Constrainer& c, std::mt19937& rng, int n) {
  const auto m = c.mask();
  std::uniform_int_distribution<int> coarse(0, 3);  // few values: many ties
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<float> logits(static_cast<std::size_t>(n));
    for (float& x : logits) x = float(coarse(rng));
    std::int32_t want = -1;
    for (int i = 0; i < n; ++i)
      if (m[std::size_t(i)] && (want < 0 || logits[std::size_t(i)] > logits[std::size_t(want)])) want = i;
    ASSERT_EQ(c.pick(logits), want);
  }
}

TEST(StrictMask, HandWorkedWeatherExample) {
  const TokenTable t = TokenTable::from_texts(kHandVocab);
  const int n = t.vocab_size();
  const CanonicalTools tools = canonical(kHandTools);
  Constrainer c(t, tools, DecodeMode::kStrict);
  std::mt19937 rng(7);
  const std::set<std::int32_t> quote_first = {8, 13, 15, 20, 21, 39};
  const auto feed = [&](std::initializer_list<std::int32_t> ids) {
    for (std::int32_t id : ids) c.accept(id);
  };
  EXPECT_EQ(allowed(c), all_ids(n)) << "FREE: no mask, EOS included";
  feed({4, 6, 7, 8});  // <tool_call>[{"name":"
  EXPECT_EQ(allowed(c), (std::set<std::int32_t>{9, 24, 25, 27, 38}));
  expect_pick_is_masked_argmax(c, rng, n);
  feed({9});  // get
  EXPECT_EQ(allowed(c), (std::set<std::int32_t>{10}));
  feed({10});  // _
  EXPECT_EQ(allowed(c), (std::set<std::int32_t>{11, 12, 31}));
  expect_pick_is_masked_argmax(c, rng, n);
  feed({11});  // weather: terminal, no children: only a closing quote, rest unchecked
  EXPECT_EQ(allowed(c), quote_first);
  expect_pick_is_masked_argmax(c, rng, n);
  feed({13});  // ","
  EXPECT_EQ(c.strict_state().current_function, "get_weather");
  EXPECT_EQ(allowed(c), all_ids(n));
  feed({14, 15});  // arguments":{"
  EXPECT_EQ(allowed(c), (std::set<std::int32_t>{16, 17, 22}));
  expect_pick_is_masked_argmax(c, rng, n);
  feed({22});  // loc
  EXPECT_EQ(allowed(c), (std::set<std::int32_t>{23}));
  feed({23, 32, 21, 19, 21, 35, 21});  // ation": "Paris" , "
  EXPECT_EQ(allowed(c), (std::set<std::int32_t>{16, 17, 22})) << "strict allows a repeated key";
  feed({17});
  EXPECT_EQ(allowed(c), quote_first);
  expect_pick_is_masked_argmax(c, rng, n);
}

TEST(StrictMask, OffTrieUnknownFunctionAndNestedValuesAreUnmasked) {
  const TokenTable t = TokenTable::from_texts(kHandVocab);
  const int n = t.vocab_size();
  const CanonicalTools tools = canonical(kHandTools);
  {
    Constrainer c(t, tools, DecodeMode::kStrict);
    for (std::int32_t id : {6, 7, 8, 30}) c.accept(id);  // [{"name":"xyz  (forced off the trie)
    EXPECT_EQ(allowed(c), all_ids(n)) << "off the trie: no mask";
    for (std::int32_t id : {13, 14, 15}) c.accept(id);  // ","arguments":{"
    EXPECT_EQ(c.strict_state().current_function, "xyz");
    EXPECT_EQ(allowed(c), all_ids(n)) << "a function without a key trie: no mask";
  }
  {
    Constrainer c(t, tools, DecodeMode::kStrict);
    // [{"name":"get_time","arguments":{"zone":{"  -- a key inside a nested value object
    for (std::int32_t id : {6, 7, 8, 27, 13, 14, 15, 29, 43}) c.accept(id);
    EXPECT_EQ(allowed(c), all_ids(n));
    // }," -- back at the arguments level: a key again
    for (std::int32_t id : {21, 34, 35, 21}) c.accept(id);  // "} , "
    EXPECT_EQ(allowed(c), (std::set<std::int32_t>{18, 29}));
  }
  {
    // A vocabulary where nothing fits the trie: upstream falls back to no mask.
    const TokenTable tiny =
        TokenTable::from_texts(std::vector<std::string>{"", "", "[{\"name\":\"", "x"}, 1, -1);
    Constrainer c(tiny, tools, DecodeMode::kStrict);
    c.accept(2);
    EXPECT_EQ(allowed(c), all_ids(4));
  }
}

TEST(StrictTries, UpstreamReadingOfOddParameterShapes) {
  using constrain_detail::StrictTries;
  const auto keys = [](const StrictTries& s, std::string_view fn) {
    std::set<std::string> out;
    const std::int32_t root = s.param_root_of(fn);
    if (root < 0) return out;
    // Walk every path (tiny tries).
    std::vector<std::pair<std::uint32_t, std::string>> stack{{std::uint32_t(root), ""}};
    while (!stack.empty()) {
      auto [node, prefix] = stack.back();
      stack.pop_back();
      if (s.trie.node(node).value >= 0) out.insert(prefix);
      const auto bytes = s.trie.edge_bytes(node);
      const auto kids = s.trie.edge_children(node);
      for (std::size_t e = 0; e < bytes.size(); ++e) stack.push_back({kids[e], prefix + char(bytes[e])});
    }
    return out;
  };
  const StrictTries s = StrictTries::build(
      R"([{"name":"a","parameters":{"properties":{"type":"string"},"x":{}}},)"  // a param called properties
      R"({"name":"b","parameters":{"properties":["p","",7,"q"]}},)"
      R"({"name":"c","parameters":{"properties":"hé"}},)"
      R"({"name":"d","parameters":[1]},{"name":"","parameters":{"z":{}}},{"parameters":{}},)"
      R"({"name":"e","parameters":{"k1":{}}},{"name":"e","parameters":"not a dict"},)"
      R"({"name":"f","parameters":{"k1":{}}},{"name":"f"},7])");
  EXPECT_EQ(keys(s, "a"), (std::set<std::string>{"type"}));
  EXPECT_EQ(keys(s, "b"), (std::set<std::string>{"p", "q"}));
  EXPECT_EQ(keys(s, "c"), (std::set<std::string>{"h", "\xC3\xA9"}));
  EXPECT_EQ(s.param_root_of("d"), -1);
  EXPECT_EQ(keys(s, "e"), (std::set<std::string>{"k1"})) << "a later non-dict keeps the trie";
  EXPECT_EQ(keys(s, "f"), (std::set<std::string>{})) << "a later missing one is {}";
  EXPECT_EQ(s.param_root_of("g"), -1);
  EXPECT_EQ(s.trie.find(s.names_root, ""), std::int32_t(s.names_root));
  EXPECT_LT(s.trie.node(s.names_root).value, 0) << "empty names are skipped";
  const StrictTries bad = StrictTries::build("{not json");
  EXPECT_EQ(bad.trie.edge_bytes(bad.names_root).size(), 0u);
}

// ---- strict: parity with the oracle on many steps ----------------------------------------------

TEST(StrictParity, MatchesTheUpstreamOracleStepByStep) {
  const TokenTable& t = real_table();
  const auto strings = upstream_token_strings(real_tokenizer());
  std::mt19937 rng(20240611);
  int steps = 0, masked = 0, masked_off_argmax = 0, names = 0, keys = 0;
  const auto lists = tool_lists(150, 99);
  for (std::size_t li = 0; li < lists.size(); ++li) {
    const CanonicalTools tools = canonical(lists[li]);
    const ToolConstraints tc = ToolConstraints::build(tools);
    const OracleTools oracle_tools(tools.json);
    for (int rep = 0; rep < 2; ++rep) {
      Guide g{guide_target(tools, rng), rep == 0 ? 1.5f : 4.0f, li * 7 + std::uint64_t(rep)};
      OracleMachine m;
      std::set<std::string> tool_names;
      for (const Tool& tool : tools.tools) tool_names.insert(tool.name);
      run_guided(t, tc, DecodeMode::kStrict, g, 80, 0,
                 [&](const Constrainer& c, const std::vector<float>& logits, std::int32_t id) {
                   const OracleStep o = oracle_step(m, oracle_tools, strings, logits);
                   ++steps;
                   if (!o.mask.empty()) {
                     ++masked;
                     masked_off_argmax += o.pick != argmax(logits);
                   }
                   ASSERT_EQ(id, o.pick) << "tools " << tools.json << " step " << steps;
                   ASSERT_EQ(int(c.strict_state().state), int(m.state));
                   // Names and keys closed under a mask come from the tries.
                   const auto before = m.state;
                   const std::u32string buf = m.constrained_buf;
                   m.feed(strings[std::size_t(id)]);
                   if (before == OracleMachine::kInName && m.state == OracleMachine::kFree &&
                       !o.mask.empty()) {
                     ++names;
                     EXPECT_TRUE(oracle_tools.names.words.count(m.current_function));
                   }
                   if (before == OracleMachine::kInArgKey && m.state == OracleMachine::kFree &&
                       !o.mask.empty()) {
                     ++keys;
                     EXPECT_TRUE(oracle_tools.params.at(m.current_function).valid(
                         strings[std::size_t(id)], buf));
                   }
                 });
    }
  }
  // The run must have exercised the masks, including the slow path.
  EXPECT_GT(masked, 1000) << steps << " steps";
  EXPECT_GT(masked_off_argmax, 100);
  EXPECT_GT(names, 150);
  EXPECT_GT(keys, 100);
  std::printf("strict parity: %d steps, %d masked (%d off the argmax), %d names, %d keys\n", steps,
              masked, masked_off_argmax, names, keys);
}

// ---- typed: hand-worked masks ------------------------------------------------------------------

TEST(TypedMask, HandWorkedWeatherExample) {
  const TokenTable t = TokenTable::from_texts(kHandVocab);
  const CanonicalTools tools = canonical(kHandTools);
  Constrainer c(t, tools, DecodeMode::kTyped);
  std::mt19937 rng(3);
  const auto feed = [&](std::initializer_list<std::int32_t> ids) {
    for (std::int32_t id : ids) c.accept(id);
  };
  using S = std::set<std::int32_t>;
  EXPECT_EQ(allowed(c), (S{4, 6, 37, 42})) << "<tool_call>, [{\", [, space";
  feed({4});
  EXPECT_EQ(allowed(c), (S{6, 37, 42})) << "<tool_call> only first";
  feed({6});
  EXPECT_EQ(allowed(c), (S{7}));
  feed({7});
  EXPECT_EQ(allowed(c), (S{8, 21}));
  feed({8});  // the name: strict's mask, which the grammar agrees with
  EXPECT_EQ(allowed(c), (S{9, 24, 25, 27, 38}));
  expect_pick_is_masked_argmax(c, rng, t.vocab_size());
  feed({9, 10, 11});  // get_weather: strict allows any '"'-token, typed only the ones a ',' follows
  EXPECT_EQ(allowed(c), (S{13, 21}));
  expect_pick_is_masked_argmax(c, rng, t.vocab_size());
  feed({13});
  EXPECT_EQ(allowed(c), (S{14}));
  feed({14});
  EXPECT_EQ(allowed(c), (S{15, 21}));
  feed({15});
  EXPECT_EQ(allowed(c), (S{16, 17, 22}));
  feed({22});
  EXPECT_EQ(allowed(c), (S{23}));
  feed({23});
  EXPECT_EQ(allowed(c), (S{32})) << "compact JSON: no space (42) before ':'";
  feed({32});  // location is a string
  EXPECT_EQ(allowed(c), (S{8, 13, 15, 20, 21, 39}));
  feed({21});  // inside the string: all text but a closing quote followed by junk, and
                // <tool_call> (4), which only opens the answer
  S in_string;
  for (std::int32_t id = 5; id <= 44; ++id)
    if (id != 8 && id != 15 && id != 29 && id != 39) in_string.insert(id);
  EXPECT_EQ(allowed(c), in_string);
  expect_pick_is_masked_argmax(c, rng, t.vocab_size());
  feed({19, 13});  // Paris","
  EXPECT_EQ(allowed(c), (S{17})) << "location is used: only unit (strict: 16, 17, 22)";
  feed({17});
  EXPECT_EQ(allowed(c), (S{8, 21}));
  feed({8});  // unit's enum
  EXPECT_EQ(allowed(c), (S{40, 41}));
  EXPECT_FALSE(c.complete());
  feed({41});
  EXPECT_TRUE(c.complete());
  EXPECT_EQ(allowed(c), (S{1, 42})) << "complete: EOS or whitespace";
  // The empty answer.
  Constrainer e(t, tools, DecodeMode::kTyped);
  e.accept(37);
  EXPECT_EQ(allowed(e), (S{33, 36, 43}));
  e.accept(36);
  EXPECT_EQ(allowed(e), (S{1, 42}));
}

// Typed keeps strict's mask where the two disagree: strict's key trie has only the raw
// spelling of "città", typed also its \u-escaped one; strict also allows anything after
// a closing quote.
TEST(TypedMask, IntersectsStrictWhereTheirTriesDiffer) {
  const TokenTable t = TokenTable::from_texts(std::vector<std::string>{
      "", "", "", "", "<tool_call>", "<tools>", "[{\"name\":\"a\",\"arguments\":{\"",  // 0-6
      "citt", "\xC3\xA0", "\\u00e0", "\xC3\xA0\"x", "\":\""});                       // 7-11
  const CanonicalTools tools = canonical("[{\"name\":\"a\",\"parameters\":{\"citt\xC3\xA0\":{}}}]");
  Constrainer strict(t, tools, DecodeMode::kStrict), typed(t, tools, DecodeMode::kTyped);
  for (std::int32_t id : {6, 7}) {
    strict.accept(id);
    typed.accept(id);
  }
  EXPECT_EQ(allowed(strict), (std::set<std::int32_t>{8, 10}));
  EXPECT_EQ(allowed(typed), (std::set<std::int32_t>{8}));
  std::vector<float> logits(12, -10.0f);
  logits[8] = 1;   // legal for both
  logits[9] = 5;   // typed's grammar only
  logits[10] = 9;  // strict only (junk after the quote): strict's choice
  EXPECT_EQ(strict.pick(logits), 10);
  EXPECT_EQ(typed.pick(logits), 8);
  // Where strict's mask is empty (no token spells the raw key), the grammar alone rules.
  const TokenTable t2 = TokenTable::from_texts(std::vector<std::string>{
      "", "", "", "", "<tool_call>", "<tools>", "[{\"name\":\"a\",\"arguments\":{\"", "citt",
      "\\u00e0", "x"});
  Constrainer typed2(t2, tools, DecodeMode::kTyped);
  typed2.accept(6);
  typed2.accept(7);
  EXPECT_EQ(allowed(typed2), (std::set<std::int32_t>{8}));
}

// ---- typed: the grammar ------------------------------------------------------------------------

const char* const kWeatherTools =
    R"([{"name":"get_weather","parameters":{"type":"object","properties":{)"
    R"("location":{"type":"string"},"days":{"type":"integer"},)"
    R"("unit":{"type":"string","enum":["celsius","fahrenheit"]},"temp":{"type":"number"},)"
    R"("flags":{"type":"array","items":{"type":"boolean"}},)"
    // Canonicalisation overwrites a property's "required" with its own flag, so a nested
    // required list is lost; Needle's per-property form survives.
    R"("opts":{"type":"object","properties":{"a":{"type":"string","required":true}}},)"
    R"("extra":{"description":"any"}},"required":["location"]}},)"
    R"({"name":"get_time","parameters":{"zone":{"type":"string","required":true},)"
    "\"citt\u00e0\":{\"type\":\"string\"}}}]";

bool grammar_accepts(const TypedGrammar& g, std::string_view text, TypedState* out = nullptr) {
  TypedState st;
  const bool ok = g.feed(st, text);
  if (out) *out = st;
  return ok;
}

// The real tokenizer's user-defined pieces are markup: typed mode refuses them inside a
// value, where strict (values free) allows them, and <tool_call> after the opening.
TEST(TypedMask, MarkupPiecesNeverInsideTheAnswer) {
  const Tokenizer& tok = real_tokenizer();
  const TokenTable& t = real_table();
  const std::int32_t tool_call = tok.find_piece("<tool_call>"), tools_piece = tok.find_piece("<tools>");
  ASSERT_GE(tool_call, 0);
  ASSERT_GE(tools_piece, 0);
  EXPECT_TRUE(t.is_markup(tool_call));
  EXPECT_TRUE(t.is_markup(tools_piece));
  EXPECT_FALSE(t.is_markup(tok.encode("weather").front()));
  const CanonicalTools tools = canonical(kWeatherTools);
  Constrainer typed(t, tools, DecodeMode::kTyped), strict(t, tools, DecodeMode::kStrict);
  EXPECT_TRUE(typed.mask()[std::size_t(tool_call)]) << "the opening <tool_call>";
  std::vector<std::int32_t> ids = {tool_call};
  for (const std::int32_t id : tok.encode(R"([{"name":"get_weather","arguments":{"location":"Par)")) ids.push_back(id);
  for (const std::int32_t id : ids) {
    typed.accept(id);
    strict.accept(id);
  }
  ASSERT_FALSE(typed.broken());
  const auto typed_mask = typed.mask(), strict_mask = strict.mask();
  for (const std::int32_t id : {tool_call, tools_piece}) {
    EXPECT_TRUE(strict_mask[std::size_t(id)]) << id;
    EXPECT_FALSE(typed_mask[std::size_t(id)]) << id;
  }
  EXPECT_TRUE(typed_mask[std::size_t(tok.encode("is").back())]) << "ordinary text stays legal in the value";
}

TEST(TypedGrammar, RejectsExactlyTheOffendingByte) {
  const CanonicalTools tools = canonical(kWeatherTools);
  const ToolSchemas s = ToolSchemas::build(tools);
  const TypedGrammar g(s);
  const std::string args = R"([{"name":"get_weather","arguments":{)";
  const std::string cases[] = {
      R"([{"name":"get_wet)",                     // not a tool
      R"([{"a)",                                  // "name" first
      R"([{"name":"get_time","arguments":{"zone":"x"}},{"name":"get_time","arguments":[)",
      // Compact JSON: whitespace between tokens, at every kind of structural position.
      R"([ )", R"([{ )", R"([{"name" )", R"([{"name": )", R"([{"name":"get_time" )",
      R"([{"name":"get_time", )", R"([{"name":"get_time","arguments" )",
      R"([{"name":"get_time","arguments": )", R"([{"name":"get_time","arguments":{ )",
      args + R"("location" )", args + R"("location": )", args + R"("location":"a" )",
      args + R"("location":"a", )", args + R"("days":1 )", args + R"("flags":[ )",
      args + R"("flags":[true )", args + R"("flags":[true, )", args + "\"location\":\"a\"}\n",
      args + "\"location\":\"a\"}}\t", args + "\"unit\":\"celsius\"\r",
      args + R"("days":")",                       // integer
      args + R"("days":1.)",                      // integer: no fraction
      args + R"("days":01)",                      // leading zero
      args + R"("temp":1.})",                     // no digit after '.'
      args + R"("temp":-})",                      //
      args + R"("temp":1e})",                     //
      args + R"("location":"a","l)",              // repeated key (no unused key starts so)
      args + R"("locx)",                          // unknown key
      args + R"("days":1})",                      // location is required
      args + R"("location":"a\x)",                // bad escape
      args + R"("location":"\udc)",               // lone low surrogate
      args + R"("location":"\ud800x)",            // high surrogate without low
      args + R"("location":"\ud800\u0)",          // not a low surrogate
      args + "\"location\":\"a\t",                // raw control character
      args + "\"location\":\"\xFF",               // not UTF-8
      args + "\"location\":\"\xC3(",              // bad continuation
      args + "\"location\":\"\xE0\x80",           // overlong
      args + "\"location\":\"\xED\xA0",           // a surrogate in UTF-8
      args + R"("unit":"k)",                      // not in the enum
      args + R"("unit":"celsius"x)",              //
      args + R"("flags":[true,1)",                // items are booleans
      args + R"("flags":[tru])",                  //
      args + R"("opts":{})",                      // opts.a is required
      args + R"("opts":{"b)",                     // unknown nested key
      args + R"("location":"a",})",               // trailing comma
      args + R"("location":"a"}},])",             // trailing comma in the array
      R"([]x)",                                   // after the end
      R"([{"name":"get_time","arguments":{"zone":"z"}}]])",
      R"(x)",
      R"({)",
      // città written raw, then again \u-escaped: the same key twice
      "[{\"name\":\"get_time\",\"arguments\":{\"citt\xC3\xA0\":\"x\",\"c",
  };
  for (const std::string& text : cases) {
    TypedState st;
    EXPECT_TRUE(g.feed(st, std::string_view(text).substr(0, text.size() - 1))) << text;
    TypedState st2;
    EXPECT_FALSE(g.feed(st2, text)) << text;
  }
  // And the legal neighbours of some of them: whitespace inside strings and around the array.
  for (const std::string& text : {std::string(" \n[{\"name\":\"get_time\",\"arguments\":{\"zone\":\" a  b \"}}] \r\n"),
                                 args + R"("days":-0,"temp":-1.5E+3,"location":"\ud83d\ude00é")",
                                 args + R"("location":"a","extra":{"k":[1,{"x":null}]},"opts":{"a":"b"})",
                                 args + R"("unit":"fahrenheit","flags":[],"location":"\u00e9\"")",
                                 std::string(R"([{"name":"get_time","arguments":{"citt\u00e0":"x","zone":"z"}}])"),
                                 std::string("[{\"name\":\"get_time\",\"arguments\":{\"citt\xC3\xA0\":\"\",\"zone\":\"\"}}]")}) {
    EXPECT_TRUE(grammar_accepts(g, text)) << text;
  }
}

// Every valid answer is accepted; one with whitespace between tokens (compact JSON is what
// Needle answers) is refused at that whitespace's first byte, wherever it falls.
TEST(TypedGrammar, AcceptsEveryValidAnswer) {
  std::mt19937 rng(5);
  int answers = 0, refused = 0;
  for (const std::string& list : tool_lists(200, 17)) {
    const CanonicalTools tools = canonical(list);
    const ToolSchemas s = ToolSchemas::build(tools);
    const TypedGrammar g(s);
    AnswerWriter spaced{rng, false, {}, true};
    spaced.answer(tools);
    if (const std::size_t at = first_space_outside_strings(spaced.out); at != std::string_view::npos) {
      TypedState st;
      ASSERT_TRUE(g.feed(st, std::string_view(spaced.out).substr(0, at))) << spaced.out;
      EXPECT_FALSE(g.feed(st, std::uint8_t(spaced.out[at]))) << "byte " << at << " of " << spaced.out;
      ++refused;
    }
    for (int rep = 0; rep < 4; ++rep) {
      AnswerWriter w{rng, rep % 2 == 1, {}};
      w.answer(tools);
      ASSERT_EQ(answer_problem(w.out, tools), "") << w.out << "\n" << tools.json;
      TypedState st;
      for (std::size_t i = 0; i < w.out.size(); ++i)
        ASSERT_TRUE(g.feed(st, std::uint8_t(w.out[i])))
            << "refused byte " << i << " of " << w.out << "\ntools " << tools.json;
      EXPECT_TRUE(TypedGrammar::complete(st)) << w.out;
      const ParsedCalls pc = parse_calls(w.out, tools);
      EXPECT_TRUE(pc.ok()) << w.out << ": " << (pc.violations.empty() ? "" : pc.violations[0]);
      ++answers;
    }
  }
  EXPECT_GT(answers, 1000);
  EXPECT_GT(refused, 100);
}

TEST(TypedGrammar, CompletionIsTheShortestClosing) {
  const CanonicalTools tools = canonical(kWeatherTools);
  const ToolSchemas s = ToolSchemas::build(tools);
  const TypedGrammar g(s);
  const std::string a = R"([{"name":"get_weather","arguments":{)";
  const std::string tail = R"("location":""}}])";
  const std::pair<std::string, std::string> cases[] = {
      {"", "[]"},
      {" [", "]"},
      {"[{", R"("name":"get_time","arguments":{"zone":""}}])"},
      {R"([{"na)", R"(me":"get_time","arguments":{"zone":""}}])"},
      {R"([{"name")", R"(:"get_time","arguments":{"zone":""}}])"},
      {R"([{"name":"get_we)", R"(ather","arguments":{"location":""}}])"},
      {R"([{"name":"get_weather")", R"(,"arguments":{"location":""}}])"},
      {R"([{"name":"get_weather","argu)", R"(ments":{"location":""}}])"},
      {R"([{"name":"get_weather","arguments":)", R"({"location":""}}])"},
      {a, tail},
      {a + R"("days":1)", "," + tail},
      {a + R"("days":-)", "0," + tail},
      {a + R"("temp":1e+)", "0," + tail},
      {a + R"("temp":2.)", "0," + tail},
      {a + R"("unit":"fa)", R"(hrenheit",)" + tail},
      {a + R"("unit":)", R"("celsius",)" + tail},
      {a + R"("location":"x\)", R"(\"}}])"},
      {a + R"("location":"\ud83d)", R"(\udc00"}}])"},
      {a + R"("location":"\ud83d\u)", R"(dc00"}}])"},
      {a + R"("location":"\u00)", R"(00"}}])"},
      {a + "\"location\":\"\xE2\x82", "\x80\"}}]"},
      {a + "\"location\":\"\xF0", "\x90\x80\x80\"}}]"},
      {a + R"("location":"a",)", R"("days":0}}])"},
      {a + R"("location":"a","o)", R"(pts":{"a":""}}}])"},
      {a + R"("lo)", R"(cation":""}}])"},
      {a + R"("opts":{)", R"("a":""},)" + tail},
      {a + R"("opts":{"a":"b")", "}," + tail},
      {a + R"("flags":[)", "]," + tail},
      {a + R"("flags":[true,)", "true]," + tail},
      {a + R"("flags":[f)", "alse]," + tail},
      {a + R"("extra":)", "0," + tail},
      {a + R"("extra":{"k":[{"x":n)", "ull}]}," + tail},
      {a + R"("extra":{"k")", ":0}," + tail},
      {a + R"("extra":{)", "}," + tail},
      {a + R"("extra":{"k":1,)", "\"\":0}," + tail},
      {a + R"("location":"a"}},)", R"({"name":"get_time","arguments":{"zone":""}}])"},
      {R"([{"name":"get_time","arguments":{"citt\u00)", R"(e0":"","zone":""}}])"},
      {"[{\"name\":\"get_time\",\"arguments\":{\"citt\xC3", "\xA0\":\"\",\"zone\":\"\"}}]"},
      {a + R"("location":"a"}})", "]"},
      {a + R"("location":"a"}}] )", ""},
  };
  for (const auto& [prefix, want] : cases) {
    TypedState st;
    ASSERT_TRUE(g.feed(st, prefix)) << prefix;
    std::string got;
    g.completion(st, got);
    EXPECT_EQ(got, want) << "after " << prefix;
    ASSERT_TRUE(g.feed(st, got)) << prefix << got;
    EXPECT_TRUE(TypedGrammar::complete(st)) << prefix << got;
    EXPECT_EQ(answer_problem(prefix + got, tools), "") << prefix + got;
  }
}

// From random legal states: the completion is legal, completes the output, and the
// completion of any prefix of it is the rest of it (so forcing it token by token spells
// exactly what was planned and never runs over the budget).
TEST(TypedGrammar, CompletionIsConsistentFromRandomStates) {
  std::mt19937 rng(11);
  int states = 0;
  for (const std::string& list : tool_lists(60, 23)) {
    const CanonicalTools tools = canonical(list);
    const ToolSchemas s = ToolSchemas::build(tools);
    const TypedGrammar g(s);
    for (int rep = 0; rep < 6; ++rep) {
      TypedState st;
      std::string text;
      const int len = 1 + int(rng() % 80);
      for (int step = 0; step < len; ++step) {
        std::vector<std::uint8_t> legal;
        for (int b = 0; b < 256; ++b) {
          TypedState probe = st;
          if (g.feed(probe, std::uint8_t(b))) legal.push_back(std::uint8_t(b));
        }
        if (legal.empty()) break;
        // Prefer printable ASCII so the walk gets somewhere.
        std::vector<std::uint8_t> ascii;
        for (std::uint8_t b : legal)
          if (b > 0x20 && b < 0x7F) ascii.push_back(b);
        const auto& pool = !ascii.empty() && rng() % 8 ? ascii : legal;
        const std::uint8_t b = pool[rng() % pool.size()];
        ASSERT_TRUE(g.feed(st, b));
        text.push_back(char(b));
      }
      std::string c;
      g.completion(st, c);
      TypedState walk = st;
      for (std::size_t k = 0; k < c.size(); ++k) {
        std::string rest;
        g.completion(walk, rest);
        ASSERT_EQ(rest, c.substr(k)) << "after " << text << "|" << c.substr(0, k);
        ASSERT_TRUE(g.feed(walk, std::uint8_t(c[k]))) << text << "|" << c;
      }
      ASSERT_TRUE(TypedGrammar::complete(walk)) << text << "|" << c;
      EXPECT_EQ(answer_problem(text + c, tools), "") << text + c << "\n" << tools.json;
      ++states;
    }
  }
  EXPECT_GT(states, 500);
}

// ---- typed: decoding ---------------------------------------------------------------------------

std::string output_of(const Decoded& r) { return output_text(real_tokenizer(), r.ids); }

// A valid answer by both the validator above and parse_calls (which also checks nested
// items/properties, not covered by the validator).
bool valid_answer(std::string_view text, const CanonicalTools& tools) {
  return answer_problem(text, tools).empty() && parse_calls(text, tools).ok();
}

TEST(TypedDecode, EveryOutputIsAValidAnswerWithinItsBudget) {
  const TokenTable& t = real_table();
  std::mt19937 rng(31);
  int runs = 0, closed_by_budget = 0, with_calls = 0;
  for (const std::string& list : tool_lists(100, 41)) {
    const CanonicalTools tools = canonical(list);
    const ToolConstraints tc = ToolConstraints::build(tools);
    for (int rep = 0; rep < 3; ++rep) {
      const int budget = 2 + int(rng() % 70);
      // rep 0: pure noise; 1: guided and calm; 2: guided and noisy.
      Guide g{rep == 0 ? "" : guide_target(tools, rng), rep == 2 ? 3.5f : 1.0f, rng()};
      const Decoded r = run_guided(t, tc, DecodeMode::kTyped, g, budget, budget);
      ASSERT_LE(int(r.ids.size()), budget);
      const std::string text = output_of(r);
      ASSERT_EQ(answer_problem(text, tools), "") << text << "\nbudget " << budget << "\n" << tools.json;
      const ParsedCalls pc = parse_calls(text, tools);
      EXPECT_TRUE(pc.ok()) << text << ": " << (pc.violations.empty() ? "" : pc.violations[0]);
      closed_by_budget += !r.eos;
      with_calls += !pc.calls.empty();
      ++runs;
    }
  }
  EXPECT_GT(closed_by_budget, 50) << "the length cap must have been exercised";
  EXPECT_GT(with_calls, 200);
  std::printf("typed: %d runs, %d closed at the cap, %d with calls\n", runs, closed_by_budget, with_calls);
}

TEST(TypedDecode, LegalSetIsASubsetOfStrictAndPickIsItsArgmax) {
  const TokenTable& t = real_table();
  std::mt19937 rng(43);
  int checked = 0, narrower = 0;
  const auto lists = tool_lists(0, 0);
  for (std::size_t li = 0; li < lists.size(); li += 2) {
    const CanonicalTools tools = canonical(lists[li]);
    const ToolConstraints tc = ToolConstraints::build(tools);
    Guide g{guide_target(tools, rng), 2.0f, rng()};
    // A strict constrainer fed the same ids gives strict's mask at every step.
    Constrainer strict(t, tc, DecodeMode::kStrict);
    int step = 0;
    run_guided(t, tc, DecodeMode::kTyped, g, 60, 0,
               [&](const Constrainer& c, const std::vector<float>& logits, std::int32_t id) {
                 if (step++ % 3 == 0) {
                   const auto typed = c.mask();
                   const auto sm = strict.mask();
                   std::int32_t want = -1;
                   bool differs = false;
                   for (std::size_t i = 0; i < typed.size(); ++i) {
                     if (typed[i]) {
                       ASSERT_TRUE(sm[i]) << "typed allows " << i << ", strict does not";
                     }
                     differs |= typed[i] != sm[i];
                     if (typed[i] && (want < 0 || logits[i] > logits[std::size_t(want)])) want = std::int32_t(i);
                   }
                   ASSERT_EQ(id, want);
                   narrower += differs;
                   ++checked;
                 }
                 if (id != t.eos_id()) strict.accept(id);
               });
  }
  EXPECT_GT(checked, 300);
  EXPECT_GT(narrower, 100);
}

TEST(TypedDecode, EqualsStrictWheneverStrictIsValid) {
  const TokenTable& t = real_table();
  std::mt19937 rng(47);
  int valid = 0, invalid = 0;
  for (const std::string& list : tool_lists(100, 53)) {
    const CanonicalTools tools = canonical(list);
    const ToolConstraints tc = ToolConstraints::build(tools);
    for (int rep = 0; rep < 3; ++rep) {
      Guide g{guide_target(tools, rng), rep == 0 ? 0.5f : 2.5f, rng()};
      const Decoded strict = run_guided(t, tc, DecodeMode::kStrict, g, 120, 0);
      const Decoded typed = run_guided(t, tc, DecodeMode::kTyped, g, 120, 0);
      if (strict.eos && valid_answer(output_of(strict), tools)) {
        ++valid;
        EXPECT_EQ(typed.ids, strict.ids) << output_of(strict) << "\n vs " << output_of(typed);
      } else {
        ++invalid;
      }
    }
  }
  EXPECT_GT(valid, 100);
  EXPECT_GT(invalid, 50);
  std::printf("strict outputs: %d valid (typed identical), %d invalid\n", valid, invalid);
}

TEST(TypedDecode, ThePickKeepsRoomToCloseAtEveryBudget) {
  // Against a target much longer than the budget: the model "wants" to keep writing.
  const TokenTable& t = real_table();
  const CanonicalTools tools = canonical(kWeatherTools);
  const ToolConstraints tc = ToolConstraints::build(tools);
  const std::string target =
      R"([{"name":"get_weather","arguments":{"extra":{"k":[{"x":[[["deep deep deep deep"]]]}]},)"
      R"("opts":{"a":"a long string value that goes on and on"},"location":"Paris"}}])";
  for (int budget = 1; budget <= 60; ++budget) {
    const Decoded r = run_guided(t, tc, DecodeMode::kTyped, Guide{target, 0.1f, 1}, budget, budget);
    ASSERT_LE(int(r.ids.size()), budget);
    const std::string text = output_of(r);
    if (budget >= 2) {
      EXPECT_EQ(answer_problem(text, tools), "") << "budget " << budget << ": " << text;
    }
  }
}

// ---- the tiny random model: strict, typed and off through greedy_decode ------------------------

// Off, strict and typed through greedy_decode on a random model: every typed answer is valid
// for its tools; typed equals strict whenever strict's answer was valid. `stride` samples the
// fixture's tool lists (the full-size model costs more per list).
void check_model_on_fixture_tool_lists(const std::string& model_path, std::size_t stride) {
  auto blob = map_file(model_path);
  ASSERT_TRUE(blob.ok()) << blob.error().message;
  auto engine = Engine::load(std::move(blob).value(), test::read_bytes(kTokenizerPath));
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  const Model& model = engine->model();
  const TokenTable& t = real_table();
  Workspace ws;
  DecoderState dec;
  std::vector<float> enc, logits;
  int valid_strict = 0, runs = 0;
  const auto& examples = fixture_examples();
  for (std::size_t i = 0; i < examples.size(); i += stride) {
    const CanonicalTools tools = canonical(examples[i].tools);
    const ToolConstraints tc = ToolConstraints::build(tools);
    const std::vector<std::int32_t> ids = engine->encoder_ids(examples[i].query, tools.json);
    model.encode(ids, ws, enc);
    std::vector<std::int32_t> out[3];
    for (const DecodeMode mode : {DecodeMode::kOff, DecodeMode::kStrict, DecodeMode::kTyped}) {
      const int max_new = 40;
      Constrainer c(t, tc, mode, max_new);
      model.begin_decode(enc.data(), int(ids.size()), ws, dec);
      out[int(mode)] = greedy_decode(
          model, ws, dec, logits, max_new, [&](std::span<float> l) { return c.pick(l); },
          [&](std::int32_t id) {
            c.accept(id);
            return true;
          });
    }
    const std::string typed = output_text(real_tokenizer(), out[2]);
    EXPECT_EQ(answer_problem(typed, tools), "") << typed;
    const std::string strict = output_text(real_tokenizer(), out[1]);
    // Short enough that the length budget never came into play.
    if (int(out[1].size()) <= 20 && valid_answer(strict, tools)) {
      ++valid_strict;
      EXPECT_EQ(out[2], out[1]);
    }
    ++runs;
  }
  EXPECT_GE(runs, 20);
  std::printf("%s: %d tool lists, %d strict outputs valid\n", model_path.c_str(), runs, valid_strict);
}

TEST(TypedDecode, TinyModelOnTheFixtureToolLists) { check_model_on_fixture_tool_lists(kModelPath, 1); }

TEST(TypedDecode, FullSizeModelOnTheFixtureToolLists) {
  check_model_on_fixture_tool_lists(NEEDLE_TESTDATA_DIR "/full.safetensors", 3);
}

}  // namespace
}  // namespace needle
