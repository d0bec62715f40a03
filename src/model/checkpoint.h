// Checkpoint: the tensors of a Hugging Face checkpoint directory, memory-mapped.
// DIR/model.safetensors, or DIR/model.safetensors.index.json naming shard files.
// Headers are fully validated on open (offsets inside the file, the tensors filling the data
// region exactly, sizes match dtype x shape); tensor data is only touched when a slice of it is
// read, so a rank that reads its 1/T slice keeps about 1/T of the weights resident.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "parallel/shard_plan.h"

namespace gqa {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;  // F32, F16, BF16 on disk
  Shape shape;
  int file_index = 0;         // which shard file
  uint64_t offset = 0;        // absolute byte offset in that file
  uint64_t nbytes = 0;
};

class SafetensorsFile;  // one mapped file (safetensors_file.h)


class Checkpoint {
 public:
  // Opens DIR; throws gqa::Error naming the file for a missing, truncated or malformed one.
  static Checkpoint open(const std::string& dir);
  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;
  ~Checkpoint();

  const std::string& dir() const { return dir_; }
  bool has(const std::string& name) const;
  // Throws gqa::Error "checkpoint DIR has no tensor NAME" when absent.
  const TensorInfo& info(const std::string& name) const;
  std::vector<std::string> names() const;

  // Checks that NAME exists with exactly this shape; throws naming tensor, expected and found.
  void expect_shape(const std::string& name, const Shape& shape) const;

  // Reads rows x cols of a 2-D tensor (a 1-D tensor: cols only, pass rows = {0, 1}) converted to
  // f32 into dst, row-major [rows.size(), cols.size()]. Reads only those bytes of the file.
  void read_f32(const std::string& name, Range rows, Range cols, float* dst) const;

  // Bytes of tensor data copied out of the files so far (for the 1/T residency test).
  uint64_t bytes_read() const { return bytes_read_; }
  // Total tensor bytes in the checkpoint.
  uint64_t total_bytes() const;

  // A hash of every tensor's name, dtype and shape and of the first and last kSampleBytes of its
  // data (never 0): two copies of a checkpoint that differ (another model of the same config,
  // another revision or conversion) differ here almost surely, whatever their shard files; a change
  // inside a tensor away from its ends is not seen (each rank reads only its slice of the rest).
  // Reads about 2 x kSampleBytes a tensor (not counted in bytes_read()).
  static constexpr uint64_t kSampleBytes = 64;
  uint64_t sample_fingerprint() const { return combined_fingerprint(sample_fingerprints()); }
  // The same per tensor, in names() order (each never 0): where two copies differ, the first
  // tensor whose entry differs names it. combined_fingerprint makes sample_fingerprint of them.
  std::vector<uint64_t> sample_fingerprints() const;
  static uint64_t combined_fingerprint(const std::vector<uint64_t>& per_tensor);

 private:
  Checkpoint() = default;
  // A tensor's part of the fingerprints: name, dtype, shape, and its first and last sampled bytes.
  std::string sample_text(const std::string& name) const;
  // Maps one safetensors file and registers its tensors (a name in two files is an error).
  void add_file(const std::string& path);
  // Opens every shard named by a model.safetensors.index.json and checks its weight_map.
  void add_index(const std::string& index_path);

  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, TensorInfo> tensors_;
  mutable uint64_t bytes_read_ = 0;
};

}  // namespace gqa
