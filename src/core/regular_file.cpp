#include "core/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace gqa {
namespace {

// What a path that is not a regular file is, for the message.
const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

}  // namespace

int open_regular_file(const std::string& path, const std::string& what, uint64_t* size) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    GQA_CHECK(err != ENOENT, what << " " << path << " does not exist");
    GQA_FAIL("cannot stat " << what << " " << path << ": " << std::strerror(err));
  }
  GQA_CHECK(S_ISREG(st.st_mode), what << " " << path << " is " << file_kind(st.st_mode) << ", not a regular file");
  // O_NONBLOCK: should the path have become a FIFO since stat(), open() returns at once instead of
  // waiting for a writer, and the fstat() below refuses it. It changes nothing for a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    GQA_CHECK(err != ENOENT, what << " " << path << " does not exist");
    GQA_FAIL("cannot open " << what << " " << path << ": " << std::strerror(err));
  }
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    GQA_FAIL("cannot stat " << what << " " << path << " once open: " << std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {  // (replaced since the stat() above)
    ::close(fd);
    GQA_FAIL(what << " " << path << " is " << file_kind(st.st_mode) << ", not a regular file");
  }
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

std::string read_regular_file_text(const std::string& path, const std::string& what, uint64_t max_bytes,
                                   const std::string& kind) {
  uint64_t size = 0;
  const int fd = open_regular_file(path, what, &size);
  auto too_large = [&](uint64_t bytes) {
    GQA_FAIL(what << " " << path << " is larger than the " << (max_bytes >> 20) << " MiB " << kind
                  << " may have here (" << bytes << " bytes)");
  };
  std::string text;
  try {
    if (size > max_bytes) too_large(size);
    text.reserve(size);
    // Read to the end rather than `size` bytes: the file may have changed since fstat().
    char buf[1 << 16];
    for (;;) {
      const ssize_t got = ::read(fd, buf, sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      GQA_CHECK(got >= 0, "error reading " << what << " " << path << ": " << std::strerror(errno));
      if (got == 0) break;
      if (text.size() + static_cast<uint64_t>(got) > max_bytes) too_large(text.size() + got);
      text.append(buf, static_cast<size_t>(got));
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return text;
}

std::string read_json_file_text(const std::string& path, const std::string& what) {
  return read_regular_file_text(path, what, kMaxJsonFileBytes, "a JSON file");
}

}  // namespace gqa
