// The model's output text -> tool calls, checked against the tools (NEEDLE.md sections 1,
// 5 and 8): which calls were made, with the caller's original tool names, and every way
// the output departs from the tool list, as human-readable violations.
//
// Typed decoding guarantees an output with no violations (up to the limits documented in
// constrain.hpp); strict and unconstrained decoding do not, which is what this reports.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "needle/constrain.hpp"
#include "needle/json.hpp"
#include "needle/tools.hpp"

namespace needle {

struct Call {
  std::string name;       // the caller's original tool name (as written, if unknown)
  json::Value arguments;  // the "arguments" value ({} when missing)
};

struct ParsedCalls {
  std::vector<Call> calls;
  std::vector<std::string> violations;  // empty: the output follows the tool list exactly
  bool parsed = false;                  // the text is a JSON array (calls could be read)
  bool ok() const { return parsed && violations.empty(); }
};

namespace calls_detail {

inline std::string json_quoted(std::string_view s) {
  std::string out;
  json::append_string(out, s);
  return out;
}

inline std::string describe(const json::Value& v) {
  switch (v.type) {
    case json::Type::kNull: return "null";
    case json::Type::kBool: return "a boolean";
    case json::Type::kNumber: return "a number";
    case json::Type::kString: return "a string";
    case json::Type::kArray: return "an array";
    case json::Type::kObject: return "an object";
  }
  return "a value";
}

inline std::string kinds_text(std::uint8_t kinds) {
  using namespace constrain_detail;
  static constexpr std::pair<std::uint8_t, std::string_view> kNames[] = {
      {kString, "string"}, {kNumber, "number"}, {kInteger, "integer"}, {kBoolean, "boolean"},
      {kNull, "null"},     {kArray, "array"},   {kObject, "object"}};
  std::string out;
  for (const auto& [kind, name] : kNames) {
    if ((kinds & kind) == 0) continue;
    if (!out.empty()) out += " or ";
    out += name;
  }
  return out;
}

// Python's spelling of an integer has only digits (and a leading '-').
inline bool is_integer(const json::Value& v) {
  std::string_view t = v.text;
  if (!t.empty() && t[0] == '-') t.remove_prefix(1);
  return !t.empty() && t.find_first_not_of("0123456789") == std::string_view::npos;
}

// Checks `v` against schema node `schema`; `where` names it in messages.
inline void check_value(const constrain_detail::ToolSchemas& s, const json::Value& v,
                        std::int32_t schema, const std::string& where,
                        std::vector<std::string>& out) {
  using namespace constrain_detail;
  const SchemaNode& n = s.nodes[std::size_t(schema)];
  if (n.enum_set >= 0) {
    std::string spelled;
    append_compact(spelled, v);
    const auto& set = s.literals[std::size_t(n.enum_set)];
    if (!std::binary_search(set.begin(), set.end(), spelled)) {
      out.push_back(where + " is " + spelled + ", not one of the allowed values");
    }
    return;
  }
  std::uint8_t kind = 0;
  switch (v.type) {
    case json::Type::kNull: kind = kNull; break;
    case json::Type::kBool: kind = kBoolean; break;
    case json::Type::kNumber: kind = is_integer(v) ? (kNumber | kInteger) : kNumber; break;
    case json::Type::kString: kind = kString; break;
    case json::Type::kArray: kind = kArray; break;
    case json::Type::kObject: kind = kObject; break;
  }
  if ((n.kinds & kind) == 0) {
    out.push_back(where + " is " + describe(v) + ", expected " + kinds_text(n.kinds));
    return;
  }
  if (v.is_array() && n.items != ToolSchemas::kAny) {
    for (std::size_t i = 0; i < v.items.size(); ++i)
      check_value(s, v.items[i], n.items, where + "[" + std::to_string(i) + "]", out);
  }
  if (v.is_object() && n.object >= 0) {
    const ObjectSchema& o = s.objects[std::size_t(n.object)];
    std::uint64_t seen = 0;
    for (std::size_t k = 0; k < v.keys.size(); ++k) {
      std::string spelled;
      append_escaped(spelled, v.keys[k]);
      const std::int32_t key = s.key_index(n.object, spelled);
      const std::string at = where + "." + v.keys[k];
      if (key < 0) {
        out.push_back(where + " has an unknown key " + json_quoted(v.keys[k]));
        continue;
      }
      if (key < 63) seen |= Trie::key_bit(key);
      check_value(s, v.items[k], o.schemas[std::size_t(key)], at, out);
    }
    for (std::size_t k = 0; k < o.keys.size() && k < 63; ++k) {
      const std::uint64_t bit = Trie::key_bit(std::int32_t(k));
      if ((o.required & bit) && !(seen & bit)) {
        out.push_back(where + " misses the required key \"" + o.keys[k] + "\"");
      }
    }
  }
}

}  // namespace calls_detail

// Parses the output text (section 5's text, before or after restore_tool_names) into
// calls and checks each against `tools`: unknown tool, unknown argument, missing required
// argument, value of the wrong type or not in its enum, and any departure from the
// [{"name": .., "arguments": {..}}, ..] shape.
inline ParsedCalls parse_calls(std::string_view text, const CanonicalTools& tools) {
  using calls_detail::describe;
  using calls_detail::json_quoted;
  ParsedCalls r;
  auto parsed = json::parse(text);
  if (!parsed.ok()) {
    r.violations.push_back("the output is not valid JSON: " + parsed.error().message);
    return r;
  }
  const json::Value& root = parsed.value();
  if (!root.is_array()) {
    r.violations.push_back("the output is " + describe(root) + ", expected a JSON array of calls");
    return r;
  }
  r.parsed = true;
  const auto schemas = constrain_detail::ToolSchemas::build(tools);
  for (std::size_t i = 0; i < root.items.size(); ++i) {
    const json::Value& item = root.items[i];
    const std::string call = "call " + std::to_string(i);
    if (!item.is_object()) {
      r.violations.push_back(call + " is " + describe(item) +
                             ", expected an object {\"name\": .., \"arguments\": {..}}");
      continue;
    }
    const json::Value* name = item.find("name");
    if (name == nullptr || !name->is_string()) {
      r.violations.push_back(call + (name == nullptr ? " has no \"name\""
                                                     : "'s \"name\" is " + describe(*name) +
                                                           ", expected a string"));
      continue;
    }
    // Section 7 names are snake_case, but an original name written by the model (or put
    // back by restore_tool_names) is accepted as the same tool.
    std::string spelled;
    constrain_detail::append_escaped(spelled, name->text);
    std::int32_t tool = schemas.tool_index(spelled);
    for (std::size_t t = 0; tool < 0 && t < tools.tools.size(); ++t)
      if (tools.tools[t].original_name == name->text) tool = std::int32_t(t);
    Call& c = r.calls.emplace_back();
    c.name = tool >= 0 ? tools.tools[std::size_t(tool)].original_name : name->text;
    const std::string who = call + " (" + json_quoted(c.name) + ")";
    if (tool < 0) r.violations.push_back(call + " names an unknown tool " + json_quoted(name->text));
    for (const std::string& key : item.keys)
      if (key != "name" && key != "arguments")
        r.violations.push_back(who + " has an unexpected key " + json_quoted(key));
    const json::Value* args = item.find("arguments");
    if (args == nullptr) {
      r.violations.push_back(who + " has no \"arguments\"");
      c.arguments = json::Value::object();
    } else {
      c.arguments = *args;
      if (!args->is_object())
        r.violations.push_back(who + "'s \"arguments\" is " + describe(*args) + ", expected an object");
    }
    if (tool < 0 || !c.arguments.is_object()) continue;
    // The top level gets the wording callers know: arguments, not keys.
    const std::int32_t object = schemas.args[std::size_t(tool)];
    const auto& o = schemas.objects[std::size_t(object)];
    for (std::size_t k = 0; k < c.arguments.keys.size(); ++k) {
      const std::string& key = c.arguments.keys[k];
      std::string key_spelled;
      constrain_detail::append_escaped(key_spelled, key);
      const std::int32_t index = schemas.key_index(object, key_spelled);
      if (index < 0) {
        r.violations.push_back(who + " has an unknown argument " + json_quoted(key));
        continue;
      }
      calls_detail::check_value(schemas, c.arguments.items[k], o.schemas[std::size_t(index)],
                                who + " argument " + json_quoted(key), r.violations);
    }
    for (const ToolParam& p : tools.tools[std::size_t(tool)].params) {
      if (p.required && c.arguments.find(p.name) == nullptr)
        r.violations.push_back(who + " misses the required argument " + json_quoted(p.name));
    }
  }
  return r;
}

// Section 5's last step: the snake_case tool names in the output text become the caller's
// originals again. Only the value of a "name" key directly inside a call object (an
// object in the top-level array) is touched, and only when it is exactly a tool's name;
// the text need not be valid JSON (a cut-off answer is mapped too).
inline std::string restore_tool_names(std::string_view text, const CanonicalTools& tools) {
  std::string out;
  out.reserve(text.size() + 16);
  std::string stack;  // open '[' / '{' outside strings
  std::size_t i = 0;
  // Reads the string token starting at text[i] == '"'; returns its end (past the quote).
  const auto string_end = [&](std::size_t at) {
    std::size_t j = at + 1;
    while (j < text.size() && text[j] != '"') j += text[j] == '\\' ? 2 : 1;
    return std::min(j + 1, text.size() + 1);
  };
  bool expect_key = false;  // inside an object, where the next string is a key
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {
      const std::size_t end = std::min(string_end(i), text.size());
      const std::string_view token = text.substr(i, end - i);
      out.append(token);
      i = end;
      const bool call_level = stack == "[{";
      if (expect_key && call_level && token == "\"name\"") {
        // ws* ':' ws* then the value string.
        std::size_t j = i;
        while (j < text.size() && constrain_detail::is_ws(text[j])) ++j;
        if (j < text.size() && text[j] == ':') {
          ++j;
          while (j < text.size() && constrain_detail::is_ws(text[j])) ++j;
          if (j < text.size() && text[j] == '"') {
            const std::size_t vend = string_end(j);
            if (vend <= text.size()) {
              const std::string_view value = text.substr(j + 1, vend - j - 2);
              const std::string_view original = tools.original_name(value);
              out.append(text.substr(i, j - i));
              out += '"';
              if (original.data() == value.data()) {
                out.append(value);  // not a tool name: left as written
              } else {
                constrain_detail::append_escaped(out, original);
              }
              out += '"';
              i = vend;
            }
          }
        }
      }
      expect_key = false;
      continue;
    }
    if (c == '[' || c == '{') stack.push_back(c);
    if ((c == ']' || c == '}') && !stack.empty()) stack.pop_back();
    if (c == '{' || c == ',') expect_key = !stack.empty() && stack.back() == '{';
    out += c;
    ++i;
  }
  return out;
}

}  // namespace needle
