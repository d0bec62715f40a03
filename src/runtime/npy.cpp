#include "runtime/npy.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.h"

namespace gqa {
namespace {

// The .npy header: magic, version 1.0, header length, the dict, padded with spaces so that the data
// starts at a multiple of 64 bytes.
std::string npy_header(const std::vector<int64_t>& shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {  // "(3,)" 1-D, "(3, 4)", "()" 0-D
    if (i > 0) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dict += ',';
  dict += "), }";
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  GQA_CHECK(dict.size() <= 0xffff, "npy header of " << dict.size() << " bytes");
  const char preamble[10] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<char>(dict.size() & 0xff),
                             static_cast<char>(dict.size() >> 8)};
  return std::string(preamble, 10) + dict;
}

// Writes all `n` bytes to `fd` (write(2) may write fewer, or be interrupted); false with errno set.
bool write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = EIO;  // (no progress and no error: never report success)
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    GQA_CHECK(d >= 0 && (d == 0 || count <= INT64_MAX / 4 / d), "npy shape dimension " << d << " for " << path);
    count *= d;
  }
  const std::string header = npy_header(shape);
  const size_t bytes = static_cast<size_t>(count) * sizeof(float);
  // Written in place, as any program's output file: an existing file keeps its owner, mode and links,
  // and a symbolic link is followed. A write that fails part way (a full disk) leaves the file
  // empty, not holding part of an array that numpy would read as far as it goes.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  GQA_CHECK(fd >= 0, "cannot write " << path << ": " << std::strerror(errno));
  int err = 0;
  if (!write_all(fd, header.data(), header.size()) || !write_all(fd, data, bytes)) err = errno;
  if (err != 0) (void)::ftruncate(fd, 0);  // (fails harmlessly on a FIFO or device)
  if (::close(fd) != 0 && err == 0) err = errno;
  GQA_CHECK(err == 0, "failed writing " << path << ": " << std::strerror(err) << " (the file is left empty)");
}

}  // namespace gqa
