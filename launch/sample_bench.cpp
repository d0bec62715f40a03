// gqa-sample-bench: the host token sampler (cpu::sample_row: what rank 0 runs per token at T > 1
// and the CPU backend at T = 1) per token, against the same rule with every candidate sorted
// (the peer: the implementation before the sorted-prefix change), in one run on this machine.
//   gqa-sample-bench [--vocab N] [--runs N]     (defaults: 128256, Llama-3's vocabulary; 20;
//   at most 2^24 and 100000)
// Logits: N(0, s^2) for s = 3 (flat) and 12 (peaked); specs: top_p 0.9 (T 0.7), pure temperature
// (T 1), top_k 50 + top_p 0.9 (T 0.7). Prints ms per token (median of --runs draws), the ratio, and
// whether both picked the same tokens.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/sampling_full_sort.h"
#include "launch/cli_checks.h"

namespace {

using gqa::SampleSpec;

template <typename F>
double median_ms(int runs, F&& f) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f(i);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// The flags' bounds: gqa-generate refuses a vocab_size above 2^24 (model/model.cpp), so no larger
// row reaches the sampler (and its logits and scratch stay a few hundred MB); --runs as gqa-attn-bench
// bounds its own.
constexpr long long kMaxVocab = 1LL << 24, kMaxRuns = 100000;

// Prints the table: per spread and spec, both samplers' median ms per token over `runs` draws.
void run(int64_t vocab, int runs) {
  std::printf("| logits | spec | gqa ms/token | full sort ms/token | speedup | same tokens |\n");
  std::printf("| :--- | :--- | ---: | ---: | ---: | :--- |\n");
  std::mt19937 rng(7);
  gqa::cpu::SampleScratch scratch;
  for (float spread : {3.0f, 12.0f}) {
    std::normal_distribution<float> nd(0.0f, spread);
    std::vector<float> logits(vocab);
    for (auto& x : logits) x = nd(rng);
    struct Named {
      const char* name;
      SampleSpec spec;
    };
    for (const Named& c : {Named{"top_p 0.9, T 0.7", {0.7f, 0, 0.9f}}, Named{"T 1.0", {1.0f, 0, 1.0f}},
                           Named{"top_k 50, top_p 0.9, T 0.7", {0.7f, 50, 0.9f}}}) {
      std::vector<int32_t> ours(runs), peer(runs);
      const auto u = [&](int i) { return (i + 0.5) / runs; };
      const double a = median_ms(runs, [&](int i) { ours[i] = gqa::cpu::sample_row(logits.data(), vocab, c.spec, u(i), scratch); });
      const double b = median_ms(runs, [&](int i) { peer[i] = gqa::cpu::sample_row_full_sort(logits, c.spec, u(i)); });
      std::printf("| N(0, %.0f^2) x %lld | %s | %.3f | %.3f | %.1fx | %s |\n", spread, (long long)vocab, c.name, a, b,
                  b / a, ours == peer ? "yes" : "NO");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  long long vocab = 128256, runs = 20;
  CLI::App app{
      "gqa-sample-bench: times the host token sampler (what rank 0 runs per token at T > 1) against a full sort of "
      "the row, on random logits, one thread: ms per token (median of the runs), the ratio, and whether both drew "
      "the same tokens.",
      "gqa-sample-bench"};
  app.footer("Exit status: 0 done, 2 a usage error (flags), 1 out of memory.\n");
  gqa::bench_options(app, GQA_VERSION);
  app.add_option("--vocab", vocab, "logits per row (the default: Llama-3's vocabulary; at most 2^24)")
      ->transform(gqa::size_in(1, kMaxVocab))
      ->capture_default_str();
  app.add_option("--runs", runs, "draws timed per row and rule (at most 100000)")
      ->transform(gqa::size_in(1, kMaxRuns))
      ->capture_default_str();
  if (const int status = gqa::parse_or_exit_status(app, argc, argv); status >= 0) return status;
  try {
    run(vocab, static_cast<int>(runs));
  } catch (const std::bad_alloc&) {  // (the logits, both samplers' scratch, the ids: a few times vocab)
    std::fprintf(stderr, "gqa-sample-bench: out of memory for --vocab %lld and --runs %lld\n", vocab, runs);
    return 1;
  }
  return 0;
}
