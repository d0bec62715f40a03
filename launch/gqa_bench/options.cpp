#include "launch/gqa_bench/options.h"

#include <climits>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>

#include "core/error.h"
#include "runtime/prefill_chunk.h"

namespace gqa::bench {
namespace {

// "32768" or "32K" -> 32768; false for anything else (empty, not a number, trailing text, <= 0, past
// INT64_MAX once multiplied).
bool parse_size(std::string item, int64_t& out) {
  int64_t mult = 1;
  if (!item.empty() && (item.back() == 'K' || item.back() == 'k')) {
    mult = 1024;
    item.pop_back();
  }
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(item, &used);
  } catch (const std::exception&) {
    return false;
  }
  if (used != item.size() || item.empty() || v <= 0 || v > INT64_MAX / mult) return false;
  out = v * mult;
  return true;
}

// "1K,8K,32768" -> {1024, 8192, 32768}
std::vector<int64_t> parse_list(const std::string& flag, const std::string& s) {
  std::vector<int64_t> out;
  size_t i = 0;
  while (i <= s.size()) {
    const size_t j = std::min(s.find(',', i), s.size());
    int64_t v = 0;
    GQA_CHECK(parse_size(s.substr(i, j - i), v),
              flag << ": \"" << s << "\" is not a list of positive sizes (e.g. 1K,8K,32768)");
    out.push_back(v);
    i = j + 1;
  }
  return out;
}

int64_t parse_int(const std::string& flag, const std::string& s, int64_t min, int64_t max = INT64_MAX) {
  int64_t v = 0;
  GQA_CHECK(parse_size(s, v) && v >= min, flag << " needs one integer >= " << min << ", got \"" << s << "\"");
  GQA_CHECK(v <= max, flag << " takes at most " << max << ", got \"" << s << "\"");
  return v;
}

// An int field's value: refused past INT_MAX, not cut (int(4294967297) was 1 run).
int parse_int32(const std::string& flag, const std::string& s, int64_t min) {
  return static_cast<int>(parse_int(flag, s, min, INT_MAX));
}

double parse_double(const std::string& flag, const std::string& s) {
  size_t used = 0;
  double v = -1;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  GQA_CHECK(used == s.size() && v > 0, flag << " needs a positive number, got \"" << s << "\"");
  return v;
}

}  // namespace

double total_shares(const Options& o) {
  return (o.decode ? kDecodeShare + kDecodeChoicesShare + kDecodeRingShare : 0) +
         (o.prefill ? kPrefillShare + kPrefillOptInShare + kPrefillProducerAblationShare + kPrefillTmaAblationShare : 0) +
         (o.spectrum ? kSpectrumShare : 0) +
         (o.peers ? kSdpaShare : 0) + (o.model_8b ? kModel8bShare : 0);
}

std::string usage() {
  return "usage: gqa-bench [options]\n"
         "  --contexts LIST        decode contexts (default 1K,8K,32K,128K)\n"
         "  --batches LIST         decode batch sizes (default 1,16)\n"
         "  --prefill LIST         prefill prompt lengths (default 8K,32K,128K)\n"
         "  --prefill-chunk N      prompt tokens per forward step (default " + std::to_string(kCudaPrefillChunk) + ")\n"
         "  --layers N             layers of the 70B shard (default 80)\n"
         "  --runs N --warmup N    timed / warm-up runs per op (default 30 / 5)\n"
         "  --step-runs N          timed decode steps per case (default 20)\n"
         "  --no-decode --no-prefill\n"
         "  --spectrum             MHA / GQA-8 / MQA decode step and KV bytes per token\n"
         "  --spectrum-contexts L  (default 8K,32K)\n"
         "  --peers                PyTorch SDPA; with --model-8b also HF transformers\n"
         "  --model-8b             the Llama-3-8B-shaped decode comparison\n"
         "  --model DIR            checkpoint for --model-8b (default: python writes random weights)\n"
         "  --checkpoint-dir DIR   where python writes them (default /tmp/gqa-bench-8b)\n"
         "  --peer-layers N        layers of the 8B shape python writes (default 32)\n"
         "  --prompt-len N --new-tokens N   (default 1024 / 512)\n"
         "  --all                  --spectrum --peers --model-8b\n"
         "  --budget-s S           wall-clock budget of the whole run (default 540)\n"
         "  --allreduce-us X       assumed all-reduce latency for the projection (default 15)\n"
         "  --out PATH             report path (default <source>/bench/results/<gpu>-<date>.md)\n"
         "  --python EXE           (default python3)\n"
         "  --version              print the version, then exit\n"
         "What it prints, in order: the ceilings (device-to-device copy, two read streams for reference, bf16\n"
         "GEMM) and the read stream's rate by bytes in flight per SM; with --model-8b the 8B comparison; per\n"
         "(context, batch) each decode op and the whole step with the kernels the environment selects\n"
         "(gqa-generate --help-env lists the GQA_* switches), then for every case the step with kinds of op\n"
         "left out (attention, norms, GEMVs: a timing aid); the prefill of each length; the spectrum; the\n"
         "prefill attention through mma.sync and each wgmma build (the producer, swizzle and TMA builds and\n"
         "the default TMA overlap build also on 16- to 256-token pages at the longest prompt) and the decode step with each other kernel choice\n"
         "(GQA_BENCH_SKIP_CHOICES=\"persistent MLP,ring GEMVs\" leaves choices out by their column's name),\n"
         "with the decode GEMVs under forced launches; then the producer prefill build with parts of its work\n"
         "left out, the ring GEMVs in a GEMV table of their own, and the TMA prefill build with the same parts\n"
         "left out (GQA_BENCH_SKIP_WGMMA=basic,pingpong,producer,overlap,swizzle,tma,tma_late,\n"
         "tma_overlap,tma_persistent,ablation,ablation_tma leaves prefill builds out); the SDPA peer; with the decode sections,\n"
         "what a dependency between two phases costs (a kernel per phase, with and without PDL, against a\n"
         "counter inside one kernel); a summary. The report is saved after each section (and within the long\n"
         "tables, after each row) and printed last.\n";
}

