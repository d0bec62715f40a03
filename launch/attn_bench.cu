// gqa-attn-bench: times the CUDA decode attention for one rank's shard of Llama-3-70B at T = 8
// (8 query heads, 1 KV head, head_dim 128, bf16, KV pages of kDefaultKvBlockSize = 256 tokens, shuffled)
// at contexts 8K / 32K / 128K,
// batch 1 and 16, against a device-to-device copy measured in the same run.
//
// Method (timing helpers shared with gqa-bench: launch/gqa_bench/timing.h): CUDA events around
// each attention_decode call (decode + split-merge kernels, with a workspace kept across calls);
// 5 warm-up calls, then the median of --runs (default 30);
// several KV cache copies (random data, shuffled block tables) are rotated so the L2 cannot hold
// the working set; a spin kernel queued before each timed call lets the host enqueue ahead, so
// host-side launch cost stays out of the number. Copy bandwidth = 2 x bytes / time (a copy
// reads and writes). The time column is the default plan's: the occupancy plan and the merge
// kernel (with GQA_DECODE_ONE_WAVE_FUSED=1, at batch 16 the one-wave fused plan: 8 splits merged
// in their last blocks).
// The last columns time the occupancy plan (the same unless the one-wave plan serves) with the fused split merge
// (DecodeOptions::fused_merge: the last split block merges, no merge kernel; "-" where the plan
// has one split, so nothing to merge), with one cp.async.bulk per K/V row (DecodeLoader::kBulk: the
// default loader before the grouped copies, one copy per 8 keys' rows, became it), and with both.
// After the table, each batch's times over the contexts timed are fitted to time = F + KV bytes / B per build (least squares): the fixed cost
// every call pays and the rate the rest streams at; then two parts of F timed alone the same way:
// an empty kernel (the harness's floor) and the merge kernel on each plan's partials. --check
// first verifies one batch against the CPU twin (the default, the fused merge, the grouped
// copies, both); --splits N forces the
// KV split count; --sweep also times every shape at 4, 8, ..., 512 splits (at most one per 64-key
// tile), with the tensor-core kernel's other builds (the cp.async loader at 3 and 6 stages, the
// default bulk-copy loader at 6 stages, the cluster reduction), on a block table in order (each sequence's pages consecutive, as SDPA's contiguous
// K/V) and on shuffled pages of 16 and 64 tokens (--block-size's effect; 16 was the default until
// the eighteenth session), and prints,
// after the main table, each one's time and the fastest against the plan's, and the forced split
// counts again with the fused merge (the data for tuning plan_decode and
// the kernel's defaults, from one run). --context C / --batch B keep only the cases
// of that context / batch (one shape under a profiler).
#include <cuda_bf16.h>

#include <algorithm>
#include <iterator>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_decode_mma.h"
#include "kernels/cuda/attention_merge.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/device_memory.h"
#include "launch/attn_bench_options.h"
#include "launch/attn_bench_report.h"
#include "launch/gqa_bench/line_fit.h"
#include "launch/gqa_bench/timing.h"
#include "runtime/kv_page_size.h"

