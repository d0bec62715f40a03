#include "model/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/hash.h"
#include "core/json_limits.h"
#include "model/safetensors_file.h"

namespace gqa {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// convert_to_f32 reads f16/bf16 through uint16_t pointers, which must be aligned; safetensors
// does not promise aligned offsets, so an unaligned source goes through a small aligned buffer.
void convert_mapped(const uint8_t* src, DType dtype, float* dst, size_t n) {
  const size_t esz = dtype_size(dtype);
  if (reinterpret_cast<uintptr_t>(src) % esz == 0) {
    convert_to_f32(src, dtype, dst, n);
    return;
  }
  constexpr size_t kChunk = 4096;
  alignas(8) uint8_t buf[kChunk * 4];
  for (size_t i = 0; i < n; i += kChunk) {
    const size_t m = std::min(kChunk, n - i);
    std::memcpy(buf, src + i * esz, m * esz);
    convert_to_f32(buf, dtype, dst + i, m);
  }
}

}  // namespace

Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;
Checkpoint::~Checkpoint() = default;

Checkpoint Checkpoint::open(const std::string& dir) {
  GQA_CHECK(fs::exists(dir), "checkpoint directory " << dir << " does not exist");
  GQA_CHECK(fs::is_directory(dir), "checkpoint path " << dir << " is not a directory");
  Checkpoint c;
  c.dir_ = dir;
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single = fs::path(dir) / "model.safetensors";
  if (fs::exists(single)) {  // first, as transformers' from_pretrained looks for it before the index
    c.add_file(single.string());
  } else if (fs::exists(index)) {
    c.add_index(index.string());
  } else {
    GQA_FAIL("no model.safetensors or model.safetensors.index.json in " << dir);
  }
  return c;
}

void Checkpoint::add_file(const std::string& path) {
  files_.push_back(std::make_unique<SafetensorsFile>(path));
  const int index = static_cast<int>(files_.size()) - 1;
  for (TensorInfo t : files_.back()->tensors()) {
    auto it = tensors_.find(t.name);
    GQA_CHECK(it == tensors_.end(), "tensor " << t.name << " appears in both " << files_[it->second.file_index]->path()
                                              << " and " << path);
    t.file_index = index;
    tensors_.emplace(t.name, std::move(t));
  }
}

void Checkpoint::add_index(const std::string& index_path) {
  const json index = read_json_file(index_path, "checkpoint index");
  GQA_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
            "index " << index_path << " has no \"weight_map\" dict");
  std::map<std::string, int> shard_file;  // shard name -> index into files_
  for (const auto& [name, shard] : index["weight_map"].items()) {
    GQA_CHECK(shard.is_string(), "weight_map entry for " << name << " in " << index_path << " is not a file name");
    const std::string s = shard.get<std::string>();
    if (shard_file.count(s) != 0) continue;
    // Shards live next to the index; a path would let the index point anywhere.
    GQA_CHECK(!s.empty() && s.find('/') == std::string::npos && s != "." && s != "..",
              "shard name \"" << s << "\" in " << index_path << " must be a plain file name");
    const fs::path path = fs::path(dir_) / s;
    GQA_CHECK(fs::exists(path), "shard " << path.string() << " listed in " << index_path << " does not exist");
    add_file(path.string());
    shard_file[s] = static_cast<int>(files_.size()) - 1;
  }
  GQA_CHECK(!files_.empty(), "index " << index_path << " lists no tensors");
  for (const auto& [name, shard] : index["weight_map"].items()) {
    const std::string s = shard.get<std::string>();
    auto it = tensors_.find(name);
    GQA_CHECK(it != tensors_.end() && it->second.file_index == shard_file.at(s),
              "tensor " << name << " listed in " << index_path << " is not in its shard " << s);
  }
}

bool Checkpoint::has(const std::string& name) const { return tensors_.count(name) != 0; }

const TensorInfo& Checkpoint::info(const std::string& name) const {
  auto it = tensors_.find(name);
  GQA_CHECK(it != tensors_.end(), "checkpoint " << dir_ << " has no tensor " << name);
  return it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : tensors_) out.push_back(name);
  return out;
}

