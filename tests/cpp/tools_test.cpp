// Tests for core/needle/json.hpp (Python-identical JSON) and core/needle/tools.hpp
// (tool canonicalisation, NEEDLE.md section 7).
//
// Oracles: Python itself, through tests/cpp/tools_test_cases.inc (regenerate with
// /usr/bin/python3 scripts/gen_tool_cases.py); std::to_chars (libstdc++'s shortest
// round-trip) for float formatting; and the real-weights fixture, whose tool lists are
// Python's json.dumps bytes.
#include <gtest/gtest.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "needle/json.hpp"
#include "needle/tools.hpp"

namespace {

using namespace std::literals;
#include "tools_test_cases.inc"

using needle::CanonicalTools;
using needle::ErrorCode;
using needle::canonicalize_tools;
using needle::to_snake_case;
namespace json = needle::json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Canonicalises and fails the test (returning empty) on error.
CanonicalTools canon_ok(std::string_view input) {
  auto r = canonicalize_tools(input);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message) << "\ninput: " << input;
  return r.ok() ? std::move(r).value() : CanonicalTools{};
}

// Expects a kBadTools error whose message contains `needle`.
void expect_bad_tools(std::string_view input, std::string_view needle) {
  auto r = canonicalize_tools(input);
  ASSERT_FALSE(r.ok()) << "accepted: " << input.substr(0, 200);
  EXPECT_EQ(r.error().code, ErrorCode::kBadTools);
  EXPECT_NE(r.error().message.find(needle), std::string::npos)
      << "message: " << r.error().message << "\nwanted: " << needle;
}

// ---- json.hpp ---------------------------------------------------------------------------

TEST(Json, ParseDumpMatchesPythonByteForByte) {
  for (const auto& c : kPyJsonCases) {
    auto v = json::parse(c.input);
    ASSERT_TRUE(v.ok()) << v.error().message << "\ninput: " << c.input;
    EXPECT_EQ(json::dump(*v), c.expected) << "input: " << c.input;
  }
}

TEST(Json, RejectsWhatPythonRejects) {
  for (std::string_view bad : kInvalidJson) {
    auto v = json::parse(bad, ErrorCode::kBadTools);
    ASSERT_FALSE(v.ok()) << "accepted: [" << bad << "] as " << json::dump(*v);
    EXPECT_EQ(v.error().code, ErrorCode::kBadTools);
    EXPECT_EQ(v.error().message.rfind("invalid JSON", 0), 0u) << v.error().message;
  }
}

TEST(Json, ErrorsNameTheByteOffset) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"{\"a\" 1}", "at byte 5"},         // the 1 where ':' belongs
      {"{\"a\":1,}", "at byte 7"},        // the '}' after a comma
      {"[1 2]", "at byte 3"},             // the 2 where ',' belongs
      {"[1,2", "at byte 4"},              // the end: the array never closes
      {"[] x", "at byte 3"},              // content after the document
      {"{\"a\":1} {}", "at byte 8"},      // a second document
      {"[01]", "at byte 1"},              // leading zero
      {"[\"a\", \"b\x01\"]", "at byte 8"},  // raw control character in a string
      {"[\"abc", "at byte 1"},            // unterminated string
      {"\"a\" 1", "at byte 4"},            // a second value after a scalar
      {"12 34", "at byte 3"},
      {"", "empty"},
  };
  for (const auto& [input, want] : cases) {
    auto v = json::parse(input);
    ASSERT_FALSE(v.ok()) << input;
    EXPECT_NE(v.error().message.find(want), std::string::npos)
        << "input: " << input << "\nmessage: " << v.error().message;
  }
}

TEST(Json, InvalidUtf8ReportsPythonsOffset) {
  for (const auto& c : kInvalidUtf8) {
    EXPECT_EQ(json::find_invalid_utf8(c.input), c.offset) << c.input;
    auto v = json::parse(c.input);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().message, "invalid UTF-8 at byte " + std::to_string(c.offset));
  }
  EXPECT_EQ(json::find_invalid_utf8("plain ascii, caf\xc3\xa9, \xf0\x9f\x98\x80"), std::string_view::npos);
}

TEST(Json, StringWriterReplacesBadBytesLikePython) {
  for (const auto& c : kReplaceCases) {
    std::string out;
    json::append_string(out, c.input);
    EXPECT_EQ(out, c.expected);
  }
}

