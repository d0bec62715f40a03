// CUDA graphs keyed by a string. The first run of a key launches `record` directly (a warm-up:
// whatever the work sets up lazily on first use, such as cuBLASLt plans, kernel attributes,
// workspaces or NCCL connections, is then set up outside a capture, where it is allowed); the
// second run captures what `record` launches on the stream into a graph, instantiates it and
// launches it; later runs launch the graph. A failure while recording ends the capture cleanly
// and rethrows, leaving no half-made entry.
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace gqa::cuda {

class GraphCache {
 public:
  GraphCache() = default;
  ~GraphCache();
  GraphCache(const GraphCache&) = delete;
  GraphCache& operator=(const GraphCache&) = delete;

  void run(const std::string& key, cudaStream_t stream, const std::function<void()>& record);
  void clear();
  size_t size() const { return graphs_.size(); }  // graphs recorded (warmed-up keys not counted)

 private:
  std::unordered_map<std::string, cudaGraphExec_t> graphs_;
  std::unordered_set<std::string> warmed_;  // keys run once directly, recorded at their next run
};

}  // namespace gqa::cuda
