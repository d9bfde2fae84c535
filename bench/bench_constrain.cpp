// Per-step cost of constrained decoding: pick + accept, in microseconds (median and p90),
// for each mode, on two kinds of logits:
//   model-like  the answer's next token stands out (what a trained model does); the
//               unconstrained argmax is usually legal, so the fast paths decide
//   noise       Gaussian logits: the argmax is usually illegal in typed mode, so every
//               step scans the candidates (the worst case)
// plus the one-off costs: TokenTable::build per tokenizer, ToolConstraints::build per
// tool list. Usage: bench_constrain [tokenizer.model]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "needle/constrain.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

// Tool lists of the kind the fixture holds, and one long list for scaling.
std::vector<std::string> tool_lists() {
  std::vector<std::string> lists = {
      R"([{"name":"get_weather","description":"Get current weather for a city","parameters":{"location":{"type":"string"},"unit":{"type":"string"}}}])",
      R"([{"name":"send_email","parameters":{"to":{"type":"string","required":true},"subject":{"type":"string"},"body":{"type":"string"}}},{"name":"set_alarm","parameters":{"time":{"type":"string","required":true},"label":{"type":"string"}}},{"name":"book_flight","parameters":{"origin":{"type":"string"},"destination":{"type":"string"},"passengers":{"type":"integer"},"cabin_class":{"type":"string","enum":["economy","business","first"]}}}])",
      R"([{"type":"function","function":{"name":"searchEvents","parameters":{"type":"object","properties":{"query":{"type":"string"},"limit":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}},"filters":{"type":"object","properties":{"from":{"type":"string"},"to":{"type":"string"}}}},"required":["query"]}}}])",
  };
  std::string many = "[";
  for (int i = 0; i < 50; ++i) {
    if (i) many += ",";
    many += R"({"name":"tool_)" + std::to_string(i) + R"(_action","parameters":{"arg_a":{"type":"string","required":true},"arg_b":{"type":"number"}}})";
  }
  lists.push_back(many + "]");
  return lists;
}

std::string target_for(const needle::CanonicalTools& tools) {
  const needle::Tool& t = tools.tools.back();
  std::string s = R"([{"name":")" + t.name + R"(","arguments":{)";
  for (std::size_t i = 0; i < t.params.size(); ++i) {
    if (i) s += ",";
    s += "\"" + t.params[i].name + "\":";
    s += t.params[i].type == "string" ? "\"Paris\"" : t.params[i].type == "array" ? "[]" : t.params[i].type == "object" ? "{}" : "3";
  }
  return s + "}}]";
}

struct Stats {
  std::vector<double> us;
  void report(const char* what) {
    if (us.empty()) return;
    std::sort(us.begin(), us.end());
    std::printf("  %-8s median %7.2f us   p90 %7.2f us   p99 %7.2f us   max %8.1f us   (%zu steps)\n",
                what, us[us.size() / 2], us[us.size() * 9 / 10], us[us.size() * 99 / 100], us.back(),
                us.size());
  }
};

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : NEEDLE_TESTDATA_DIR "/tokenizer/needle_spm.model";
  std::ifstream f(path, std::ios::binary);
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)), {});
  auto tok = needle::Tokenizer::load(bytes);
  if (!tok.ok()) {
    std::fprintf(stderr, "cannot load %s: %s\n", path.c_str(), tok.error().message.c_str());
    return 1;
  }
  auto t0 = Clock::now();
  const needle::TokenTable table = needle::TokenTable::build(*tok);
  std::printf("TokenTable::build (%d tokens): %.0f us\n", table.vocab_size(), us_since(t0));

  std::vector<needle::CanonicalTools> tools;
  std::vector<needle::ToolConstraints> constraints;
  for (const std::string& list : tool_lists()) {
    tools.push_back(std::move(needle::canonicalize_tools(list)).value());
    t0 = Clock::now();
    constraints.push_back(needle::ToolConstraints::build(tools.back()));
    std::printf("ToolConstraints::build (%zu tools): %.0f us\n", tools.back().tools.size(), us_since(t0));
  }

  std::mt19937 rng(1);
  std::vector<float> logits(std::size_t(table.vocab_size()));
  for (const bool noise_only : {false, true}) {
    std::printf("%s logits:\n", noise_only ? "noise" : "model-like");
    for (const needle::DecodeMode mode :
         {needle::DecodeMode::kOff, needle::DecodeMode::kStrict, needle::DecodeMode::kTyped}) {
      Stats stats;
      for (int rep = 0; rep < 20; ++rep) {
        const std::size_t which = std::size_t(rep) % tools.size();
        const std::string target = target_for(tools[which]);
        needle::Constrainer c(table, constraints[which], mode, 200);
        std::string text;
        for (int step = 0; step < 200; ++step) {
          std::normal_distribution<float> nd(0.0f, 1.0f);
          for (float& x : logits) x = nd(rng);
          if (step == 0) logits[std::size_t(table.tool_call_id())] += 20;
          if (!noise_only && target.compare(0, text.size(), text) == 0) {
            const std::string_view rest = std::string_view(target).substr(std::min(text.size(), target.size()));
            if (rest.empty()) logits[std::size_t(table.eos_id())] += 20;
            else
              for (const std::int32_t id : table.starting_with(static_cast<std::uint8_t>(rest[0])))
                if (rest.substr(0, table.text(id).size()) == table.text(id))
                  logits[std::size_t(id)] += 10.0f + float(table.text(id).size());
          }
          t0 = Clock::now();
          const std::int32_t id = c.pick(logits);
          if (id != table.eos_id()) c.accept(id);
          stats.us.push_back(us_since(t0));
          if (id == table.eos_id()) break;
          if (!(step == 0 && id == table.tool_call_id())) text += table.text(id);
        }
      }
      stats.report(std::string(needle::decode_mode_name(mode)).c_str());
    }
  }
  return 0;
}
