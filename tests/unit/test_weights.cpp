// load_weights: every rank's slices against the ShardPlan, validation of names and shapes
// against the config, the real fixtures, and the 1/T residency of a rank's reads.
#include "model/weights.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/cpu_ops.h"
#include "safetensors_writer.h"
#include "tests/support/expect_error.h"

namespace gqa {
namespace {

using test::StTensor;
using test::TempDir;

using test::expect_error;

ModelConfig tiny_config(int64_t heads, int64_t kv_heads, int64_t vocab) {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.hidden_size = 16;
  c.head_dim = 4;  // deliberately != hidden / heads for heads != 4
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.vocab_size = vocab;
  return c;
}

// The Hugging Face tensors of `c` with their shapes, spelled independently of weights.cpp.
std::vector<std::pair<std::string, Shape>> hf_tensors(const ModelConfig& c) {
  const int64_t d = c.hidden_size, q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim,
                f = c.intermediate_size;
  std::vector<std::pair<std::string, Shape>> out = {{"model.embed_tokens.weight", {c.vocab_size, d}}};
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    out.push_back({p + "input_layernorm.weight", {d}});
    out.push_back({p + "self_attn.q_proj.weight", {q, d}});
    out.push_back({p + "self_attn.k_proj.weight", {kv, d}});
    out.push_back({p + "self_attn.v_proj.weight", {kv, d}});
    if (c.qkv_bias) {
      out.push_back({p + "self_attn.q_proj.bias", {q}});
      out.push_back({p + "self_attn.k_proj.bias", {kv}});
      out.push_back({p + "self_attn.v_proj.bias", {kv}});
    }
    out.push_back({p + "self_attn.o_proj.weight", {d, q}});
    if (c.o_bias) out.push_back({p + "self_attn.o_proj.bias", {d}});
    out.push_back({p + "post_attention_layernorm.weight", {d}});
    out.push_back({p + "mlp.gate_proj.weight", {f, d}});
    out.push_back({p + "mlp.up_proj.weight", {f, d}});
    out.push_back({p + "mlp.down_proj.weight", {d, f}});
  }
  out.push_back({"model.norm.weight", {d}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, d}});
  return out;
}

using Values = std::map<std::string, std::vector<float>>;

// Writes an f32 checkpoint of `c` whose every element is distinct (tensor id * 2^16 + index,
// exact in f32), so a slice taken from the wrong place cannot match. `reshape` overrides shapes.
Values write_model(const std::string& dir, const ModelConfig& c, const std::map<std::string, Shape>& reshape = {},
                   const std::set<std::string>& skip = {}) {
  Values values;
  std::vector<StTensor> tensors;
  int id = 1;
  for (auto [name, shape] : hf_tensors(c)) {
    if (skip.count(name)) continue;
    if (reshape.count(name)) shape = reshape.at(name);
    std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(id * 65536 + static_cast<int>(i));
    ++id;
    tensors.push_back(test::st_f32(name, shape, v));
    values[name] = std::move(v);
  }
  test::write_safetensors(dir + "/model.safetensors", tensors);
  return values;
}

// Row-major sub-block [rows, cols) of a [*, width] matrix.
std::vector<float> sub(const std::vector<float>& full, int64_t width, Range rows, Range cols) {
  std::vector<float> out;
  for (int64_t r = rows.begin; r < rows.end; ++r)
    for (int64_t k = cols.begin; k < cols.end; ++k) out.push_back(full[static_cast<size_t>(r * width + k)]);
  return out;
}

void expect_tensor(const Tensor& t, const Shape& shape, const std::vector<float>& expected, const std::string& what) {
  ASSERT_TRUE(t.defined()) << what;
  ASSERT_EQ(t.shape(), shape) << what;
  ASSERT_EQ(t.dtype(), DType::kF32) << what;
  const std::vector<float> got(t.data_as<float>(), t.data_as<float>() + t.numel());
  EXPECT_EQ(got, expected) << what;
}

