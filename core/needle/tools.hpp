// Tool lists in any common format -> Needle's canonical tools JSON (NEEDLE.md section 7),
// plus the facts later stages need: snake_case names mapped back to the caller's, and
// each tool's top-level arguments with type and required flag.
//
// Accepted, as an array of tools or a single tool object:
//   flat Needle   {"name", "description", "parameters": {"<arg>": {"type": ..}, ..}}
//   JSON Schema   {"name", "description", "parameters": {"type": "object", "properties": {..},
//                  "required": [..]}}
//   OpenAI        {"type": "function", "function": {"name", "description", "parameters"}}
//                 and the flat {"type": "function", "name", "description", "parameters"}
//   Anthropic     {"name", "description", "input_schema": {..}}
//   MCP           {"name", "description", "inputSchema": {..}, ...}
//
// Decisions the spec leaves open (documented here, pinned by tests/cpp/tools_test.cpp):
// - A flat tool (no "function" wrapper, no top-level "type": "function", no input_schema /
//   inputSchema, and "parameters" absent or without a "properties" object) keeps every key
//   and its order, but its "name" value is replaced by the snake_case name in place. The
//   real-weights fixture shows why: getWeather, GetWeather, GET_WEATHER and get-weather
//   all decode to exactly the token ids of get_weather, so the reference snake_cased them.
// - Every other tool becomes {"name", "description" (only if present), "parameters"}.
//   Its schema is "parameters", else "input_schema", else "inputSchema". A schema with a
//   "properties" object is converted (each property gets "required": true|false, a
//   non-object property v becomes {"type": v, "required": ..}); a schema without one whose
//   values are all objects is taken as Needle's flat parameters and copied unchanged; any
//   other schema (e.g. {"type": "object"}) gives "parameters": {}.
// - "required" must be an array of strings when present; names in it that are not
//   properties are ignored.
// - Parameter names are never renamed; only tool names are snake_cased.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "needle/error.hpp"
#include "needle/json.hpp"

// Inputs beyond these are refused with kBadTools; 10 000 tools / 1 MB are the design load.
#ifndef NEEDLE_MAX_TOOLS_JSON_BYTES
#define NEEDLE_MAX_TOOLS_JSON_BYTES (8u * 1024u * 1024u)
#endif
#ifndef NEEDLE_MAX_TOOLS
#define NEEDLE_MAX_TOOLS 100000
#endif

namespace needle {

inline constexpr std::size_t kMaxToolsJsonBytes = NEEDLE_MAX_TOOLS_JSON_BYTES;
inline constexpr std::size_t kMaxTools = NEEDLE_MAX_TOOLS;

struct ToolParam {            // one top-level argument of a tool, in canonical order
  std::string name;           // the key
  std::string type;           // "string", "number", "integer", "boolean", "array", "object",
                              // "null", or "" if none or unknown
  bool required = false;
  std::string schema_json;    // the canonical JSON of this parameter's value
};

struct Tool {
  std::string name;           // snake_case, as the model sees it
  std::string original_name;  // as the caller wrote it
  std::vector<ToolParam> params;
};

struct CanonicalTools {
  std::string json;           // the exact canonical bytes the encoder reads
  std::vector<Tool> tools;
  std::vector<std::uint32_t> by_name;  // indices into `tools`, sorted by name

  // The caller's name for a snake_case name, or `snake` itself if no tool has it.
  std::string_view original_name(std::string_view snake) const {
    if (by_name.size() != tools.size()) {  // hand-built value: no index
      for (const Tool& t : tools) {
        if (t.name == snake) return t.original_name;
      }
      return snake;
    }
    const auto it = std::lower_bound(
        by_name.begin(), by_name.end(), snake,
        [&](std::uint32_t i, std::string_view s) { return tools[i].name < s; });
    if (it != by_name.end() && tools[*it].name == snake) return tools[*it].original_name;
    return snake;
  }
};

namespace detail {
inline bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_word(char c) { return is_upper(c) || is_lower(c) || is_digit(c) || c == '_'; }
}  // namespace detail

// The reference rule of section 7, i.e. Python's
//   s = re.sub(r"[^A-Za-z0-9_]+", "_", name)
//   s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
//   s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
//   s = re.sub(r"_+", "_", s).lower().strip("_")
// in one pass. Non-ASCII letters are outside the class, so each run becomes "_".
inline std::string to_snake_case(std::string_view name) {
  // Step 1: every other byte (each byte of a multi-byte character too) -> "_". Mapping
  // runs to one "_" or each byte to "_" is the same once "_" runs collapse below.
  std::string s(name);
  for (char& c : s) {
    if (!detail::is_word(c)) c = '_';
  }
  // Steps 2 and 3 insert "_" before an upper-case letter that follows a lower-case letter
  // or digit, or that ends a run of two or more capitals and is followed by lower case.
  // Both look only at letters, which the inserted "_" never separate, so one pass over
  // the step-1 string gives what the two substitutions give in sequence.
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (detail::is_upper(c) && i > 0) {
      const char prev = s[i - 1];
      const bool after_lower = detail::is_lower(prev) || detail::is_digit(prev);
      const bool ends_caps = detail::is_upper(prev) && i + 1 < s.size() && detail::is_lower(s[i + 1]);
      if (after_lower || ends_caps) out.push_back('_');
    }
    const char lower = detail::is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower == '_' && !out.empty() && out.back() == '_') continue;  // collapse
    out.push_back(lower);
  }
  const std::size_t first = out.find_first_not_of('_');
  if (first == std::string::npos) return {};
  const std::size_t last = out.find_last_not_of('_');
  return out.substr(first, last - first + 1);
}

