// A bounds-checked GGUF (v2/v3) reader: every count, length and offset is checked against the file before
// it is used, and every error names the file and the key or tensor. The tokenizer reads the vocabulary
// from it; a GGUF model loader can reuse the tensor infos and mapped data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace gqa {

enum class GgufType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6, kBool = 7,
  kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
const char* gguf_type_name(GgufType t);

struct GgufValue {
  GgufType type = GgufType::kUint8;
  int64_t i = 0;     // integer types and bool (a uint64 above INT64_MAX is rejected on read)
  double f = 0;      // float types
  std::string str;   // kString
  GgufType elem_type = GgufType::kUint8;  // kArray
  std::vector<GgufValue> items;           // kArray

  bool is_integer() const;
  bool is_float() const { return type == GgufType::kFloat32 || type == GgufType::kFloat64; }
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // ggml order: dims[0] is the contiguous one
  uint32_t ggml_type = 0;
  uint64_t offset = 0;       // from the start of the data section
  uint64_t file_offset = 0;  // from the start of the file
  uint64_t nbytes = 0;       // 0 when the reader does not know the ggml type's block size
};

class GgufFile {
 public:
  // Maps the file read-only and parses header, key/values and tensor infos.
  static GgufFile open(const std::string& path);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }

  const GgufValue* find(const std::string& key) const;
  const GgufValue& get(const std::string& key) const;  // throws naming the file and key
  const std::vector<std::string>& keys() const { return keys_; }

  // Typed getters: throw naming the file and key when absent or of another type.
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<double> get_float_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const uint8_t* tensor_data(const GgufTensorInfo& t) const;

 private:
  friend class GgufParser;
  friend GgufFile parse_gguf(std::shared_ptr<const std::vector<uint8_t>> bytes, const std::string& name);
  std::string path_;
  std::shared_ptr<const void> mapping_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<std::string> keys_;
  std::unordered_map<std::string, GgufValue> values_;
  std::vector<GgufTensorInfo> tensors_;
};

// Parses an in-memory GGUF image (tests build bad inputs with it); `name` stands in for the path in errors.
GgufFile parse_gguf(std::shared_ptr<const std::vector<uint8_t>> bytes, const std::string& name);

}  // namespace gqa
