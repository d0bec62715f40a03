// gqa-bench: how close gqa's CUDA backend gets to the hardware, and to its peers, measured in one
// run (issue 5). On one GPU it measures the copy and GEMM ceilings, then times each op and the
// whole decode step of one rank's shard of Llama-3-70B at T=8 (random weights, built on the
// device, run through the real Model), the chunked prefill, optionally the MHA/GQA/MQA spectrum,
// PyTorch SDPA and an 8B-shaped model against HF transformers; it writes the report to
// bench/results/<gpu>-<date>.md and prints it last. Without a GPU it says so and exits 0.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>

#include "kernels/cuda/device_info.h"
#include "kernels/cuda/gemv_mma.h"
#include "kernels/cuda/pdl.h"
#include "launch/gqa_bench/decode_bench.h"
#include "launch/gqa_bench/decode_choices.h"
#include "launch/gqa_bench/gemv_sweep.h"
#include "launch/gqa_bench/model8b_bench.h"
#include "launch/gqa_bench/options.h"
#include "launch/gqa_bench/peers.h"
#include "launch/gqa_bench/prefill_bench.h"
#include "launch/gqa_bench/prefill_builds.h"
#include "launch/gqa_bench/random_model.h"
#include "launch/gqa_bench/spectrum_bench.h"
#include "parallel/single_communicator.h"
#include "runtime/backend.h"
#include "runtime/kv_page_size.h"

