// CUDA graphs keyed by a string. The first run of a key launches `record` directly (a warm-up:
// whatever the work sets up lazily on first use, such as cuBLASLt plans, kernel attributes,
// workspaces or NCCL connections, is then set up outside a capture, where it is allowed); the
// second run captures what `record` launches on the stream into a graph, instantiates it and
// launches it; later runs launch the graph. A failure while recording ends the capture cleanly
// and rethrows, leaving no half-made entry.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace gqa::cuda {

// What recorded graphs launch: their kernel nodes, and a fingerprint of those nodes' functions and
// grids in the graphs' node order (which kernels over how many blocks, not their arguments), so
// that two recordings of one step under different kernel switches can be told apart (a switch may
// change only a kernel's grid: the decode attention's split count).
struct GraphShape {
  size_t kernels = 0;
  size_t unnamed = 0;  // kernel nodes whose function the runtime did not name (counted as function 0)
  uint64_t fingerprint = 0;
};

class GraphCache {
 public:
  GraphCache() = default;
  ~GraphCache();
  GraphCache(const GraphCache&) = delete;
  GraphCache& operator=(const GraphCache&) = delete;

  void run(const std::string& key, cudaStream_t stream, const std::function<void()>& record);
  void clear();
  size_t size() const { return graphs_.size(); }  // graphs recorded (warmed-up keys not counted)
  // Whether recordings note their shape (off by default: a benchmark's aid, kept off the product's
  // path), and the graphs recorded since the last clear() with it on, together: kernels summed,
  // fingerprints combined in key order. A node whose function the runtime cannot name counts
  // with function 0.
  void set_note_shapes(bool on) { note_shapes_ = on; }
  GraphShape recorded_shape() const;

 private:
  struct Recorded {
    cudaGraphExec_t exec;
    GraphShape shape;
  };
  std::unordered_map<std::string, Recorded> graphs_;
  std::unordered_set<std::string> warmed_;  // keys run once directly, recorded at their next run
  bool note_shapes_ = false;
};

}  // namespace gqa::cuda