// Python's repr built from std::to_chars's shortest digits: an independent oracle.
std::string repr_via_to_chars(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, r.ptr);
  std::string out;
  if (s[0] == '-') {
    out = "-";
    s.erase(0, 1);
  }
  if (v == 0) return out + "0.0";
  const std::size_t e_pos = s.find('e');
  const int exp10 = std::stoi(s.substr(e_pos + 1));
  std::string digits;
  for (char c : s.substr(0, e_pos)) {
    if (c != '.') digits += c;
  }
  const int n = static_cast<int>(digits.size());
  const int point = exp10 + 1;
  if (exp10 < -4 || exp10 >= 16) {
    out += digits.substr(0, 1);
    if (n > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    return out + e;
  }
  if (point <= 0) return out + "0." + std::string(-point, '0') + digits;
  if (point >= n) return out + digits + std::string(point - n, '0') + ".0";
  return out + digits.substr(0, point) + "." + digits.substr(point);
}

TEST(Json, DoublesMatchShortestRoundTrip) {
  std::vector<double> values;
  for (int e = 0; e < 2047; ++e) {  // every power of two: lopsided rounding intervals
    const std::uint64_t bits = static_cast<std::uint64_t>(e) << 52;
    double d;
    std::memcpy(&d, &bits, 8);
    values.push_back(d);
    values.push_back(std::nextafter(d, 0.0));
    values.push_back(std::nextafter(d, 1e308));
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    const std::uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, 8);
    if (std::isfinite(d)) values.push_back(d);
    values.push_back(static_cast<double>(static_cast<std::int64_t>(rng() % 2000001) - 1000000) /
                     std::pow(10.0, static_cast<double>(rng() % 25)));
  }
  int mismatches = 0;
  for (double d : values) {
    if (!std::isfinite(d)) continue;
    std::string got;
    json::append_double(got, d);
    const std::string want = repr_via_to_chars(d);
    if (got != want && ++mismatches <= 5) ADD_FAILURE() << "got " << got << " want " << want;
    // And it reads back exactly.
    EXPECT_EQ(std::strtod(got.c_str(), nullptr), d) << got;
  }
  EXPECT_EQ(mismatches, 0);
  std::string specials;
  json::append_double(specials, std::numeric_limits<double>::infinity());
  specials += ',';
  json::append_double(specials, -std::numeric_limits<double>::infinity());
  specials += ',';
  json::append_double(specials, std::nan(""));
  EXPECT_EQ(specials, "Infinity,-Infinity,NaN");  // what json.dumps writes
}

TEST(Json, ValueBuildersAndPythonDictAssignment) {
  json::Value obj = json::Value::object();
  obj.set("b", json::Value::from_int(-7));
  obj.set("a", json::Value::from_double(0.5));
  obj.set("b", json::Value::from_string("caf\xc3\xa9"));  // replaces in place, like a dict
  json::Value arr = json::Value::array();
  arr.push_back(json::Value::null());
  arr.push_back(json::Value::from_bool(true));
  arr.push_back(json::Value::from_double(2.0));
  obj.set("list", std::move(arr));
  EXPECT_EQ(json::dump(obj), R"({"b":"caf\u00e9","a":0.5,"list":[null,true,2.0]})");
}

TEST(Json, DuplicateKeysInLargeObjectsKeepFirstSlotLastValue) {
  // Past the linear-search size the parser indexes keys; the semantics must not change.
  std::string in = "{", want = "{";
  for (int i = 0; i < 40; ++i) {
    in += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  }
  for (int i = 0; i < 40; ++i) {
    want += "\"k" + std::to_string(i) + "\":" + std::to_string(i % 3 == 0 ? 1000 + i : i) +
            (i + 1 < 40 ? "," : "}");
  }
  for (int i = 0; i < 40; i += 3) in += "\"k" + std::to_string(i) + "\":" + std::to_string(1000 + i) + ",";
  in.back() = '}';
  auto v = json::parse(in);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(json::dump(*v), want);
}

TEST(Json, NestingIsBoundedNotRecursedUnchecked) {
  const std::size_t max = json::kMaxDepth;
  const std::string ok = std::string(max, '[') + std::string(max, ']');
  EXPECT_TRUE(json::parse(ok).ok());
  const std::string one_more = std::string(max + 1, '[') + std::string(max + 1, ']');
  auto r = json::parse(one_more);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nested deeper than " + std::to_string(max)), std::string::npos)
      << r.error().message;
  // Far deeper than any stack would survive if recursion were unbounded.
  std::string deep;
  for (int i = 0; i < 200000; ++i) deep += "{\"a\":[";
  EXPECT_FALSE(json::parse(deep).ok());
  EXPECT_FALSE(json::parse(std::string(1000000, '[') + std::string(1000000, ']')).ok());
}

