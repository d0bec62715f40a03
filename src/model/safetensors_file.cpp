#include "model/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/error.h"
#include "core/json_limits.h"
#include "core/regular_file.h"

namespace gqa {
namespace {

using nlohmann::json;

// The reference implementation refuses larger headers; so do we, before allocating for one.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

bool parse_dtype(const std::string& s, DType& out) {
  if (s == "F32") out = DType::kF32;
  else if (s == "F16") out = DType::kF16;
  else if (s == "BF16") out = DType::kBF16;
  else return false;
  return true;
}


// A non-negative integer that fits in uint64_t; `what` names the field for the message.
uint64_t as_u64(const json& v, const std::string& what) {
  GQA_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0),
            what << " must be a non-negative integer, got " << json_brief(v));
  return v.get<uint64_t>();
}

// Validates one header entry against the data region [data_begin, data_begin + data_size).
TensorInfo parse_tensor(const std::string& name, const json& e, uint64_t data_begin, uint64_t data_size,
                        const std::string& path) {
  const std::string where = "tensor " + name + " in " + path;
  GQA_CHECK(e.is_object(), where << ": header entry must be a dict, got " << json_brief(e));
  GQA_CHECK(e.contains("dtype") && e["dtype"].is_string(), where << ": missing or non-string \"dtype\"");
  GQA_CHECK(e.contains("shape") && e["shape"].is_array(), where << ": missing or non-list \"shape\"");
  GQA_CHECK(e.contains("data_offsets") && e["data_offsets"].is_array() && e["data_offsets"].size() == 2,
            where << ": \"data_offsets\" must be a list [begin, end]");
  TensorInfo t;
  t.name = name;
  const std::string dtype = e["dtype"].get<std::string>();
  GQA_CHECK(parse_dtype(dtype, t.dtype),
            where << " has unsupported dtype " << dtype << " (supported: F32, F16, BF16)");
  uint64_t numel = 1;
  for (const json& d : e["shape"]) {
    const uint64_t n = as_u64(d, where + ": shape dimension");
    GQA_CHECK(n <= static_cast<uint64_t>(INT64_MAX) && !__builtin_mul_overflow(numel, n, &numel),
              where << ": shape " << json_brief(e["shape"]) << " overflows");
    t.shape.push_back(static_cast<int64_t>(n));
  }
  const uint64_t begin = as_u64(e["data_offsets"][0], where + ": data_offsets begin");
  const uint64_t end = as_u64(e["data_offsets"][1], where + ": data_offsets end");
  GQA_CHECK(begin <= end, where << ": data_offsets [" << begin << ", " << end << "] have begin > end");
  GQA_CHECK(end <= data_size, where << ": data_offsets [" << begin << ", " << end
                                    << "] run past the end of the data region (" << data_size
                                    << " bytes; file truncated?)");
  uint64_t nbytes = 0;
  GQA_CHECK(!__builtin_mul_overflow(numel, dtype_size(t.dtype), &nbytes) && nbytes == end - begin,
            where << ": data_offsets [" << begin << ", " << end << "] hold " << end - begin << " bytes but shape "
                  << json_brief(e["shape"]) << " of " << dtype << " needs " << numel << " elements x "
                  << dtype_size(t.dtype) << " bytes");
  t.offset = data_begin + begin;
  t.nbytes = nbytes;
  return t;
}

// As the reference implementation (its InvalidOffset and MetadataIncompleteBuffer errors), the
// tensors sorted by data_offsets must tile the data region [0, data_size) exactly: each one starts
// where the one before ended (empty ones too), the first at 0, the last at the end of the file.
// Two tensors sharing bytes would mean one of them is garbage; bytes that belong to no tensor mean
// the header and the data disagree: a header-length field a few bytes short still parses (the
// header's padding is spaces) and shifts every tensor, and only the bytes left over show it.
void check_tiling(const std::vector<TensorInfo>& tensors, uint64_t data_begin, uint64_t data_size,
                  const std::string& path) {
  std::vector<const TensorInfo*> sorted;
  for (const TensorInfo& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) {
    return a->offset != b->offset ? a->offset < b->offset : a->nbytes < b->nbytes;
  });
  uint64_t end = 0;  // where the tensors so far end, relative to the data region
  const TensorInfo* prev = nullptr;
  for (const TensorInfo* t : sorted) {
    const uint64_t begin = t->offset - data_begin;
    GQA_CHECK(begin >= end, "tensors " << prev->name << " and " << t->name << " overlap in " << path);
    GQA_CHECK(begin == end, "bytes [" << end << ", " << begin << ") of the data region of " << path
                                      << " belong to no tensor ("
                                      << (prev != nullptr ? "between tensors " + prev->name + " and "
                                                          : std::string("before tensor "))
                                      << t->name << "; safetensors requires the tensors to fill it exactly)");
    end = begin + t->nbytes;
    prev = t;
  }
  GQA_CHECK(end == data_size, "the last " << data_size - end << " bytes of the " << data_size << "-byte data region of "
                                          << path << " belong to no tensor (a wrong header length, or bytes appended "
                                             "to the file; safetensors requires the tensors to fill it exactly)");
}

