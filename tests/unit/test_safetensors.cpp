// SafetensorsFile: header parsing and every validation against the file size.
#include "model/safetensors_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "safetensors_writer.h"

namespace gqa {
namespace {

using test::StTensor;

// Opening `path` must throw a gqa::Error whose message contains every one of `parts`.
void expect_open_error(const std::string& path, const std::vector<std::string>& parts) {
  try {
    SafetensorsFile f(path);
    FAIL() << "expected an error opening " << path;
  } catch (const Error& e) {
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

// A header with one tensor entry `entry` (raw JSON) named "w", and `data_bytes` zero bytes of data.
void write_one(const std::string& path, const std::string& entry, size_t data_bytes) {
  test::write_raw_safetensors(path, "{\"w\":" + entry + "}", std::vector<uint8_t>(data_bytes, 0));
}

// A file of that one entry must be refused with an error naming the file, "tensor w" and `parts`.
void expect_entry_refused(const std::string& entry, size_t data_bytes, std::initializer_list<std::string> parts) {
  test::TempDir dir;
  const std::string path = dir.file("m.safetensors");
  write_one(path, entry, data_bytes);
  std::vector<std::string> all = {path, "tensor w"};
  all.insert(all.end(), parts.begin(), parts.end());
  SCOPED_TRACE(entry.substr(0, 100));
  expect_open_error(path, all);
}

TEST(Safetensors, ParsesAllDtypes) {
  test::TempDir dir;
  const std::string path = dir.file("m.safetensors");
  const std::vector<float> v = {1.0f, -2.5f, 0.125f, 3.0f, 65504.0f, -0.0f};
  test::write_safetensors(path, {test::st_f32("a", {2, 3}, v),
                                 {"b", "F16", {6}, test::half_bytes(v, DType::kF16)},
                                 {"c", "BF16", {3, 2}, test::half_bytes(v, DType::kBF16)}});
  SafetensorsFile f(path);
  EXPECT_EQ(f.path(), path);
  ASSERT_EQ(f.tensors().size(), 3u);
  const TensorInfo& a = f.tensors()[0];
  const TensorInfo& b = f.tensors()[1];
  const TensorInfo& c = f.tensors()[2];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.dtype, DType::kF32);
  EXPECT_EQ(a.shape, (Shape{2, 3}));
  EXPECT_EQ(a.nbytes, 24u);
  EXPECT_EQ(b.dtype, DType::kF16);
  EXPECT_EQ(b.nbytes, 12u);
  EXPECT_EQ(c.dtype, DType::kBF16);
  EXPECT_EQ(c.shape, (Shape{3, 2}));
  // Offsets are absolute: data back to back after the 8-byte length and the header.
  EXPECT_EQ(b.offset, a.offset + 24);
  EXPECT_EQ(c.offset + c.nbytes, f.file_size());
  EXPECT_EQ(std::memcmp(f.mapping() + a.offset, v.data(), 24), 0);
  std::vector<float> back(6);
  f.pread_exact(back.data(), 24, a.offset);
  EXPECT_EQ(back, v);
}

TEST(Safetensors, MetadataIgnoredAndEmptyTensorsAllowed) {
  test::TempDir dir;
  const std::string path = dir.file("m.safetensors");
  test::write_raw_safetensors(
      path,
      R"({"__metadata__": {"format": "pt"}, "e": {"dtype": "F32", "shape": [0, 4], "data_offsets": [0, 0]},
          "s": {"dtype": "F16", "shape": [], "data_offsets": [0, 2]}})",
      std::vector<uint8_t>(2, 0));
  SafetensorsFile f(path);
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensors()[0].nbytes, 0u);
  EXPECT_EQ(f.tensors()[1].shape, Shape{});
  EXPECT_EQ(f.tensors()[1].nbytes, 2u);
}

TEST(Safetensors, MissingOrShortFile) {
  test::TempDir dir;
  expect_open_error(dir.file("absent.safetensors"), {"absent.safetensors", "does not exist"});
  expect_open_error(dir.path(), {dir.path(), "not a regular file"});
  test::write_text(dir.file("empty.safetensors"), "");
  expect_open_error(dir.file("empty.safetensors"), {"empty.safetensors", "too short"});
  test::write_text(dir.file("five.safetensors"), "abcde");
  expect_open_error(dir.file("five.safetensors"), {"five.safetensors", "too short"});
}

TEST(Safetensors, HeaderLengthPastEndOfFile) {
  test::TempDir dir;
  const std::string path = dir.file("m.safetensors");
  test::write_raw_safetensors(path, "{}", {}, /*declared_len=*/4096);
  expect_open_error(path, {path, "4096-byte header"});
  // An absurd length must not wrap around or allocate.
  test::write_raw_safetensors(path, "{}", {}, /*declared_len=*/INT64_MAX);
  expect_open_error(path, {path, "header"});
}

