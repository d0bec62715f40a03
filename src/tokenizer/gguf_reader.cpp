#include "tokenizer/gguf_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "core/error.h"
#include "core/regular_file.h"

namespace gqa {
namespace {

constexpr uint32_t kMaxDims = 4;       // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kBool: return 1;
    case GgufType::kUint16: case GgufType::kInt16: return 2;
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kFloat32: return 4;
    case GgufType::kUint64: case GgufType::kInt64: case GgufType::kFloat64: return 8;
    case GgufType::kString: return 8;  // at least its length
    case GgufType::kArray: return 12;  // at least element type + count
  }
  return 0;
}

// (elements per block, bytes per block) of the ggml types whose layout is fixed; {0, 0} when unknown.
std::pair<uint64_t, uint64_t> ggml_block(uint32_t type) {
  switch (type) {
    case 0: return {1, 4};      // F32
    case 1: return {1, 2};      // F16
    case 2: return {32, 18};    // Q4_0
    case 3: return {32, 20};    // Q4_1
    case 6: return {32, 22};    // Q5_0
    case 7: return {32, 24};    // Q5_1
    case 8: return {32, 34};    // Q8_0
    case 10: return {256, 84};  // Q2_K
    case 11: return {256, 110}; // Q3_K
    case 12: return {256, 144}; // Q4_K
    case 13: return {256, 176}; // Q5_K
    case 14: return {256, 210}; // Q6_K
    case 24: return {1, 1};     // I8
    case 25: return {1, 2};     // I16
    case 26: return {1, 4};     // I32
    case 27: return {1, 8};     // I64
    case 28: return {1, 8};     // F64
    case 30: return {1, 2};     // BF16
    default: return {0, 0};
  }
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  static const char* const names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                      "bool", "string", "array", "uint64", "int64", "float64"};
  const auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "unknown";
}

bool GgufValue::is_integer() const {
  return type != GgufType::kFloat32 && type != GgufType::kFloat64 && type != GgufType::kString &&
         type != GgufType::kArray && type != GgufType::kBool;
}

class GgufParser {
 public:
  explicit GgufParser(GgufFile& f) : f_(f) {}

  void parse() {
    need(4, "magic");
    GQA_CHECK(std::memcmp(f_.base_, "GGUF", 4) == 0, f_.path_ << ": not a GGUF file (bad magic)");
    pos_ = 4;
    const uint32_t version = u32("version");
    GQA_CHECK(version != 0x02000000u && version != 0x03000000u, f_.path_ << ": big-endian GGUF is not supported");
    GQA_CHECK(version == 2 || version == 3, f_.path_ << ": GGUF version " << version << " is not supported (2 or 3)");
    f_.version_ = version;
    const uint64_t n_tensors = count(u64("tensor count"), 24, "tensor count");
    const uint64_t n_kv = count(u64("key/value count"), 12, "key/value count");
    for (uint64_t k = 0; k < n_kv; ++k) read_kv(k);
    if (const GgufValue* a = f_.find("general.alignment")) {
      GQA_CHECK(a->is_integer() && a->i > 0 && (a->i & (a->i - 1)) == 0,
                f_.path_ << ": general.alignment must be a power of two, got " << a->i);
      f_.alignment_ = static_cast<uint64_t>(a->i);
    }
    for (uint64_t t = 0; t < n_tensors; ++t) f_.tensors_.push_back(read_tensor_info(t));
    const uint64_t data_start = (pos_ + f_.alignment_ - 1) / f_.alignment_ * f_.alignment_;
    for (GgufTensorInfo& t : f_.tensors_) check_tensor_data(t, data_start);
  }

