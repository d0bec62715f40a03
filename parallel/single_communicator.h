// SingleCommunicator: rank 0 of 1. Sums and broadcasts are no-ops, all_gather copies in -> out[0];
// arguments are checked exactly as the multi-rank backends check them, so a T = 1 run fails on the
// same mistakes a T > 1 run would.
#pragma once

#include <string>

#include "parallel/communicator.h"

namespace gqa {

class SingleCommunicator final : public Communicator {
 public:
  SingleCommunicator() = default;

  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "single"; }

  void all_reduce_sum(Tensor& t, void* stream = nullptr) override;
  void broadcast(void* data, size_t bytes, int root) override;
  void all_gather(const Tensor& in, Tensor& out, void* stream = nullptr) override;
  void barrier() override {}
  bool all_ok(bool ok) override { return ok; }
  bool graph_capturable() const override { return true; }
  // Flushes stdout/stderr and exits the process with exit_code (1 if exit_code is 0).
  [[noreturn]] void abort(int exit_code) override;
};

}  // namespace gqa
