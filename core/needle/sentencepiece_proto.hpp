// SentencePiece `.model` bytes -> plain views of the fields a BPE tokenizer needs.
//
// A `.model` file is a serialized `sentencepiece.ModelProto` (proto2). Linking protobuf
// or libsentencepiece would cost the WASM build hundreds of KB, so this is a tiny
// wire-format reader: varint, fixed32/fixed64 and length-delimited fields, unknown fields
// skipped. Every read is bounds-checked; a malformed file yields an Error naming the
// message, the field and the byte offset, never a read past the end.
//
// Field numbers are those of sentencepiece_model.proto (SentencePiece 0.1.97):
//   ModelProto      1 pieces (repeated SentencePiece)  2 trainer_spec  3 normalizer_spec
//                   4 self_test_data (ignored)        5 denormalizer_spec
//   SentencePiece   1 piece  2 score (float)  3 type (enum, default NORMAL)
//   TrainerSpec     3 model_type (default UNIGRAM)  24 treat_whitespace_as_suffix
//                   35 byte_fallback  40 unk_id  41 bos_id  42 eos_id  43 pad_id
//                   44 unk_surface (default " \u2047 ")
//   NormalizerSpec  1 name  2 precompiled_charsmap  3 add_dummy_prefix
//                   4 remove_extra_whitespaces  5 escape_whitespaces  (all flags default true)
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "needle/error.hpp"

namespace needle::spm {

// SentencePiece's piece types, with the numbers the proto uses.
enum class PieceType : std::uint8_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

enum class ModelType : std::int32_t { kUnigram = 1, kBpe = 2, kWord = 3, kChar = 4 };

struct PieceView {
  std::string_view piece;  // borrowed from the model bytes
  float score = 0.0f;
  PieceType type = PieceType::kNormal;
};

struct NormalizerSpecView {
  std::string_view name;
  std::string_view precompiled_charsmap;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// The fields of ModelProto the tokenizer uses, as views into the model bytes (which must
// outlive this struct). Defaults are the proto2 defaults.
struct ModelProtoView {
  std::vector<PieceView> pieces;
  ModelType model_type = ModelType::kUnigram;
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  std::int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  std::string_view unk_surface = " \xE2\x81\x87 ";  // " ⁇ "
  NormalizerSpecView normalizer;
  bool has_denormalizer = false;
  NormalizerSpecView denormalizer;
};

namespace detail {

enum class WireType : std::uint8_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

struct Field {
  std::uint32_t number = 0;
  WireType wire = WireType::kVarint;
  std::uint64_t varint = 0;                 // kVarint
  std::uint32_t fixed32 = 0;                // kFixed32
  std::span<const std::uint8_t> bytes;      // kLen
  std::size_t offset = 0;                   // of the tag, from the start of the file
};

inline std::string_view wire_type_name(WireType w) {
  switch (w) {
    case WireType::kVarint: return "varint";
    case WireType::kFixed64: return "fixed64";
    case WireType::kLen: return "length-delimited";
    case WireType::kFixed32: return "fixed32";
  }
  return "?";
}

inline Error proto_error(std::string message) {
  return make_error(ErrorCode::kBadTokenizer, "SentencePiece model: " + std::move(message));
}

// Reads the fields of one message, in order. `base` is the message's offset in the file,
// for error messages only.
class WireReader {
 public:
  WireReader(std::span<const std::uint8_t> bytes, std::size_t base, std::string_view message)
      : bytes_(bytes), base_(base), message_(message) {}

  bool done() const { return pos_ >= bytes_.size(); }