// ---- snake_case -------------------------------------------------------------------------

TEST(SnakeCase, MatchesPythonRegexRule) {
  for (const auto& c : kSnakeCases) {
    EXPECT_EQ(to_snake_case(c.input), c.expected) << "name: " << c.input;
  }
}

TEST(SnakeCase, NamedExamples) {
  EXPECT_EQ(to_snake_case("getWeather"), "get_weather");
  EXPECT_EQ(to_snake_case("GetWeather"), "get_weather");
  EXPECT_EQ(to_snake_case("get-weather"), "get_weather");
  EXPECT_EQ(to_snake_case("GET_WEATHER"), "get_weather");
  EXPECT_EQ(to_snake_case("HTTPServer"), "http_server");
  EXPECT_EQ(to_snake_case("getHTTPResponse2"), "get_http_response2");
  EXPECT_EQ(to_snake_case("__a--b__"), "a_b");
  EXPECT_EQ(to_snake_case("m\xc3\xa9t\xc3\xa9o"), "m_t_o");
  EXPECT_EQ(to_snake_case("\xe5\xa4\xa9\xe6\xb0\x97"), "");
}

// ---- canonicalize_tools: Python's expected outputs --------------------------------------

TEST(Tools, MatchesPythonReferenceCanonicaliser) {
  for (const auto& c : kPyToolCases) {
    const CanonicalTools t = canon_ok(c.input);
    EXPECT_EQ(t.json, c.expected) << "input: " << c.input;
  }
}

TEST(Tools, DescribesToolsAndParams) {
  const CanonicalTools t = canon_ok(R"([
    {"type":"function","function":{"name":"getWeather","description":"w","parameters":{
      "type":"object","properties":{
        "city":{"type":"string","description":"City"},
        "days":{"type":"integer","minimum":1},
        "unit":{"enum":["c","f"]},
        "when":{"type":["null","string"]},
        "flag":"bool"},
      "required":["city","flag"]}}},
    {"name":"list-files","parameters":{"path":{"type":"str","required":true},"n":{"type":"int"}}}])");
  ASSERT_EQ(t.tools.size(), 2u);
  const auto& w = t.tools[0];
  EXPECT_EQ(w.name, "get_weather");
  EXPECT_EQ(w.original_name, "getWeather");
  ASSERT_EQ(w.params.size(), 5u);
  EXPECT_EQ(w.params[0].name, "city");
  EXPECT_EQ(w.params[0].type, "string");
  EXPECT_TRUE(w.params[0].required);
  EXPECT_EQ(w.params[0].schema_json, R"({"type":"string","description":"City","required":true})");
  EXPECT_EQ(w.params[1].type, "integer");
  EXPECT_FALSE(w.params[1].required);
  EXPECT_EQ(w.params[2].type, "");  // enum only: no declared type
  EXPECT_EQ(w.params[3].type, "string");
  EXPECT_EQ(w.params[4].type, "boolean");
  EXPECT_TRUE(w.params[4].required);
  EXPECT_EQ(w.params[4].schema_json, R"({"type":"bool","required":true})");
  const auto& l = t.tools[1];
  EXPECT_EQ(l.name, "list_files");
  ASSERT_EQ(l.params.size(), 2u);
  EXPECT_EQ(l.params[0].type, "string");
  EXPECT_TRUE(l.params[0].required);
  EXPECT_EQ(l.params[1].type, "integer");
  EXPECT_FALSE(l.params[1].required);

  EXPECT_EQ(t.original_name("get_weather"), "getWeather");
  EXPECT_EQ(t.original_name("list_files"), "list-files");
  EXPECT_EQ(t.original_name("unknown_tool"), "unknown_tool");
}

