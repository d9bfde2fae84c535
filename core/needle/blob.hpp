// Bytes the engine reads from, with whatever keeps them alive: a memory-mapped file (native),
// or a buffer the caller handed over (WASM copies the weights into its heap once).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "needle/error.hpp"

#if !defined(__EMSCRIPTEN__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#endif

namespace needle {

struct Blob {
  std::shared_ptr<const void> owner;
  std::span<const std::uint8_t> bytes;

  static Blob from_vector(std::vector<std::uint8_t> v) {
    auto p = std::make_shared<const std::vector<std::uint8_t>>(std::move(v));
    return Blob{p, std::span<const std::uint8_t>(p->data(), p->size())};
  }
};

#if !defined(__EMSCRIPTEN__)
// Maps a whole file read-only. No copy: the kernels read the INT4 weights straight from the map.
inline Result<Blob> map_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(ErrorCode::kIo, "cannot open '" + path + "': " + std::strerror(errno));
  struct stat sb {};
  if (::fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    ::close(fd);
    return make_error(ErrorCode::kIo, "'" + path + "' is not a regular file");
  }
  const std::size_t size = static_cast<std::size_t>(sb.st_size);
  if (size == 0) {
    ::close(fd);
    return Blob{nullptr, {}};
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED)
    return make_error(ErrorCode::kIo, "cannot map '" + path + "': " + std::strerror(errno));
  std::shared_ptr<const void> owner(p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
  return Blob{owner, std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(p), size)};
}
#endif

}  // namespace needle
