// needle: the native command line. Argument parsing and printing only; the core decides.
//   needle run --weights FILE --tokenizer FILE --query TEXT --tools JSON [--json] [--max-tokens N]
//   needle tokenize --tokenizer FILE TEXT
// --tools @FILE reads the tools JSON from a file. Errors: one line on stderr, exit status 1
// (2 for usage errors).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "needle/json.hpp"
#include "needle/needle.hpp"

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  needle run --weights FILE --tokenizer FILE --query TEXT --tools JSON|@FILE [--json] "
    "[--max-tokens N] [--mode typed|strict|off] [--no-constrain]\n"
    "  needle tokenize --tokenizer FILE TEXT\n"
    "  needle embed --weights FILE --tokenizer FILE TEXT\n"
    "  needle retrieve --weights FILE --tokenizer FILE --query TEXT --descriptions JSON|@FILE "
    "[--k N]\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "needle: %s\n%s", message.c_str(), kUsage);
  return 2;
}

int fail(const needle::Error& e) {
  std::fprintf(stderr, "needle: error [%s]: %s\n",
               std::string(needle::error_code_name(e.code)).c_str(), e.message.c_str());
  return 1;
}

// --flag value pairs and bare flags; positional arguments kept in order.
struct Args {
  std::map<std::string, std::string> options;
  std::vector<std::string> positional;
  bool has(const std::string& k) const { return options.count(k) != 0; }
};

bool parse_args(int argc, char** argv, int first, const std::vector<std::string>& bool_flags,
                const std::vector<std::string>& value_flags, Args* out, std::string* err) {
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      out->positional.push_back(a);
      continue;
    }
    const std::string name = a.substr(2);
    if (std::find(bool_flags.begin(), bool_flags.end(), name) != bool_flags.end()) {
      out->options[name] = "";
    } else if (std::find(value_flags.begin(), value_flags.end(), name) != value_flags.end()) {
      if (i + 1 >= argc) {
        *err = "option --" + name + " needs a value";
        return false;
      }
      out->options[name] = argv[++i];
    } else {
      *err = "unknown option " + a;
      return false;
    }
  }
  return true;
}

needle::Result<needle::Blob> read_input(const std::string& path) { return needle::map_file(path); }

needle::Result<needle::Tokenizer> load_tokenizer(const std::string& path) {
  auto blob = read_input(path);
  if (!blob.ok()) return std::move(blob).error();
  return needle::Tokenizer::load(blob->bytes);
}

int cmd_tokenize(int argc, char** argv) {
  Args args;
  std::string err;
  if (!parse_args(argc, argv, 2, {}, {"tokenizer"}, &args, &err)) return usage_error(err);
  if (!args.has("tokenizer")) return usage_error("tokenize needs --tokenizer FILE");
  if (args.positional.size() != 1) return usage_error("tokenize takes exactly one TEXT argument");
  auto tok = load_tokenizer(args.options["tokenizer"]);
  if (!tok.ok()) return fail(tok.error());
  const auto ids = tok->encode(args.positional[0]);
  std::string out = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  std::printf("%s]\n", out.c_str());
  return 0;
}

// --tools / --descriptions value: the JSON itself, or @FILE to read it.
needle::Result<std::string> json_arg(const std::string& value) {
  if (value.empty() || value[0] != '@') return value;
  auto blob = read_input(value.substr(1));
  if (!blob.ok()) return std::move(blob).error();
  return std::string(reinterpret_cast<const char*>(blob->bytes.data()), blob->bytes.size());
}

needle::Result<needle::Engine> load_engine(Args& args) {
  auto weights = needle::map_file(args.options["weights"]);
  if (!weights.ok()) return std::move(weights).error();
  auto tok_blob = read_input(args.options["tokenizer"]);
  if (!tok_blob.ok()) return std::move(tok_blob).error();
  return needle::Engine::load(std::move(weights).value(), tok_blob->bytes);
}

int cmd_embed(int argc, char** argv) {
  Args args;
  std::string err;
  if (!parse_args(argc, argv, 2, {}, {"weights", "tokenizer"}, &args, &err)) return usage_error(err);
  if (!args.has("weights") || !args.has("tokenizer")) return usage_error("embed needs --weights and --tokenizer");
  if (args.positional.size() != 1) return usage_error("embed takes exactly one TEXT argument");
  auto engine = load_engine(args);
  if (!engine.ok()) return fail(engine.error());
  auto e = engine->embed(args.positional[0]);
  if (!e.ok()) return fail(e.error());
  using needle::json::Value;
  Value out = Value::object();
  out.set("kind", Value::from_string(e->used_head ? "head" : "mean_pool"));
  Value vec = Value::array();
  for (float v : e->vector) vec.push_back(Value::from_double(v));
  out.set("vector", std::move(vec));
  std::printf("%s\n", needle::json::dump(out).c_str());
  return 0;
}

