#include "launch/attn_bench_options.h"

#include <string>

#include "launch/cli_checks.h"

namespace gqa {

int parse_attn_bench_options(int argc, char** argv, AttnBenchOptions& opt) {
  CLI::App app{
      "gqa-attn-bench: times the CUDA decode attention (decode + split merge) for one rank's shard of Llama-3-70B "
      "at T = 8 (8 query heads, 1 KV head, head_dim 128, bf16, 256-token pages) at 8K/32K/128K context, batch 1 "
      "and 16, against a device-to-device copy measured in the same run; the last columns time the opt-in fused "
      "merge, one bulk copy per K/V row (the default copies 8 keys' rows at once where the cache allows) and both. "
      "Then, per batch and build, the times over the contexts fitted to time = F + KV bytes / B: the fixed cost F "
      "of every call and the stream rate B (needs two or more contexts); and two parts of F timed alone: an empty "
      "kernel and the split-merge kernel on each plan's partials.",
      "gqa-attn-bench"};
  app.footer("Exit status: 0 done (also without a GPU: nothing to time), 2 a usage error (flags), 1 any other "
             "error.\n");
  bench_options(app, GQA_VERSION);
  app.add_flag("--check", opt.check, "first check one batch against the CPU twin (default kernel and the opt-ins)");
  app.add_option("--runs", opt.runs, "timed calls per shape, median (after 5 warm-up calls; at most 100000)")
      ->transform(size_in(1, 100000))
      ->capture_default_str();
  app.add_option("--splits", opt.splits, "force N KV splits (0: the plan's; at most 2^20)")
      ->transform(size_in(0, 1 << 20))
      ->capture_default_str();
  app.add_flag("--sweep", opt.sweep,
               "also every shape at 4..512 splits, the other builds, pages in order and 16/64-token pages");
  // (--context and --batch: one shape under a profiler)
  app.add_option("--context", opt.context, "only context C: 8K, 32K or 128K (or 8192, 32768, 131072)")
      ->type_name("C")
      ->transform(CLI::Validator(
          [](std::string& v) -> std::string {
            long long n = 0;
            if (parse_size(v, n) != SizeText::kSize || (n != 8192 && n != 32768 && n != 131072)) {
              return "takes 8K, 32K or 128K (8192, 32768, 131072), got '" + v + "'";
            }
            v = std::to_string(n);
            return {};
          },
          ""));
  app.add_option("--batch", opt.batch, "only batch B: 1 or 16")
      ->type_name("B")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string { return v == "1" || v == "16" ? "" : "takes 1 or 16, got '" + v + "'"; },
          ""));
  return parse_or_exit_status(app, argc, argv);
}

}  // namespace gqa
