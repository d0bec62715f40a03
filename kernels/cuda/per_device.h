// A value worked out once per CUDA device and then kept: a kernel's occupancy, whether a feature
// runs, a device attribute. Declared static where the value is needed:
//   static PerDevice<int> blocks;
//   return blocks.get([](int device) { ... });
#pragma once

#include <cuda_runtime.h>

#include <map>
#include <mutex>

#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {

template <typename V>
class PerDevice {
 public:
  // The value for the current device: compute(device) the first time (under the lock, so it runs
  // once per device even when threads race), the kept value afterwards.
  template <typename F>
  V get(F&& compute) {
    int device = 0;
    GQA_CUDA_CHECK(cudaGetDevice(&device));
    std::lock_guard<std::mutex> lock(mu_);
    if (const auto it = values_.find(device); it != values_.end()) return it->second;
    const V v = compute(device);
    values_[device] = v;
    return v;
  }

 private:
  std::mutex mu_;
  std::map<int, V> values_;
};

}  // namespace gqa::cuda