int cmd_retrieve(int argc, char** argv) {
  Args args;
  std::string err;
  if (!parse_args(argc, argv, 2, {}, {"weights", "tokenizer", "query", "descriptions", "k"}, &args, &err))
    return usage_error(err);
  for (const char* required : {"weights", "tokenizer", "query", "descriptions"})
    if (!args.has(required)) return usage_error(std::string("retrieve needs --") + required);
  int k = -1;
  if (args.has("k")) {
    char* end = nullptr;
    const std::string& v = args.options["k"];
    const long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < 1 || n > 1 << 20)
      return usage_error("--k must be a positive integer, got '" + v + "'");
    k = static_cast<int>(n);
  }
  auto text = json_arg(args.options["descriptions"]);
  if (!text.ok()) return fail(text.error());
  auto parsed = needle::json::parse(*text);
  if (!parsed.ok()) return fail(parsed.error());
  std::vector<std::string> descriptions;
  if (!parsed->is_array())
    return fail(needle::make_error(needle::ErrorCode::kInvalidArgument, "--descriptions must be a JSON array of strings"));
  for (const auto& item : parsed->items) {
    if (!item.is_string())
      return fail(needle::make_error(needle::ErrorCode::kInvalidArgument, "--descriptions must be a JSON array of strings"));
    descriptions.push_back(item.text);
  }
  auto engine = load_engine(args);
  if (!engine.ok()) return fail(engine.error());
  auto ranked = engine->retrieve_tools(args.options["query"], descriptions, k);
  if (!ranked.ok()) return fail(ranked.error());
  using needle::json::Value;
  Value out = Value::object();
  out.set("kind", Value::from_string(engine->has_retrieval_head() ? "head" : "mean_pool"));
  Value results = Value::array();
  for (const auto& r : *ranked) {
    Value item = Value::object();
    item.set("index", Value::from_int(r.index));
    item.set("score", Value::from_double(r.score));
    item.set("description", Value::from_string(descriptions[std::size_t(r.index)]));
    results.push_back(std::move(item));
  }
  out.set("results", std::move(results));
  std::printf("%s\n", needle::json::dump(out).c_str());
  return 0;
}

int cmd_run(int argc, char** argv) {
  Args args;
  std::string err;
  if (!parse_args(argc, argv, 2, {"json", "no-constrain"},
                  {"weights", "tokenizer", "query", "tools", "max-tokens", "mode"}, &args, &err))
    return usage_error(err);
  for (const char* required : {"weights", "tokenizer", "query", "tools"})
    if (!args.has(required)) return usage_error(std::string("run needs --") + required);
  if (!args.positional.empty()) return usage_error("unexpected argument '" + args.positional[0] + "'");

  needle::RunOptions opt;
  if (args.has("max-tokens")) {
    char* end = nullptr;
    const std::string& v = args.options["max-tokens"];
    const long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < 1 || n > 1 << 20)
      return usage_error("--max-tokens must be a positive integer, got '" + v + "'");
    opt.max_tokens = static_cast<int>(n);
  }
  if (args.has("mode")) {
    if (args.has("no-constrain")) return usage_error("--mode and --no-constrain exclude each other");
    auto mode = needle::parse_decode_mode(args.options["mode"]);
    if (!mode.ok()) return usage_error(mode.error().message);
    opt.mode = *mode;
  }
  if (args.has("no-constrain")) opt.mode = needle::DecodeMode::kOff;
  auto tools = json_arg(args.options["tools"]);
  if (!tools.ok()) return fail(tools.error());
  auto engine = load_engine(args);
  if (!engine.ok()) return fail(engine.error());
  auto result = engine->run(args.options["query"], *tools, opt);
  if (!result.ok()) return fail(result.error());

  if (!args.has("json")) {
    std::printf("%s\n", result->text.c_str());
    return 0;
  }
  using needle::json::Value;
  Value out = Value::object();
  out.set("text", Value::from_string(result->text));
  Value calls = Value::array();
  for (const auto& c : result->calls.calls) {
    Value call = Value::object();
    call.set("name", Value::from_string(c.name));
    call.set("arguments", c.arguments);
    calls.push_back(std::move(call));
  }
  out.set("calls", std::move(calls));
  Value violations = Value::array();
  for (const auto& v : result->calls.violations) violations.push_back(Value::from_string(v));
  out.set("violations", std::move(violations));
  out.set("mode", Value::from_string(std::string(needle::decode_mode_name(opt.mode))));
  Value tokens = Value::array();
  for (auto id : result->tokens) tokens.push_back(Value::from_int(id));
  out.set("tokens", std::move(tokens));
  out.set("encoder_tokens", Value::from_int(result->encoder_tokens));
  Value timings = Value::object();
  timings.set("load", Value::from_double(result->timings.load_ms));
  timings.set("encode", Value::from_double(result->timings.encode_ms));
  timings.set("decode", Value::from_double(result->timings.decode_ms));
  out.set("timings_ms", std::move(timings));
  std::printf("%s\n", needle::json::dump(out).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage_error("missing command");
  const std::string_view cmd = argv[1];
  if (cmd == "run") return cmd_run(argc, argv);
  if (cmd == "tokenize") return cmd_tokenize(argc, argv);
  if (cmd == "embed") return cmd_embed(argc, argv);
  if (cmd == "retrieve") return cmd_retrieve(argc, argv);
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::printf("%s", kUsage);
    return 0;
  }
  return usage_error("unknown command '" + std::string(cmd) + "'");
}