// Checks every tensor of one rank against the independently computed slice.
void expect_rank(const ModelWeights& w, const ModelConfig& c, const RankShard& s, int rank, const Values& v) {
  const int64_t d = c.hidden_size, hd = c.head_dim, f = c.intermediate_size;
  const Range q{s.q_heads.begin * hd, s.q_heads.end * hd}, kv{s.kv_heads.begin * hd, s.kv_heads.end * hd};
  const Range all_d{0, d};
  const std::string head = c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  expect_tensor(w.embed, {s.vocab.size(), d}, sub(v.at("model.embed_tokens.weight"), d, s.vocab, all_d), "embed");
  expect_tensor(w.lm_head, {s.vocab.size(), d}, sub(v.at(head), d, s.vocab, all_d), "lm_head");
  expect_tensor(w.final_norm, {d}, v.at("model.norm.weight"), "norm");
  ASSERT_EQ(w.layers.size(), static_cast<size_t>(c.num_hidden_layers));
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const LayerWeights& l = w.layers[static_cast<size_t>(i)];
    SCOPED_TRACE("rank " + std::to_string(rank) + " layer " + std::to_string(i));
    expect_tensor(l.attn_norm, {d}, v.at(p + "input_layernorm.weight"), "attn_norm");
    expect_tensor(l.mlp_norm, {d}, v.at(p + "post_attention_layernorm.weight"), "mlp_norm");
    // q rows, then k rows, then v rows, stacked for one GEMM
    std::vector<float> qkv = sub(v.at(p + "self_attn.q_proj.weight"), d, q, all_d);
    for (const char* name : {"self_attn.k_proj.weight", "self_attn.v_proj.weight"}) {
      const std::vector<float> part = sub(v.at(p + name), d, kv, all_d);
      qkv.insert(qkv.end(), part.begin(), part.end());
    }
    expect_tensor(l.wqkv, {q.size() + 2 * kv.size(), d}, qkv, "wqkv");
    expect_tensor(l.wo, {d, q.size()}, sub(v.at(p + "self_attn.o_proj.weight"), c.num_attention_heads * hd,
                                           {0, d}, q), "wo");
    // gate rows then up rows, stacked for one GEMM
    std::vector<float> gate_up = sub(v.at(p + "mlp.gate_proj.weight"), d, s.ffn, all_d);
    const std::vector<float> up = sub(v.at(p + "mlp.up_proj.weight"), d, s.ffn, all_d);
    gate_up.insert(gate_up.end(), up.begin(), up.end());
    expect_tensor(l.w_gate_up, {2 * s.ffn.size(), d}, gate_up, "gate_up");
    expect_tensor(l.w_down, {d, s.ffn.size()}, sub(v.at(p + "mlp.down_proj.weight"), f, {0, d}, s.ffn), "down");
    if (c.qkv_bias) {
      std::vector<float> bqkv = sub(v.at(p + "self_attn.q_proj.bias"), 1, q, {0, 1});
      for (const char* name : {"self_attn.k_proj.bias", "self_attn.v_proj.bias"}) {
        const std::vector<float> part = sub(v.at(p + name), 1, kv, {0, 1});
        bqkv.insert(bqkv.end(), part.begin(), part.end());
      }
      expect_tensor(l.bqkv, {q.size() + 2 * kv.size()}, bqkv, "bqkv");
    } else {
      EXPECT_FALSE(l.bqkv.defined());
    }
    if (c.o_bias && rank == 0) {
      expect_tensor(l.bo, {d}, v.at(p + "self_attn.o_proj.bias"), "bo");
    } else {
      EXPECT_FALSE(l.bo.defined()) << "o_proj bias must be added by exactly one rank";
    }
  }
}

// Loads every rank of every world size the layout allows and checks each slice.
void check_all_ranks(const ModelConfig& c, std::initializer_list<int> world_sizes) {
  TempDir dir;
  const Values v = write_model(dir.path(), c);
  const Checkpoint ckpt = Checkpoint::open(dir.path());
  cpu::CpuOps ops;
  for (int t : world_sizes) {
    const ShardPlan plan =
        ShardPlan::make(c.shard_dims(), t);
    for (int r = 0; r < t; ++r) {
      SCOPED_TRACE("T=" + std::to_string(t));
      expect_rank(load_weights(ckpt, c, plan, r, ops), c, plan.rank(r), r, v);
    }
  }
}