TEST(Tools, EdgeCases) {
  EXPECT_EQ(canon_ok("[]").json, "[]");
  EXPECT_TRUE(canon_ok("[]").tools.empty());
  EXPECT_EQ(canon_ok(" [ ] ").json, "[]");
  // No parameters at all: flat keeps it absent; any wrapper gets "parameters": {}.
  EXPECT_EQ(canon_ok(R"({"name":"ping"})").json, R"([{"name":"ping"}])");
  EXPECT_EQ(canon_ok(R"({"name":"ping","input_schema":{}})").json,
            R"([{"name":"ping","parameters":{}}])");
  EXPECT_EQ(canon_ok(R"({"type":"function","function":{"name":"Ping"}})").json,
            R"([{"name":"ping","parameters":{}}])");
  // Names, as the model sees them, and back.
  const CanonicalTools t = canon_ok(
      R"([{"name":"camelCase"},{"name":"PascalCase"},{"name":"kebab-case"},{"name":"UPPER_SNAKE"},
          {"name":"HTTPServer"},{"name":"getHTTPResponse2"},{"name":"v2"},{"name":"caf\u00e9Tool"}])");
  EXPECT_EQ(t.json,
            R"([{"name":"camel_case"},{"name":"pascal_case"},{"name":"kebab_case"},{"name":"upper_snake"},)"
            R"({"name":"http_server"},{"name":"get_http_response2"},{"name":"v2"},{"name":"caf_tool"}])");
  EXPECT_EQ(t.original_name("get_http_response2"), "getHTTPResponse2");
  EXPECT_EQ(t.original_name("caf_tool"), "caf\xc3\xa9Tool");
  EXPECT_EQ(t.original_name("upper_snake"), "UPPER_SNAKE");
  // Pretty-printed input gives the same compact bytes.
  EXPECT_EQ(canon_ok("[\n  {\n    \"name\": \"a\",\n    \"parameters\": {\"x\": {\"type\": \"string\"}}\n  }\n]").json,
            R"([{"name":"a","parameters":{"x":{"type":"string"}}}])");
}

TEST(Tools, Errors) {
  expect_bad_tools(R"([{"name":"a",}])", "tools: invalid JSON at byte 13");  // the '}'
  expect_bad_tools("", "tools: invalid JSON: the input is empty");
  expect_bad_tools(R"("get_weather")", "tools JSON is a string, expected an array of tools or one tool object");
  expect_bad_tools("42", "tools JSON is a number");
  expect_bad_tools("null", "tools JSON is null");
  expect_bad_tools(R"([{"name":"a"},3])", "tools[1] is a number, expected an object");
  expect_bad_tools(R"([["a"]])", "tools[0] is an array, expected an object");
  expect_bad_tools(R"([{"description":"no name"}])", "tools[0] has no \"name\"");
  expect_bad_tools(R"([{"name":5}])", "tools[0].name is a number, expected a string");
  expect_bad_tools(R"([{"name":""}])", "tools[0].name is empty");
  expect_bad_tools(R"([{"type":"function","function":{"description":"x"}}])",
                   "tools[0].function has no \"name\"");
  expect_bad_tools(R"([{"type":"function","function":"get_weather"}])",
                   "tools[0].function is a string, expected an object");
  expect_bad_tools(R"([{"name":"\u5929\u6c17"}])",
                   "tools[0].name \"\\u5929\\u6c17\" has no ASCII letter or digit");
  expect_bad_tools(R"([{"name":"getWeather"},{"name":"x"},{"name":"get_weather"}])",
                   "tools[0] \"getWeather\" and tools[2] \"get_weather\" both have the snake_case name \"get_weather\"");
  expect_bad_tools(R"([{"name":"same"},{"name":"same"}])", "tools[0] \"same\" and tools[1] \"same\"");
  expect_bad_tools(R"([{"name":"a","parameters":"x"}])", "tools[0].parameters is a string, expected an object");
  expect_bad_tools(R"([{"name":"a","parameters":null}])", "tools[0].parameters is null, expected an object");
  expect_bad_tools(R"([{"name":"a","input_schema":[]}])", "tools[0].input_schema is an array, expected an object");
  expect_bad_tools(R"([{"name":"a","inputSchema":1}])", "tools[0].inputSchema is a number, expected an object");
  expect_bad_tools(R"([{"type":"function","function":{"name":"a","parameters":true}}])",
                   "tools[0].function.parameters is a boolean, expected an object");
  expect_bad_tools(R"([{"name":"a","input_schema":{"properties":[]}}])",
                   "tools[0].input_schema.properties is an array, expected an object");
  expect_bad_tools(R"([{"name":"a","input_schema":{"properties":{},"required":"x"}}])",
                   "tools[0].input_schema.required is a string, expected an array of property names");
  expect_bad_tools(R"([{"name":"a","parameters":{"properties":{},"required":["x",2]}}])",
                   "tools[0].parameters.required[1] is a number, expected a property name");
  expect_bad_tools("[{\"name\":\"a\xff\"}]", "tools: invalid UTF-8 at byte 11");
  std::string deep = R"([{"name":"a","parameters":{"x":)";
  deep += std::string(10000, '[') + std::string(10000, ']') + "}}]";
  expect_bad_tools(deep, "nested deeper than");
}

