// The two ceilings every other row is compared with, measured in the same run: a large
// device-to-device copy (bytes read + written per second) and a cuBLASLt bf16 GEMM through the
// project's own wrapper (CudaOps::matmul -> cuda::Gemm), 8192 x 8192 x 8192 on random data; and,
// for information, the rate a kernel reaches reading alone (what a stream of weights can reach).
#include <algorithm>

#include "launch/gqa_bench/bench_env.h"

namespace gqa::bench {

double free_device_bytes() {
  size_t free = 0, total = 0;
  GQA_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return static_cast<double>(free);
}

GemmRate measure_gemm_rate(BenchEnv& env) {
  constexpr int64_t n = 8192;
  Tensor x = env.ops.alloc(DType::kBF16, {n, n}), w = env.ops.alloc(DType::kBF16, {n, n});
  Tensor y = env.ops.alloc(DType::kBF16, {n, n});
  fill_uniform(x, 101, 1.0f, 0.0f, env.stream);
  fill_uniform(w, 102, 1.0f / 90.5f, 0.0f, env.stream);
  TimingOptions t = env.timing;
  t.runs = std::max(20, t.runs / 2);
  const double ms = time_median_ms(env.stream, t, [&](int) { env.ops.matmul({x, w, Tensor(), y}); });
  const double flops = 2.0 * static_cast<double>(n) * n * n / (ms * 1e-3);
  return {flops, sm_clock_mhz(env.stream)};
}

void measure_ceilings(BenchEnv& env) {
  TimingOptions t = env.timing;
  t.runs = std::max(20, t.runs);
  env.ceil.copy_bw = copy_bandwidth(env.stream, t);
  env.ceil.read_bw = read_bandwidth(env.stream, t);
  env.ceil.read_bulk_bw = read_bandwidth_bulk(env.stream, t);
  const GemmRate gemm = measure_gemm_rate(env);
  env.ceil.gemm_flops = gemm.flops;
  env.ceil.gemm_mhz = gemm.mhz;
  const double l2_in_step = l2_shared_read_bandwidth(env.stream, t, false);
  const double l2_staggered = l2_shared_read_bandwidth(env.stream, t, true);
  env.report.heading("Ceilings measured in this run");
  Table tab({"ceiling", "value", "how"});
  tab.row({"device-to-device copy", strf("%.0f GB/s", env.ceil.copy_bw / 1e9),
           strf("cudaMemcpyAsync of 1 GiB, (read + write) bytes / time, median of %d after %d warm-up", t.runs,
                t.warmup)});
  tab.row({"read stream", strf("%.0f GB/s (%.0f%% of copy)", env.ceil.read_bw / 1e9, 100.0 * env.ceil.read_bw / env.ceil.copy_bw),
           strf("a kernel reading 1 GiB in 16-byte streaming loads (8 per thread in flight, 256-thread blocks, as many "
                "per SM as fit), bytes read / time, median of %d; informational: the floors and 'of copy' columns "
                "stay copy-based",
                t.runs)});
  tab.row({"read stream, bulk copies",
           strf("%.0f GB/s (%.0f%% of copy)", env.ceil.read_bulk_bw / 1e9, 100.0 * env.ceil.read_bulk_bw / env.ceil.copy_bw),
           strf("the same 1 GiB through cp.async.bulk, 16 KB pieces, 4 shared-memory stages per block, 3 blocks per "
                "SM, median of %d; informational",
                t.runs)});
  tab.row({"L2 read, one 16 MB window in every SM",
           strf("%.0f GB/s in step, %.0f GB/s staggered", l2_in_step / 1e9, l2_staggered / 1e9),
           strf("each of 2 blocks per SM reads the whole L2-resident window (16-byte loads through the L2 only, 8 "
                "per thread in flight), all from its start or each from its own point; bytes = blocks x window, "
                "median of %d; informational: the prefill's K/V supply (every block streams the one KV head's "
                "tiles)",
                t.runs)});
  tab.row({"bf16 GEMM", strf("%.0f TFLOP/s (SM clock %.0f MHz right after)", env.ceil.gemm_flops / 1e12, env.ceil.gemm_mhz),
           strf("8192^3 through cuda::Gemm (cuBLASLt, fp32 accumulate), random data, median of %d; the SM clock "
                "measured right after the timed runs (a 1 ms spin, clock64 over the global timer), as the prefill "
                "tables measure theirs: a rate follows the clock",
                std::max(20, env.timing.runs / 2))});
  tab.row({"L2", strf("%.0f MB", env.flush.l2_bytes() / 1e6), "flushed before each timed op call: 4x L2 zeroed, then 4x L2 of another buffer read (the zeroes' write-backs land then, not in the call)"});
  env.report.table(tab);
  // The read stream against the bytes in flight per SM: what depth a weight or K/V stream needs.
  const std::vector<ReadDepthRate> depth = read_rate_by_depth(env.stream, t);
  Table by_depth({"loads in flight per thread", "registers", "resident threads per SM", "KB in flight per SM",
                   "read GB/s", "of copy"});
  for (const ReadDepthRate& r : depth) {
    // (a build whose registers cannot hold its loads keeps fewer in flight than its row says)
    by_depth.row({std::to_string(r.loads_per_thread) + (r.depth_held() ? "" : " (not held: too few registers)"),
                  std::to_string(r.registers), std::to_string(r.threads_per_sm), strf("%.0f", r.kb_in_flight_per_sm()),
                  strf("%.0f", r.bytes_per_s / 1e9), strf("%.0f%%", 100.0 * r.bytes_per_s / env.ceil.copy_bw)});
  }
  env.report.line("The read stream by bytes in flight per SM (16-byte streaming loads, 256-thread blocks all resident, "
                  "1 GiB, median of " + std::to_string(t.runs) + "; the decode GEMVs keep 8 loads per thread in flight):");
  env.report.table(by_depth);
  env.report.save();
}

}  // namespace gqa::bench
