// Checkpoint: single file and sharded index, read_f32 slicing and dtype conversions, and the
// errors for missing or inconsistent files. load_weights is tested in test_weights.cpp.
#include "model/checkpoint.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "safetensors_writer.h"
#include "tests/support/expect_error.h"

namespace gqa {
namespace {

using test::TempDir;

using test::expect_error;

std::vector<float> iota_values(size_t n, float scale = 1.0f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(i) - 3.0f;
  return v;
}

std::vector<float> read(const Checkpoint& c, const std::string& name, Range rows, Range cols) {
  std::vector<float> out(static_cast<size_t>(rows.size() * cols.size()));
  c.read_f32(name, rows, cols, out.data());
  return out;
}

// Row-major sub-block [rows, cols) of a [*, width] matrix.
std::vector<float> sub(const std::vector<float>& full, int64_t width, Range rows, Range cols) {
  std::vector<float> out;
  for (int64_t r = rows.begin; r < rows.end; ++r)
    for (int64_t c = cols.begin; c < cols.end; ++c) out.push_back(full[static_cast<size_t>(r * width + c)]);
  return out;
}

TEST(Checkpoint, ReadsSlicesOfEveryDtype) {
  TempDir dir;
  const std::vector<float> v = iota_values(4 * 6, 0.25f);  // exact in f16 and bf16
  test::write_safetensors(dir.file("model.safetensors"),
                          {test::st_f32("f32", {4, 6}, v), {"f16", "F16", {4, 6}, test::half_bytes(v, DType::kF16)},
                           {"bf16", "BF16", {4, 6}, test::half_bytes(v, DType::kBF16)},
                           test::st_f32("vec", {24}, v)});
  const Checkpoint c = Checkpoint::open(dir.path());
  EXPECT_EQ(c.names(), (std::vector<std::string>{"bf16", "f16", "f32", "vec"}));
  EXPECT_EQ(c.total_bytes(), 24u * 4 * 2 + 24u * 2 * 2);
  for (const char* name : {"f32", "f16", "bf16"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(read(c, name, {0, 4}, {0, 6}), v);
    EXPECT_EQ(read(c, name, {1, 3}, {0, 6}), sub(v, 6, {1, 3}, {0, 6}));  // contiguous rows
    EXPECT_EQ(read(c, name, {0, 4}, {2, 5}), sub(v, 6, {0, 4}, {2, 5}));  // strided columns
    EXPECT_EQ(read(c, name, {3, 4}, {5, 6}), sub(v, 6, {3, 4}, {5, 6}));
    EXPECT_TRUE(read(c, name, {2, 2}, {0, 6}).empty());
  }
  EXPECT_EQ(read(c, "vec", {0, 1}, {5, 9}), std::vector<float>(v.begin() + 5, v.begin() + 9));
  const uint64_t before = c.bytes_read();
  read(c, "f16", {1, 3}, {2, 5});
  EXPECT_EQ(c.bytes_read() - before, 2u * 3 * 2);
}

// Known bit patterns, so the conversion is checked against values, not against itself.
TEST(Checkpoint, HalfConversionsFromBits) {
  TempDir dir;
  const std::vector<uint16_t> f16 = {0x3C00, 0xC000, 0x3555, 0x0001, 0x7BFF, 0xFC00};
  const std::vector<uint16_t> bf16 = {0x3F80, 0xC040, 0x3EAB, 0x0000, 0x8000, 0x7F80};
  auto bytes = [](const std::vector<uint16_t>& h) {
    std::vector<uint8_t> b(h.size() * 2);
    std::memcpy(b.data(), h.data(), b.size());
    return b;
  };
  test::write_safetensors(dir.file("model.safetensors"),
                          {{"h", "F16", {6}, bytes(f16)}, {"b", "BF16", {6}, bytes(bf16)}});
  const Checkpoint c = Checkpoint::open(dir.path());
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(read(c, "h", {0, 1}, {0, 6}),
            (std::vector<float>{1.0f, -2.0f, 0.333251953125f, 5.9604644775390625e-8f, 65504.0f, -inf}));
  EXPECT_EQ(read(c, "b", {0, 1}, {0, 6}), (std::vector<float>{1.0f, -3.0f, 0.333984375f, 0.0f, -0.0f, inf}));
}

// Without the reference writer's 8-byte padding the data can start at an odd address.
TEST(Checkpoint, UnalignedDataStillReads) {
  TempDir dir;
  const std::vector<float> v = iota_values(10, 0.5f);
  test::write_safetensors(dir.file("model.safetensors"),
                          {{"h", "F16", {2, 5}, test::half_bytes(v, DType::kF16)}, test::st_f32("f", {2, 5}, v)},
                          /*pad=*/false);
  const Checkpoint c = Checkpoint::open(dir.path());
  EXPECT_EQ(read(c, "h", {0, 2}, {0, 5}), v);
  EXPECT_EQ(read(c, "f", {0, 2}, {0, 5}), v);
  EXPECT_EQ(read(c, "f", {0, 2}, {1, 4}), sub(v, 5, {0, 2}, {1, 4}));
}

// The same past the converter's chunk of 4096 elements: an unaligned f16 / bf16 / f32 tensor of
// two rows of 4100 reads whole (each element from its own bytes in every chunk, not only the first).
TEST(Checkpoint, UnalignedDataPastOneChunk) {
  TempDir dir;
  std::vector<float> v(2 * 4100);
  // (exact in f16 and bf16: halves up to 65; period 251, prime, so no chunk repeats another's values)
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i * 7 % 251) * 0.5f - 60.0f;
  test::write_safetensors(dir.file("model.safetensors"),
                          {{"h", "F16", {2, 4100}, test::half_bytes(v, DType::kF16)},
                           {"b", "BF16", {2, 4100}, test::half_bytes(v, DType::kBF16)}, test::st_f32("f", {2, 4100}, v)},
                          /*pad=*/false);
  std::ifstream f(dir.file("model.safetensors"), std::ios::binary);
  uint64_t header_len = 0;
  f.read(reinterpret_cast<char*>(&header_len), 8);
  ASSERT_EQ((8 + header_len) % 2, 1u) << "the data must start at an odd offset for this test";
  const Checkpoint c = Checkpoint::open(dir.path());
  EXPECT_EQ(read(c, "h", {0, 2}, {0, 4100}), v);
  EXPECT_EQ(read(c, "b", {0, 2}, {0, 4100}), v);
  EXPECT_EQ(read(c, "f", {0, 2}, {0, 4100}), v);
}

TEST(Checkpoint, BadSlicesAndNames) {
  TempDir dir;
  test::write_safetensors(dir.file("model.safetensors"),
                          {test::st_f32("m", {2, 3}, iota_values(6)), test::st_f32("t", {1, 2, 3}, iota_values(6))});
  const Checkpoint c = Checkpoint::open(dir.path());
  std::vector<float> out(64);
  expect_error([&] { c.read_f32("m", {0, 3}, {0, 3}, out.data()); }, {"m", "out of range", "[2, 3]"});
  expect_error([&] { c.read_f32("m", {0, 1}, {2, 4}, out.data()); }, {"m", "out of range"});
  expect_error([&] { c.read_f32("m", {1, 0}, {0, 3}, out.data()); }, {"m", "out of range"});
  expect_error([&] { c.read_f32("t", {0, 1}, {0, 3}, out.data()); }, {"t", "1-D and 2-D"});
  expect_error([&] { c.read_f32("nope", {0, 1}, {0, 1}, out.data()); }, {"nope", dir.path()});
  expect_error([&] { c.expect_shape("m", {3, 2}); }, {"m", "[2, 3]", "expected [3, 2]", "model.safetensors"});
  expect_error([&] { c.info("absent"); }, {"has no tensor absent", dir.path()});
  EXPECT_TRUE(c.has("m"));
  EXPECT_FALSE(c.has("absent"));
  EXPECT_EQ(c.bytes_read(), 0u);
}

TEST(Checkpoint, MissingDirectoryOrFiles) {
  TempDir dir;
  expect_error([&] { Checkpoint::open(dir.file("absent")); }, {"absent", "does not exist"});
  expect_error([&] { Checkpoint::open(dir.path()); },
               {"no model.safetensors or model.safetensors.index.json", dir.path()});
  test::write_text(dir.file("plain"), "x");
  expect_error([&] { Checkpoint::open(dir.file("plain")); }, {"plain", "not a directory"});
  // A broken file is reported by the safetensors reader, naming the file.
  test::write_raw_safetensors(dir.file("model.safetensors"), "{}", {}, 999);
  expect_error([&] { Checkpoint::open(dir.path()); }, {"model.safetensors", "999-byte header"});
}

// Two shards plus an index, as save_pretrained(max_shard_size=...) writes them.
void write_sharded(const TempDir& dir, const std::string& index_map) {
  test::write_safetensors(dir.file("a.safetensors"), {test::st_f32("x", {2, 2}, iota_values(4)),
                                                      test::st_f32("y", {3}, iota_values(3, 2.0f))});
  test::write_safetensors(dir.file("b.safetensors"), {test::st_f32("z", {1, 4}, iota_values(4, -1.0f))});
  test::write_text(dir.file("model.safetensors.index.json"),
                   R"({"metadata": {"total_size": 44}, "weight_map": )" + index_map + "}");
}

TEST(Checkpoint, ShardedIndex) {
  TempDir dir;
  write_sharded(dir, R"({"x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors"})");
  const Checkpoint c = Checkpoint::open(dir.path());
  EXPECT_EQ(c.names(), (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(c.info("z").file_index, 1);
  EXPECT_EQ(read(c, "y", {0, 1}, {0, 3}), iota_values(3, 2.0f));
  EXPECT_EQ(read(c, "z", {0, 1}, {1, 3}), std::vector<float>({-4.0f, -5.0f}));
  EXPECT_EQ(c.total_bytes(), 44u);
  // A single model.safetensors beside the index is the one read, as transformers' from_pretrained
  // looks for it first.
  test::write_safetensors(dir.file("model.safetensors"), {test::st_f32("single", {1}, {1.0f})});
  EXPECT_EQ(Checkpoint::open(dir.path()).names(), (std::vector<std::string>{"single"}));
}

// sample_fingerprint: the same tensors give the same hash however the files shard them; another
// value at a tensor's start or end, another shape or another name give another; a value inside a
// long tensor, past its sampled ends, is not seen (the documented limit).
TEST(Checkpoint, SampleFingerprint) {
  TempDir sharded;
  write_sharded(sharded, R"({"x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors"})");
  auto single = [](const std::vector<test::StTensor>& tensors) {
    auto dir = std::make_unique<TempDir>();
    test::write_safetensors(dir->file("model.safetensors"), tensors);
    return Checkpoint::open(dir->path()).sample_fingerprint();
  };
  const std::vector<test::StTensor> same = {test::st_f32("x", {2, 2}, iota_values(4)),
                                            test::st_f32("y", {3}, iota_values(3, 2.0f)),
                                            test::st_f32("z", {1, 4}, iota_values(4, -1.0f))};
  const uint64_t h = Checkpoint::open(sharded.path()).sample_fingerprint();
  EXPECT_NE(h, 0u);
  EXPECT_EQ(single(same), h);
  std::vector<test::StTensor> other = same;
  other[2] = test::st_f32("z", {1, 4}, {-3.0f, -4.0f, -5.0f, 7.0f});  // its last value (was -6)
  EXPECT_NE(single(other), h);
  other = same;
  other[0] = test::st_f32("x", {4, 1}, iota_values(4));  // another shape, the same bytes
  EXPECT_NE(single(other), h);
  other = same;
  other[1] = test::st_f32("w", {3}, iota_values(3, 2.0f));  // another name
  EXPECT_NE(single(other), h);
  other = same;
  other[0] = {"x", "BF16", {2, 4}, test::f32_bytes(iota_values(4))};  // f32 {2, 2}'s bytes as bf16 {2, 4}
  const uint64_t as_bf16 = single(other);
  other[0].dtype = "F16";  // the same bytes and shape, another dtype
  EXPECT_NE(single(other), as_bf16);
  // A tensor longer than both samples: its ends count, its middle does not.
  const size_t n = 2 * Checkpoint::kSampleBytes / sizeof(float) + 8;
  std::vector<float> long_values = iota_values(n);
  const uint64_t long_h = single({test::st_f32("big", {static_cast<int64_t>(n)}, long_values)});
  long_values[n / 2] += 1.0f;
  EXPECT_EQ(single({test::st_f32("big", {static_cast<int64_t>(n)}, long_values)}), long_h);
  long_values[n - 1] = -long_values[n - 1];  // its very last byte only (the sign bit)
  const uint64_t last_h = single({test::st_f32("big", {static_cast<int64_t>(n)}, long_values)});
  EXPECT_NE(last_h, long_h);
  long_values[0] += 1.0f;
  EXPECT_NE(single({test::st_f32("big", {static_cast<int64_t>(n)}, long_values)}), last_h);
}

// sample_fingerprints: one per tensor in names() order, shard-independent; a change in one tensor
// changes its entry alone (what gqa-generate names when two ranks' checkpoints differ).
TEST(Checkpoint, SampleFingerprintsPerTensor) {
  TempDir sharded, single;
  write_sharded(sharded, R"({"x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors"})");
  const std::vector<uint64_t> h = Checkpoint::open(sharded.path()).sample_fingerprints();
  ASSERT_EQ(h.size(), 3u);
  for (uint64_t v : h) EXPECT_NE(v, 0u);
  test::write_safetensors(single.file("model.safetensors"),
                          {test::st_f32("x", {2, 2}, iota_values(4)), test::st_f32("y", {3}, {-3.0f, -1.0f, 9.0f}),
                           test::st_f32("z", {1, 4}, iota_values(4, -1.0f))});  // y's last value (was 1)
  const std::vector<uint64_t> other = Checkpoint::open(single.path()).sample_fingerprints();
  ASSERT_EQ(other.size(), 3u);
  EXPECT_EQ(other[0], h[0]);
  EXPECT_NE(other[1], h[1]);
  EXPECT_EQ(other[2], h[2]);
}

TEST(Checkpoint, ShardedIndexErrors) {
  {
    TempDir dir;
    write_sharded(dir, R"({"x": "a.safetensors", "z": "missing.safetensors"})");
    expect_error([&] { Checkpoint::open(dir.path()); }, {"missing.safetensors", "does not exist", "index.json"});
  }
  {
    TempDir dir;
    write_sharded(dir, R"({"x": "a.safetensors", "w": "b.safetensors"})");
    expect_error([&] { Checkpoint::open(dir.path()); }, {"tensor w", "not in its shard b.safetensors"});
  }
  {
    TempDir dir;  // listed under the wrong shard
    write_sharded(dir, R"({"x": "b.safetensors", "z": "a.safetensors"})");
    expect_error([&] { Checkpoint::open(dir.path()); }, {"not in its shard"});
  }
  {
    TempDir dir;
    write_sharded(dir, R"({"x": "../a.safetensors"})");
    expect_error([&] { Checkpoint::open(dir.path()); }, {"../a.safetensors", "plain file name"});
  }
  {
    TempDir dir;
    write_sharded(dir, R"({"x": "a.safetensors", "z": "b.safetensors"})");
    test::write_text(dir.file("model.safetensors.index.json"), R"({"weight_map": )");
    expect_error([&] { Checkpoint::open(dir.path()); }, {"model.safetensors.index.json", "JSON"});
    test::write_text(dir.file("model.safetensors.index.json"), R"({"metadata": {}})");
    expect_error([&] { Checkpoint::open(dir.path()); }, {"model.safetensors.index.json", "weight_map"});
  }
  {
    TempDir dir;  // the same tensor in two shards
    write_sharded(dir, R"({"x": "a.safetensors", "z": "b.safetensors"})");
    test::write_safetensors(dir.file("b.safetensors"), {test::st_f32("x", {1}, {0.0f})});
    expect_error([&] { Checkpoint::open(dir.path()); }, {"tensor x", "a.safetensors", "b.safetensors"});
  }
}

// Shard names that are no plain file name ("", ".", "..": the folder, its parent) are refused as
// such, before anything is opened. Found by mutation testing (without the ".." check the folder
// was opened and refused as a folder, by another message).
TEST(Checkpoint, ShardNamesThatAreNoFileRefused) {
  for (const std::string name : {"", ".", ".."}) {
    TempDir dir;
    write_sharded(dir, R"({"x": ")" + name + R"("})");
    expect_error([&] { Checkpoint::open(dir.path()); }, {"shard name \"" + name + "\"", "plain file name"});
  }
}

// An empty read at the very end of the file (an empty tensor stored last; no rows of the last
// tensor) reads nothing and is no error: the empty byte range at the file's end is inside it.
// Found by mutation testing (refusing a prefetch at offset == file size passed every test).
TEST(Checkpoint, EmptyReadAtTheEndOfTheFile) {
  TempDir dir;
  test::write_safetensors(dir.file("model.safetensors"),
                          {test::st_f32("a", {2, 2}, iota_values(4)), test::st_f32("z", {0, 3}, {})});
  const Checkpoint c = Checkpoint::open(dir.path());
  EXPECT_TRUE(read(c, "z", {0, 0}, {0, 3}).empty());
  TempDir dir2;
  test::write_safetensors(dir2.file("model.safetensors"), {test::st_f32("a", {2, 2}, iota_values(4))});
  const Checkpoint c2 = Checkpoint::open(dir2.path());
  EXPECT_TRUE(read(c2, "a", {2, 2}, {0, 2}).empty());
  EXPECT_EQ(read(c2, "a", {1, 2}, {0, 2}), std::vector<float>({-1.0f, 0.0f}));
}

// Found by fuzzing: an index (or a shard) that is a FIFO hung the run, and nothing bounded the
// index's size or nesting. Refused by name, before opening.
TEST(Checkpoint, IndexOrShardNotARegularFileOrTooLarge) {
  {
    TempDir dir;
    ASSERT_EQ(::mkfifo(dir.file("model.safetensors.index.json").c_str(), 0600), 0);
    expect_error([&] { Checkpoint::open(dir.path()); },
                 {"model.safetensors.index.json", "a FIFO", "not a regular file"});
  }
  {
    TempDir dir;
    write_sharded(dir, R"({"x": "a.safetensors", "z": "b.safetensors"})");
    std::filesystem::remove(dir.file("b.safetensors"));
    ASSERT_EQ(::mkfifo(dir.file("b.safetensors").c_str(), 0600), 0);
    expect_error([&] { Checkpoint::open(dir.path()); }, {"b.safetensors", "a FIFO", "not a regular file"});
  }
  {
    TempDir dir;
    std::filesystem::create_symlink("/dev/zero", dir.file("model.safetensors"));
    expect_error([&] { Checkpoint::open(dir.path()); }, {"model.safetensors", "character device"});
  }
  {
    TempDir dir;
    write_sharded(dir, R"({"x": "a.safetensors", "z": "b.safetensors"})");
    std::filesystem::resize_file(dir.file("model.safetensors.index.json"), (uint64_t{64} << 20) + 1);  // sparse
    expect_error([&] { Checkpoint::open(dir.path()); }, {"model.safetensors.index.json", "larger than the 64 MiB"});
    const size_t deep = 100000;
    test::write_text(dir.file("model.safetensors.index.json"),
                     R"({"weight_map": {"x": )" + std::string(deep, '[') + std::string(deep, ']') + "}}");
    expect_error([&] { Checkpoint::open(dir.path()); }, {"model.safetensors.index.json", "nested more than 64"});
  }
}

// Every fixture checkpoint is valid safetensors under the exact-tiling rule (the test writer's
// files are checked by the tests above).
TEST(Checkpoint, AllFixturesOpen) {
  const std::filesystem::path root = "tests/fixtures/models";
  if (!std::filesystem::exists(root)) GTEST_SKIP() << "no fixtures under " << root;
  int opened = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (!std::filesystem::is_directory(entry.path())) continue;
    SCOPED_TRACE(entry.path().string());
    const Checkpoint c = Checkpoint::open(entry.path().string());
    EXPECT_GT(c.total_bytes(), 0u);
    ++opened;
  }
  EXPECT_GT(opened, 10);
}

}  // namespace
}  // namespace gqa