namespace gqa {
namespace {

constexpr int64_t kHq = 8, kHkv = 1, kHd = 128, kBlockSize = kDefaultKvBlockSize;

using Options = AttnBenchOptions;
using namespace attn_bench;

void fill(Tensor t, uint32_t seed) { bench::fill_uniform(t, seed); }

bench::TimingOptions timing(const Options& opt) {
  bench::TimingOptions t;
  t.warmup = opt.warmup;
  t.runs = opt.runs;
  return t;
}

struct DecodeInputs {
  std::vector<Tensor> k, v;  // rotated copies
  Tensor q, out, tables, token_seq, positions;
  AttentionArgs args(size_t copy) const {
    AttentionArgs a;
    a.q = q;
    a.k_cache = k[copy];
    a.v_cache = v[copy];
    a.block_tables = tables;
    a.token_seq = token_seq;
    a.positions = positions;
    a.out = out;
    a.scale = 1.0f / std::sqrt(float(kHd));
    a.one_token_per_seq = true;
    return a;
  }
};

// `batch` sequences of `ctx` tokens in shuffled blocks of `block_size` tokens (or, !shuffled, each
// sequence's blocks consecutive: its K and V rows contiguous, like SDPA's); enough cache copies to
// defeat the L2.
DecodeInputs make_inputs(int64_t ctx, int64_t batch, size_t l2_bytes, bool shuffled = true,
                         int64_t block_size = kBlockSize) {
  DecodeInputs in;
  const int64_t blocks_per_seq = (ctx + block_size - 1) / block_size, num_blocks = batch * blocks_per_seq;
  const size_t kv_bytes = size_t(2) * num_blocks * block_size * kHkv * kHd * 2;
  const size_t copies = std::max<size_t>(2, (4 * l2_bytes + kv_bytes - 1) / kv_bytes);
  for (size_t c = 0; c < copies; ++c) {
    in.k.push_back(cuda::device_alloc(DType::kBF16, {num_blocks, block_size, kHkv, kHd}));
    in.v.push_back(cuda::device_alloc(DType::kBF16, {num_blocks, block_size, kHkv, kHd}));
    fill(in.k.back(), uint32_t(2 * c + 10));
    fill(in.v.back(), uint32_t(2 * c + 11));
  }
  std::vector<int32_t> perm(num_blocks), seq(batch), pos(batch, int32_t(ctx - 1));
  std::iota(perm.begin(), perm.end(), 0);
  if (shuffled) std::shuffle(perm.begin(), perm.end(), std::mt19937(7));
  std::iota(seq.begin(), seq.end(), 0);
  in.tables = cuda::device_alloc(DType::kI32, {batch, blocks_per_seq});
  in.token_seq = cuda::device_alloc(DType::kI32, {batch});
  in.positions = cuda::device_alloc(DType::kI32, {batch});
  cuda::copy_to_device(perm.data(), in.tables);
  cuda::copy_to_device(seq.data(), in.token_seq);
  cuda::copy_to_device(pos.data(), in.positions);
  in.q = cuda::device_alloc(DType::kBF16, {batch, kHq, kHd});
  in.out = cuda::device_alloc(DType::kBF16, {batch, kHq, kHd});
  fill(in.q, 3);
  return in;
}

// Median microseconds of attention_decode over the rotated copies with `splits` (0: the plan's),
// a workspace kept across calls as a decode loop would (times the two kernels, not allocation).
// fused: the fused split merge (its counters in the workspace, zeroed once).
double time_decode_us(const std::vector<AttentionArgs>& args, const Options& opt, int splits, cuda::DecodePlan* planned,
                      int stages = 0, cuda::DecodeLoader loader = cuda::DecodeLoader::kDefault,
                      bool cluster = false, bool fused = false) {
  cuda::DecodeOptions dopt;
  dopt.num_splits = splits;
  dopt.stages = stages;
  dopt.loader = loader;
  dopt.cluster_reduce = cluster;
  dopt.fused_merge = fused;
  const cuda::DecodePlan plan = cuda::describe_decode(args[0], dopt);
  if (planned != nullptr) *planned = plan;
  dopt.workspace_bytes = cuda::decode_workspace_bytes(args[0], dopt);
  const Tensor ws = cuda::device_alloc(DType::kF32, {int64_t(dopt.workspace_bytes / 4 + 1)});
  cuda::fill_bytes(ws, 0);
  dopt.workspace = ws.data();
  return 1e3 * bench::time_median_ms(nullptr, timing(opt), [&](int i) {
    cuda::attention_decode(args[size_t(i) % args.size()], nullptr, dopt);
  });
}

__global__ void empty_kernel() {}

// An empty one-block kernel timed as the attention is: what the harness itself costs per call.
double time_empty_us(const Options& opt) {
  return 1e3 * bench::time_median_ms(nullptr, timing(opt), [&](int) {
    empty_kernel<<<1, 32>>>();
    GQA_CUDA_LAUNCH_CHECK("empty_kernel");
  });
}

// The split-merge kernel alone (cuda::attention_merge) on rows x partials random partials, as the
// decode attention launches it after its kernel: part of what every call of that plan pays. The
// partials stay in the L2 between calls, as a decode kernel's just-written partials are.
double time_merge_us(const Options& opt, int64_t rows, int64_t partials) {
  const Tensor part_o = cuda::device_alloc(DType::kF32, {rows, partials, kHd});
  const Tensor part_lse = cuda::device_alloc(DType::kF32, {rows, partials});
  const Tensor out = cuda::device_alloc(DType::kBF16, {rows, kHd});
  fill(part_o, 71);
  fill(part_lse, 72);
  cuda::AttentionMergeArgs m{part_o, part_lse, out};
  return 1e3 * bench::time_median_ms(nullptr, timing(opt), [&](int) { cuda::attention_merge(m, nullptr); });
}

void print_row(int64_t ctx, int64_t batch, const Options& opt, double copy_bw, size_t l2_bytes,
               std::vector<SweepRow>& sweep, std::vector<MainRow>& main_rows) {
  const DecodeInputs in = make_inputs(ctx, batch, l2_bytes);
  std::vector<AttentionArgs> args;
  for (size_t c = 0; c < in.k.size(); ++c) {
    args.push_back(in.args(c));
    args.back().max_context = ctx;
  }
  cuda::DecodePlan plan;  // the default build's, as timed
  const double us = time_decode_us(args, opt, opt.splits, &plan);
  const int splits = plan.num_splits;
  const double bytes = double(batch) * ctx * kHkv * kHd * 2 /*K and V*/ * 2 /*bf16*/;
  const double bw = bytes / (us * 1e-6);
  // The other choices on the occupancy plan (the same as the default's unless the one-wave fused
  // plan serves: a call asking for a loader or the fused merge does not take it): the fused merge
  // (not with the cluster reduction switched on: they do not combine; "-" where the plan has one
  // split), one copy per K/V row, both.
  const auto variant = [&](cuda::DecodeLoader loader, bool fused_merge) {
    cuda::DecodeOptions o;
    o.num_splits = opt.splits;
    o.loader = loader;
    o.fused_merge = fused_merge;
    if (fused_merge && (cuda::decode_cluster_enabled() || !cuda::describe_decode(args[0], o).fused_merge)) {
      return std::nan("");
    }
    return time_decode_us(args, opt, opt.splits, nullptr, 0, loader, false, fused_merge);
  };
  MainRow m{ctx, batch, bytes, {us, variant(cuda::DecodeLoader::kDefault, true), variant(cuda::DecodeLoader::kBulk, false),
                                variant(cuda::DecodeLoader::kBulk, true)}};
  m.partials = plan.partials();
  if (m.partials > 1 && !plan.fused_merge) m.merge_us = time_merge_us(opt, batch * kHq, m.partials);
  const auto cell = [](double t) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", t);
    return std::isfinite(t) ? std::string(buf) : std::string("-");
  };
  std::printf("| %6lldK | %5lld | %6d | %8.1f | %9.1f | %8.1f | %6.1f%% | %11s | %14s | %15s |\n",
              (long long)(ctx / 1024), (long long)batch, splits, bytes / 1e6, us, bw / 1e9, 100.0 * bw / copy_bw,
              cell(m.us[1]).c_str(), cell(m.us[2]).c_str(), cell(m.us[3]).c_str());
  main_rows.push_back(m);
  std::fflush(stdout);
  if (!opt.sweep) return;
  SweepRow row{ctx, batch, splits, us, {}};
  const int64_t tiles = (ctx + cuda::kDecodeTileKeys - 1) / cuda::kDecodeTileKeys;
  for (int n = 4; n <= 512 && n <= tiles; n *= 2) {
    row.forced.emplace_back(n, time_decode_us(args, opt, n, nullptr));
    if (!cuda::decode_cluster_enabled()) {
      row.forced_opt_in.emplace_back(n, time_decode_us(args, opt, n, nullptr, 0, cuda::DecodeLoader::kDefault, false, true));
    }
  }
  const int stages[4] = {cuda::kDecodeMmaDeepStages, cuda::kDecodeMmaStages, cuda::kDecodeMmaDeepStages,
                         cuda::kDecodeMmaStages};
  for (int v = 0; v < 4; ++v) {
    const cuda::DecodeLoader loader = v == 2 ? cuda::DecodeLoader::kBulk : cuda::DecodeLoader::kCpAsync;
    if (v == 3 && cuda::decode_fused_merge_enabled()) continue;  // (the cluster reduction: not with the fused merge)
    cuda::DecodePlan variant_plan;
    row.variant_us[v] = time_decode_us(args, opt, 0, &variant_plan, stages[v], loader, v == 3);
    row.variant_splits[v] = variant_plan.num_splits;
  }
  // The same call on other page layouts: in order (how much of the gap to a contiguous read is
  // the page scatter), and shuffled pages of kOtherPages tokens (shorter contiguous runs per page).
  const auto time_layout = [&](bool shuffled, int64_t block_size) {
    const DecodeInputs other = make_inputs(ctx, batch, l2_bytes, shuffled, block_size);
    std::vector<AttentionArgs> other_args;
    for (size_t c = 0; c < other.k.size(); ++c) {
      other_args.push_back(other.args(c));
      other_args.back().max_context = ctx;
    }
    return time_decode_us(other_args, opt, 0, nullptr);
  };
  row.in_order_us = time_layout(false, kBlockSize);
  for (size_t i = 0; i < std::size(kOtherPages); ++i) row.other_pages_us[i] = time_layout(true, kOtherPages[i]);
  sweep.push_back(std::move(row));
}

std::vector<float> download_f32(const Tensor& t) {
  std::vector<uint16_t> raw(t.numel());
  cuda::copy_to_host(t, raw.data());
  std::vector<float> out(raw.size());
  convert_to_f32(raw.data(), DType::kBF16, out.data(), out.size());
  return out;
}

// Three sequences (1, 1000 and 5000 tokens of context) through cuda::attention and the CPU twin.
bool check_against_cpu(bool fused_merge, bool groups = false) {
  const cuda::ScopedSwitch fused(cuda::decode_fused_merge_enabled, cuda::set_decode_fused_merge, fused_merge);
  const cuda::ScopedSwitch grouped(cuda::decode_group_copies_enabled, cuda::set_decode_group_copies, groups);
  const std::vector<int32_t> ctx = {1, 1000, 5000};
  const int64_t batch = 3, blocks_per_seq = (5000 + kBlockSize - 1) / kBlockSize;
  const int64_t num_blocks = batch * blocks_per_seq;
  DecodeInputs in = make_inputs(5000, batch, 0);
  std::vector<int32_t> pos = {0, 999, 4999};
  cuda::copy_to_device(pos.data(), in.positions);
  AttentionArgs a = in.args(0);
  a.max_context = 5000;
  cuda::fill_bytes(a.out, 0xff);
  cuda::attention(a, nullptr);
  GQA_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<float> q = download_f32(in.q), k = download_f32(in.k[0]), v = download_f32(in.v[0]);
  std::vector<float> got = download_f32(in.out), ref(got.size());
  std::vector<int32_t> tables(batch * blocks_per_seq), seq = {0, 1, 2};
  cuda::copy_to_host(in.tables, tables.data());
  AttentionArgs c = a;
  c.q = Tensor::view(q.data(), DType::kF32, {batch, kHq, kHd});
  c.k_cache = Tensor::view(k.data(), DType::kF32, {num_blocks, kBlockSize, kHkv, kHd});
  c.v_cache = Tensor::view(v.data(), DType::kF32, c.k_cache.shape());
  c.block_tables = Tensor::view(tables.data(), DType::kI32, {batch, blocks_per_seq});
  c.token_seq = Tensor::view(seq.data(), DType::kI32, {batch});
  c.positions = Tensor::view(pos.data(), DType::kI32, {batch});
  c.out = Tensor::view(ref.data(), DType::kF32, c.q.shape());
  cpu::attention(c);
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) num = INFINITY;
    num += (got[i] - ref[i]) * double(got[i] - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  const double err = std::sqrt(num / den);
  std::printf("check: contexts 1/1000/5000, 8 q heads / 1 KV head, bf16%s%s: rel error %.3g (limit 1e-2) %s\n",
              fused_merge ? ", fused merge" : "", groups ? ", grouped copies" : ", per-row copies", err, err < 1e-2 ? "ok" : "FAILED");
  return err < 1e-2;
}

int run(const Options& opt) {
  if (cuda::device_count() == 0) {
    std::printf("gqa-attn-bench: no CUDA device visible; nothing to time.\n");
    return 0;
  }
  std::printf("device: %s\n", cuda::device_description(0).c_str());
  if (opt.check) {
    const bool plain = check_against_cpu(false);
    const bool fused = cuda::decode_cluster_enabled() || check_against_cpu(true);  // (they do not combine)
    const bool grouped = check_against_cpu(false, true);
    const bool both = cuda::decode_cluster_enabled() || check_against_cpu(true, true);
    if (!plain || !fused || !grouped || !both) return 1;
  }
  const int l2 = cuda::current_l2_bytes();  // (device 0: this process's current device)
  const double copy_bw = bench::copy_bandwidth(nullptr, timing(opt));
  std::printf("device-to-device copy: %.1f GB/s (read + write, 1 GiB, median of %d)\n\n", copy_bw / 1e9, opt.runs);
  std::printf("decode attention, Llama-3-70B shard at T=8: 8 q heads, 1 KV head, head_dim 128, bf16, block %lld\n\n",
              static_cast<long long>(kBlockSize));
  std::printf("time: the default plan (splits: its count; %s); the other columns: the occupancy plan's split count,\n"
              "with the fused merge asked for, one copy per K/V row, or both\n\n",
              cuda::decode_one_wave_fused_enabled()
                  ? "GQA_DECODE_ONE_WAVE_FUSED=1: one block per SM merging in its last blocks where that serves"
                  : "the occupancy plan and the merge kernel");
  std::printf("| context | batch | splits | KV MB    | time (us) | GB/s     | of copy | fused merge | per-row copies |"
              " per-row + fused |\n");
  std::printf("|--------:|------:|-------:|---------:|----------:|---------:|--------:|------------:|---------------:|"
              "----------------:|\n");
  std::vector<SweepRow> sweep;
  std::vector<MainRow> main_rows;
  for (int64_t ctx : {8192, 32768, 131072}) {
    for (int64_t batch : {1, 16}) {
      if ((opt.context == 0 || opt.context == ctx) && (opt.batch == 0 || opt.batch == batch)) {
        print_row(ctx, batch, opt, copy_bw, size_t(l2), sweep, main_rows);
      }
    }
  }
  print_fit(main_rows, copy_bw);
  print_fixed_parts(main_rows, main_rows.empty() ? 0.0 : time_empty_us(opt));
  print_sweep(sweep);
  return 0;
}

}  // namespace
}  // namespace gqa

int main(int argc, char** argv) {
  gqa::Options opt;
  if (const int code = gqa::parse_attn_bench_options(argc, argv, opt); code >= 0) return code;  // --help, bad flags
  try {
    return gqa::run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gqa-attn-bench: %s\n", e.what());
    return 1;
  }
}