  Status next(Field& f) {
    f = Field{};
    f.offset = base_ + pos_;
    std::uint64_t tag = 0;
    NEEDLE_RETURN_IF_ERROR(read_varint(tag));
    f.number = static_cast<std::uint32_t>(tag >> 3);
    if ((tag >> 3) == 0 || (tag >> 3) > 0x1FFFFFFFu) {
      return proto_error(std::string(message_) + ": invalid field number " +
                         std::to_string(tag >> 3) + " at byte " + std::to_string(f.offset));
    }
    switch (tag & 7) {
      case 0:
        f.wire = WireType::kVarint;
        return read_varint(f.varint);
      case 1:
        f.wire = WireType::kFixed64;
        return skip(8, f);
      case 2: {
        f.wire = WireType::kLen;
        std::uint64_t len = 0;
        NEEDLE_RETURN_IF_ERROR(read_varint(len));
        if (len > bytes_.size() - pos_) {
          return proto_error(std::string(message_) + ": field " + std::to_string(f.number) +
                             " at byte " + std::to_string(f.offset) + " needs " +
                             std::to_string(len) + " bytes but only " +
                             std::to_string(bytes_.size() - pos_) +
                             " remain (truncated file?)");
        }
        f.bytes = bytes_.subspan(pos_, static_cast<std::size_t>(len));
        pos_ += static_cast<std::size_t>(len);
        return {};
      }
      case 5: {
        f.wire = WireType::kFixed32;
        NEEDLE_RETURN_IF_ERROR(skip(4, f));
        const std::uint8_t* p = bytes_.data() + pos_ - 4;
        f.fixed32 = std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
                    std::uint32_t{p[3]} << 24;
        return {};
      }
      default:  // 3/4 are proto2 groups (unused by SentencePiece), 6/7 do not exist
        return proto_error(std::string(message_) + ": field " + std::to_string(f.number) +
                           " at byte " + std::to_string(f.offset) +
                           " has unsupported wire type " + std::to_string(tag & 7));
    }
  }

 private:
  Status read_varint(std::uint64_t& out) {
    const std::size_t start = pos_;
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= bytes_.size()) {
        return proto_error(std::string(message_) + ": truncated varint at byte " +
                           std::to_string(base_ + start));
      }
      const std::uint8_t b = bytes_[pos_++];
      out |= std::uint64_t{b & 0x7Fu} << shift;
      if (b < 0x80) return {};
    }
    return proto_error(std::string(message_) + ": varint longer than 10 bytes at byte " +
                       std::to_string(base_ + start));
  }

  Status skip(std::size_t n, const Field& f) {
    if (n > bytes_.size() - pos_) {
      return proto_error(std::string(message_) + ": field " + std::to_string(f.number) +
                         " at byte " + std::to_string(f.offset) + " needs " + std::to_string(n) +
                         " bytes but only " + std::to_string(bytes_.size() - pos_) +
                         " remain (truncated file?)");
    }
    pos_ += n;
    return {};
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  std::size_t base_ = 0;
  std::string_view message_;
};

inline Status expect_wire(const Field& f, WireType want, std::string_view field_name) {
  if (f.wire == want) return {};
  return proto_error(std::string(field_name) + " (field " + std::to_string(f.number) +
                     ", byte " + std::to_string(f.offset) + ") has wire type " +
                     std::string(wire_type_name(f.wire)) + ", expected " +
                     std::string(wire_type_name(want)));
}

inline std::string_view as_string(const Field& f) {
  return {reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size()};
}

inline std::size_t offset_of(std::span<const std::uint8_t> inner,
                             std::span<const std::uint8_t> file) {
  return static_cast<std::size_t>(inner.data() - file.data());
}

// proto int32 fields hold negative numbers as sign-extended 64-bit varints.
inline Status to_int32(const Field& f, std::string_view field_name, std::int32_t& out) {
  const auto v = static_cast<std::int64_t>(f.varint);
  if (v < INT32_MIN || v > INT32_MAX) {
    return proto_error(std::string(field_name) + " = " + std::to_string(v) +
                       " is out of the int32 range");
  }
  out = static_cast<std::int32_t>(v);
  return {};
}

inline Status parse_piece(std::span<const std::uint8_t> file, std::span<const std::uint8_t> msg,
                          std::size_t index, PieceView& out) {
  const std::string name = "pieces[" + std::to_string(index) + "]";
  WireReader r(msg, offset_of(msg, file), name);
  Field f;
  while (!r.done()) {
    NEEDLE_RETURN_IF_ERROR(r.next(f));
    switch (f.number) {
      case 1:
        NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kLen, name + ".piece"));
        out.piece = as_string(f);
        break;
      case 2: {
        NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kFixed32, name + ".score"));
        std::memcpy(&out.score, &f.fixed32, sizeof(float));
        break;
      }
      case 3:
        NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kVarint, name + ".type"));
        if (f.varint < 1 || f.varint > 6) {
          return proto_error(name + ".type = " + std::to_string(f.varint) +
                             " is not a SentencePiece piece type (1..6)");
        }
        out.type = static_cast<PieceType>(f.varint);
        break;
      default:
        break;  // unknown field: skipped
    }
  }
  return {};
}

