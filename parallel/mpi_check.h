// GQA_MPI_CHECK(call): every MPI call goes through this. The communicator it runs on must use
// MPI_ERRORS_RETURN (MpiCommunicator sets it) so a failure comes back as a code instead of
// killing the job; the code is turned into a gqa::Error naming the call, MPI's text, file:line.
#pragma once

#include <mpi.h>

#include <string>

#include "core/error.h"

namespace gqa::detail {

[[noreturn]] inline void throw_mpi_error(const char* call, int code, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
  std::string msg = std::string(call) + " failed: ";
  msg += len > 0 ? std::string(text, static_cast<size_t>(len)) : "MPI error " + std::to_string(code);
  throw_error(msg, file, line);
}

}  // namespace gqa::detail

#define GQA_MPI_CHECK(call)                                                     \
  do {                                                                          \
    const int gqa_mpi_rc_ = (call);                                             \
    if (gqa_mpi_rc_ != MPI_SUCCESS) {                                           \
      ::gqa::detail::throw_mpi_error(#call, gqa_mpi_rc_, __FILE__, __LINE__);   \
    }                                                                           \
  } while (0)
