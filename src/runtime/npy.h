// Writing NumPy .npy files (format 1.0, little-endian float32, C order).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gqa {

// Writes data (row-major, shape[0] x shape[1] x ...) to path; throws gqa::Error naming the path.
// Written in place (an existing file keeps its owner, mode and links); a write that fails part way
// leaves the file empty rather than holding part of an array.
void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape);

}  // namespace gqa