TEST(LoadWeights, SlicesGqa) { check_all_ranks(tiny_config(8, 2, 40), {1, 2, 4, 8}); }  // 4, 8: KV replicated

TEST(LoadWeights, SlicesWithBiasesTiedAndUnevenVocab) {
  ModelConfig c = tiny_config(4, 4, 10);  // vocab 10 over 4 ranks: the last rank's slice is shorter
  c.qkv_bias = c.o_bias = true;
  c.tie_word_embeddings = true;
  check_all_ranks(c, {1, 2, 4});
}

TEST(LoadWeights, SlicesQwenStyleBiases) {
  ModelConfig c = tiny_config(8, 2, 33);
  c.qkv_bias = true;
  check_all_ranks(c, {2});
}

ModelWeights load_rank0(const std::string& dir, const ModelConfig& c, int world = 1,
                        const std::function<void(int64_t, int64_t)>& on_progress = {}) {
  const Checkpoint ckpt = Checkpoint::open(dir);
  const ShardPlan plan = ShardPlan::make(c.shard_dims(), world);
  cpu::CpuOps ops;
  return load_weights(ckpt, c, plan, 0, ops, on_progress);
}

TEST(LoadWeights, WrongShapeNamesTensorAndShapes) {
  const ModelConfig c = tiny_config(8, 2, 40);
  TempDir dir;
  write_model(dir.path(), c, {{"model.layers.1.self_attn.k_proj.weight", {4, 16}}});
  expect_error([&] { load_rank0(dir.path(), c); },
               {"model.layers.1.self_attn.k_proj.weight", "[4, 16]", "expected [8, 16]", "model.safetensors"});
  TempDir dir2;
  write_model(dir2.path(), c, {{"model.layers.0.mlp.down_proj.weight", {24, 16}}});  // transposed
  expect_error([&] { load_rank0(dir2.path(), c); }, {"down_proj", "[24, 16]", "expected [16, 24]"});
}

TEST(LoadWeights, MissingTensors) {
  ModelConfig c = tiny_config(8, 2, 40);
  TempDir dir;
  write_model(dir.path(), c, {}, {"lm_head.weight"});
  expect_error([&] { load_rank0(dir.path(), c); }, {"no tensor lm_head.weight"});
  c.tie_word_embeddings = true;  // the same checkpoint is fine for a tied model
  EXPECT_NO_THROW(load_rank0(dir.path(), c));
  ModelConfig biased = tiny_config(8, 2, 40);
  TempDir dir2;
  write_model(dir2.path(), biased);
  biased.qkv_bias = true;
  expect_error([&] { load_rank0(dir2.path(), biased); }, {"q_proj.bias"});
}

TEST(LoadWeights, MoreLayersThanConfig) {
  ModelConfig c = tiny_config(8, 2, 40);
  TempDir dir;
  write_model(dir.path(), c);
  c.num_hidden_layers = 1;
  expect_error([&] { load_rank0(dir.path(), c); }, {"model.layers.1.input_layernorm.weight", "num_hidden_layers = 1"});
}

// on_progress: called with (tensors loaded, total) after each tensor or stacked group, the count
// rising to the checkpoint's tensor count, reached by the last call (gqa-generate skips its
// progress line then). Found by mutation testing (a last call one short passed every test).
TEST(LoadWeights, ProgressCountsEveryTensorToTheTotal) {
  const ModelConfig c = tiny_config(8, 2, 40);
  TempDir dir;
  write_model(dir.path(), c);
  std::vector<std::pair<int64_t, int64_t>> calls;
  load_rank0(dir.path(), c, 1, [&](int64_t done, int64_t total) { calls.push_back({done, total}); });
  const auto n = static_cast<int64_t>(hf_tensors(c).size());
  ASSERT_FALSE(calls.empty());
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].second, n) << i;
    if (i > 0) {
      EXPECT_GT(calls[i].first, calls[i - 1].first) << i;
    }
  }
  EXPECT_EQ(calls.back().first, n);
  EXPECT_EQ(calls.size(), 3u + 6u * 2);  // embed, final norm, lm_head; 6 groups a layer (qkv, gate/up stacked)
}

