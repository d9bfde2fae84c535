// Fuzzes the tokenizer loader (SentencePiece .model protobuf or vocab.txt, detected); a
// vocabulary that loads must encode arbitrary text into ids it has, decode them, and build
// the constrained-decoding token table. Seeds: the test tokenizer
// (.model and vocab.txt from scripts/make_tokenizer.py) and tests/fuzz/corpus/tokenizer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "needle/needle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto tok = needle::Tokenizer::load({data, size});
  if (!tok.ok()) {
    if (tok.error().message.empty()) __builtin_trap();  // errors name the problem
    return 0;
  }
  const needle::TokenTable table = needle::TokenTable::build(*tok);
  if (table.vocab_size() != tok->vocab_size()) __builtin_trap();
  const std::string_view tail(reinterpret_cast<const char*>(data) + size - (size < 64 ? size : 64), size < 64 ? size : 64);
  for (const std::string_view text : {std::string_view("What's the weather in Paris?  <tool_call>[{\"a\":1}]"),
                                      std::string_view("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x8E\x89\t\n"), tail}) {
    const auto ids = tok->encode(text);
    for (const std::int32_t id : ids)
      if (id < 0 || id >= tok->vocab_size()) __builtin_trap();
    (void)tok->decode(ids);
  }
  return 0;
}
