// The needle CLI as a user runs it: exit codes, one-line errors, the --json shape, and its
// tokens against the independent float64 reference (scripts/reference.py generate) end to end:
// tokenizer, encoder-id protocol, forward pass and greedy decoding.
#include <gtest/gtest.h>

#include <cstdio>
#include <sys/wait.h>

#include "needle/tools.hpp"
#include "test_util.hpp"

namespace {

struct Output {
  int status = -1;
  std::string out;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

Output sh(const std::string& cmd) {
  Output o;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return o;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  const int st = pclose(p);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

const std::string kCli = NEEDLE_BINARY_DIR "/needle";
const std::string kTiny = NEEDLE_TESTDATA_DIR "/tiny.safetensors";
const std::string kSpm = NEEDLE_TESTDATA_DIR "/tokenizer/needle_spm.model";

std::string run_cmd(const std::string& query, const std::string& tools, const std::string& extra = "") {
  return kCli + " run --weights " + kTiny + " --tokenizer " + kSpm + " --query " + quote(query) +
         " --tools " + quote(tools) + " " + extra;
}

int lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

TEST(Cli, UsageErrorsExitTwoWithOneLine) {
  for (const std::string args : {"", "bogus", "run --weights", "run --query hi", "run --max-tokens 0 --weights a --tokenizer b --query c --tools d",
                                 "tokenize --tokenizer x", "run --frobnicate 1"}) {
    const Output o = sh(kCli + " " + args);
    EXPECT_EQ(o.status, 2) << args << ": " << o.out;
    EXPECT_EQ(o.out.rfind("needle: ", 0), 0u) << args << ": " << o.out;
  }
}

TEST(Cli, BadFilesExitOneWithANamedError) {
  const Output missing = sh(kCli + " run --weights /no/such.safetensors --tokenizer " + kSpm + " --query hi --tools []");
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(lines(missing.out), 1) << missing.out;
  EXPECT_NE(missing.out.find("[io]"), std::string::npos) << missing.out;
  EXPECT_NE(missing.out.find("/no/such.safetensors"), std::string::npos);

  const Output swapped = sh(kCli + " run --weights " + kSpm + " --tokenizer " + kTiny + " --query hi --tools []");
  EXPECT_EQ(swapped.status, 1);
  EXPECT_EQ(lines(swapped.out), 1) << swapped.out;
  EXPECT_NE(swapped.out.find("[bad_weights]"), std::string::npos) << swapped.out;

  const Output empty = sh(run_cmd("", "[]"));
  EXPECT_EQ(empty.status, 1);
  EXPECT_NE(empty.out.find("query is empty"), std::string::npos) << empty.out;
}

TEST(Cli, JsonOutputHasTextTokensAndTimings) {
  const Output o = sh(run_cmd("What's the weather in Paris?", "[]", "--json --max-tokens 8"));
  ASSERT_EQ(o.status, 0) << o.out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(o.out).get(doc)) << o.out;
  EXPECT_TRUE(doc["text"].is_string());
  auto tokens = doc["tokens"].get_array();
  ASSERT_FALSE(tokens.error());
  EXPECT_GE(tokens.value().size(), 1u);
  EXPECT_LE(tokens.value().size(), 8u);
  EXPECT_TRUE(doc["calls"].is_array());
  EXPECT_TRUE(doc["violations"].is_array());
  std::string_view mode;
  ASSERT_FALSE(doc["mode"].get_string().get(mode));
  EXPECT_EQ(mode, "typed") << "typed is the default mode";
  for (const char* k : {"load", "encode", "decode"}) {
    double v = -1;
    EXPECT_FALSE(doc["timings_ms"][k].get_double().get(v)) << k;
    EXPECT_GE(v, 0.0) << k;
  }
  // Plain mode prints exactly the text.
  const Output plain = sh(run_cmd("What's the weather in Paris?", "[]", "--max-tokens 8"));
  std::string_view text;
  ASSERT_FALSE(doc["text"].get_string().get(text));
  EXPECT_EQ(plain.out, std::string(text) + "\n");
}

// Every mode flag is accepted; typed output on a random model is still a valid call list.
TEST(Cli, ModesAndParsedCalls) {
  const std::string tools =
      R"([{"name":"getWeather","description":"Get current weather for a city","parameters":{"location":{"type":"string","required":true}}}])";
  for (const std::string flag : {"--mode typed", "--mode strict", "--mode off", "--no-constrain"}) {
    const Output o = sh(run_cmd("What's the weather in Paris?", tools, "--json --max-tokens 48 " + flag));
    ASSERT_EQ(o.status, 0) << flag << ": " << o.out;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_FALSE(parser.parse(o.out).get(doc)) << o.out;
    std::string_view mode;
    ASSERT_FALSE(doc["mode"].get_string().get(mode));
    EXPECT_EQ(mode, flag == "--no-constrain" ? "off" : flag.substr(7)) << flag;
    if (flag == "--mode typed") {
      // Random weights, but the grammar holds: the text is a JSON array of calls to getWeather
      // (name mapped back) with its required location, and nothing is flagged.
      EXPECT_EQ(doc["violations"].get_array().value().size(), 0u) << o.out;
      simdjson::dom::parser text_parser;
      simdjson::dom::element text;
      ASSERT_FALSE(text_parser.parse(std::string(doc["text"].get_string().value())).get(text)) << o.out;
      EXPECT_TRUE(text.is_array()) << o.out;
      simdjson::dom::array calls = doc["calls"].get_array().value();
      for (auto call : calls) {
        EXPECT_EQ(std::string_view(call["name"].get_string().value()), "getWeather") << o.out;
        EXPECT_TRUE(call["arguments"]["location"].is_string()) << o.out;
      }
    }
  }
  const Output both = sh(run_cmd("hi", "[]", "--mode strict --no-constrain"));
  EXPECT_EQ(both.status, 2) << both.out;
  const Output bad = sh(run_cmd("hi", "[]", "--mode fast"));
  EXPECT_EQ(bad.status, 2) << bad.out;
  EXPECT_NE(bad.out.find("typed, strict or off"), std::string::npos) << bad.out;
}

TEST(Cli, TokenizePrintsIds) {
  const Output o = sh(kCli + " tokenize --tokenizer " + kSpm + " " + quote("Hello <tool_call> world"));
  ASSERT_EQ(o.status, 0) << o.out;
  EXPECT_EQ(o.out.front(), '[');
  EXPECT_NE(o.out.find(",4,"), std::string::npos) << "user-defined <tool_call> must be id 4: " << o.out;
}

TEST(Cli, ToolsFromFile) {
  const std::string path = NEEDLE_BINARY_DIR "/cli_test_tools.json";
  {
    std::ofstream f(path);
    f << R"([{"name":"get_time","description":"Current time","parameters":{}}])";
  }
  const Output a = sh(run_cmd("What time is it?", "@" + path, "--json --max-tokens 6"));
  const Output b = sh(run_cmd("What time is it?", R"([{"name":"get_time","description":"Current time","parameters":{}}])", "--json --max-tokens 6"));
  ASSERT_EQ(a.status, 0) << a.out;
  const auto tokens_of = [](const std::string& s) { return s.substr(s.find("\"tokens\""), s.find("\"encoder_tokens\"") - s.find("\"tokens\"")); };
  EXPECT_EQ(tokens_of(a.out), tokens_of(b.out));
}

// The CLI and the float64 NumPy reference produce the same ids, end to end, on queries and tool
// lists of the real-model fixture (unconstrained greedy: --mode off). An fp32 engine may pick the other
// token only where the reference's top-2 logits are within rounding of each other; after such
// a step the two sequences legitimately differ, so the comparison of that example ends there.
TEST(Cli, MatchesFloat64ReferenceEndToEnd) {
  simdjson::dom::parser parser, out_parser;
  simdjson::dom::element root;
  ASSERT_FALSE(parser.load(NEEDLE_FIXTURES_DIR "/needle_real_e2e_560.json").get(root));
  auto examples = root["examples"].get_array().value();
  int checked = 0, compared = 0, near_ties = 0;
  for (std::size_t i = 0; i < examples.size() && checked < 8; i += 67, ++checked) {
    const std::string query(examples.at(i)["query"].get_string().value());
    // The reference uses tools as given; ours canonicalises (snake_case names), which is
    // idempotent: hand both the canonical form.
    auto canonical = needle::canonicalize_tools(std::string(examples.at(i)["tools"].get_string().value()));
    ASSERT_TRUE(canonical.ok()) << canonical.error().message;
    const std::string tools = canonical->json;
    const Output ours = sh(run_cmd(query, tools, "--json --max-tokens 24 --mode off"));
    ASSERT_EQ(ours.status, 0) << ours.out;
    const Output ref = sh(std::string(NEEDLE_PYTHON) + " " NEEDLE_SOURCE_DIR "/scripts/reference.py generate --weights " +
                          kTiny + " --spm " + kSpm + " --query " + quote(query) + " --tools " + quote(tools) +
                          " --max-tokens 24 --margins");
    ASSERT_EQ(ref.status, 0) << ref.out;
    simdjson::dom::element o, r;
    ASSERT_FALSE(out_parser.parse(ours.out).get(o)) << ours.out;
    const auto our_ids = needle::test::floats_of(o["tokens"].value());
    simdjson::dom::parser ref_parser;
    ASSERT_FALSE(ref_parser.parse(ref.out).get(r)) << ref.out;
    const auto ref_ids = needle::test::floats_of(r["ids"].value());
    const auto margins = needle::test::floats_of(r["margins"].value());
    std::size_t k = 0;
    while (k < our_ids.size() && k < ref_ids.size() && our_ids[k] == ref_ids[k]) ++k;
    compared += static_cast<int>(k);
    if (k == our_ids.size() && k == ref_ids.size()) continue;
    ASSERT_LT(k, margins.size()) << "example " << i << ": lengths differ without a divergent step";
    EXPECT_LT(margins[k], 1e-3) << "example " << i << " (" << query << "): ids differ at step " << k
                                << " although the reference's top-2 margin there is " << margins[k];
    ++near_ties;
  }
  EXPECT_EQ(checked, 8);
  EXPECT_LE(near_ties, 2) << "too many near-ties: the comparison says little";
  EXPECT_GE(compared, 120) << "too few ids compared";
}

}  // namespace
