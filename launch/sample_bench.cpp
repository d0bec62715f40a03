// gqa-sample-bench: the host token sampler (cpu::sample_row: what rank 0 runs per token at T > 1
// and the CPU backend at T = 1) per token, against the same rule with every candidate sorted
// (the peer: the implementation before the sorted-prefix change), in one run on this machine.
//   gqa-sample-bench [--vocab N] [--runs N]     (defaults: 128256, Llama-3's vocabulary; 20)
// Logits: N(0, s^2) for s = 3 (flat) and 12 (peaked); specs: top_p 0.9 (T 0.7), pure temperature
// (T 1), top_k 50 + top_p 0.9 (T 0.7). Prints ms per token (median of --runs draws), the ratio, and
// whether both picked the same tokens.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace {

using gqa::SampleSpec;

// The rule with a full sort of the top-k candidates (sums in sorted order), as sample_row was.
int32_t full_sort_rule(const std::vector<float>& logits, const SampleSpec& spec, double u) {
  const int64_t vocab = static_cast<int64_t>(logits.size());
  for (float x : logits) {  // the same NaN scan as sample_row's
    if (std::isnan(x)) std::abort();
  }
  std::vector<std::pair<float, int32_t>> cand(vocab);
  for (int64_t i = 0; i < vocab; ++i) cand[i] = {logits[i], static_cast<int32_t>(i)};
  const int64_t k = spec.top_k > 0 ? std::min(spec.top_k, vocab) : vocab;
  std::partial_sort(cand.begin(), cand.begin() + k, cand.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  std::vector<double> probs(k);
  const double inv_t = 1.0 / spec.temperature, max_logit = cand[0].first;
  double total = 0;
  for (int64_t i = 0; i < k; ++i) total += probs[i] = std::exp((cand[i].first - max_logit) * inv_t);
  int64_t keep = k;
  if (spec.top_p < 1.0f) {
    double mass = 0;
    for (int64_t i = 0; i < k; ++i) {
      mass += probs[i] / total;
      if (mass >= spec.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept = 0;
  for (int64_t i = 0; i < keep; ++i) kept += probs[i];
  double acc = 0;
  for (int64_t i = 0; i < keep; ++i) {
    acc += probs[i];
    if (u * kept < acc) return cand[i].second;
  }
  return cand[keep - 1].second;
}

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

}  // namespace

int main(int argc, char** argv) {
  int64_t vocab = 128256;
  int runs = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--vocab" && i + 1 < argc) {
      vocab = std::atoll(argv[++i]);
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: gqa-sample-bench [--vocab N] [--runs N]\n");
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  if (vocab < 1 || runs < 1) {
    std::fprintf(stderr, "gqa-sample-bench: --vocab and --runs must be positive\n");
    return 2;
  }
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
      const double b = median_ms(runs, [&](int i) { peer[i] = full_sort_rule(logits, c.spec, u(i)); });
      std::printf("| N(0, %.0f^2) x %lld | %s | %.3f | %.3f | %.1fx | %s |\n", spread, (long long)vocab, c.name, a, b,
                  b / a, ours == peer ? "yes" : "NO");
    }
  }
  return 0;
}
