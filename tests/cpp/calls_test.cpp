// Output text -> calls and violations, and tool names mapped back (core/needle/calls.hpp).
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "needle/calls.hpp"
#include "test_util.hpp"

namespace needle {
namespace {

CanonicalTools canonical(std::string_view tools_json) {
  auto r = canonicalize_tools(tools_json);
  if (!r.ok()) {
    ADD_FAILURE() << r.error().message;
    return {};
  }
  return std::move(r).value();
}

const char* const kTools = R"([
  {"name":"getWeather","parameters":{"type":"object","properties":{
     "location":{"type":"string"},"days":{"type":"integer"},"temp":{"type":"number"},
     "unit":{"type":"string","enum":["celsius","fahrenheit"]},
     "tags":{"type":"array","items":{"type":"string"}},
     "opts":{"type":"object","properties":{"a":{"type":"string","required":true},"b":{"type":"boolean"}}},
     "maybe":{"type":["string","null"]},"anything":{}},
   "required":["location"]}},
  {"name":"GET_TIME","parameters":{"zone":{"type":"string","required":true}}},
  {"name":"ping"}])";

// The one violation of `text`, which must mention every string in `parts`.
void expect_violation(std::string_view text, std::vector<std::string> parts) {
  const CanonicalTools tools = canonical(kTools);
  const ParsedCalls r = parse_calls(text, tools);
  ASSERT_EQ(r.violations.size(), 1u) << text << (r.violations.empty() ? "" : ": " + r.violations[0]);
  for (const std::string& p : parts)
    EXPECT_NE(r.violations[0].find(p), std::string::npos) << r.violations[0] << " lacks " << p;
  EXPECT_FALSE(r.ok());
}

TEST(ParseCalls, ValidOutputGivesCallsWithOriginalNames) {
  const CanonicalTools tools = canonical(kTools);
  const ParsedCalls r = parse_calls(
      R"([{"name":"get_weather","arguments":{"location":"Paris","days":3,"temp":-1.5e3,)"
      R"("unit":"celsius","tags":["a","b"],"opts":{"a":"x","b":true},"maybe":null,"anything":[{}]}},)"
      R"( {"name":"get_time","arguments":{"zone":"UTC"}},{"name":"ping","arguments":{}}])",
      tools);
  EXPECT_TRUE(r.ok()) << (r.violations.empty() ? "" : r.violations[0]);
  ASSERT_EQ(r.calls.size(), 3u);
  EXPECT_EQ(r.calls[0].name, "getWeather");
  EXPECT_EQ(json::dump(r.calls[0].arguments),
            R"({"location":"Paris","days":3,"temp":-1500.0,"unit":"celsius","tags":["a","b"],)"
            R"("opts":{"a":"x","b":true},"maybe":null,"anything":[{}]})");
  EXPECT_EQ(r.calls[1].name, "GET_TIME");
  EXPECT_EQ(json::dump(r.calls[1].arguments), R"({"zone":"UTC"})");
  EXPECT_EQ(r.calls[2].name, "ping");
}

TEST(ParseCalls, EmptyArrayAndOriginalNamesAreAccepted) {
  const CanonicalTools tools = canonical(kTools);
  const ParsedCalls empty = parse_calls(" [ ] ", tools);
  EXPECT_TRUE(empty.ok());
  EXPECT_TRUE(empty.calls.empty());
  // restore_tool_names output names the originals; they parse as the same tools.
  const ParsedCalls r = parse_calls(R"([{"name":"GET_TIME","arguments":{"zone":"z"}}])", tools);
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "GET_TIME");
}

TEST(ParseCalls, EachViolationNamesTheProblem) {
  const std::string w = R"([{"name":"get_weather","arguments":{"location":"P",)";
  expect_violation(R"([{"name":"get_weather","arguments":{"location":"P"})", {"not valid JSON", "byte"});
  expect_violation(R"({"name":"ping","arguments":{}})", {"an object", "array"});
  expect_violation(R"([1])", {"call 0", "a number", "expected an object"});
  expect_violation(R"([{"arguments":{}}])", {"call 0", "no \"name\""});
  expect_violation(R"([{"name":7,"arguments":{}}])", {"call 0", "\"name\"", "a number"});
  expect_violation(R"([{"name":"ping","arguments":{}},{"name":"pong","arguments":{}}])",
                   {"call 1", "unknown tool", "\"pong\""});
  expect_violation(R"([{"name":"ping","arguments":{},"id":1}])", {"\"ping\"", "unexpected key", "\"id\""});
  expect_violation(R"([{"name":"ping"}])", {"\"ping\"", "no \"arguments\""});
  expect_violation(R"([{"name":"ping","arguments":[]}])", {"\"ping\"", "an array", "expected an object"});
  expect_violation(w + R"("city":"x"}}])", {"\"getWeather\"", "unknown argument", "\"city\""});
  expect_violation(R"([{"name":"get_weather","arguments":{"days":1}}])",
                   {"\"getWeather\"", "misses the required argument", "\"location\""});
  expect_violation(w + R"("days":"3"}}])", {"\"getWeather\"", "\"days\"", "a string", "integer"});
  expect_violation(w + R"("days":3.5}}])", {"\"days\"", "a number", "expected integer"});
  expect_violation(w + R"("temp":"hot"}}])", {"\"temp\"", "expected number"});
  expect_violation(w + R"("unit":"kelvin"}}])", {"\"unit\"", "\"kelvin\"", "allowed values"});
  expect_violation(w + R"("tags":["a",2]}}])", {"\"tags\"[1]", "a number", "expected string"});
  expect_violation(w + R"("opts":{"b":true}}}])", {"\"opts\"", "required key \"a\""});
  expect_violation(w + R"("opts":{"a":"x","c":1}}}])", {"\"opts\"", "unknown key \"c\""});
  expect_violation(w + R"("opts":{"a":"x","b":"yes"}}}])", {"\"opts\".b", "expected boolean"});
  expect_violation(w + R"("maybe":1}}])", {"\"maybe\"", "expected string or null"});
}

