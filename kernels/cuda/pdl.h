// The process-wide switch of programmatic dependent launch (kernels/cuda/pdl.cuh has the launch
// helper and the device side). On unless GQA_PDL=0 or set_pdl(false); graphs recorded under one
// setting keep it, so clear them (Ops::clear_graphs) after a change.
#pragma once

namespace gqa::cuda {

bool pdl_enabled();
void set_pdl(bool on);

// The early trigger (opt-in until measured: GQA_PDL_EARLY=1 or set_pdl_early(true); unrun on a
// GPU): the kernels with nothing to do before their wait (the decode attention's split merge, the
// RMSNorms) let their successor launch before they wait (pdl_wait_early in pdl.cuh) instead of
// after. Their successor is a decode GEMV whose blocks copy or prefetch their W before their own
// wait: so the O GEMV's weights stream while the attention still runs, the gate/up GEMV's while
// the O GEMV does, the next layer's QKV's while the down GEMV does, where now each starts only
// once the kernel two before it has finished (three grids may then be in flight, not two). Graphs
// keep the setting they were recorded with. (The attention-merge-O edge of a recorded step has no
// memory node since attention_decode keeps its scratch per stream: attention_decode.h.)
bool pdl_early_enabled();
void set_pdl_early(bool on);

}  // namespace gqa::cuda