 private:
  void need(uint64_t n, const std::string& what) const {
    GQA_CHECK(n <= f_.size_ && pos_ <= f_.size_ - n,
              f_.path_ << ": truncated: " << what << " needs " << n << " bytes at offset " << pos_ << ", file has "
                       << f_.size_);
  }
  template <typename T>
  T raw(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, f_.base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  uint32_t u32(const std::string& what) { return raw<uint32_t>(what); }
  uint64_t u64(const std::string& what) { return raw<uint64_t>(what); }

  // A count of items of at least `min_size` bytes each must fit in the rest of the file.
  uint64_t count(uint64_t n, uint64_t min_size, const std::string& what) const {
    GQA_CHECK(n <= (f_.size_ - pos_) / min_size,
              f_.path_ << ": " << what << " " << n << " runs past the end of the file (" << f_.size_ << " bytes)");
    return n;
  }

  std::string str(const std::string& what) {
    const uint64_t n = u64(what + " length");
    need(n, what);
    std::string s(reinterpret_cast<const char*>(f_.base_ + pos_), n);
    pos_ += n;
    return s;
  }

  GgufType type(const std::string& what) {
    const uint32_t t = u32(what + " type");
    GQA_CHECK(t <= 12, f_.path_ << ": " << what << ": unknown value type " << t);
    return static_cast<GgufType>(t);
  }

  GgufValue value(GgufType t, const std::string& key, int depth);
  void read_kv(uint64_t index);
  GgufTensorInfo read_tensor_info(uint64_t index);
  void check_tensor_data(GgufTensorInfo& t, uint64_t data_start) const;

  GgufFile& f_;
  uint64_t pos_ = 0;
};

GgufValue GgufParser::value(GgufType t, const std::string& key, int depth) {
  GgufValue v;
  v.type = t;
  switch (t) {
    case GgufType::kUint8: v.i = raw<uint8_t>(key); break;
    case GgufType::kInt8: v.i = raw<int8_t>(key); break;
    case GgufType::kUint16: v.i = raw<uint16_t>(key); break;
    case GgufType::kInt16: v.i = raw<int16_t>(key); break;
    case GgufType::kUint32: v.i = raw<uint32_t>(key); break;
    case GgufType::kInt32: v.i = raw<int32_t>(key); break;
    case GgufType::kInt64: v.i = raw<int64_t>(key); break;
    case GgufType::kUint64: {
      const uint64_t u = raw<uint64_t>(key);
      GQA_CHECK(u <= static_cast<uint64_t>(INT64_MAX), f_.path_ << ": " << key << ": uint64 value " << u << " too large");
      v.i = static_cast<int64_t>(u);
      break;
    }
    case GgufType::kFloat32: v.f = raw<float>(key); break;
    case GgufType::kFloat64: v.f = raw<double>(key); break;
    case GgufType::kBool: {
      const uint8_t b = raw<uint8_t>(key);
      GQA_CHECK(b <= 1, f_.path_ << ": " << key << ": bool value " << int(b) << " is not 0 or 1");
      v.i = b;
      break;
    }
    case GgufType::kString: v.str = str(key); break;
    case GgufType::kArray: {
      GQA_CHECK(depth < kMaxArrayDepth, f_.path_ << ": " << key << ": arrays nested deeper than " << kMaxArrayDepth);
      v.elem_type = type(key + " element");
      const uint64_t n = count(u64(key + " array count"), scalar_size(v.elem_type), key + " array count");
      v.items.reserve(n);
      for (uint64_t k = 0; k < n; ++k) v.items.push_back(value(v.elem_type, key, depth + 1));
      break;
    }
  }
  return v;
}

void GgufParser::read_kv(uint64_t index) {
  const std::string key = str("key " + std::to_string(index));
  GQA_CHECK(!f_.values_.count(key), f_.path_ << ": key " << key << " appears twice");
  const GgufType t = type(key);
  f_.values_.emplace(key, value(t, key, 0));
  f_.keys_.push_back(key);
}

GgufTensorInfo GgufParser::read_tensor_info(uint64_t index) {
  GgufTensorInfo t;
  t.name = str("tensor " + std::to_string(index) + " name");
  const uint32_t n_dims = u32(t.name + " n_dims");
  GQA_CHECK(n_dims >= 1 && n_dims <= kMaxDims, f_.path_ << ": tensor " << t.name << ": n_dims " << n_dims
                                                        << " is not in [1, " << kMaxDims << "]");
  uint64_t elements = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    const uint64_t dim = u64(t.name + " dims");
    GQA_CHECK(dim > 0 && elements <= (uint64_t{1} << 62) / dim, f_.path_ << ": tensor " << t.name << ": dim " << d
                                                                         << " = " << dim << " is zero or overflows");
    elements *= dim;
    t.dims.push_back(dim);
  }
  t.ggml_type = u32(t.name + " type");
  t.offset = u64(t.name + " offset");
  const auto [block, bytes] = ggml_block(t.ggml_type);
  if (block > 0) {
    GQA_CHECK(t.dims[0] % block == 0, f_.path_ << ": tensor " << t.name << ": dims[0] = " << t.dims[0]
                                               << " is not a multiple of the type's block size " << block);
    t.nbytes = elements / block * bytes;
  }
  return t;
}

