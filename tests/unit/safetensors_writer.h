// Test-only helpers: a scratch directory, and a minimal safetensors writer that can also write
// deliberately broken files (raw header text, a lying header length, truncated data).
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace gqa::test {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/gqa_test_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

// One tensor as it goes on disk: dtype is the safetensors name ("F32", "BF16", "I64", ...).
struct StTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

inline std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// f32 values rounded to f16 or bf16 storage.
inline std::vector<uint8_t> half_bytes(const std::vector<float>& v, DType t) {
  std::vector<uint8_t> b(v.size() * 2);
  if (!v.empty()) convert_from_f32(v.data(), b.data(), t, v.size());
  return b;
}

inline StTensor st_f32(std::string name, std::vector<int64_t> shape, const std::vector<float>& v) {
  return {std::move(name), "F32", std::move(shape), f32_bytes(v)};
}

inline std::string shape_json(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? "," : "") << shape[i];
  os << "]";
  return os.str();
}

// The JSON header for tensors laid out back to back in order, as the reference writer does.
inline std::string st_header(const std::vector<StTensor>& tensors) {
  std::ostringstream os;
  os << "{\"__metadata__\":{\"format\":\"pt\"}";
  uint64_t offset = 0;
  for (const StTensor& t : tensors) {
    os << ",\"" << t.name << "\":{\"dtype\":\"" << t.dtype << "\",\"shape\":" << shape_json(t.shape)
       << ",\"data_offsets\":[" << offset << "," << offset + t.data.size() << "]}";
    offset += t.data.size();
  }
  os << "}";
  return os.str();
}

// Writes 8-byte length + header + data chunks. `declared_len` overrides the length field (to
// lie); the header is space-padded to a multiple of 8 like the reference writer unless `pad` is
// false (then the data may start unaligned, which readers must still handle).
inline void write_raw_safetensors_chunks(const std::string& path, std::string header,
                                         const std::vector<const std::vector<uint8_t>*>& chunks,
                                         int64_t declared_len = -1, bool pad = true) {
  if (pad) header.append((8 - header.size() % 8) % 8, ' ');
  const uint64_t len = declared_len >= 0 ? static_cast<uint64_t>(declared_len) : header.size();
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xff));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const auto* c : chunks) {
    out.write(reinterpret_cast<const char*>(c->data()), static_cast<std::streamsize>(c->size()));
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline void write_raw_safetensors(const std::string& path, const std::string& header, const std::vector<uint8_t>& data,
                                  int64_t declared_len = -1, bool pad = true) {
  write_raw_safetensors_chunks(path, header, {&data}, declared_len, pad);
}

inline void write_safetensors(const std::string& path, const std::vector<StTensor>& tensors, bool pad = true) {
  std::vector<const std::vector<uint8_t>*> chunks;
  for (const StTensor& t : tensors) chunks.push_back(&t.data);
  write_raw_safetensors_chunks(path, st_header(tensors), chunks, -1, pad);
}

}  // namespace gqa::test