TEST(Tools, LimitsRefuseOversizedInputs) {
  std::string big = "[{\"name\":\"a\",\"description\":\"";
  big.append(needle::kMaxToolsJsonBytes, 'x');
  big += "\"}]";
  expect_bad_tools(big, "bytes; the limit is " + std::to_string(needle::kMaxToolsJsonBytes));

  std::string many = "[";
  for (std::size_t i = 0; i <= needle::kMaxTools; ++i) many += "{\"name\":\"t" + std::to_string(i) + "\"},";
  many.back() = ']';
  ASSERT_LE(many.size(), needle::kMaxToolsJsonBytes);
  expect_bad_tools(many, "tools; the limit is " + std::to_string(needle::kMaxTools));
}

TEST(Tools, TenThousandToolsAndOneMegabyteAreFast) {
  std::string in = "[";
  for (int i = 0; i < 10000; ++i) {
    if (i) in += ',';
    in += R"({"type":"function","function":{"name":"toolNumber)" + std::to_string(i) +
          R"(","description":"Does thing )" + std::to_string(i) +
          R"( with caf\u00e9 and 0.1","parameters":{"type":"object","properties":{)"
          R"("query":{"type":"string","description":"What to look up"},)"
          R"("limit":{"type":"integer","default":10}},"required":["query"]}}})";
  }
  in += "]";
  ASSERT_GE(in.size(), 1000000u);
  const auto t0 = std::chrono::steady_clock::now();
  const CanonicalTools t = canon_ok(in);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(t.tools.size(), 10000u);
  EXPECT_EQ(t.tools[9999].name, "tool_number9999");
  EXPECT_EQ(t.original_name("tool_number1234"), "toolNumber1234");
  EXPECT_TRUE(t.tools[5].params[0].required);
  EXPECT_EQ(t.json.substr(0, 120),
            R"([{"name":"tool_number0","description":"Does thing 0 with caf\u00e9 and 0.1","parameters":{"query":{"type":"string","desc)");
  std::printf("[ figures  ] 10000 tools, %zu bytes in, %zu bytes out: %.1f ms\n", in.size(), t.json.size(), ms);
  EXPECT_LT(ms, 5000.0);  // generous: the machine is shared; typical is tens of ms

  // One tool with a 1 MB description and one with 20 000 parameters.
  std::string huge = R"([{"name":"big","description":")" + std::string(1 << 20, 'd') + R"("}])";
  EXPECT_EQ(canon_ok(huge).json.size(), huge.size());
  std::string wide = R"({"name":"wide","input_schema":{"type":"object","properties":{)";
  std::string req = "";
  for (int i = 0; i < 20000; ++i) {
    wide += (i ? ",\"p" : "\"p") + std::to_string(i) + R"(":{"type":"string"})";
    req += (i ? ",\"p" : "\"p") + std::to_string(i * 2) + "\"";
  }
  wide += "},\"required\":[" + req + "]}}";
  const auto t1 = std::chrono::steady_clock::now();
  const CanonicalTools w = canon_ok(wide);
  const double wide_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  ASSERT_EQ(w.tools[0].params.size(), 20000u);
  EXPECT_TRUE(w.tools[0].params[2].required);
  EXPECT_FALSE(w.tools[0].params[3].required);
  std::printf("[ figures  ] 20000 properties, 20000 required names: %.1f ms\n", wide_ms);
}

TEST(Tools, AFailedCallDoesNotAffectTheNext) {
  const std::string good = R"([{"name":"getWeather","parameters":{"city":{"type":"string"}}}])";
  const std::string first = canon_ok(good).json;
  expect_bad_tools(R"([{"name":"getWeather","parameters":{"city":)", "invalid JSON");
  expect_bad_tools(R"([{"name":"a"},{"name":"A"}])", "both have the snake_case name");
  expect_bad_tools("[{\"name\":\"\xc3\x28\"}]", "invalid UTF-8");
  EXPECT_EQ(canon_ok(good).json, first);
  EXPECT_EQ(first, R"([{"name":"get_weather","parameters":{"city":{"type":"string"}}}])");
}