namespace detail {

// "a number", "an array", ...: for messages like "tools[2] is a number, expected an object".
inline std::string describe(const json::Value& v) {
  switch (v.type) {
    case json::Type::kNull: return "null";
    case json::Type::kArray: return "an array";
    case json::Type::kObject: return "an object";
    default: return "a " + std::string(json::type_name(v.type));
  }
}

// The JSON type a parameter schema declares, for typed decoding later. Common Python
// spellings are read as their JSON names; a union like ["string", "null"] gives its
// first non-null member.
inline std::string param_type(const json::Value& v) {
  const json::Value* t = &v;
  if (v.is_object()) {
    t = v.find("type");
    if (t == nullptr) return {};
  }
  if (t->is_array()) {
    const json::Value* pick = nullptr;
    for (const json::Value& item : t->items) {
      if (item.is_string() && item.text != "null") {
        pick = &item;
        break;
      }
    }
    if (pick == nullptr) {
      return !t->items.empty() && t->items[0].is_string() && t->items[0].text == "null" ? "null"
                                                                                         : "";
    }
    t = pick;
  }
  if (!t->is_string()) return {};
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"string", "string"}, {"number", "number"},   {"integer", "integer"}, {"boolean", "boolean"},
      {"array", "array"},   {"object", "object"},   {"null", "null"},       {"str", "string"},
      {"float", "number"},  {"int", "integer"},     {"bool", "boolean"},    {"list", "array"},
      {"dict", "object"},   {"None", "null"}};
  for (const auto& [spelling, type] : kNames) {
    if (t->text == spelling) return std::string(type);
  }
  return {};
}

inline Error tools_error(std::size_t index, std::string what) {
  return Error{ErrorCode::kBadTools, "tools[" + std::to_string(index) + "]" + std::move(what)};
}

// JSON Schema properties -> Needle parameters, in place: each property object gets
// "required" (overwritten where it is, else appended); a non-object v becomes {"type": v}.
inline Status convert_properties(std::size_t index, const std::string& schema_path,
                                 json::Value& schema, json::Value& properties) {
  std::unordered_set<std::string_view> required;
  if (const json::Value* req = schema.find("required")) {
    if (!req->is_array()) {
      return tools_error(index, schema_path + ".required is " + describe(*req) +
                                    ", expected an array of property names");
    }
    for (std::size_t k = 0; k < req->items.size(); ++k) {
      const json::Value& name = req->items[k];
      if (!name.is_string()) {
        return tools_error(index, schema_path + ".required[" +
                                      std::to_string(k) + "] is " + describe(name) +
                                      ", expected a property name");
      }
      required.insert(name.text);
    }
  }
  for (std::size_t k = 0; k < properties.items.size(); ++k) {
    json::Value& prop = properties.items[k];
    const bool is_required = required.count(properties.keys[k]) != 0;
    if (!prop.is_object()) {
      json::Value wrapped = json::Value::object();
      wrapped.keys.emplace_back("type");
      wrapped.items.push_back(std::move(prop));
      prop = std::move(wrapped);
    }
    prop.set("required", json::Value::from_bool(is_required));
  }
  return {};
}

