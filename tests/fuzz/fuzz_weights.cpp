// Fuzzes the weights loader (SafeTensors header, dtypes, shapes, config) with whatever bytes
// come in; a file that loads also runs a short encoder and decoder pass, so every shape the
// loader accepts is one the forward pass can use. Seeds: small random models in every dtype
// and layout, written by scripts/make_model.py when tests/fuzz/run.sh starts.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "needle/needle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto weights = needle::load_weights({data, size});
  if (!weights.ok()) {
    if (weights.error().message.empty()) __builtin_trap();  // errors name the problem
    return 0;
  }
  const needle::Model model = needle::Model::create(std::move(weights).value());
  const needle::Config& c = model.config();
  std::vector<std::int32_t> ids = {0, 1 % c.vocab_size, 2 % c.vocab_size};
  needle::Workspace ws;
  std::vector<float> enc, logits(static_cast<std::size_t>(c.vocab_size));
  model.encode(ids, ws, enc);
  needle::DecoderState st;
  model.begin_decode(enc.data(), static_cast<int>(ids.size()), ws, st);
  model.decode_step(1 % c.vocab_size, ws, st, logits.data());
  return 0;
}
