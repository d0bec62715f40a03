// CUDA graphs keyed by a string: the first run of a key captures what `record` launches on the
// stream into a graph and instantiates it; every run (the first included) launches the graph.
// A failure while recording ends the capture cleanly and rethrows, leaving no half-made entry.
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <string>
#include <unordered_map>

namespace gqa::cuda {

class GraphCache {
 public:
  GraphCache() = default;
  ~GraphCache();
  GraphCache(const GraphCache&) = delete;
  GraphCache& operator=(const GraphCache&) = delete;

  void run(const std::string& key, cudaStream_t stream, const std::function<void()>& record);
  void clear();
  size_t size() const { return graphs_.size(); }

 private:
  std::unordered_map<std::string, cudaGraphExec_t> graphs_;
};

}  // namespace gqa::cuda
