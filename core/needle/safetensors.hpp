// SafeTensors container: bytes -> named, validated, non-owning tensor views.
// Format: 8-byte little-endian header length, a JSON header, then raw data. Every offset is
// checked against the file before any view is handed out, so later code never reads out of
// bounds whatever the file says.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "needle/error.hpp"

namespace needle {

enum class DType : std::uint8_t { kF32, kF16, kBF16, kI4 };

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kI4: return "I4";
  }
  return "?";
}

// Bytes per stored element. I4 stores two 4-bit rows per byte and its shape already counts
// bytes ([in_pad/2, out]), so one element of the shape is one byte.
constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16: case DType::kBF16: return 2;
    case DType::kI4: return 1;
  }
  return 1;
}

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;
  std::span<const std::uint8_t> data;

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

struct SafeTensors {
  std::vector<TensorView> tensors;                              // header order
  std::vector<std::pair<std::string, std::string>> metadata;    // __metadata__, string values

  const TensorView* find(std::string_view name) const {
    for (const auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
  const std::string* meta(std::string_view key) const {
    for (const auto& kv : metadata)
      if (kv.first == key) return &kv.second;
    return nullptr;
  }
};

#ifndef NEEDLE_MAX_SAFETENSORS_HEADER
#define NEEDLE_MAX_SAFETENSORS_HEADER (64u << 20)
#endif

namespace detail {

inline Error weights_error(std::string message) {
  return make_error(ErrorCode::kBadWeights, std::move(message));
}

inline bool parse_dtype(std::string_view s, DType* out) {
  if (s == "F32") *out = DType::kF32;
  else if (s == "F16") *out = DType::kF16;
  else if (s == "BF16") *out = DType::kBF16;
  else if (s == "I4") *out = DType::kI4;
  else return false;
  return true;
}

}  // namespace detail

// Parses and validates the container. The returned views borrow `file`, which must outlive them.
inline Result<SafeTensors> parse_safetensors(std::span<const std::uint8_t> file) {
  using detail::weights_error;
  if (file.size() < 8)
    return weights_error("weights file is truncated: " + std::to_string(file.size()) +
                         " bytes, not even the 8-byte header length");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file[static_cast<std::size_t>(i)];
  if (header_len > NEEDLE_MAX_SAFETENSORS_HEADER || header_len > file.size() - 8)
    return weights_error("weights header length " + std::to_string(header_len) +
                         " exceeds the file (" + std::to_string(file.size()) +
                         " bytes): truncated or not a SafeTensors file");
  const std::span<const std::uint8_t> data = file.subspan(8 + header_len);

  simdjson::padded_string header(reinterpret_cast<const char*>(file.data() + 8), header_len);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(header).get(root); err)
    return weights_error(std::string("weights header is not valid JSON: ") +
                         simdjson::error_message(err));
  simdjson::dom::object entries;
  if (root.get_object().get(entries))
    return weights_error("weights header is not a JSON object");

  SafeTensors st;
  struct Range { std::uint64_t begin, end; std::size_t index; };
  std::vector<Range> ranges;
  for (auto field : entries) {
    const std::string name(field.key);
    simdjson::dom::object obj;
    if (name == "__metadata__") {
      if (field.value.get_object().get(obj))
        return weights_error("__metadata__ is not a JSON object");
      for (auto kv : obj) {
        std::string_view value;
        if (kv.value.get_string().get(value))
          return weights_error("__metadata__ value of '" + std::string(kv.key) +
                               "' is not a string");
        st.metadata.emplace_back(std::string(kv.key), std::string(value));
      }
      continue;
    }
    if (field.value.get_object().get(obj))
      return weights_error("tensor '" + name + "': header entry is not an object");
    std::string_view dtype_str;
    if (obj["dtype"].get_string().get(dtype_str))
      return weights_error("tensor '" + name + "': missing or non-string dtype");
    TensorView t;
    t.name = name;
    if (!detail::parse_dtype(dtype_str, &t.dtype))
      return weights_error("tensor '" + name + "': unknown dtype '" + std::string(dtype_str) +
                           "' (expected F32, F16, BF16 or I4)");
    simdjson::dom::array shape, offsets;
    if (obj["shape"].get_array().get(shape))
      return weights_error("tensor '" + name + "': missing or non-array shape");
    std::uint64_t numel = 1;
    for (auto d : shape) {
      std::int64_t dim;
      if (d.get_int64().get(dim) || dim < 0 || dim > (std::int64_t{1} << 32))
        return weights_error("tensor '" + name + "': shape has an invalid dimension");
      numel *= static_cast<std::uint64_t>(dim);
      if (numel > (std::uint64_t{1} << 40))
        return weights_error("tensor '" + name + "': shape is absurdly large");
      t.shape.push_back(dim);
    }
    if (obj["data_offsets"].get_array().get(offsets) || offsets.size() != 2)
      return weights_error("tensor '" + name + "': data_offsets must be [begin, end]");
    std::uint64_t begin = 0, end = 0;
    if (offsets.at(0).get_uint64().get(begin) || offsets.at(1).get_uint64().get(end))
      return weights_error("tensor '" + name + "': data_offsets are not non-negative integers");
    if (begin > end || end > data.size())
      return weights_error("tensor '" + name + "': data_offsets [" + std::to_string(begin) +
                           ", " + std::to_string(end) + "] out of range (data section is " +
                           std::to_string(data.size()) + " bytes; file truncated?)");
    const std::uint64_t expected = numel * dtype_size(t.dtype);
    if (end - begin != expected)
      return weights_error("tensor '" + name + "': " + std::to_string(end - begin) +
                           " bytes but dtype " + std::string(dtype_name(t.dtype)) +
                           " and its shape need " + std::to_string(expected));
    t.data = data.subspan(begin, end - begin);
    ranges.push_back({begin, end, st.tensors.size()});
    st.tensors.push_back(std::move(t));
  }
  std::vector<std::string_view> names;
  for (const auto& t : st.tensors) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  for (std::size_t i = 1; i < names.size(); ++i)
    if (names[i] == names[i - 1])
      return weights_error("tensor '" + std::string(names[i]) + "' appears twice in the header");
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].begin < ranges[i - 1].end)
      return weights_error("tensors '" + st.tensors[ranges[i - 1].index].name + "' and '" +
                           st.tensors[ranges[i].index].name + "' overlap in the data section");
  return st;
}

}  // namespace needle