inline Status parse_trainer_spec(std::span<const std::uint8_t> file,
                                 std::span<const std::uint8_t> msg, ModelProtoView& out) {
  WireReader r(msg, offset_of(msg, file), "trainer_spec");
  Field f;
  while (!r.done()) {
    NEEDLE_RETURN_IF_ERROR(r.next(f));
    std::int32_t* id = nullptr;
    const char* id_name = nullptr;
    switch (f.number) {
      case 3: {
        NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kVarint, "trainer_spec.model_type"));
        std::int32_t v = 0;
        NEEDLE_RETURN_IF_ERROR(to_int32(f, "trainer_spec.model_type", v));
        out.model_type = static_cast<ModelType>(v);
        break;
      }
      case 24:
        NEEDLE_RETURN_IF_ERROR(
            expect_wire(f, WireType::kVarint, "trainer_spec.treat_whitespace_as_suffix"));
        out.treat_whitespace_as_suffix = f.varint != 0;
        break;
      case 35:
        NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kVarint, "trainer_spec.byte_fallback"));
        out.byte_fallback = f.varint != 0;
        break;
      case 40: id = &out.unk_id; id_name = "trainer_spec.unk_id"; break;
      case 41: id = &out.bos_id; id_name = "trainer_spec.bos_id"; break;
      case 42: id = &out.eos_id; id_name = "trainer_spec.eos_id"; break;
      case 43: id = &out.pad_id; id_name = "trainer_spec.pad_id"; break;
      case 44:
        NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kLen, "trainer_spec.unk_surface"));
        out.unk_surface = as_string(f);
        break;
      default:
        break;
    }
    if (id != nullptr) {
      NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kVarint, id_name));
      NEEDLE_RETURN_IF_ERROR(to_int32(f, id_name, *id));
    }
  }
  return {};
}

inline Status parse_normalizer_spec(std::span<const std::uint8_t> file,
                                    std::span<const std::uint8_t> msg, std::string_view name,
                                    NormalizerSpecView& out) {
  WireReader r(msg, offset_of(msg, file), name);
  const std::string prefix = std::string(name) + ".";
  Field f;
  while (!r.done()) {
    NEEDLE_RETURN_IF_ERROR(r.next(f));
    bool* flag = nullptr;
    const char* flag_name = nullptr;
    switch (f.number) {
      case 1:
        NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kLen, prefix + "name"));
        out.name = as_string(f);
        break;
      case 2:
        NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kLen, prefix + "precompiled_charsmap"));
        out.precompiled_charsmap = as_string(f);
        break;
      case 3: flag = &out.add_dummy_prefix; flag_name = "add_dummy_prefix"; break;
      case 4: flag = &out.remove_extra_whitespaces; flag_name = "remove_extra_whitespaces"; break;
      case 5: flag = &out.escape_whitespaces; flag_name = "escape_whitespaces"; break;
      default:
        break;
    }
    if (flag != nullptr) {
      NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kVarint, prefix + flag_name));
      *flag = f.varint != 0;
    }
  }
  return {};
}

}  // namespace detail

// Parses the wire format and the field types; the meaning (piece types, ids, BPE) is
// checked by the Tokenizer.
inline Result<ModelProtoView> parse_model_proto(std::span<const std::uint8_t> bytes) {
  using namespace detail;
  ModelProtoView out;
  WireReader r(bytes, 0, "ModelProto");
  Field f;
  while (!r.done()) {
    NEEDLE_RETURN_IF_ERROR(r.next(f));
    switch (f.number) {
      case 1: {
        NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kLen, "ModelProto.pieces"));
        PieceView piece;
        NEEDLE_RETURN_IF_ERROR(parse_piece(bytes, f.bytes, out.pieces.size(), piece));
        out.pieces.push_back(piece);
        break;
      }
      case 2:
        NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kLen, "ModelProto.trainer_spec"));
        NEEDLE_RETURN_IF_ERROR(parse_trainer_spec(bytes, f.bytes, out));
        break;
      case 3:
        NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kLen, "ModelProto.normalizer_spec"));
        NEEDLE_RETURN_IF_ERROR(
            parse_normalizer_spec(bytes, f.bytes, "normalizer_spec", out.normalizer));
        break;
      case 5:
        NEEDLE_RETURN_IF_ERROR(expect_wire(f, WireType::kLen, "ModelProto.denormalizer_spec"));
        out.has_denormalizer = true;
        NEEDLE_RETURN_IF_ERROR(
            parse_normalizer_spec(bytes, f.bytes, "denormalizer_spec", out.denormalizer));
        break;
      default:
        break;  // self_test_data and anything newer: skipped
    }
  }
  return out;
}

}  // namespace needle::spm
