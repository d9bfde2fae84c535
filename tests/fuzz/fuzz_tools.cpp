// Fuzzes tool canonicalisation (every accepted format, snake_case names, json.dumps
// serialisation), the typed grammar built from the tools, and call parsing. Input: a tools
// JSON text, a NUL byte, then an answer text. The answer is fed to the grammar byte by byte;
// at the first refused byte (or the end), the grammar's shortest completion of the accepted
// prefix must itself be accepted, complete the answer, and make one that parse_calls finds
// follows the tool list exactly. Seeds: tests/fuzz/corpus/tools.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "needle/needle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view tools_text = input.substr(0, nul);
  const std::string_view answer = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  auto tools = needle::canonicalize_tools(tools_text);
  if (!tools.ok()) {
    if (tools.error().message.empty()) __builtin_trap();  // errors name the problem
    return 0;
  }
  // The canonical form is itself accepted, unchanged. Two exceptions, both the reference's
  // (json.loads / json.dumps): a number beyond double range is written Infinity, which is
  // not JSON; and a parameter named "properties" with an object schema makes NEEDLE.md
  // section 7 read the flat form as JSON Schema.
  bool exempt = tools->json.find("Infinity") != std::string::npos;
  if (auto doc = needle::json::parse(tools->json); doc.ok()) {
    for (const needle::json::Value& tool : doc->items) {
      const needle::json::Value* params = tool.find("parameters");
      const needle::json::Value* named = params != nullptr ? params->find("properties") : nullptr;
      exempt |= named != nullptr && named->is_object();
    }
  }
  auto again = needle::canonicalize_tools(tools->json);
  if (!exempt && (!again.ok() || again->json != tools->json)) __builtin_trap();

  const auto constraints = needle::ToolConstraints::build(*tools);
  const needle::constrain_detail::TypedGrammar grammar(constraints.typed);
  needle::constrain_detail::TypedState st;
  std::size_t fed = 0;
  for (; fed < answer.size(); ++fed) {
    needle::constrain_detail::TypedState next;
    next.copy_from(st);
    if (!grammar.feed(next, static_cast<std::uint8_t>(answer[fed]))) break;
    st.copy_from(next);
  }
  std::string closing;
  grammar.completion(st, closing);
  needle::constrain_detail::TypedState closed;
  closed.copy_from(st);
  if (!grammar.feed(closed, closing) || !needle::constrain_detail::TypedGrammar::complete(closed)) __builtin_trap();
  // What the grammar completes is an answer that follows the tool list exactly.
  const std::string whole = std::string(answer.substr(0, fed)) + closing;
  const needle::ParsedCalls calls = needle::parse_calls(whole, *tools);
  if (!calls.ok()) __builtin_trap();
  (void)needle::restore_tool_names(whole, *tools);
  (void)needle::parse_calls(answer, *tools);
  return 0;
}
