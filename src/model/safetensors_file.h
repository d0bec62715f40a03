// SafetensorsFile: one .safetensors file, memory-mapped read-only, header fully validated.
//
// Layout: 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end]}, "__metadata__": {...}}, then the data region; offsets are
// relative to the data region. Every tensor is checked against the file size before anything
// is read, so later reads can trust the offsets, and the tensors must fill the data region
// exactly, as the reference implementation requires (no gap, no overlap, nothing after the
// last). The header is read with pread(), not through the mapping, so a freshly opened file has
// no pages of the mapping resident.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/checkpoint.h"

namespace gqa {

class SafetensorsFile {
 public:
  // Throws gqa::Error naming the file (and tensor) for anything missing, truncated or malformed,
  // and for a path that is not a regular file (a FIFO, a device), without opening it.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  // Tensors sorted by name; offset is absolute in the file, file_index is 0.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  // The whole file, mapped read-only (never null: a valid file has at least 8 bytes).
  const uint8_t* mapping() const { return map_; }
  // Asks the kernel to start reading exactly [offset, offset + n) into the page cache.
  // Both the mapping (MADV_RANDOM) and the descriptor (POSIX_FADV_RANDOM) are opened without
  // readahead, so neither a fault nor a pread() pulls in bytes nobody asked for (another rank's
  // rows, cached in large folios that a later fault would map whole); prefetching what this
  // rank will read keeps the I/O large and asynchronous anyway.
  void prefetch(uint64_t offset, uint64_t n) const;
  // Reads exactly `n` bytes at absolute `offset` with pread() (bypassing the mapping);
  // throws naming the file on a short read or I/O error.
  void pread_exact(void* dst, uint64_t n, uint64_t offset) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  uint8_t* map_ = nullptr;
  std::vector<TensorInfo> tensors_;
};

}  // namespace gqa
