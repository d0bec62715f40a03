#include "launch/gqa_bench/options.h"

#include <climits>
#include <string>
#include <vector>

#include "launch/cli_checks.h"

namespace gqa::bench {

double total_shares(const Options& o) {
  return (o.decode ? kDecodeShare + kDecodeChoicesShare + kDecodeRingShare : 0) +
         (o.prefill ? kPrefillShare + kPrefillOptInShare + kPrefillProducerAblationShare + kPrefillTmaAblationShare : 0) +
         (o.spectrum ? kSpectrumShare : 0) +
         (o.peers ? kSdpaShare : 0) + (o.model_8b ? kModel8bShare : 0);
}

namespace {

// --help's closing paragraph: what the report holds, in order.
constexpr const char* kWhatItPrints =
    "What it prints, in order: the ceilings (device-to-device copy, two read streams for reference, bf16 GEMM) "
    "and the read stream's rate by bytes in flight per SM; with --model-8b the 8B comparison; per (context, batch) "
    "each decode op and the whole step with the kernels the environment selects (gqa-generate --help-env lists the "
    "GQA_* switches), then for every case the step with kinds of op left out (attention, norms, GEMVs: a timing "
    "aid); the prefill of each length; the spectrum; the prefill attention through mma.sync and each wgmma build "
    "(the producer, swizzle and TMA builds and the default TMA overlap build also on 16- to 256-token pages at the "
    "longest prompt) and the decode step with each other kernel choice (GQA_BENCH_SKIP_CHOICES=\"persistent "
    "MLP,ring GEMVs\" leaves choices out by their column's name), with the decode GEMVs under forced launches; then "
    "the producer prefill build with parts of its work left out, the ring GEMVs in a GEMV table of their own, and "
    "the TMA prefill build with the same parts left out (GQA_BENCH_SKIP_WGMMA=basic,pingpong,producer,overlap,"
    "swizzle,tma,tma_late,tma_overlap,tma_persistent,ablation,ablation_tma leaves prefill builds out); the SDPA "
    "peer; with the decode sections, what a dependency between two phases costs (a kernel per phase, with and "
    "without PDL, against a counter inside one kernel); a summary. The report is saved after each section (and "
    "within the long tables, after each row) and printed last. Exit status: 0 done (also without a GPU: nothing "
    "to time), 2 a usage error (flags), 1 any other error.";

// The flags, bound to `o`.
void add_flags(CLI::App& app, Options& o) {
  const auto list = [&](const char* name, std::vector<int64_t>& field, const std::string& what) {
    app.add_option_function<std::string>(
           name, [&field](const std::string& digits) { field = split_sizes(digits); }, what)
        ->transform(size_list())
        ->type_name("LIST");
  };
  // A count or length (K suffix allowed) in [min, max], its default shown.
  const auto count = [&](const char* name, auto& field, const std::string& what, long long min,
                         long long max = LLONG_MAX) {
    app.add_option(name, field, what)->transform(size_in(min, max))->capture_default_str();
  };
  list("--contexts", o.contexts, "decode contexts (default 1K,8K,32K,128K)");
  list("--batches", o.batches, "decode batch sizes (default 1,16)");
  list("--prefill", o.prefill_lengths, "prefill prompt lengths (default 8K,32K,128K)");
  list("--spectrum-contexts", o.spectrum_contexts, "contexts of --spectrum (default 8K,32K)");
  count("--prefill-chunk", o.prefill_chunk, "prompt tokens per forward step", 1);
  count("--layers", o.layers, "layers of the 70B shard", 1);
  count("--runs", o.runs, "timed runs per op", 1, INT_MAX);
  count("--warmup", o.warmup, "warm-up runs per op", 1, INT_MAX);
  count("--step-runs", o.step_runs, "timed decode steps per case", 1, INT_MAX);
  app.add_flag_callback("--no-decode", [&o] { o.decode = false; }, "leave the decode sections out");
  app.add_flag_callback("--no-prefill", [&o] { o.prefill = false; }, "leave the prefill sections out");
  app.add_flag("--spectrum", o.spectrum, "MHA / GQA-8 / MQA decode step and KV bytes per token");
  app.add_flag("--peers", o.peers, "PyTorch SDPA; with --model-8b also HF transformers");
  app.add_flag("--model-8b", o.model_8b, "the Llama-3-8B-shaped decode comparison");
  app.add_flag_callback("--all", [&o] { o.spectrum = o.peers = o.model_8b = true; }, "--spectrum --peers --model-8b");
  app.add_option("--model", o.model_dir, "checkpoint for --model-8b (default: python writes random weights)")
      ->type_name("DIR")
      ->check(non_empty_path());
  app.add_option("--checkpoint-dir", o.checkpoint_dir, "where python writes them")
      ->type_name("DIR")
      ->check(non_empty_path())
      ->capture_default_str();
  count("--peer-layers", o.peer_layers, "layers of the 8B shape python writes", 1);
  count("--prompt-len", o.prompt_len, "prompt tokens of the 8B comparison", 1);
  count("--new-tokens", o.new_tokens, "tokens generated in the 8B comparison", 2);
  app.add_option("--budget-s", o.budget_s, "wall-clock budget of the whole run, seconds")
      ->check(positive_number())
      ->capture_default_str();
  app.add_option("--allreduce-us", o.allreduce_us, "assumed all-reduce latency for the projection, us")
      ->check(positive_number())
      ->capture_default_str();
  app.add_option("--out", o.out, "report path (default <source>/bench/results/<gpu>-<date>.md)")
      ->type_name("PATH")
      ->check(non_empty_path());
  app.add_option("--python", o.python, "the Python the peers run under")
      ->type_name("EXE")
      ->check(non_empty_path())
      ->capture_default_str();
}

}  // namespace

int parse_options(int argc, char** argv, Options& o) {
  o.peers_dir = std::string(GQA_SOURCE_DIR) + "/launch/bench_peers";
  CLI::App app{
      "gqa-bench: how close gqa's CUDA backend gets to the hardware and to its peers, in one run (issue 5): the "
      "ops and the whole decode step of one rank's shard of Llama-3-70B at T = 8 (random weights), the chunked "
      "prefill, optionally the MHA/GQA/MQA spectrum, PyTorch SDPA and an 8B-shaped model against HF "
      "transformers. The report goes to --out and is printed last.",
      "gqa-bench"};
  app.footer(wrap_text(kWhatItPrints, 100) + "\n");
  bench_options(app, GQA_VERSION);
  add_flags(app, o);
  return parse_or_exit_status(app, argc, argv);
}

}  // namespace gqa::bench