TEST(LoadWeights, PlanMustMatchConfig) {
  const ModelConfig c = tiny_config(8, 2, 40);
  TempDir dir;
  write_model(dir.path(), c);
  const Checkpoint ckpt = Checkpoint::open(dir.path());
  cpu::CpuOps ops;
  const ShardPlan other = ShardPlan::make({8, 4, 24, 40}, 2);
  expect_error([&] { load_weights(ckpt, c, other, 0, ops); }, {"kv heads 4", "kv heads 2"});
  const ShardPlan plan = ShardPlan::make({8, 2, 24, 40}, 2);
  expect_error([&] { load_weights(ckpt, c, plan, 2, ops); }, {"rank 2"});
}

// The fixtures from make_fixtures.py (f32, f16, bf16, sharded, tied, biases) all load, and the
// shards of a T=2 split put back together equal the T=1 weights.
TEST(LoadWeights, Fixtures) {
  const std::filesystem::path root = "tests/fixtures/models";
  if (!std::filesystem::exists(root)) GTEST_SKIP() << "no fixtures under " << root;
  cpu::CpuOps ops;
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (!std::filesystem::exists(entry.path() / "config.json")) continue;
    SCOPED_TRACE(entry.path().string());
    const ModelConfig c = ModelConfig::from_file(entry.path().string());
    const Checkpoint ckpt = Checkpoint::open(entry.path().string());
    const ShardDims dims = c.shard_dims();
    const ModelWeights full = load_weights(ckpt, c, ShardPlan::make(dims, 1), 0, ops);
    const ShardPlan plan = ShardPlan::make(dims, 2);
    const ModelWeights r1 = load_weights(ckpt, c, plan, 1, ops);
    // Rank 1's gate rows are rows [ffn.begin, ffn.end) of the full gate matrix; its up rows follow
    // them, as rows [f + ffn.begin, f + ffn.end) follow in the full stacked weight.
    const Range ffn = plan.rank(1).ffn;
    const int64_t f = c.intermediate_size, fl = ffn.size();
    const Tensor g = full.layers[0].w_gate_up.slice_rows(ffn.begin, ffn.end);
    const Tensor u = full.layers[0].w_gate_up.slice_rows(f + ffn.begin, f + ffn.end);
    ASSERT_EQ(r1.layers[0].w_gate_up.dim(0), 2 * fl);
    EXPECT_EQ(std::memcmp(g.data(), r1.layers[0].w_gate_up.slice_rows(0, fl).data(), g.nbytes()), 0);
    EXPECT_EQ(std::memcmp(u.data(), r1.layers[0].w_gate_up.slice_rows(fl, 2 * fl).data(), u.nbytes()), 0);
    ++loaded;
  }
  EXPECT_GT(loaded, 0);
}

// Sum of the Rss of this process's mappings of `path` (bytes), from /proc/self/smaps.
uint64_t mapped_rss(const std::string& path) {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool ours = false;
  uint64_t kb = 0;
  while (std::getline(in, line)) {
    std::istringstream is(line);
    std::string first;
    is >> first;
    if (!first.empty() && first.back() != ':') {  // "addr-addr perms offset dev inode path"
      std::string perms, offset, dev, inode, name;
      is >> perms >> offset >> dev >> inode;
      std::getline(is >> std::ws, name);
      ours = name == path;
    } else if (ours && first == "Rss:") {
      uint64_t n = 0;
      is >> n;
      kb += n;
    }
  }
  return kb * 1024;
}

// Drops `path` from the page cache and returns the fraction of its pages still cached after
// (mincore() on a throwaway mapping, which reports residency without faulting anything in).
double evict_from_page_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return 1.0;
  ::fdatasync(fd);  // only clean pages can be dropped
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  const size_t size = std::filesystem::file_size(path);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) return 1.0;
  std::vector<unsigned char> vec((size + page - 1) / page);
  size_t cached = vec.size();
  if (::mincore(m, size, vec.data()) == 0) cached = std::count_if(vec.begin(), vec.end(), [](auto b) { return b & 1; });
  ::munmap(m, size);
  return static_cast<double>(cached) / static_cast<double>(vec.size());
}