TEST(Safetensors, InvalidJsonHeader) {
  test::TempDir dir;
  const std::string path = dir.file("m.safetensors");
  test::write_raw_safetensors(path, "{\"w\": {\"dtype\": ", {});
  expect_open_error(path, {path, "invalid JSON"});
  test::write_raw_safetensors(path, "[1, 2, 3]", {});
  expect_open_error(path, {path, "dict"});
  // nlohmann throws out_of_range, not parse_error, for a number past a double's range: still named.
  write_one(path, R"({"dtype": "F32", "shape": [1e400], "data_offsets": [0, 4]})", 4);
  expect_open_error(path, {path, "invalid JSON", "1e400"});
}

TEST(Safetensors, MalformedEntries) {
  expect_entry_refused("42", 0, {"dict"});
  expect_entry_refused(R"({"shape": [1], "data_offsets": [0, 4]})", 4, {"dtype"});
  expect_entry_refused(R"({"dtype": "F32", "data_offsets": [0, 4]})", 4, {"shape"});
  expect_entry_refused(R"({"dtype": "F32", "shape": [1]})", 4, {"data_offsets"});
  expect_entry_refused(R"({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]})", 4, {"shape dimension"});
  expect_entry_refused(R"({"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]})", 4, {"data_offsets begin"});
  expect_entry_refused(R"({"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]})", 4,
                       {"overflows"});
}

TEST(Safetensors, UnsupportedDtypes) {
  for (const char* dtype : {"I64", "F64", "I8", "U8", "BOOL", "F8_E4M3"}) {
    expect_entry_refused(std::string(R"({"dtype": ")") + dtype + R"(", "shape": [1], "data_offsets": [0, 8]})", 8,
                         {std::string("unsupported dtype ") + dtype});
  }
}

TEST(Safetensors, OffsetsPastEndOfFile) {
  // Header promises 16 bytes (4 floats) but the file stops after 8: a truncated download.
  expect_entry_refused(R"({"dtype": "F32", "shape": [4], "data_offsets": [0, 16]})", 8, {"past the end"});
  expect_entry_refused(R"({"dtype": "F32", "shape": [1], "data_offsets": [100, 104]})", 8, {"past the end"});
}

TEST(Safetensors, BeginAfterEnd) {
  expect_entry_refused(R"({"dtype": "F32", "shape": [1], "data_offsets": [8, 4]})", 8, {"begin > end"});
}

TEST(Safetensors, SizeNotMatchingShape) {
  expect_entry_refused(R"({"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]})", 24, {"20 bytes", "[2,3]"});
  expect_entry_refused(R"({"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 24]})", 24, {"24 bytes"});
}

// A dimension past INT64_MAX is refused even when another dimension is 0 (no element count
// overflows then): stored as int64, it would come out negative. Found by mutation testing
// (dropping the INT64_MAX bound passed every test).
TEST(Safetensors, DimensionPastInt64RefusedWithAZeroDimension) {
  expect_entry_refused(R"({"dtype": "F32", "shape": [9223372036854775808, 0], "data_offsets": [0, 0]})", 0,
                       {"overflows"});
}

// A header length past the 100 MiB cap is refused by name, before the header is read or
// allocated; the file is as long as the length says (sparse), so only the cap refuses it. Found
// by mutation testing (dropping the cap passed every test).
TEST(Safetensors, HeaderPastTheCapRefusedBeforeReading) {
  test::TempDir dir;
  const std::string path = dir.file("m.safetensors");
  const int64_t len = (int64_t{100} << 20) + 1;
  test::write_raw_safetensors(path, "{}", {}, len);
  std::filesystem::resize_file(path, static_cast<uintmax_t>(8 + len));
  expect_open_error(path, {path, "too large", std::to_string(len) + " bytes"});
}

TEST(Safetensors, OverlappingTensors) {
  test::TempDir dir;
  const std::string path = dir.file("m.safetensors");
  test::write_raw_safetensors(path,
                              R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                  "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}})",
                              std::vector<uint8_t>(20, 0));
  expect_open_error(path, {path, "overlap", "a", "b"});
  // Exactly adjacent is fine.
  test::write_raw_safetensors(path,
                              R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                  "b": {"dtype": "F32", "shape": [1], "data_offsets": [16, 20]}})",
                              std::vector<uint8_t>(20, 0));
  EXPECT_NO_THROW(SafetensorsFile f(path));
}

