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

// `text` as a decimal integer in [1, max], or a one-line message naming `flag` (atoll read
// "1000x" as 1000 and atoi wrapped 4294967297 to 1).
std::string parse_count(const char* flag, const std::string& text, long long max, long long* out) {
  const std::string got =
      std::string(flag) + " takes an integer in [1, " + std::to_string(max) + "], got '" + text + "'";
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) return got;
  if (text[0] == '0') {  // (0, or a leading 0 that CLI11's tools would read as octal)
    return text.size() == 1 ? got : std::string(flag) + ": '" + text + "': write it in decimal, without a leading 0";
  }
  const long long v = std::stoll(text);  // (at most 18 digits: in range; 19 can pass LLONG_MAX)
  if (v > max) return got;
  *out = v;
  return {};
}

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
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    std::string error;
    if (a == "--vocab" && i + 1 < argc) {
      error = parse_count("--vocab", argv[++i], kMaxVocab, &vocab);
    } else if (a == "--runs" && i + 1 < argc) {
      error = parse_count("--runs", argv[++i], kMaxRuns, &runs);
    } else if (a == "--version") {
      std::printf("gqa-sample-bench %s\n", GQA_VERSION);
      return 0;
    } else {
      const bool help = a == "-h" || a == "--help";
      if (!help) std::fprintf(stderr, "gqa-sample-bench: unknown argument or missing value: %s\n", a.c_str());
      std::fprintf(help ? stdout : stderr,
                   "usage: gqa-sample-bench [--vocab N] [--runs N] [--version]\n"
                   "  Times the host token sampler (what rank 0 runs per token at T > 1) against a full sort of the\n"
                   "  row, on random logits, one thread: ms per token (median of the runs), the ratio, and whether\n"
                   "  both drew the same tokens.\n"
                   "  --vocab N  logits per row (default 128256, Llama-3's vocabulary; at most %lld)\n"
                   "  --runs N   draws timed per row and rule (default 20; at most %lld)\n",
                   static_cast<long long>(kMaxVocab), static_cast<long long>(kMaxRuns));
      return help ? 0 : 2;
    }
    if (!error.empty()) {
      std::fprintf(stderr, "gqa-sample-bench: %s\n", error.c_str());
      return 2;
    }
  }
  try {
    run(vocab, static_cast<int>(runs));
  } catch (const std::bad_alloc&) {  // (the logits, both samplers' scratch, the ids: a few times vocab)
    std::fprintf(stderr, "gqa-sample-bench: out of memory for --vocab %lld and --runs %lld\n", vocab, runs);
    return 1;
  }
  return 0;
}