void GgufParser::check_tensor_data(GgufTensorInfo& t, uint64_t data_start) const {
  GQA_CHECK(t.offset % f_.alignment_ == 0, f_.path_ << ": tensor " << t.name << ": offset " << t.offset
                                                     << " is not aligned to " << f_.alignment_);
  GQA_CHECK(data_start <= f_.size_ && t.offset <= f_.size_ - data_start && t.nbytes <= f_.size_ - data_start - t.offset,
            f_.path_ << ": tensor " << t.name << ": data [" << t.offset << ", +" << t.nbytes
                     << ") runs past the end of the file (" << f_.size_ << " bytes)");
  t.file_offset = data_start + t.offset;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  const auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

const GgufValue& GgufFile::get(const std::string& key) const {
  const GgufValue* v = find(key);
  GQA_CHECK(v != nullptr, path_ << ": missing key " << key);
  return *v;
}

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = get(key);
  GQA_CHECK(v.type == GgufType::kString, path_ << ": key " << key << " is " << gguf_type_name(v.type) << ", not string");
  return v.str;
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& v = get(key);
  GQA_CHECK(v.is_integer(), path_ << ": key " << key << " is " << gguf_type_name(v.type) << ", not an integer");
  return v.i;
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = get(key);
  GQA_CHECK(v.type == GgufType::kBool, path_ << ": key " << key << " is " << gguf_type_name(v.type) << ", not bool");
  return v.i != 0;
}

namespace {
const GgufValue& array_of(const GgufFile& f, const std::string& key, bool (*ok)(GgufType), const char* what) {
  const GgufValue& v = f.get(key);
  GQA_CHECK(v.type == GgufType::kArray && ok(v.elem_type),
            f.path() << ": key " << key << " is " << gguf_type_name(v.type)
                     << (v.type == GgufType::kArray ? std::string(" of ") + gguf_type_name(v.elem_type) : "")
                     << ", not an array of " << what);
  return v;
}
}  // namespace

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const GgufValue& v = array_of(*this, key, [](GgufType t) { return t == GgufType::kString; }, "strings");
  std::vector<std::string> out;
  out.reserve(v.items.size());
  for (const GgufValue& x : v.items) out.push_back(x.str);
  return out;
}

std::vector<double> GgufFile::get_float_array(const std::string& key) const {
  const GgufValue& v = array_of(*this, key, [](GgufType t) { return t == GgufType::kFloat32 || t == GgufType::kFloat64; }, "floats");
  std::vector<double> out;
  for (const GgufValue& x : v.items) out.push_back(x.f);
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  const GgufValue& v = array_of(*this, key, [](GgufType t) {
    GgufValue probe;
    probe.type = t;
    return probe.is_integer();
  }, "integers");
  std::vector<int64_t> out;
  for (const GgufValue& x : v.items) out.push_back(x.i);
  return out;
}

const uint8_t* GgufFile::tensor_data(const GgufTensorInfo& t) const { return base_ + t.file_offset; }

GgufFile GgufFile::open(const std::string& path) {
  uint64_t file_size = 0;
  const int fd = open_regular_file(path, "GGUF file", &file_size);  // (a FIFO or device refused by name)
  const size_t size = static_cast<size_t>(file_size);
  void* p = size > 0 ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : nullptr;
  const int err = errno;
  ::close(fd);
  GQA_CHECK(size > 0, path << ": truncated: the file is empty");
  GQA_CHECK(p != MAP_FAILED, path << ": cannot mmap: " << std::strerror(err));
  GgufFile f;
  f.path_ = path;
  f.mapping_ = std::shared_ptr<const void>(p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
  f.base_ = static_cast<const uint8_t*>(p);
  f.size_ = size;
  GgufParser(f).parse();
  return f;
}

GgufFile parse_gguf(std::shared_ptr<const std::vector<uint8_t>> bytes, const std::string& name) {
  GgufFile f;
  f.path_ = name;
  f.base_ = bytes->data();
  f.size_ = bytes->size();
  f.mapping_ = std::move(bytes);
  GgufParser(f).parse();
  return f;
}

}  // namespace gqa
