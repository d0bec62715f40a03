#include "kernels/cuda/graph_cache.h"

#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {

GraphCache::~GraphCache() { clear(); }

void GraphCache::clear() {
  for (auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);  // no throw: teardown path
  graphs_.clear();
  warmed_.clear();
}

void GraphCache::run(const std::string& key, cudaStream_t stream, const std::function<void()>& record) {
  auto it = graphs_.find(key);
  if (it == graphs_.end() && warmed_.count(key) == 0) {
    record();  // direct launches; the key is recorded only once this has succeeded
    warmed_.insert(key);
    return;
  }
  if (it == graphs_.end()) {
    // ThreadLocal: another thread's unrelated CUDA calls do not invalidate this capture.
    GQA_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      record();
    } catch (...) {
      cudaGraph_t partial = nullptr;
      cudaStreamEndCapture(stream, &partial);
      if (partial != nullptr) cudaGraphDestroy(partial);
      cudaGetLastError();  // clear the capture-invalidated error, the original one is rethrown
      throw;
    }
    cudaGraph_t graph = nullptr;
    GQA_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    GQA_CUDA_CHECK(err);
    it = graphs_.emplace(key, exec).first;
  }
  GQA_CUDA_CHECK(cudaGraphLaunch(it->second, stream));
}

}  // namespace gqa::cuda