void Checkpoint::expect_shape(const std::string& name, const Shape& shape) const {
  const TensorInfo& t = info(name);
  GQA_CHECK(t.shape == shape, "tensor " << name << " in " << files_[t.file_index]->path() << " has shape "
                                        << shape_str(t.shape) << ", expected " << shape_str(shape));
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, t] : tensors_) total += t.nbytes;
  return total;
}

std::string Checkpoint::sample_text(const std::string& name) const {
  const TensorInfo& t = tensors_.at(name);
  std::string sample;
  const uint64_t head = std::min(t.nbytes, kSampleBytes), tail = std::min(t.nbytes - head, kSampleBytes);
  sample.resize(head + tail);
  const SafetensorsFile& file = *files_[t.file_index];
  if (head > 0) file.pread_exact(sample.data(), head, t.offset);
  if (tail > 0) file.pread_exact(sample.data() + head, tail, t.offset + t.nbytes - tail);
  return name + ";" + dtype_name(t.dtype) + ";" + shape_str(t.shape) + ";" + sample + ";";
}

std::vector<uint64_t> Checkpoint::sample_fingerprints() const {
  std::vector<uint64_t> out;  // (by name: the same order whatever the shard files)
  for (const auto& entry : tensors_) out.push_back(nonzero_fingerprint(sample_text(entry.first)));
  return out;
}

uint64_t Checkpoint::combined_fingerprint(const std::vector<uint64_t>& per_tensor) {
  return nonzero_fingerprint(
      std::string_view(reinterpret_cast<const char*>(per_tensor.data()), per_tensor.size() * sizeof(uint64_t)));
}

void Checkpoint::read_f32(const std::string& name, Range rows, Range cols, float* dst) const {
  const TensorInfo& t = info(name);
  const SafetensorsFile& file = *files_[t.file_index];
  GQA_CHECK(t.shape.size() == 1 || t.shape.size() == 2,
            "tensor " << name << " in " << file.path() << " has shape " << shape_str(t.shape)
                      << "; only 1-D and 2-D tensors can be read in slices");
  const int64_t n_rows = t.shape.size() == 2 ? t.shape[0] : 1;
  const int64_t width = t.shape.back();
  GQA_CHECK(rows.begin >= 0 && rows.begin <= rows.end && rows.end <= n_rows && cols.begin >= 0 &&
                cols.begin <= cols.end && cols.end <= width,
            "slice rows [" << rows.begin << ", " << rows.end << ") cols [" << cols.begin << ", " << cols.end
                           << ") is out of range for tensor " << name << " " << shape_str(t.shape) << " in "
                           << file.path());
  const size_t esz = dtype_size(t.dtype);
  const auto n_cols = static_cast<size_t>(cols.size());
  if (cols.begin == 0 && cols.end == width) {
    // Whole rows are one contiguous byte range: convert straight out of the mapping.
    const uint64_t offset = t.offset + static_cast<uint64_t>(rows.begin) * width * esz;
    const uint64_t n = static_cast<uint64_t>(rows.size()) * n_cols;
    file.prefetch(offset, n * esz);
    convert_mapped(file.mapping() + offset, t.dtype, dst, n);
  } else if (n_cols > 0) {
    // A column slice is strided: pread() each row's segment so the pages of the other ranks'
    // columns never enter this process's mapping.
    auto row_offset = [&](int64_t r) { return t.offset + (static_cast<uint64_t>(r) * width + cols.begin) * esz; };
    for (int64_t r = rows.begin; r < rows.end; ++r) file.prefetch(row_offset(r), n_cols * esz);
    std::vector<uint8_t> buf(t.dtype == DType::kF32 ? 0 : n_cols * esz);
    for (int64_t r = rows.begin; r < rows.end; ++r) {
      float* out = dst + static_cast<size_t>(r - rows.begin) * n_cols;
      const uint64_t offset = row_offset(r);
      if (t.dtype == DType::kF32) {
        file.pread_exact(out, n_cols * esz, offset);
      } else {
        file.pread_exact(buf.data(), n_cols * esz, offset);
        convert_to_f32(buf.data(), t.dtype, out, n_cols);
      }
    }
  }
  bytes_read_ += static_cast<uint64_t>(rows.size()) * n_cols * esz;
}

}  // namespace gqa