// A rank of T=4 must read about 1/4 of the weights: counted in bytes copied out of the file,
// and in pages of the file mapped into this process (the mmap must not fault in other ranks'
// slices). Everything expected is computed from the tensor list, not hard-coded.
TEST(LoadWeights, RankReadsOnlyItsQuarter) {
  ModelConfig c = tiny_config(8, 4, 1024);
  c.hidden_size = 512;
  c.head_dim = 64;
  c.intermediate_size = 2048;
  c.num_hidden_layers = 4;
  constexpr int kWorld = 4, kRank = 1;
  TempDir dir;
  write_model(dir.path(), c);
  const std::string file = std::filesystem::canonical(dir.file("model.safetensors")).string();
  // Rss is only meaningful against a cold page cache: when the file is cached in large folios
  // (as right after writing it), Linux 6.x maps a whole folio -- up to 2 MiB, PMD-mapped -- on
  // one fault, so Rss would measure the page cache's folio size, not what this rank touched.
  // A checkpoint not yet in the cache is also the case where 1/T of the I/O matters.
  const double still_cached = evict_from_page_cache(file);
  const Checkpoint ckpt = Checkpoint::open(dir.path());
  // Replicated tensors (the norms) are read whole by every rank; everything else splits evenly here.
  uint64_t replicated = 0;
  size_t n_norms = 0;
  for (const auto& [name, shape] : hf_tensors(c)) {
    if (shape.size() == 1) replicated += ckpt.info(name).nbytes, ++n_norms;
  }
  const uint64_t total = ckpt.total_bytes();
  ASSERT_GT(total, 40u << 20);
  const uint64_t expected = (total - replicated) / kWorld + replicated;
  EXPECT_EQ(mapped_rss(file), 0u) << "opening must not touch tensor data";

  const ShardPlan plan = ShardPlan::make({8, 4, 2048, 1024}, kWorld);
  cpu::CpuOps ops;
  const ModelWeights w = load_weights(ckpt, c, plan, kRank, ops);
  EXPECT_EQ(ckpt.bytes_read(), expected);
  EXPECT_LE(ckpt.bytes_read(), static_cast<uint64_t>(1.05 * (total / kWorld + replicated)));

  // Slices of whole rows are one contiguous byte range each and are read through the mapping:
  // norms, embed/lm_head rows, q/k/v/gate/up rows. Column slices (o_proj, down_proj) go through
  // pread() and map nothing. Each mapped range can map extra pages at both ends: page rounding
  // and the kernel's fault-around window (fault_around_bytes, 64 KiB by default), which maps
  // neighbouring pages that are already in the page cache.
  uint64_t column_sliced = 0;
  for (const auto& [name, shape] : hf_tensors(c)) {
    if (name.find("o_proj") != std::string::npos || name.find("down_proj") != std::string::npos)
      column_sliced += ckpt.info(name).nbytes / kWorld;
  }
  const uint64_t mapped = expected - column_sliced;
  constexpr uint64_t kFaultAround = 64 << 10, kPage = 4096;
  const uint64_t contiguous_reads = n_norms + 2 + 5 * static_cast<uint64_t>(c.num_hidden_layers);
  const uint64_t slack = contiguous_reads * 2 * (kFaultAround + kPage);
  const uint64_t rss = mapped_rss(file);
  std::cout << "total " << total << " B, rank share " << expected << " B (of which through the mapping " << mapped
            << " B), bytes_read " << ckpt.bytes_read() << " B, mapped Rss " << rss << " B (bound "
            << mapped + slack << " B), pages cached after eviction " << 100 * still_cached << "%\n";
  if (still_cached > 0.01) {
    GTEST_SKIP() << "cannot evict " << file << " from the page cache here (" << 100 * still_cached
                 << "% of pages stay cached), so the mapping's Rss is not checked; bytes_read was";
  }
  EXPECT_LE(rss, mapped + slack) << "the mapping holds pages outside this rank's slices";
  EXPECT_GE(rss, mapped) << "Rss is below what was read through the mapping; the measurement is broken";
}

}  // namespace
}  // namespace gqa
