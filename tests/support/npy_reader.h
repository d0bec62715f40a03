// Reads float32 little-endian C-order .npy files (what the fixtures and --dump-logits write).
#pragma once

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace gqa::test {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

inline NpyArray read_npy_f32(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  char magic[8];
  f.read(magic, 8);
  if (!f || std::string(magic + 1, 5) != "NUMPY") throw std::runtime_error(path + " is not a .npy file");
  uint32_t header_len = 0;
  if (magic[6] == 1) {
    uint16_t h = 0;
    f.read(reinterpret_cast<char*>(&h), 2);
    header_len = h;
  } else {
    f.read(reinterpret_cast<char*>(&header_len), 4);
  }
  std::string header(header_len, '\0');
  f.read(header.data(), header_len);
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos) {
    throw std::runtime_error(path + ": expected little-endian float32 in C order, header " + header);
  }
  NpyArray a;
  const size_t open = header.find('(', header.find("'shape'")), close = header.find(')', open);
  std::string dims = header.substr(open + 1, close - open - 1);
  size_t pos = 0;
  while (pos < dims.size()) {
    size_t comma = dims.find(',', pos);
    if (comma == std::string::npos) comma = dims.size();
    const std::string item = dims.substr(pos, comma - pos);
    if (item.find_first_not_of(' ') != std::string::npos) a.shape.push_back(std::stoll(item));
    pos = comma + 1;
  }
  int64_t n = 1;
  for (int64_t d : a.shape) n *= d;
  a.data.resize(n);
  f.read(reinterpret_cast<char*>(a.data.data()), n * 4);
  if (!f) throw std::runtime_error(path + " is truncated");
  return a;
}

}  // namespace gqa::test
