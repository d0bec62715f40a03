// Device scratch kept per stream for the decode attention: its split partials and the fused
// merge's counters.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace gqa::cuda {

// Device scratch kept per kind, device and stream: calls on one stream (and graphs recorded on it)
// reuse it, so a recorded decode step holds no memory node around the attention (stream-ordered
// allocation would, and a memory node cuts programmatic dependent launch). Grown by cudaMalloc in
// relaxed capture mode, so another thread's global-mode capture cannot refuse it; an outgrown
// buffer is kept, never freed, for the graphs that still use it. The fused merge's counters
// (kMergeCounters) are kept zeroed: a grown buffer is zeroed on the stream before the call's
// kernel, and it grows outside a stream capture only (nullptr while the stream captures and it is
// too small).
// cudaStreamPerThread names a different stream in each host thread: its buffers are per thread.
enum class KeptScratch { kDecodePartials, kMergeCounters };
// At least `bytes` of the stream's scratch of `kind` (nullptr: see above).
void* kept_scratch(KeptScratch kind, cudaStream_t stream, size_t bytes);

// Zeroed int32 counters for the fused merge, at least `count`: every call leaves its counters at
// zero, so the stream's next call (or a graph recorded on it) reuses them. nullptr while the
// stream captures and the kept buffer is too small: the caller then zeroes counters of its own,
// after the call's partials.
int* stream_merge_counters(cudaStream_t stream, size_t count);

}  // namespace gqa::cuda
