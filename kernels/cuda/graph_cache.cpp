#include "kernels/cuda/graph_cache.h"

#include <algorithm>
#include <vector>

#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {
namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ull, kFnvPrime = 1099511628211ull;

// A report on the graph, never a failure of the step: an error here is cleared and counted as 0.
GraphShape shape_of(cudaGraph_t graph) {
  GraphShape s;
  size_t n = 0;
  if (cudaGraphGetNodes(graph, nullptr, &n) != cudaSuccess) {
    cudaGetLastError();
    return s;
  }
  std::vector<cudaGraphNode_t> nodes(n);
  if (n > 0 && cudaGraphGetNodes(graph, nodes.data(), &n) != cudaSuccess) {
    cudaGetLastError();
    return s;
  }
  uint64_t h = kFnvOffset;
  for (cudaGraphNode_t node : nodes) {
    cudaGraphNodeType type{};
    if (cudaGraphNodeGetType(node, &type) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    if (type != cudaGraphNodeTypeKernel) continue;
    ++s.kernels;
    cudaKernelNodeParams params{};
    uintptr_t func = 0;
    if (cudaGraphKernelNodeGetParams(node, &params) == cudaSuccess) {
      func = reinterpret_cast<uintptr_t>(params.func);
    } else {
      cudaGetLastError();  // (e.g. a library's kernel launched through the driver API)
      params.gridDim = dim3(0, 0, 0);
    }
    if (func == 0) ++s.unnamed;
    h = (h ^ func) * kFnvPrime;
    // (and its grid: one kernel over another split count is another step)
    for (unsigned int g : {params.gridDim.x, params.gridDim.y, params.gridDim.z}) h = (h ^ g) * kFnvPrime;
  }
  s.fingerprint = h;
  return s;
}

}  // namespace

GraphCache::~GraphCache() { clear(); }

GraphShape GraphCache::recorded_shape() const {
  std::vector<const std::string*> keys;
  for (const auto& [key, r] : graphs_) keys.push_back(&key);
  std::sort(keys.begin(), keys.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
  GraphShape all;
  all.fingerprint = kFnvOffset;
  for (const std::string* key : keys) {
    const GraphShape& s = graphs_.at(*key).shape;
    all.kernels += s.kernels;
    all.unnamed += s.unnamed;
    all.fingerprint = (all.fingerprint ^ s.fingerprint) * kFnvPrime;
  }
  return all;
}

void GraphCache::clear() {
  for (auto& [key, r] : graphs_) cudaGraphExecDestroy(r.exec);  // no throw: teardown path
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
    const GraphShape shape = err == cudaSuccess && note_shapes_ ? shape_of(graph) : GraphShape{};
    cudaGraphDestroy(graph);
    if (err != cudaSuccess) {
      cudaGetLastError();  // (clear it: reported here, not at the next launch check)
      throw_cuda_error(err, "cudaGraphInstantiate (the decode step's graph)", __FILE__, __LINE__);
    }
    it = graphs_.emplace(key, Recorded{exec, shape}).first;
  }
  GQA_CUDA_CHECK(cudaGraphLaunch(it->second.exec, stream));
}

}  // namespace gqa::cuda
