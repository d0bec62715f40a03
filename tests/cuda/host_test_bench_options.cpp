// gqa-bench's and gqa-attn-bench's command lines (launch/gqa_bench/options.cpp,
// launch/attn_bench_options.cpp) parsed into their option structs: the defaults, K-suffixed
// sizes and lists, a flag given again overriding the earlier one (gpu-check appends
// GQA_BENCH_ARGS after its own flags), and the exit statuses. No GPU needed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "launch/attn_bench_options.h"
#include "launch/gqa_bench/options.h"

namespace gqa {
namespace {

// argv from `args` (after a program name), kept alive for the parse.
struct Argv {
  explicit Argv(std::vector<std::string> args) : strings(std::move(args)) {
    strings.insert(strings.begin(), "prog");
    for (std::string& s : strings) ptrs.push_back(s.data());
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  char** argv() { return ptrs.data(); }
  std::vector<std::string> strings;
  std::vector<char*> ptrs;
};

int bench(std::vector<std::string> args, bench::Options& o) {
  Argv a(std::move(args));
  return bench::parse_options(a.argc(), a.argv(), o);
}

int attn(std::vector<std::string> args, AttnBenchOptions& o) {
  Argv a(std::move(args));
  return parse_attn_bench_options(a.argc(), a.argv(), o);
}

TEST(BenchOptions, Defaults) {
  bench::Options o;
  ASSERT_EQ(bench({}, o), -1);
  EXPECT_EQ(o.contexts, (std::vector<int64_t>{1024, 8192, 32768, 131072}));
  EXPECT_EQ(o.batches, (std::vector<int64_t>{1, 16}));
  EXPECT_EQ(o.prefill_lengths, (std::vector<int64_t>{8192, 32768, 131072}));
  EXPECT_EQ(o.layers, 80);
  EXPECT_EQ(o.runs, 30);
  EXPECT_TRUE(o.decode);
  EXPECT_TRUE(o.prefill);
  EXPECT_FALSE(o.spectrum || o.peers || o.model_8b);
  EXPECT_EQ(o.budget_s, 540);
  EXPECT_EQ(o.peers_dir, std::string(GQA_SOURCE_DIR) + "/launch/bench_peers");
}

TEST(BenchOptions, SizesListsAndFlags) {
  bench::Options o;
  ASSERT_EQ(bench({"--contexts", "8K,32k", "--batches", "1", "--prefill", "128K", "--prefill-chunk", "8K",
                   "--layers", "16", "--runs", "5", "--no-decode", "--all", "--budget-s", "120.5", "--out", "r.md"},
                  o),
            -1);
  EXPECT_EQ(o.contexts, (std::vector<int64_t>{8192, 32768}));
  EXPECT_EQ(o.batches, (std::vector<int64_t>{1}));
  EXPECT_EQ(o.prefill_lengths, (std::vector<int64_t>{131072}));
  EXPECT_EQ(o.prefill_chunk, 8192);
  EXPECT_EQ(o.layers, 16);
  EXPECT_EQ(o.runs, 5);
  EXPECT_FALSE(o.decode);
  EXPECT_TRUE(o.prefill);
  EXPECT_TRUE(o.spectrum && o.peers && o.model_8b);
  EXPECT_EQ(o.budget_s, 120.5);
  EXPECT_EQ(o.out, "r.md");
}

TEST(BenchOptions, AFlagGivenAgainOverrides) {
  bench::Options o;
  ASSERT_EQ(bench({"--contexts", "1K,8K", "--runs", "20", "--budget-s", "300", "--contexts", "2K", "--runs", "3",
                   "--budget-s", "60"},
                  o),
            -1);
  EXPECT_EQ(o.contexts, (std::vector<int64_t>{2048}));
  EXPECT_EQ(o.runs, 3);
  EXPECT_EQ(o.budget_s, 60);
}

TEST(BenchOptions, UsageErrorsAndHelp) {
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{{"--bogus"}, {"--runs", "0"}, {"--runs", "4294967297"},
                                             {"--contexts", "1K,x"}, {"--layers", "010"}, {"--budget-s", "0"},
                                             {"--out", ""}, {"--runs"}, {"stray"}}) {
    bench::Options o;
    EXPECT_EQ(bench(bad, o), 2) << bad[0];
  }
  bench::Options o;
  EXPECT_EQ(bench({"--help"}, o), 0);
  EXPECT_EQ(bench({"--version"}, o), 0);
}

TEST(AttnBenchOptions, ContextsBatchesAndOverrides) {
  AttnBenchOptions o;
  ASSERT_EQ(attn({}, o), -1);
  EXPECT_EQ(o.runs, 30);
  EXPECT_EQ(o.splits, 0);
  EXPECT_EQ(o.context, 0);
  EXPECT_EQ(o.batch, 0);
  ASSERT_EQ(attn({"--context", "8K", "--batch", "16", "--splits", "64", "--check", "--context", "32k"}, o), -1);
  EXPECT_EQ(o.context, 32768);
  EXPECT_EQ(o.batch, 16);
  EXPECT_EQ(o.splits, 64);
  EXPECT_TRUE(o.check);
  ASSERT_EQ(attn({"--context", "131072"}, o), -1);
  EXPECT_EQ(o.context, 131072);
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{{"--context", "1000"}, {"--context", "8K1"}, {"--batch", "3"},
                                             {"--runs", "0"}, {"--splits", "2000000"}, {"--bogus"}}) {
    AttnBenchOptions p;
    EXPECT_EQ(attn(bad, p), 2) << bad[0];
  }
}

}  // namespace
}  // namespace gqa
