#include "launch/gqa_bench/spectrum_bench.h"

#include <memory>

#include "launch/gqa_bench/decode_bench.h"
#include "launch/gqa_bench/decode_fixture.h"
#include "launch/gqa_bench/random_model.h"
#include "parallel/single_communicator.h"

namespace gqa::bench {
namespace {

struct Variant {
  std::string name;
  int64_t kv_heads = 0;        // in the whole model
  int64_t kv_heads_local = 0;  // on one of 8 ranks (MQA: its one head replicated on all)
  std::vector<double> step_ms;
};

// Median step time at each spectrum (context, batch), "-" cells as NaN.
std::vector<double> time_steps(BenchEnv& env, Model& model, const Deadline& deadline) {
  std::vector<double> ms;
  for (int64_t ctx : env.opt.spectrum_contexts) {
    for (int64_t batch : env.opt.batches) {
      if (deadline.passed()) {
        ms.push_back(NAN);
        continue;
      }
      progress(strf("spectrum: %lld kv heads per rank, context %s, batch %lld",
                    (long long)model.config().num_key_value_heads, tokens_str(ctx).c_str(), (long long)batch));
      DecodeFixture fx = make_decode_fixture(env, model, ctx, batch, static_cast<uint32_t>(7000 + ctx + batch));
      ms.push_back(fx.full() ? time_decode_step(env, model, fx, std::min(env.opt.step_runs, 10), deadline) : NAN);
    }
  }
  return ms;
}

void report(BenchEnv& env, const std::vector<Variant>& variants) {
  std::vector<std::string> header = {"attention", "KV heads (model / rank)", "KV bytes/token/rank",
                                     "KV bytes/token, model", "KV bytes/token, 8 ranks hold"};
  for (int64_t ctx : env.opt.spectrum_contexts) {
    for (int64_t batch : env.opt.batches) {
      header.push_back(strf("step ms %s b%lld", tokens_str(ctx).c_str(), (long long)batch));
    }
  }
  Table t(header);
  for (const Variant& v : variants) {
    const ModelConfig rank = llama70b_shard_config(v.kv_heads_local, env.opt.layers);
    const double per_rank = kv_bytes_per_token(rank);
    const double model = per_rank / v.kv_heads_local * v.kv_heads;
    std::vector<std::string> row = {v.name, strf("%lld / %lld", (long long)v.kv_heads, (long long)v.kv_heads_local),
                                    strf("%.0f KB", per_rank / 1e3), strf("%.0f KB", model / 1e3),
                                    strf("%.0f KB", per_rank * kShardRanks / 1e3)};
    for (double ms : v.step_ms) row.push_back(std::isfinite(ms) ? strf("%.2f", ms) : "-");
    t.row(row);
  }
  env.report.table(t);
}

}  // namespace

void bench_spectrum(BenchEnv& env, Model& gqa_model, double seconds) {
  const Deadline deadline(seconds);
  env.report.heading("Spectrum: MHA, GQA-8, MQA at Llama-3-70B size, one rank's shard at T=8");
  env.report.line(
      "Same model size (64 query heads, hidden 8192, FFN 28672, 80 layers), only the KV heads differ. Decode step = "
      "Model::forward with one token per sequence, median wall time (as in the decode section). At T=8 MQA's single "
      "KV head is replicated on all 8 ranks, so a rank's shard is the GQA-8 shard: its step time is the GQA-8 row's, "
      "and its saving over GQA-8 shows only in the whole model's KV bytes (what one GPU would hold at T=1), not per "
      "rank. '-' = skipped (K/V does not fit in this GPU's memory, or the section's budget ran out).");
  std::vector<Variant> variants = {{"MHA", 64, 8, {}}, {"GQA-8 (Llama-3-70B)", 8, 1, {}}, {"MQA", 1, 1, {}}};
  {
    SingleCommunicator comm;
    const ModelConfig c = llama70b_shard_config(8, env.opt.layers);
    progress("spectrum: building the MHA shard (" + describe(c) + ")");
    Model mha(c, single_rank_plan(c), env.ops, comm, random_weights(c, env.ops, env.stream, 4242));
    variants[0].step_ms = time_steps(env, mha, deadline);
  }
  variants[1].step_ms = time_steps(env, gqa_model, deadline);
  variants[2].step_ms = variants[1].step_ms;
  report(env, variants);
  env.report.save();
}

}  // namespace gqa::bench