// ---- the real-weights fixture: 560 tool lists in Python's bytes -------------------------

struct FixtureTools {
  std::string text;  // the tools field: json.dumps output of the reference pipeline
  json::Value list;  // parsed
};

std::vector<FixtureTools> load_fixture() {
  const std::string path = std::string(NEEDLE_FIXTURES_DIR) + "/needle_real_e2e_560.json";
  const std::string raw = read_file(path);
  auto doc = json::parse(raw);
  if (!doc.ok()) {
    ADD_FAILURE() << path << ": " << doc.error().message;
    return {};
  }
  std::vector<FixtureTools> out;
  for (const json::Value& ex : doc->find("examples")->items) {
    FixtureTools f;
    f.text = ex.find("tools")->text;
    auto list = json::parse(f.text);
    if (!list.ok()) {
      ADD_FAILURE() << list.error().message;
      return {};
    }
    f.list = std::move(list).value();
    out.push_back(std::move(f));
  }
  return out;
}

// The fixture bytes with each tool's name replaced by `snake`: text surgery on Python's
// output, so the expectation does not come from our writer. Each tool object starts with
// {"name":"..." in the fixture.
std::string with_snake_names(std::string text, const json::Value& list) {
  for (const json::Value& tool : list.items) {
    const std::string& name = tool.find("name")->text;
    const std::string from = "{\"name\":\"" + name + "\"";
    const std::string to = "{\"name\":\"" + to_snake_case(name) + "\"";
    const std::size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
  }
  return text;
}

TEST(ToolsFixture, CanonicalFormIsTheFixtureBytesWithSnakeCaseNames) {
  const auto fixture = load_fixture();
  ASSERT_EQ(fixture.size(), 560u);
  int identical = 0, renamed = 0;
  for (const auto& f : fixture) {
    // Our parser + writer reproduce Python's bytes for all of it.
    EXPECT_EQ(json::dump(f.list), f.text);
    const CanonicalTools t = canon_ok(f.text);
    const std::string want = with_snake_names(f.text, f.list);
    EXPECT_EQ(t.json, want);
    if (t.json == f.text) {
      ++identical;
    } else {
      ++renamed;
    }
    // Every name maps back to what the caller wrote.
    for (const json::Value& tool : f.list.items) {
      const std::string& name = tool.find("name")->text;
      EXPECT_EQ(t.original_name(to_snake_case(name)), name);
    }
  }
  // 190 lists use camelCase / PascalCase / UPPER_SNAKE / kebab-case names, which the
  // reference snake_cased (their expected token ids equal get_weather's).
  std::printf("[ figures  ] fixture tool lists byte-identical: %d, differing only in snake_cased names: %d\n",
              identical, renamed);
  EXPECT_EQ(identical + renamed, 560);
}

// Builds a tool list in another format from a flat Needle list whose parameters all
// carry "required" flags.
enum class Format { kJsonSchema, kJsonSchemaInPlace, kOpenAiWrapped, kOpenAiFlat, kAnthropic, kMcp };

json::Value schema_of(const json::Value& params, bool keep_flag_in_place) {
  json::Value props = json::Value::object();
  json::Value required = json::Value::array();
  for (std::size_t k = 0; k < params.items.size(); ++k) {
    json::Value p = params.items[k];
    const bool req = p.find("required")->boolean;
    if (req) required.push_back(json::Value::from_string(params.keys[k]));
    if (keep_flag_in_place) {
      *p.find("required") = json::Value::from_bool(!req);  // wrong on purpose: must be overwritten
    } else {
      p.keys.pop_back();  // "required" is last
      p.items.pop_back();
    }
    props.set(params.keys[k], std::move(p));
  }
  json::Value schema = json::Value::object();
  schema.set("type", json::Value::from_string("object"));
  schema.set("properties", std::move(props));
  schema.set("required", std::move(required));
  return schema;
}