// Rewrites `tool` into its canonical form and describes it in `out`.
inline Status canonicalize_tool(std::size_t index, json::Value& tool, Tool& out) {
  if (!tool.is_object()) return tools_error(index, " is " + describe(tool) + ", expected an object");
  json::Value* fn = tool.find("function");
  if (fn != nullptr && !fn->is_object()) {
    return tools_error(index, ".function is " + describe(*fn) + ", expected an object");
  }
  json::Value& f = fn != nullptr ? *fn : tool;
  const std::string where = fn != nullptr ? ".function" : "";

  json::Value* name = f.find("name");
  if (name == nullptr) return tools_error(index, where + " has no \"name\"");
  if (!name->is_string()) {
    return tools_error(index, where + ".name is " + describe(*name) + ", expected a string");
  }
  if (name->text.empty()) return tools_error(index, where + ".name is empty");
  out.original_name = name->text;
  out.name = to_snake_case(name->text);
  if (out.name.empty()) {
    std::string quoted;
    json::append_string(quoted, name->text);
    return tools_error(index, where + ".name " + quoted +
                                  " has no ASCII letter or digit to build a snake_case name from");
  }

  std::string_view schema_key;
  json::Value* schema = nullptr;
  for (std::string_view key : {"parameters", "input_schema", "inputSchema"}) {
    if ((schema = f.find(key)) != nullptr) {
      schema_key = key;
      break;
    }
  }
  if (schema != nullptr && !schema->is_object()) {
    return tools_error(index, where + "." + std::string(schema_key) + " is " + describe(*schema) +
                                  ", expected an object");
  }
  json::Value* properties = schema != nullptr ? schema->find("properties") : nullptr;
  const json::Value* type = tool.find("type");
  const bool openai = type != nullptr && type->is_string() && type->text == "function";
  const bool flat = fn == nullptr && !openai && (schema == nullptr || schema_key == "parameters") &&
                    (properties == nullptr || !properties->is_object());

  json::Value* params = nullptr;  // the canonical parameters object, if any
  if (flat) {
    name->text = out.name;
    params = schema;
  } else {
    json::Value c = json::Value::object();
    c.keys.reserve(3);
    c.items.reserve(3);
    c.keys.emplace_back("name");
    c.items.push_back(json::Value::from_string(out.name));
    if (json::Value* desc = f.find("description")) {
      c.keys.emplace_back("description");
      c.items.push_back(std::move(*desc));
    }
    json::Value p = json::Value::object();
    if (schema != nullptr) {
      if (properties != nullptr) {
        if (!properties->is_object()) {
          return tools_error(index, where + "." + std::string(schema_key) + ".properties is " +
                                        describe(*properties) + ", expected an object");
        }
        NEEDLE_RETURN_IF_ERROR(
            convert_properties(index, where + "." + std::string(schema_key), *schema, *properties));
        p = std::move(*properties);
      } else if (std::all_of(schema->items.begin(), schema->items.end(),
                             [](const json::Value& v) { return v.is_object(); })) {
        p = std::move(*schema);
      }
    }
    c.keys.emplace_back("parameters");
    c.items.push_back(std::move(p));
    tool = std::move(c);
    params = &tool.items.back();
  }

  if (params != nullptr) {
    out.params.reserve(params->items.size());
    for (std::size_t k = 0; k < params->items.size(); ++k) {
      const json::Value& v = params->items[k];
      ToolParam& tp = out.params.emplace_back();
      tp.name = params->keys[k];
      tp.type = param_type(v);
      const json::Value* req = v.is_object() ? v.find("required") : nullptr;
      tp.required = req != nullptr && req->is_bool() && req->boolean;
      json::append(tp.schema_json, v);
    }
  }
  return {};
}

}  // namespace detail

// Canonicalises a tools JSON document (section 7). Errors are ErrorCode::kBadTools and
// name the problem: the byte offset of invalid JSON or UTF-8, the index of a bad tool,
// both names of a snake_case collision, or the limit exceeded.
inline Result<CanonicalTools> canonicalize_tools(std::string_view tools_json) {
  if (tools_json.size() > kMaxToolsJsonBytes) {
    return Error{ErrorCode::kBadTools, "tools JSON is " + std::to_string(tools_json.size()) +
                                           " bytes; the limit is " +
                                           std::to_string(kMaxToolsJsonBytes)};
  }
  auto parsed = json::parse(tools_json, ErrorCode::kBadTools);
  if (!parsed.ok()) {
    return Error{ErrorCode::kBadTools, "tools: " + parsed.error().message};
  }
  json::Value root = std::move(parsed).value();
  if (root.is_object()) {  // a single tool
    json::Value list = json::Value::array();
    list.items.push_back(std::move(root));
    root = std::move(list);
  } else if (!root.is_array()) {
    return Error{ErrorCode::kBadTools, "tools JSON is " + detail::describe(root) +
                                           ", expected an array of tools or one tool object"};
  }
  if (root.items.size() > kMaxTools) {
    return Error{ErrorCode::kBadTools, "tools JSON has " + std::to_string(root.items.size()) +
                                           " tools; the limit is " + std::to_string(kMaxTools)};
  }

  CanonicalTools out;
  out.tools.resize(root.items.size());
  for (std::size_t i = 0; i < root.items.size(); ++i) {
    NEEDLE_RETURN_IF_ERROR(detail::canonicalize_tool(i, root.items[i], out.tools[i]));
  }

  out.by_name.resize(out.tools.size());
  for (std::size_t i = 0; i < out.by_name.size(); ++i) out.by_name[i] = static_cast<std::uint32_t>(i);
  std::stable_sort(out.by_name.begin(), out.by_name.end(), [&](std::uint32_t a, std::uint32_t b) {
    return out.tools[a].name < out.tools[b].name;
  });
  for (std::size_t k = 1; k < out.by_name.size(); ++k) {
    const Tool& a = out.tools[out.by_name[k - 1]];
    const Tool& b = out.tools[out.by_name[k]];
    if (a.name == b.name) {
      std::string msg = "tools[" + std::to_string(out.by_name[k - 1]) + "] ";
      json::append_string(msg, a.original_name);
      msg += " and tools[" + std::to_string(out.by_name[k]) + "] ";
      json::append_string(msg, b.original_name);
      msg += " both have the snake_case name ";
      json::append_string(msg, a.name);
      return Error{ErrorCode::kBadTools, std::move(msg)};
    }
  }

  out.json.reserve(tools_json.size() + tools_json.size() / 8);
  json::append(out.json, root);
  return out;
}

}  // namespace needle
