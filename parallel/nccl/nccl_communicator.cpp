#include "parallel/nccl/nccl_communicator.h"

#include <cstdio>
#include <cstring>
#include <iostream>
#include <vector>

#include "core/deadline.h"
#include "core/error.h"
#include "parallel/collective_checks.h"
#include "parallel/nccl/nccl_check.h"

namespace gqa {
namespace {

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::kF32: return ncclFloat32;
    case DType::kF16: return ncclFloat16;
    case DType::kBF16: return ncclBfloat16;
    default: GQA_FAIL("nccl all_reduce_sum: dtype " << dtype_name(t) << " not supported (need f32, f16 or bf16)");
  }
}

std::string uuid_str(const int32_t* words) {
  const auto* b = reinterpret_cast<const unsigned char*>(words);
  std::string s = "GPU-";
  char hex[3];
  for (int i = 0; i < 16; ++i) {
    std::snprintf(hex, sizeof(hex), "%02x", b[i]);
    s += hex;
  }
  return s;
}

}  // namespace

NcclCommunicator::NcclCommunicator(int device, MPI_Comm comm) : mpi_(comm), device_(device) {
  std::string error;
  try {
    GQA_CUDART_CHECK(cudaSetDevice(device));
  } catch (const std::exception& e) {
    error = "nccl: rank " + std::to_string(rank()) + " cannot use CUDA device " + std::to_string(device) + ": " +
            e.what();
  }
  agree(error, "to select its GPU");
  require_distinct_gpus();
  double init_limit_s = 0;
  try {
    init_limit_s = seconds_from_env("GQA_NCCL_INIT_TIMEOUT_S", kDefaultInitTimeoutS);
  } catch (const std::exception& e) {
    error = e.what();
  }
  agree(error, "to read GQA_NCCL_INIT_TIMEOUT_S");

  ncclUniqueId id{};
  if (rank() == 0) {
    try {
      GQA_NCCL_CHECK(ncclGetUniqueId(&id));
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  agree(error, "to create the NCCL unique id");
  mpi_.broadcast(&id, sizeof(id), 0);

  // ncclCommInitRank is collective and blocking: when it fails on one rank, the others may still be
  // waiting inside it for that rank, where no MPI agreement reaches them. The rank that failed says
  // why and ends the job instead; alone, it throws. A rank that never returns from it (a peer
  // stuck or unreachable) ends its process at the time limit, which takes the job down.
  try {
    const Deadline limit(init_limit_s, "gqa: nccl: rank " + std::to_string(rank()) +
                                           ": ncclCommInitRank (limit GQA_NCCL_INIT_TIMEOUT_S, 0: none)");
    GQA_NCCL_CHECK(ncclCommInitRank(&comm_, size(), id, rank()));
  } catch (const std::exception& e) {
    comm_ = nullptr;
    if (size() == 1) throw RankError(e.what());
    std::cerr << "gqa: rank " + std::to_string(rank()) + ": " + e.what() +
                     "; ending the job (other ranks may be waiting inside ncclCommInitRank)\n"
              << std::flush;
    mpi_.abort(1);
  }
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr) ncclCommDestroy(comm_);  // no throw from a destructor
}

// Every rank learns whether every rank succeeded; all throw together when one did not (one line
// where all failed: agree_or_throw).
void NcclCommunicator::agree(const std::string& local_error, const char* phase) {
  agree_or_throw([&](bool ok) { return mpi_.all_ok(ok); }, rank(), size(), local_error,
                 std::string("nccl: another rank failed ") + phase);
}

// NCCL cannot run two ranks on one GPU: find that out up front, on every rank, with a way out.
void NcclCommunicator::require_distinct_gpus() {
  cudaDeviceProp prop{};
  std::string error;
  try {
    GQA_CUDART_CHECK(cudaGetDeviceProperties(&prop, device_));
  } catch (const std::exception& e) {
    error = e.what();
  }
  agree(error, "to read its GPU's properties");
  int32_t mine[4];
  static_assert(sizeof(prop.uuid.bytes) == sizeof(mine), "CUDA device UUID is 16 bytes");
  std::memcpy(mine, prop.uuid.bytes, sizeof(mine));
  Tensor in = Tensor::view(mine, DType::kI32, {4});
  Tensor all = Tensor::host(DType::kI32, {size(), 4});
  mpi_.all_gather(in, all);
  const int32_t* u = all.data_as<int32_t>();
  for (int a = 0; a < size(); ++a) {
    for (int b = a + 1; b < size(); ++b) {
      GQA_CHECK(std::memcmp(u + 4 * a, u + 4 * b, 16) != 0,
                "nccl: ranks " << a << " and " << b << " share GPU " << uuid_str(u + 4 * a)
                               << "; NCCL needs one GPU per rank. Use --comm mpi (host-staged) to run "
                               << size() << " ranks on fewer GPUs");
    }
  }
}

void NcclCommunicator::all_reduce_sum(Tensor& t, void* stream) {
  detail::check_all_reduce_args(t, "nccl");
  if (t.device() != Device::kCuda) return mpi_.all_reduce_sum(t, stream);
  if (t.numel() == 0) return;
  GQA_NCCL_CHECK(ncclAllReduce(t.data(), t.data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()), ncclSum,
                               comm_, static_cast<cudaStream_t>(stream)));
}

// out = [size, in...]; `in` may be this rank's row of `out` (NCCL's in-place all-gather).
void NcclCommunicator::all_gather(const Tensor& in, Tensor& out, void* stream) {
  detail::check_all_gather_args(in, out, size(), "nccl");
  if (in.device() != Device::kCuda) return mpi_.all_gather(in, out, stream);
  if (in.nbytes() == 0) return;
  GQA_NCCL_CHECK(ncclAllGather(in.data(), out.data(), in.nbytes(), ncclUint8, comm_,
                               static_cast<cudaStream_t>(stream)));
}

void NcclCommunicator::broadcast(void* data, size_t bytes, int root) { mpi_.broadcast(data, bytes, root); }
void NcclCommunicator::barrier() { mpi_.barrier(); }
bool NcclCommunicator::all_ok(bool ok) { return mpi_.all_ok(ok); }

// MPI_Abort alone, not ncclCommAbort first: ncclCommAbort can block when only this rank aborts
// (NVIDIA/nccl#863, #992), and then the job would never be taken down. MPI_Abort ends every rank;
// the driver frees this process's GPU resources, NCCL's among them, when it exits.
void NcclCommunicator::abort(int exit_code) { mpi_.abort(exit_code); }

}  // namespace gqa
