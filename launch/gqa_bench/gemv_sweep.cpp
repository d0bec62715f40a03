#include "launch/gqa_bench/gemv_sweep.h"

#include <exception>
#include <string>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/pdl.h"
#include "launch/gqa_bench/decode_fixture.h"
#include "launch/gqa_bench/decode_ops.h"

namespace gqa::bench {
namespace {

std::string label(const cuda::GemvTuning& t) {
  if (t.ring) return "ring (opt-in build)";
  if (!t.forces_per_thread()) return cuda::gemv_bulk_enabled() ? "default: bulk copies" : "default: plan, 8 loads";
  if (t.no_budget) return "plan, no register budget (4-6 loads in flight: the build before the budget)";
  const std::string warps = t.group_warps == 0 ? "plan" : strf("%d", t.group_warps);
  return warps + (t.deep ? ", 16 loads" : ", 8 loads");
}

}  // namespace

void report_gemv_sweep(BenchEnv& env, Model& model, const ModelWeights& w, const std::vector<DecodeCaseResult>& cases,
                       const Deadline& deadline, bool ring) {
  const DecodeCaseResult* pick = nullptr;
  for (const DecodeCaseResult& r : cases) {
    if (r.batch == 1 && !r.ops.empty()) {
      pick = &r;
      break;
    }
  }
  if (pick == nullptr) return;
  const std::string title = ring ? "Decode GEMVs: the ring build against the default" : "Decode GEMVs under forced launches";
  if (deadline.passed()) {
    env.report.heading(title);
    env.report.line("Skipped: this section's time budget (--budget-s) was spent before it.");
    return;
  }
  DecodeFixture fx = make_decode_fixture(env, model, pick->context, 1, static_cast<uint32_t>(2000 + pick->context));
  if (!fx.cache) return;
  env.report.heading(title + " (batch 1, context " + tokens_str(pick->context) + ")");
  if (ring) {
    env.report.line("As the table of forced launches above, the default row again and the opt-in ring build "
                    "(GQA_GEMV_RING: the bulk build's copies through a ring of shared-memory stages in a grid of "
                    "resident blocks; first run on a GPU in run 8), in a table of its own after the other "
                    "sections' kernels.");
  } else {
    env.report.line(
        "Each GEMV of the step as the default step runs it (QKV and gate/up fused with their epilogues), timed alone "
        "as in the per-op rows (cold L2, CUDA events, median), and the whole step (PDL on, graphs re-recorded), with "
        "the decode GEMVs' launch forced process-wide (cuda::set_gemv_tuning): warps per row group (plan: from k and "
        "m, kernels/cuda/gemv_kernel.cuh) and 16-byte loads in flight per thread in the per-thread-load build, or "
        "its plan's launch built without a register budget (gemv_kernel.cuh's min_resident_blocks: ptxas then keeps "
        "4-6 of the 8 loads in flight) (the opt-in ring build: a table of its own at the end of the report). The "
        "first row is the default: the bulk-copy build "
        "(W rows through cp.async.bulk into shared memory, issued before the wait on the previous kernel; "
        "GQA_GEMV_BULK=0 turns it off).");
  }
  Table t({"warps per row group, loads", "QKV+RoPE us", "O us", "gate/up+SwiGLU us", "down us", "LM head us",
           "GEMVs per step us", "step ms"});
  // The default (the bulk build), the per-thread build's plan, the same launch without the register
  // budget (the A/B the budget awaits: early, so a budget running out cannot leave it out), then
  // the rest; with `ring`, the default and the ring build alone (no GPU had run it when this was
  // written: its table comes last, after every other section's kernels).
  // (the per-thread plan's row only where the default is the bulk build: else the first row is it)
  std::vector<cuda::GemvTuning> tunings{{}};
  if (ring) {
    tunings.push_back({.ring = true});
  } else {
    if (cuda::gemv_bulk_enabled()) tunings.push_back({.per_thread = true});
    tunings.push_back({.no_budget = true});
    for (bool deep : {false, true}) {
      for (int g : {0, 1, 2, 4, 8}) {
        if (g != 0 || deep) tunings.push_back({g, deep});
      }
    }
  }
  const size_t slot = env.report.slot();
  int failed = 0;
  for (const cuda::GemvTuning& tune : tunings) {
    std::vector<std::string> row{label(tune)};
    if (deadline.passed()) {
      row.push_back("skipped: this section's time budget ran out");
    } else try {  // (a failing launch is its row's note; the rows before it stay)
      const cuda::ScopedGemvTuning scoped(tune);
      const cuda::ScopedSwitch pdl(cuda::pdl_enabled, cuda::set_pdl, true);
      const FreshGraphs fresh(env.ops);
      const std::vector<OpTiming> ops = time_decode_gemvs(env, model.config(), w, fx);
      double per_step_us = 0;
      for (const OpTiming& o : ops) {
        row.push_back(strf("%.1f", o.us));
        per_step_us += o.us * o.per_step;
      }
      row.push_back(strf("%.0f", per_step_us));
      row.push_back(fx.full() ? strf("%.2f", time_decode_step(env, model, fx, env.opt.step_runs, deadline)) : "-");
    } catch (const std::exception& e) {
      row = {label(tune), std::string("FAILED: ") + e.what()};
      progress("GEMV sweep, " + label(tune) + ": " + row.back());
      ++failed;
    }
    t.row(row);
    env.report.fill(slot, [&](Report& r) { r.table(t); });
    env.report.save();
  }
  GQA_CHECK(failed == 0, failed << " GEMV launch(es) of the sweep failed (in its table)");
}

}  // namespace gqa::bench
