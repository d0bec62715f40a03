// The process-wide switch of programmatic dependent launch (kernels/cuda/pdl.cuh has the launch
// helper and the device side). On unless GQA_PDL=0 or set_pdl(false); graphs recorded under one
// setting keep it, so clear them (Ops::clear_graphs) after a change.
#pragma once

namespace gqa::cuda {

bool pdl_enabled();
void set_pdl(bool on);

// The early trigger (on unless GQA_PDL_EARLY=0 or set_pdl_early(false)): the kernels with nothing to do before their wait (the decode attention's split merge, the
// RMSNorms) let their successor launch before they wait (pdl_wait_early in pdl.cuh) instead of
// after. Their successor is a decode GEMV whose blocks copy or prefetch their W before their own
// wait: so the O GEMV's weights stream while the attention still runs, the gate/up GEMV's while
// the O GEMV does, the next layer's QKV's while the down GEMV does, where now each starts only
// once the kernel two before it has finished (three grids may then be in flight, not two). Graphs
// keep the setting they were recorded with. (The attention-merge-O edge of a recorded step has no
// memory node since attention_decode keeps its scratch per stream: attention_decode.h.)
// The default since run 8 on an H200 (bench/results/NVIDIA-H200-20261126-233031-decode.md): its
// tests and gqa-generate with it passed there, and its decode steps were the fastest of every
// kernel choice at 8K and 128K batch 1 (5.88 and 7.19 ms against 6.07 and 7.41 for the late
// trigger in the decode section, 7.33 at 128K on the same fixture) and within 0.5% of the fastest
// elsewhere (32K batch 1 6.28 vs 6.26-6.31; batch 16 within 0.1 ms).
bool pdl_early_enabled();
void set_pdl_early(bool on);

}  // namespace gqa::cuda
