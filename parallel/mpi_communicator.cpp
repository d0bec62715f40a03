#include "parallel/mpi_communicator.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "core/error.h"
#include "parallel/collective_checks.h"
#include "parallel/collective_watch.h"
#include "parallel/mpi_check.h"

namespace gqa {
namespace {

// Frees a derived datatype even when the collective using it throws.
struct TypeGuard {
  MPI_Datatype type = MPI_DATATYPE_NULL;
  ~TypeGuard() {
    // (teardown: statuses ignored, a destructor must not throw)
    if (type != MPI_DATATYPE_NULL) MPI_Type_free(&type);
  }
};

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, MpiCommunicatorOptions options)
    : max_message_bytes_(std::clamp<size_t>(options.max_message_bytes, 4, INT_MAX)) {
  int initialized = 0;
  GQA_MPI_CHECK(MPI_Initialized(&initialized));
  GQA_CHECK(initialized, "MpiCommunicator: MPI is not initialized (create a gqa::MpiSession first)");
  GQA_MPI_CHECK(MPI_Comm_dup(comm, &comm_));
  GQA_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  GQA_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  GQA_MPI_CHECK(MPI_Comm_size(comm_, &size_));
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 1;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);  // no throw from a destructor
}

void MpiCommunicator::all_reduce_sum(Tensor& t, void* stream) {
  detail::check_all_reduce_args(t, "mpi");
  if (t.device() == Device::kCuda) {
    all_reduce_sum_device(t, stream);
  } else {
    all_reduce_sum_host(t);
  }
}

void MpiCommunicator::all_reduce_sum_host(Tensor& t) {
  const size_t n = static_cast<size_t>(t.numel());
  if (n == 0) return;
  if (t.dtype() == DType::kF32) {
    all_reduce_f32(t.data_as<float>(), n);
    return;
  }
  scratch_.resize(n);
  convert_to_f32(t.data(), t.dtype(), scratch_.data(), n);
  all_reduce_f32(scratch_.data(), n);
  convert_from_f32(scratch_.data(), t.data(), t.dtype(), n);
}

void MpiCommunicator::all_reduce_f32(float* data, size_t n) {
  const size_t max_count = max_message_bytes_ / sizeof(float);
  const CollectiveWatch watch(rank_, "MPI_Allreduce (all_reduce_sum)");
  for (size_t off = 0; off < n; off += max_count) {
    const int count = static_cast<int>(std::min(max_count, n - off));
    GQA_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data + off, count, MPI_FLOAT, MPI_SUM, comm_));
  }
}

void MpiCommunicator::broadcast(void* data, size_t bytes, int root) {
  detail::check_root(root, size_, "mpi");
  GQA_CHECK(data != nullptr || bytes == 0, "mpi broadcast: null data for " << bytes << " bytes");
  char* p = static_cast<char*>(data);
  const CollectiveWatch watch(rank_, "MPI_Bcast (broadcast)");
  for (size_t off = 0; off < bytes; off += max_message_bytes_) {
    const int count = static_cast<int>(std::min(max_message_bytes_, bytes - off));
    GQA_MPI_CHECK(MPI_Bcast(p + off, count, MPI_BYTE, root, comm_));
  }
}

void MpiCommunicator::all_gather(const Tensor& in, Tensor& out, void* stream) {
  detail::check_all_gather_args(in, out, size_, "mpi");
  if (in.device() == Device::kCuda) {
    all_gather_device(in, out, stream);
  } else {
    all_gather_host(in, out);
  }
}

void MpiCommunicator::all_gather_host(const Tensor& in, Tensor& out) {
  const size_t per_rank = in.nbytes();
  if (per_rank == 0) return;
  const char* send = static_cast<const char*>(in.data());
  char* recv = static_cast<char*>(out.data());
  // `in` may already be this rank's row of `out` (gather in place).
  const bool in_place = send == recv + static_cast<size_t>(rank_) * per_rank;
  const CollectiveWatch watch(rank_, "MPI_Allgather (all_gather)");
  for (size_t off = 0; off < per_rank; off += max_message_bytes_) {
    const size_t piece = std::min(max_message_bytes_, per_rank - off);
    all_gather_piece(in_place ? nullptr : send + off, recv + off, piece, per_rank);
  }
}

// Gathers `piece` bytes from every rank; rank i's bytes land at recv + i * per_rank.
// send == nullptr means MPI_IN_PLACE.
void MpiCommunicator::all_gather_piece(const char* send, char* recv, size_t piece, size_t per_rank) {
  const void* sendbuf = send == nullptr ? MPI_IN_PLACE : send;
  const int count = static_cast<int>(piece);
  if (piece == per_rank) {
    GQA_MPI_CHECK(MPI_Allgather(sendbuf, count, MPI_BYTE, recv, count, MPI_BYTE, comm_));
    return;
  }
  // A piece of each rank's row: `piece` bytes with a stride of the full row between ranks.
  TypeGuard contiguous;
  TypeGuard strided;
  GQA_MPI_CHECK(MPI_Type_contiguous(count, MPI_BYTE, &contiguous.type));
  GQA_MPI_CHECK(MPI_Type_create_resized(contiguous.type, 0, static_cast<MPI_Aint>(per_rank),
                                        &strided.type));
  GQA_MPI_CHECK(MPI_Type_commit(&strided.type));
  GQA_MPI_CHECK(MPI_Allgather(sendbuf, count, MPI_BYTE, recv, 1, strided.type, comm_));
}

void MpiCommunicator::all_reduce_sum_device(Tensor& t, void* /*stream*/) {
  GQA_FAIL("mpi all_reduce_sum: tensor " << shape_str(t.shape())
                                         << " is on the GPU; device buffers need the CUDA build");
}

void MpiCommunicator::all_gather_device(const Tensor& in, Tensor& /*out*/, void* /*stream*/) {
  GQA_FAIL("mpi all_gather: tensor " << shape_str(in.shape())
                                     << " is on the GPU; device buffers need the CUDA build");
}

void MpiCommunicator::barrier() {
  const CollectiveWatch watch(rank_, "MPI_Barrier (barrier)");
  GQA_MPI_CHECK(MPI_Barrier(comm_));
}

bool MpiCommunicator::all_ok(bool ok) {
  const CollectiveWatch watch(rank_, "MPI_Allreduce (all_ok)");
  int v = ok ? 1 : 0;
  GQA_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MIN, comm_));
  return v == 1;
}

void MpiCommunicator::abort(int exit_code) {
  const int code = exit_code == 0 ? 1 : exit_code;
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  MPI_Abort(comm_, code);
  std::_Exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] true if it ever did
}

}  // namespace gqa