json::Value rewrite(const json::Value& flat_list, Format format) {
  json::Value out = json::Value::array();
  for (const json::Value& tool : flat_list.items) {
    json::Value f = json::Value::object();
    f.set("name", *tool.find("name"));
    if (const json::Value* d = tool.find("description")) f.set("description", *d);
    const json::Value schema =
        schema_of(*tool.find("parameters"), format == Format::kJsonSchemaInPlace);
    switch (format) {
      case Format::kJsonSchema:
      case Format::kJsonSchemaInPlace:
        f.set("parameters", schema);
        out.push_back(std::move(f));
        break;
      case Format::kOpenAiWrapped: {
        f.set("parameters", schema);
        json::Value w = json::Value::object();
        w.set("type", json::Value::from_string("function"));
        w.set("function", std::move(f));
        out.push_back(std::move(w));
        break;
      }
      case Format::kOpenAiFlat: {
        json::Value w = json::Value::object();
        w.set("type", json::Value::from_string("function"));
        for (std::size_t k = 0; k < f.keys.size(); ++k) w.set(f.keys[k], f.items[k]);
        w.set("parameters", schema);
        w.set("strict", json::Value::from_bool(true));
        out.push_back(std::move(w));
        break;
      }
      case Format::kAnthropic:
        f.set("input_schema", schema);
        out.push_back(std::move(f));
        break;
      case Format::kMcp:
        f.set("inputSchema", schema);
        f.set("annotations", json::Value::object());
        out.push_back(std::move(f));
        break;
    }
  }
  return out;
}

TEST(ToolsFixture, EveryInputFormatCanonicalisesToTheSameBytes) {
  const auto fixture = load_fixture();
  ASSERT_EQ(fixture.size(), 560u);
  int lists = 0, inputs = 0;
  for (std::size_t i = 0; i < fixture.size(); ++i) {
    // Give every parameter a "required" flag so the flat form is what JSON Schema
    // round-trips to exactly: required when its position plus the list index is even.
    json::Value flat = fixture[i].list;
    for (json::Value& tool : flat.items) {
      json::Value& params = *tool.find("parameters");
      for (std::size_t k = 0; k < params.items.size(); ++k) {
        params.items[k].set("required", json::Value::from_bool((k + i) % 2 == 0));
      }
    }
    const CanonicalTools base = canon_ok(json::dump(flat));
    const std::vector<std::pair<const char*, Format>> formats = {
        {"json-schema", Format::kJsonSchema},  {"json-schema, flags in place", Format::kJsonSchemaInPlace},
        {"openai", Format::kOpenAiWrapped},    {"openai flat", Format::kOpenAiFlat},
        {"anthropic", Format::kAnthropic},     {"mcp", Format::kMcp}};
    for (const auto& [label, format] : formats) {
      const json::Value list = rewrite(flat, format);
      EXPECT_EQ(canon_ok(json::dump(list)).json, base.json) << label << ", example " << i;
      ++inputs;
      if (list.items.size() == 1) {  // a single tool object instead of a list
        EXPECT_EQ(canon_ok(json::dump(list.items[0])).json, base.json) << label << " single, example " << i;
        ++inputs;
      }
    }
    // And the flat-with-flags list itself is the fixture plus the flags, names snake_cased.
    json::Value want = flat;
    for (json::Value& tool : want.items) tool.find("name")->text = to_snake_case(tool.find("name")->text);
    EXPECT_EQ(base.json, json::dump(want));
    ++lists;
  }
  std::printf("[ figures  ] %d lists, %d rewritten inputs, all equal to their flat canonical form\n", lists,
              inputs);
}

TEST(ToolsFixture, SchemaFormsWithoutRequiredListGetRequiredFalse) {
  const auto fixture = load_fixture();
  ASSERT_FALSE(fixture.empty());
  for (std::size_t i = 0; i < fixture.size(); i += 7) {
    json::Value anthropic = json::Value::array();
    json::Value want = json::Value::array();
    for (const json::Value& tool : fixture[i].list.items) {
      json::Value a = json::Value::object();
      a.set("name", *tool.find("name"));
      a.set("description", *tool.find("description"));
      json::Value schema = json::Value::object();
      schema.set("type", json::Value::from_string("object"));
      schema.set("properties", *tool.find("parameters"));
      a.set("input_schema", std::move(schema));
      anthropic.push_back(std::move(a));
      json::Value w = tool;
      w.find("name")->text = to_snake_case(w.find("name")->text);
      for (json::Value& p : w.find("parameters")->items) p.set("required", json::Value::from_bool(false));
      want.push_back(std::move(w));
    }
    EXPECT_EQ(canon_ok(json::dump(anthropic)).json, json::dump(want)) << "example " << i;
  }
}

}  // namespace
