#include "kernels/cuda/pdl.h"

#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {

GQA_PROCESS_SWITCH(pdl_enabled, set_pdl, "GQA_PDL", true)
GQA_PROCESS_SWITCH(pdl_early_enabled, set_pdl_early, "GQA_PDL_EARLY", true)

}  // namespace gqa::cuda
