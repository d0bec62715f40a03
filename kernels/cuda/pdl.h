// The process-wide switch of programmatic dependent launch (kernels/cuda/pdl.cuh has the launch
// helper and the device side). On unless GQA_PDL=0 or set_pdl(false); graphs recorded under one
// setting keep it, so clear them (Ops::clear_graphs) after a change.
#pragma once

namespace gqa::cuda {

bool pdl_enabled();
void set_pdl(bool on);

}  // namespace gqa::cuda
