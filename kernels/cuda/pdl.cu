#include "kernels/cuda/pdl.h"

#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {

GQA_PROCESS_SWITCH(pdl_enabled, set_pdl, "GQA_PDL", true)

}  // namespace gqa::cuda