std::vector<TensorInfo> parse_header(const std::string& text, uint64_t data_begin, uint64_t data_size,
                                     const std::string& path) {
  json header;
  // nlohmann keeps the last of two equal keys; a tensor named twice is refused instead (its first
  // entry's bytes would otherwise be left unused, or read as another tensor's).
  std::unordered_set<std::string> names;
  const json::parser_callback_t depth_limit = json_depth_limit(path);
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      const std::string& name = parsed.get_ref<const std::string&>();
      GQA_CHECK(names.insert(name).second, "tensor " << name << " appears twice in the header of safetensors file "
                                                     << path);
    }
    return depth_limit(depth, event, parsed);
  };
  try {
    header = json::parse(text, callback);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past a double's range
    GQA_FAIL("invalid JSON header in safetensors file " << path << ": " << e.what());
  }
  GQA_CHECK(header.is_object(), "safetensors header of " << path << " must be a JSON dict");
  std::vector<TensorInfo> tensors;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;  // free-form strings; nothing we need
    tensors.push_back(parse_tensor(name, entry, data_begin, data_size, path));
  }
  check_tiling(tensors, data_begin, data_size, path);
  return tensors;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  fd_ = open_regular_file(path, "safetensors file", &file_size_);
  // From here on the destructor does not run if we throw, so release the fd on failure.
  try {
    GQA_CHECK(file_size_ >= 8, "safetensors file " << path << " is too short (" << file_size_
                                                   << " bytes; a header length needs 8)");
    uint8_t len_bytes[8];
    pread_exact(len_bytes, 8, 0);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];  // little-endian
    GQA_CHECK(header_len <= file_size_ - 8, "safetensors file " << path << " declares a " << header_len
                                                                << "-byte header but only " << file_size_ - 8
                                                                << " bytes follow (truncated or corrupt)");
    GQA_CHECK(header_len <= kMaxHeaderBytes, "safetensors header of " << path << " is too large (" << header_len
                                                                      << " bytes)");
    std::string text(header_len, '\0');
    pread_exact(text.data(), header_len, 8);
    tensors_ = parse_header(text, 8 + header_len, file_size_ - 8 - header_len, path);
    void* m = ::mmap(nullptr, file_size_, PROT_READ, MAP_SHARED, fd_, 0);
    GQA_CHECK(m != MAP_FAILED, "cannot mmap " << path << ": " << std::strerror(errno));
    map_ = static_cast<uint8_t*>(m);
    // Advice only (see prefetch()): a kernel that ignores it still gives correct data, so a
    // failure here is not an error.
    ::madvise(map_, file_size_, MADV_RANDOM);
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_RANDOM);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, file_size_);
  if (fd_ >= 0) ::close(fd_);
}

void SafetensorsFile::prefetch(uint64_t offset, uint64_t n) const {
  GQA_CHECK(offset <= file_size_ && n <= file_size_ - offset,
            "byte range [" << offset << ", " << offset + n << ") is outside " << path_ << " (" << file_size_
                           << " bytes)");
  if (n > 0) ::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(n), POSIX_FADV_WILLNEED);
}

void SafetensorsFile::pread_exact(void* dst, uint64_t n, uint64_t offset) const {
  auto* p = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    GQA_CHECK(got >= 0, "read of " << n << " bytes at offset " << offset << " of " << path_
                                   << " failed: " << std::strerror(errno));
    GQA_CHECK(got > 0, "unexpected end of file reading " << n << " bytes at offset " << offset << " of " << path_);
    p += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<uint64_t>(got);
  }
}

}  // namespace gqa
