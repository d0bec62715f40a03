// Communicator: the only way the model talks to other ranks.
// Backends: single-rank (no-op collectives), MPI (host buffers; device buffers staged through
// host memory), NCCL (device buffers, next to come). Collectives are blocking for the caller's
// stream: when a call returns on the CPU the result is in place; on a GPU it is ordered on `stream`.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/tensor.h"

namespace gqa {

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;  // "single", "mpi", "nccl"

  // In-place element-wise sum over all ranks (f32, f16 or bf16 tensors).
  virtual void all_reduce_sum(Tensor& t, void* stream = nullptr) = 0;
  // `bytes` bytes at `data` on `root` are copied to every rank (host memory).
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  // out = concat over ranks of `in` along a new leading dim: out is [size, in...] (same dtype).
  virtual void all_gather(const Tensor& in, Tensor& out, void* stream = nullptr) = 0;
  virtual void barrier() = 0;
  // True on every rank iff `ok` was true on every rank (used to fail together, never hang).
  virtual bool all_ok(bool ok) = 0;
  // True when all_reduce_sum / all_gather on device tensors can be recorded into a CUDA graph
  // (stream-ordered, no host synchronisation): NCCL, and one rank.
  virtual bool graph_capturable() const { return false; }
  // Takes the whole job down now (every rank exits non-zero).
  [[noreturn]] virtual void abort(int exit_code) = 0;
};

}  // namespace gqa
