// Small host-to-device uploads without a round trip to the GPU: the bytes go into a pinned ring
// and the copy is queued on the stream, so the caller's buffer is free at once and a decode
// step's inputs cost no synchronisation. The ring starts over when the stream is known to be
// idle (reset(), after a synchronize or a download) or, when it fills up, after a sync.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace gqa::cuda {

class PinnedStaging {
 public:
  explicit PinnedStaging(size_t capacity = size_t(1) << 20);
  ~PinnedStaging();
  PinnedStaging(const PinnedStaging&) = delete;
  PinnedStaging& operator=(const PinnedStaging&) = delete;

  // Room for `bytes` in the ring for the caller to fill, or nullptr when they do not fit in half
  // of it (large uploads, e.g. weights, go the synchronous way).
  void* reserve(size_t bytes, cudaStream_t stream);
  // Queues the copy of a reserve()d region to device memory on the stream.
  void queue(const void* staged, size_t bytes, void* device_dst, cudaStream_t stream);
  // Only when nothing queued is still pending (the stream has been synchronised).
  void reset() { used_ = 0; }

 private:
  char* ring_ = nullptr;
  size_t capacity_;
  size_t used_ = 0;
};

}  // namespace gqa::cuda