namespace gqa::bench {
namespace {

std::string gpu_slug() {
  cudaDeviceProp p{};
  GQA_CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
  std::string s;
  for (const char* c = p.name; *c; ++c) {
    const bool ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9');
    if (ok) s += *c;
    else if (!s.empty() && s.back() != '-') s += '-';
  }
  while (!s.empty() && s.back() == '-') s.pop_back();
  return s.empty() ? "gpu" : s;
}

std::string now(const char* fmt) {
  char buf[64];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof(buf), fmt, std::localtime(&t));
  return buf;
}

void report_setup(BenchEnv& env) {
  const Options& o = env.opt;
  env.report.line("Device: " + cuda::device_description(0) + ". Date: " + now("%Y-%m-%d %H:%M:%S %Z") +
                  ". Budget: " + strf("%.0f s", o.budget_s) + "; sections that would not fit are skipped and say so.");
  env.report.line(
      "Model under test: one rank's shard of Llama-3-70B at T=8 run as a one-rank model (" +
      describe(llama70b_shard_config(1, o.layers)) + "), random bf16 weights written on the device, "
      "SingleCommunicator: the kernels one of 8 ranks runs, without the collectives (see the projection); KV cache "
      "pages of " + std::to_string(kDefaultKvBlockSize) + " tokens (the default), shuffled in the decode fixtures. "
      "L2 (50 MB on an H100): each per-op timing flushes it before the call, since a single layer's tensors would "
      "fit (21 MB of QKV weights; 0.5 MB of K/V per layer at 1K, 42 MB over all 80 layers); whole steps need no "
      "flush: between two reads of any tensor a step streams ~2 GB of weights through the L2.");
  env.report.line(std::string("Decode GEMMs: 1-8 rows of x through gemv.cu, 9-16 rows through ") +
                  (cuda::gemv_mma_enabled() ? "gemv_mma.cu (GQA_GEMV_MMA=1)" : "cuBLASLt (gemv_mma.cu is off)") +
                  ", more through cuBLASLt. Programmatic dependent launch: " +
                  (cuda::pdl_enabled() ? "on" : "off (GQA_PDL=0)") + " (whole steps are timed both ways). Kernel "
                  "switches at the start (rows that time an opt-in kernel switch it on themselves and say so): " +
                  cuda_kernel_switches() + ".");
}

// Runs one section. A failure is reported in its place and the run goes on: a section's own
// error (a shape a kernel refuses, say) leaves the others measurable; one that broke the CUDA
// context makes each later section fail too, each saying so.
bool guarded(BenchEnv& env, const std::string& name, const std::function<void()>& section) {
  try {
    section();
    return true;
  } catch (const std::exception& e) {
    env.report.line("**" + name + " failed:** " + e.what());
    env.report.save();
    progress(name + " failed: " + e.what());
    return false;
  }
}

// The shard's sections: decode, prefill, spectrum (they share one model).
bool run_shard_sections(BenchEnv& env, double& shares_left, std::vector<DecodeCaseResult>& decode) {
  const Options& o = env.opt;
  SingleCommunicator comm;
  const ModelConfig c = llama70b_shard_config(1, o.layers);
  progress("building the 70B T=8 shard: " + describe(c));
  const ModelWeights w = random_weights(c, env.ops, env.stream, 42);
  Model model(c, single_rank_plan(c), env.ops, comm, w);  // shares the tensors with w (per-op timings)
  env.report.line(strf("70B T=8 shard weights: %.2f GB (bf16).", weight_bytes(w) / 1e9));
  bool ok = true;
  auto section = [&](bool on, double share, const char* name, const std::function<void(double)>& fn) {
    if (!on) return;
    const double seconds = env.budget.grant(share, shares_left);
    shares_left -= share;
    ok = guarded(env, name, [&] { fn(seconds); }) && ok;
  };
  section(o.decode, kDecodeShare, "decode", [&](double s) { bench_decode(env, model, w, s, decode); });
  section(o.prefill, kPrefillShare, "prefill", [&](double s) { bench_prefill(env, model, s); });
  section(o.spectrum, kSpectrumShare, "spectrum", [&](double s) { bench_spectrum(env, model, s); });
  // The kernel choices and the ablations (timing aids) after the sections above.
  PrefillByBuild by_build;
  section(o.prefill, kPrefillOptInShare, "prefill attention by kernel build", [&](double s) { by_build.verified(env, model, s); });
  section(o.decode, kDecodeChoicesShare, "decode kernel choices",
          [&](double s) { bench_decode_choices(env, model, w, decode, s); });
  section(o.prefill, kPrefillProducerAblationShare, "prefill attention, the producer build's ablation",
          [&](double s) { by_build.producer_ablation(env, model, s); });
  section(o.decode, kDecodeRingShare, "decode GEMVs' ring build",
          [&](double s) { report_gemv_sweep(env, model, w, decode, Deadline(s), /*ring=*/true); });
  section(o.prefill, kPrefillTmaAblationShare, "prefill attention, the TMA build's ablation",
          [&](double s) { by_build.tma_ablation(env, model, s); });
  return ok;
}

int run(const Options& o) {
  if (cuda::device_count() == 0) {
    std::printf("gqa-bench: no CUDA device visible: nothing to measure here. Run it on a machine with an NVIDIA GPU "
                "(launch/gpu-check.sh --bench builds and runs it).\n");
    return 0;
  }
  cuda::CudaOps ops(0, DType::kBF16);
  ops.set_note_graph_shapes(true);  // (the decode choices' cells say which kernels each step ran)
  const std::string path = o.out.empty() ? std::string(GQA_SOURCE_DIR) + "/bench/results/" + gpu_slug() + "-" +
                                               now("%Y%m%d-%H%M%S") + ".md"
                                         : o.out;
  Report report(path, "gqa-bench on " + gpu_slug());
  Budget budget(o.budget_s);
  TimingOptions timing;
  timing.runs = o.runs;
  timing.warmup = o.warmup;
  BenchEnv env{o, ops, ops.cuda_stream(), timing, L2Flush(), {}, report, budget};
  report_setup(env);
  bool ok = guarded(env, "ceilings", [&] { measure_ceilings(env); });
  double shares_left = total_shares(o);
  std::vector<DecodeCaseResult> decode;
  // The 8B comparison first: it runs gqa's default kernels in this process, so it goes before the
  // shard's sections, whose opt-in kernels and timing aids come last; it needs none of their
  // results.
  if (o.model_8b) {
    const double s = env.budget.grant(kModel8bShare, shares_left);
    shares_left -= kModel8bShare;
    ok = guarded(env, "8B comparison", [&] { bench_model_8b(env, s); }) && ok;
  }
  if (o.decode || o.prefill || o.spectrum) {
    ok = guarded(env, "70B shard", [&] { ok = run_shard_sections(env, shares_left, decode) && ok; }) && ok;
  }
  if (o.peers) {
    const double s = env.budget.grant(kSdpaShare, shares_left);
    shares_left -= kSdpaShare;
    ok = guarded(env, "SDPA peer", [&] { bench_sdpa(env, decode, s); }) && ok;
  }
  // Last: the only kernel of this run whose blocks wait on each other (a trap there would poison
  // the context for any section after it).
  if (o.decode) ok = guarded(env, "dependency costs", [&] { report_boundary_costs(env); }) && ok;
  if (!decode.empty()) report_decode_summary(env, decode);
  report.line(strf("Total %.0f s%s. Report: %s", budget.elapsed_s(), ok ? "" : ", SOME SECTIONS FAILED (above)",
                   path.c_str()));
  report.save();
  report.print();
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace gqa::bench

int main(int argc, char** argv) {
  gqa::bench::Options opt;
  if (const int code = gqa::bench::parse_options(argc, argv, opt); code >= 0) return code;  // --help, bad flags
  try {
    return gqa::bench::run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gqa-bench: %s\n", e.what());
    return 1;
  }
}
