#include "launch/gqa_bench/model8b_bench.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "launch/gqa_bench/peers.h"
#include "launch/gqa_bench/random_model.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/weights.h"
#include "parallel/single_communicator.h"
#include "runtime/generator.h"
#include "runtime/kv_page_size.h"

namespace gqa::bench {
namespace {

struct OursResult {
  std::string error;
  std::string model;          // describe(config)
  double weight_bytes = 0;    // read per decode token
  double kv_bytes_per_token = 0;
  double tokens_per_s = NAN;
  std::vector<int32_t> tokens;
};

// DIR/prompt.json ({"prompt": [ids]}) when python wrote one, else seeded random ids.
std::vector<int32_t> read_prompt(const std::string& dir, int64_t len, int64_t vocab) {
  std::ifstream f(dir + "/prompt.json");
  if (f.good()) {
    const nlohmann::json j = nlohmann::json::parse(f);
    return j.at("prompt").get<std::vector<int32_t>>();
  }
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> p(len);
  for (int32_t& t : p) t = token(rng);
  return p;
}

void write_prompt(const std::string& path, const std::vector<int32_t>& prompt) {
  std::ofstream f(path);
  GQA_CHECK(f.good(), "gqa-bench: cannot write " << path);
  f << nlohmann::json{{"prompt", prompt}}.dump() << "\n";
}

OursResult run_ours(BenchEnv& env, const std::string& dir, const std::string& prompt_path) {
  OursResult r;
  SingleCommunicator comm;
  const ModelConfig c = ModelConfig::from_file(dir + "/config.json");
  const ShardPlan plan = single_rank_plan(c);
  progress("8B: loading " + dir + " (" + describe(c) + ")");
  const Checkpoint ckpt = Checkpoint::open(dir);
  ModelWeights w = load_weights(ckpt, c, plan, 0, env.ops);
  r.model = describe(c);
  r.weight_bytes = step_weight_bytes(w, 1);
  r.kv_bytes_per_token = kv_bytes_per_token(c);
  Model model(c, plan, env.ops, comm, std::move(w));
  const std::vector<int32_t> prompt = read_prompt(dir, env.opt.prompt_len, c.vocab_size);
  write_prompt(prompt_path, prompt);
  const int64_t tokens = static_cast<int64_t>(prompt.size()) + env.opt.new_tokens;
  // (the default pages, as gqa-generate's; 16 tokens until the eighteenth session, run 11's figure's)
  const int64_t bs = kDefaultKvBlockSize;
  PagedKvCache cache(model.kv_cache_shape(PagedKvCache::blocks_for(tokens, bs) + 1, bs), env.ops.compute_dtype(), env.ops);
  Generator gen(model, cache, comm);
  GenerateRequest req;
  req.prefill_chunk = env.opt.prefill_chunk;
  req.prompt.assign(prompt.begin(), prompt.begin() + std::min<size_t>(prompt.size(), 64));
  req.max_new_tokens = 8;
  gen.generate(req);  // warm-up: GEMM plans, allocations
  req.prompt = prompt;
  req.max_new_tokens = env.opt.new_tokens;
  progress("8B: gqa generates " + std::to_string(req.max_new_tokens) + " tokens after " +
           std::to_string(prompt.size()));
  const GenerateResult res = gen.generate(req);
  r.tokens = res.tokens;
  r.tokens_per_s = static_cast<double>(res.tokens.size() - 1) / res.decode_seconds;
  return r;
}

int64_t leading_equal(const std::vector<int32_t>& a, const nlohmann::json& b) {
  int64_t n = 0;
  if (!b.is_array()) return 0;
  while (n < static_cast<int64_t>(a.size()) && n < static_cast<int64_t>(b.size()) && b[n].get<int32_t>() == a[n]) ++n;
  return n;
}

void report(BenchEnv& env, const OursResult& ours, const PythonRun* hf) {
  const double avg_ctx = env.opt.prompt_len + env.opt.new_tokens / 2.0;
  const double bytes = ours.weight_bytes + avg_ctx * ours.kv_bytes_per_token;
  const double floor_tps = env.ceil.copy_bw / bytes;
  env.report.line(strf("%s; %.2f GB read per token at the mean context (weights + K/V): memory floor %.0f tokens/s.",
                       ours.model.c_str(), bytes / 1e9, floor_tps));
  Table t({"engine", "mode", "decode tokens/s", "ms/token", "of floor", "gqa speedup", "leading greedy tokens = gqa's"});
  t.row({"gqa", "Model + Generator (CUDA, bf16)", strf("%.1f", ours.tokens_per_s), strf("%.2f", 1e3 / ours.tokens_per_s),
         strf("%.0f%%", 100 * ours.tokens_per_s / floor_tps), "1.00x", "-"});
  if (hf == nullptr) {
    env.report.table(t);
    return;
  }
  if (!hf->has_result || hf->result.value("status", "") != "ok") {
    t.row({"HF transformers", "-", "-", "-", "-", "-", "skipped: " + hf->failure()});
  } else {
    for (const auto& m : hf->result.value("modes", nlohmann::json::array())) {
      const std::string mode = m.value("mode", std::string("?"));
      if (!m.contains("tokens_per_s")) {
        t.row({"HF transformers", mode, "-", "-", "-", "-", "failed: " + m.value("error", std::string("?"))});
        continue;
      }
      const double tps = m.value("tokens_per_s", 0.0);
      t.row({"HF transformers", mode, strf("%.1f", tps), strf("%.2f", 1e3 / tps), strf("%.0f%%", 100 * tps / floor_tps),
             strf("%.2fx", ours.tokens_per_s / tps),
             strf("%lld of %zu", (long long)leading_equal(ours.tokens, m.value("tokens", nlohmann::json())),
                  ours.tokens.size())});
    }
    env.report.line("HF: " + hf->result.value("how", std::string()));
  }
  env.report.table(t);
}

}  // namespace

void bench_model_8b(BenchEnv& env, double seconds) {
  const Deadline deadline(seconds);
  const Options& o = env.opt;
  env.report.heading("Llama-3-8B shape at T=1: gqa vs HF transformers, batch 1, " + std::to_string(o.new_tokens) +
                     " new tokens after a " + std::to_string(o.prompt_len) + "-token prompt");
  std::string dir = o.model_dir;
  if (dir.empty()) {
    dir = o.checkpoint_dir;
    const PythonRun w = run_python(o.python, o.peers_dir, "hf_decode_bench.py",
                                   {"write", "--dir", dir, "--layers", std::to_string(o.peer_layers), "--seed", "1234",
                                    "--prompt-len", std::to_string(o.prompt_len)},
                                   std::min(deadline.remaining_s() * 0.4, 300.0));
    if (!w.has_result || w.result.value("status", "") != "ok") {
      env.report.line("Skipped: writing the random checkpoint failed: " + w.failure() +
                      " (--model DIR takes a checkpoint written before instead)");
      env.report.save();
      return;
    }
    env.report.line("Random weights (seed 1234) written by hf_decode_bench.py to " + dir + ": " +
                    w.result.value("what", std::string()));
  }
  const std::string prompt_path = "/tmp/gqa-bench-prompt.json";  // the prompt gqa used, for the HF run
  OursResult ours;
  try {
    ours = run_ours(env, dir, prompt_path);
  } catch (const std::exception& e) {
    env.report.line(std::string("gqa failed on ") + dir + ": " + e.what());
    env.report.save();
    return;
  }
  if (!o.peers) {
    report(env, ours, nullptr);
  } else if (deadline.remaining_s() < 45) {
    // Too little left for HF (import, load, generate). Running it anyway under a 45 s floor would
    // overrun --budget-s by up to 55 s, past gpu-check's 15 s grace: gqa-bench would be killed
    // before printing its report.
    PythonRun hf;
    hf.has_result = true;
    hf.result = {{"status", "skipped"},
                 {"reason", strf("only %.0f s left of this section's budget", std::max(0.0, deadline.remaining_s()))}};
    report(env, ours, &hf);
  } else {
    const PythonRun hf = run_python(o.python, o.peers_dir, "hf_decode_bench.py",
                                    {"bench", "--dir", dir, "--prompt-file", prompt_path, "--new-tokens",
                                     std::to_string(o.new_tokens), "--time-budget",
                                     strf("%.0f", std::max(30.0, deadline.remaining_s() - 15))},
                                    std::max(45.0, deadline.remaining_s()));
    report(env, ours, &hf);
  }
  env.report.save();
}

}  // namespace gqa::bench
