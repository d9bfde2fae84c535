// Status and Result types used everywhere in the core.
// The core never throws: Emscripten pays for exceptions in size and speed, so every
// fallible call returns a Result and the bindings turn errors into JS exceptions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace needle {

enum class ErrorCode : std::uint8_t {
  kInvalidArgument,  // a bad query, option or argument from the caller
  kBadWeights,       // the weights file is malformed or disagrees with its config
  kBadTokenizer,     // the .model / vocab.txt is malformed
  kBadTools,         // the tools JSON is invalid or unusable
  kIo,               // a file could not be opened, mapped or read
  kNotLoaded,        // a call on an engine with no model (never loaded, or disposed)
  kInternal,         // a broken invariant: a bug in needle, not in the input
};

// Stable snake_case name of a code: what the CLI prints and what JS sees as `error.code`.
constexpr std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kBadWeights: return "bad_weights";
    case ErrorCode::kBadTokenizer: return "bad_tokenizer";
    case ErrorCode::kBadTools: return "bad_tools";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kNotLoaded: return "not_loaded";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

// A value or an Error. Deliberately small: C++20 has no std::expected, and libc++ 14
// (Emscripten's) lacks it too.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Success or an Error, for calls that return nothing.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace needle

// Propagates an error from a Result/Status expression out of the enclosing function.
#define NEEDLE_RETURN_IF_ERROR(expr)                    \
  do {                                                  \
    auto&& needle_status_ = (expr);                     \
    if (!needle_status_.ok()) return needle_status_.error(); \
  } while (0)