TEST(ParseCalls, ValidNumberKindsAndMultipleViolations) {
  const CanonicalTools tools = canonical(kTools);
  const std::string w = R"([{"name":"get_weather","arguments":{"location":"P",)";
  EXPECT_TRUE(parse_calls(w + R"("temp":3,"days":-0,"maybe":"s"}}])", tools).ok());
  const ParsedCalls r =
      parse_calls(R"([{"name":"nope","arguments":{}},{"name":"get_time","arguments":{"zone":1,"x":2}}])", tools);
  EXPECT_TRUE(r.parsed);
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].name, "nope");
  EXPECT_EQ(r.violations.size(), 3u);  // unknown tool; zone's type; unknown argument x
}

// The real model's strict outputs (the fixture): names come back as the caller wrote
// them, and the known departures (integers given as strings) are reported.
TEST(ParseCalls, FixtureOutputs) {
  auto doc = json::parse(test::read_text(NEEDLE_FIXTURES_DIR "/needle_real_e2e_560.json"));
  ASSERT_TRUE(doc.ok());
  int parsed = 0, clean = 0, integer_strings = 0;
  for (const json::Value& e : doc->find("examples")->items) {
    const CanonicalTools tools = canonical(e.find("tools")->text);
    const std::string& text = e.find("expected_text")->text;
    const ParsedCalls r = parse_calls(text, tools);
    if (!r.parsed) continue;
    ++parsed;
    clean += r.ok();
    for (const std::string& v : r.violations) integer_strings += v.find("expected integer") != std::string::npos;
    auto expected = json::parse(text);
    ASSERT_EQ(r.calls.size(), expected->items.size());
    for (std::size_t i = 0; i < r.calls.size(); ++i)
      EXPECT_EQ(r.calls[i].name, expected->items[i].find("name")->text) << text;
  }
  EXPECT_EQ(parsed, 553);  // 7 of the 560 were cut off at the length cap
  EXPECT_EQ(integer_strings, 7);
  EXPECT_GT(clean, 540);
}

TEST(RestoreToolNames, OnlyCallLevelNamesOfKnownTools) {
  const CanonicalTools tools = canonical(kTools);
  EXPECT_EQ(restore_tool_names(
                R"([{"name":"get_weather","arguments":{"name":"get_weather","x":["get_time"]}},)"
                R"({"name" : "get_time","arguments":{"zone":"\"name\":\"get_time\""}},)"
                R"({"name":"unknown_tool","arguments":{}}])",
                tools),
            R"([{"name":"getWeather","arguments":{"name":"get_weather","x":["get_time"]}},)"
            R"({"name" : "GET_TIME","arguments":{"zone":"\"name\":\"get_time\""}},)"
            R"({"name":"unknown_tool","arguments":{}}])");
  // Cut-off and repetitive outputs (like the fixture's) are still mapped.
  EXPECT_EQ(restore_tool_names(R"( [{"name":"get_weather","arguments":{"location":"location":")", tools),
            R"( [{"name":"getWeather","arguments":{"location":"location":")");
  EXPECT_EQ(restore_tool_names(R"([{"name":"get_wea)", tools), R"([{"name":"get_wea)");
  EXPECT_EQ(restore_tool_names("", tools), "");
  // An original that needs escaping in JSON is escaped.
  const CanonicalTools odd = canonical(R"([{"name":"Say \"Hi\"\\Now"}])");
  ASSERT_EQ(odd.tools[0].name, "say_hi_now");
  const std::string restored = restore_tool_names(R"([{"name":"say_hi_now","arguments":{}}])", odd);
  EXPECT_EQ(restored, R"([{"name":"Say \"Hi\"\\Now","arguments":{}}])");
  EXPECT_EQ(json::parse(restored)->items[0].find("name")->text, "Say \"Hi\"\\Now");
}

TEST(RestoreToolNames, FixtureTextsRoundTrip) {
  // expected_text holds the originals: snake_case them (as the model writes) and map back.
  auto doc = json::parse(test::read_text(NEEDLE_FIXTURES_DIR "/needle_real_e2e_560.json"));
  ASSERT_TRUE(doc.ok());
  int mapped = 0;
  for (const json::Value& e : doc->find("examples")->items) {
    const CanonicalTools tools = canonical(e.find("tools")->text);
    auto out = json::parse(e.find("expected_text")->text);
    if (!out.ok()) continue;
    json::Value snake = out.value();
    for (json::Value& call : snake.items) call.find("name")->text = to_snake_case(call.find("name")->text);
    const std::string restored = restore_tool_names(json::dump(snake), tools);
    EXPECT_EQ(restored, json::dump(out.value()));
    mapped += json::dump(snake) != restored;
  }
  EXPECT_GT(mapped, 50);
}

}  // namespace
}  // namespace needle