bool parse_options(int argc, char** argv, Options& o) {
  o.peers_dir = std::string(GQA_SOURCE_DIR) + "/launch/bench_peers";
  const std::map<std::string, std::function<void()>> flags = {
      {"--no-decode", [&] { o.decode = false; }},   {"--no-prefill", [&] { o.prefill = false; }},
      {"--spectrum", [&] { o.spectrum = true; }},   {"--peers", [&] { o.peers = true; }},
      {"--model-8b", [&] { o.model_8b = true; }},
      {"--all", [&] { o.spectrum = o.peers = o.model_8b = true; }},
  };
  const std::map<std::string, std::function<void(const std::string&)>> valued = {
      {"--contexts", [&](const std::string& v) { o.contexts = parse_list("--contexts", v); }},
      {"--batches", [&](const std::string& v) { o.batches = parse_list("--batches", v); }},
      {"--prefill", [&](const std::string& v) { o.prefill_lengths = parse_list("--prefill", v); }},
      {"--spectrum-contexts", [&](const std::string& v) { o.spectrum_contexts = parse_list("--spectrum-contexts", v); }},
      {"--prefill-chunk", [&](const std::string& v) { o.prefill_chunk = parse_int("--prefill-chunk", v, 1); }},
      {"--layers", [&](const std::string& v) { o.layers = parse_int("--layers", v, 1); }},
      {"--runs", [&](const std::string& v) { o.runs = parse_int32("--runs", v, 1); }},
      {"--warmup", [&](const std::string& v) { o.warmup = parse_int32("--warmup", v, 1); }},
      {"--step-runs", [&](const std::string& v) { o.step_runs = parse_int32("--step-runs", v, 1); }},
      {"--model", [&](const std::string& v) { o.model_dir = v; }},
      {"--checkpoint-dir", [&](const std::string& v) { o.checkpoint_dir = v; }},
      {"--peer-layers", [&](const std::string& v) { o.peer_layers = parse_int("--peer-layers", v, 1); }},
      {"--prompt-len", [&](const std::string& v) { o.prompt_len = parse_int("--prompt-len", v, 1); }},
      {"--new-tokens", [&](const std::string& v) { o.new_tokens = parse_int("--new-tokens", v, 2); }},
      {"--budget-s", [&](const std::string& v) { o.budget_s = parse_double("--budget-s", v); }},
      {"--allreduce-us", [&](const std::string& v) { o.allreduce_us = parse_double("--allreduce-us", v); }},
      {"--out", [&](const std::string& v) { o.out = v; }},
      {"--python", [&](const std::string& v) { o.python = v; }},
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("%s", usage().c_str());
      return false;
    }
    if (arg == "--version") {
      std::printf("gqa-bench %s\n", GQA_VERSION);
      return false;
    }
    if (auto f = flags.find(arg); f != flags.end()) {
      f->second();
    } else if (auto v = valued.find(arg); v != valued.end()) {
      GQA_CHECK(i + 1 < argc, arg << " needs a value");
      v->second(argv[++i]);
    } else {
      GQA_FAIL("unknown argument \"" << arg << "\"");
    }
  }
  return true;
}

}  // namespace gqa::bench
