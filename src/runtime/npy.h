// Writing NumPy .npy files (format 1.0, little-endian float32, C order).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gqa {

// Writes data (row-major, shape[0] x shape[1] x ...) to path; throws gqa::Error naming the path.
// A regular file (or none) at path is replaced only once the whole file is written (through a
// temporary file beside it, renamed over it): a failed write leaves what was there. A FIFO or
// device at path is written in place.
void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape);

}  // namespace gqa