// The tensors must fill the data region exactly, as the reference implementation requires
// (InvalidOffset, MetadataIncompleteBuffer): a hole, bytes before the first tensor, or bytes after
// the last are refused. Found by fuzzing: a header-length field 4 short still parsed (the header's
// padding is spaces) and every tensor was read 4 bytes early.
TEST(Safetensors, TensorsMustFillTheDataRegionExactly) {
  test::TempDir dir;
  const std::string path = dir.file("m.safetensors");
  const std::string two = R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                              "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})";
  test::write_raw_safetensors(path, two, std::vector<uint8_t>(16, 0));  // 4 bytes after b
  expect_open_error(path, {path, "last 4 bytes of the 16-byte data region", "belong to no tensor"});
  test::write_raw_safetensors(path, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                        "b": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}})",
                              std::vector<uint8_t>(16, 0));
  expect_open_error(path, {path, "bytes [8, 12)", "between tensors a and b"});
  test::write_raw_safetensors(path, R"({"b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                              std::vector<uint8_t>(8, 0));
  expect_open_error(path, {path, "bytes [0, 4)", "before tensor b"});
  test::write_raw_safetensors(path, "{}", std::vector<uint8_t>(4, 0));  // no tensors, 4 bytes of data
  expect_open_error(path, {path, "last 4 bytes"});
  // An empty tensor sits where the data before it ends, as the reference writer puts it; one
  // inside another tensor's bytes is refused as the reference reader does.
  test::write_raw_safetensors(path, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                        "e": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]}})",
                              std::vector<uint8_t>(8, 0));
  expect_open_error(path, {path, "a and e overlap"});
  test::write_raw_safetensors(path, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                        "e": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]}})",
                              std::vector<uint8_t>(8, 0));
  EXPECT_NO_THROW(SafetensorsFile f(path));
  test::write_raw_safetensors(path, "{}", {});  // no tensors, no data: valid
  EXPECT_NO_THROW(SafetensorsFile f(path));
  // The header length 4 short: the last 4 padding spaces become data, so the tensors end 4 bytes
  // before the data region does.
  std::string header = two;
  header.append((8 - header.size() % 8) % 8 + 8, ' ');  // at least 4 spaces of padding
  test::write_raw_safetensors(path, header, std::vector<uint8_t>(12, 0), static_cast<int64_t>(header.size()) - 4,
                              /*pad=*/false);
  expect_open_error(path, {path, "last 4 bytes", "wrong header length"});
  test::write_raw_safetensors(path, header, std::vector<uint8_t>(12, 0), -1, /*pad=*/false);
  EXPECT_NO_THROW(SafetensorsFile f(path));
}

// A tensor named twice: nlohmann would keep the last entry and leave the first one's bytes unused
// (or read another tensor's as its own); refused by name.
TEST(Safetensors, DuplicateTensorNamesRefused) {
  test::TempDir dir;
  const std::string path = dir.file("m.safetensors");
  test::write_raw_safetensors(path, R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                        "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                              std::vector<uint8_t>(8, 0));
  expect_open_error(path, {path, "tensor a appears twice"});
  // The same key inside different entries (or in __metadata__) is no duplicate.
  test::write_raw_safetensors(path, R"({"__metadata__": {"dtype": "x", "shape": "y"},
                                        "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                        "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                              std::vector<uint8_t>(8, 0));
  EXPECT_NO_THROW(SafetensorsFile f(path));
}

// Found by fuzzing: a header entry nested 200,000 deep crashed (SIGSEGV) in the recursive dump()
// of the error message. The header is parsed with a nesting limit, and messages quote at most 80
// characters of a value.
TEST(Safetensors, DeepOrHugeHeaderValues) {
  test::TempDir dir;
  const std::string path = dir.file("m.safetensors");
  const size_t deep = 200000;
  write_one(path, std::string(deep, '[') + std::string(deep, ']'), 0);
  expect_open_error(path, {path, "nested more than 64 levels"});
  write_one(path, std::string(60, '[') + std::string(60, ']'), 0);  // within the limit: the usual message
  expect_open_error(path, {path, "tensor w", "must be a dict, got [[[["});
  // A long value is cut, not quoted whole.
  std::string shape = "[4294967296, 4294967296";
  for (int i = 0; i < 100000; ++i) shape += ", 1";
  write_one(path, R"({"dtype": "F32", "shape": )" + shape + R"(], "data_offsets": [0, 4]})", 4);
  try {
    SafetensorsFile f(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("overflows"), std::string::npos) << what;
    EXPECT_NE(what.find("(array, "), std::string::npos) << what;
    EXPECT_LT(what.size(), 400u) << what;
  }
}

// Found by fuzzing: model.safetensors a FIFO hung the run in open(), waiting for a writer; a
// device never ends. Refused by name before opening.
TEST(Safetensors, NotARegularFileRefusedWithoutOpening) {
  test::TempDir dir;
  const std::string fifo = dir.file("model.safetensors");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_open_error(fifo, {fifo, "a FIFO", "not a regular file"});
  expect_open_error("/dev/zero", {"/dev/zero", "character device", "not a regular file"});
  expect_open_error(dir.path(), {dir.path(), "a folder", "not a regular file"});
}

}  // namespace
}  // namespace gqa
