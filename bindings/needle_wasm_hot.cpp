// The forward pass, compiled for speed (-O2; -O3 is no faster here and 12 KB larger) while
// the rest of the module is compiled for size (-Oz): see the if(EMSCRIPTEN) block of
// CMakeLists.txt.
//
// The core is header-only, so its functions are inline and each translation unit that
// uses one emits its own (weak) copy. Taking the addresses below makes this unit emit the
// model's entry points, and the linker keeps the first copy it sees: this object is linked
// first, so the engine runs these. (Both copies are the same C++ code; only the
// optimisation level differs.)
#include "needle/model.hpp"

namespace {
[[gnu::used]] const auto kHotEntryPoints = std::make_tuple(
    &needle::Model::encode, &needle::Model::begin_decode, &needle::Model::decode_step,
    &needle::Model::embed);
}  // namespace
