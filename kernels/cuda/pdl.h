// The process-wide switch of programmatic dependent launch (kernels/cuda/pdl.cuh has the launch
// helper and the device side). Off unless GQA_PDL=1 or set_pdl(true); graphs recorded under one
// setting keep it, so clear them (Ops::clear_graphs) after a change.
#pragma once

namespace gqa::cuda {

bool pdl_enabled();
void set_pdl(bool on);

}  // namespace gqa::cuda
