// write_npy_f32: the .npy layout numpy reads; written in place (mode and links kept); a failed
// write leaves an empty file, not part of an array.
#include "runtime/npy.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/support/expect_error.h"

namespace gqa {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("gqa_npy_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (const auto& e : fs::directory_iterator(path)) n.push_back(e.path().filename().string());
    return n;
  }
};

TEST(Npy, HeaderAndDataAsNumpyReadsThem) {
  TempDir d;
  const std::vector<float> v = {1.0f, -2.5f, 3.0f, 0.25f, 5.0f, 6.0f};
  write_npy_f32((d.path / "a.npy").string(), v.data(), {2, 3});
  const std::string f = read_file(d.path / "a.npy");
  ASSERT_GE(f.size(), 10u);
  EXPECT_EQ(f.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_len = static_cast<unsigned char>(f[8]) | (static_cast<unsigned char>(f[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);  // the data starts 64-byte aligned
  const std::string dict = f.substr(10, header_len);
  EXPECT_EQ(dict.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), 0u) << dict;
  EXPECT_EQ(dict.back(), '\n');
  ASSERT_EQ(f.size(), 10 + header_len + v.size() * sizeof(float));
  std::vector<float> back(v.size());
  std::memcpy(back.data(), f.data() + 10 + header_len, back.size() * sizeof(float));
  EXPECT_EQ(back, v);
  write_npy_f32((d.path / "b.npy").string(), v.data(), {3});
  EXPECT_NE(read_file(d.path / "b.npy").find("'shape': (3,), }"), std::string::npos);
  EXPECT_EQ(d.names().size(), 2u);
}

// A write that fails part way (here: past the process's file-size limit, as on a full disk)
// leaves the file empty (numpy would read a truncated array as far as it goes) and names the path.
TEST(Npy, AFailedWriteLeavesNoPartialArray) {
  TempDir d;
  const std::string path = (d.path / "logits.npy").string();
  const std::vector<float> small = {1.0f, 2.0f};
  write_npy_f32(path, small.data(), {1, 2});

  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // (write then fails with EFBIG)
  struct rlimit lim = old;
  lim.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
  const std::vector<float> big(100000, 1.0f);
  std::string what;
  try {
    write_npy_f32(path, big.data(), {100, 1000});
  } catch (const Error& e) {
    what = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(what.find("failed writing " + path), std::string::npos) << what;
  EXPECT_NE(what.find("left empty"), std::string::npos) << what;
  EXPECT_EQ(fs::file_size(path), 0u);
  EXPECT_EQ(d.names(), std::vector<std::string>{"logits.npy"});
}

// An existing file keeps its mode (a private dump stays private); a link is followed, also one
// whose target does not exist yet (the target is created, the link stays a link).
TEST(Npy, WrittenInPlace) {
  TempDir d;
  const std::vector<float> v = {1.0f, 2.0f};
  const fs::path priv = d.path / "private.npy";
  write_npy_f32(priv.string(), v.data(), {2});
  fs::permissions(priv, fs::perms::owner_read | fs::perms::owner_write);
  write_npy_f32(priv.string(), v.data(), {1, 2});
  EXPECT_EQ(fs::status(priv).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_NE(read_file(priv).find("(1, 2)"), std::string::npos);
  fs::create_symlink(d.path / "target.npy", d.path / "dangling.npy");
  write_npy_f32((d.path / "dangling.npy").string(), v.data(), {2});
  EXPECT_TRUE(fs::is_symlink(d.path / "dangling.npy"));
  EXPECT_NE(read_file(d.path / "target.npy").find("(2,)"), std::string::npos);
}

TEST(Npy, AMissingFolderIsNamed) {
  const float v = 1.0f;
  test::expect_error([&] { write_npy_f32("/nonexistent-gqa-dir/x.npy", &v, {1}); },
                     {"cannot write /nonexistent-gqa-dir/x.npy", "No such file"});
}

// A symbolic link is followed: the file it names gets the data, the link stays a link.
TEST(Npy, ALinkIsFollowed) {
  TempDir d;
  const std::vector<float> v = {1.0f, 2.0f};
  write_npy_f32((d.path / "real.npy").string(), v.data(), {2});
  fs::create_symlink(d.path / "real.npy", d.path / "link.npy");
  const std::vector<float> w = {3.0f, 4.0f, 5.0f};
  write_npy_f32((d.path / "link.npy").string(), w.data(), {3});
  EXPECT_TRUE(fs::is_symlink(d.path / "link.npy"));
  EXPECT_NE(read_file(d.path / "real.npy").find("(3,)"), std::string::npos);
}

// A shape whose byte count passes int64 is refused by name before the file is opened: unchecked,
// 2^62 x 4 floats wrap to 0 bytes and the header of a huge array would be written over no data.
// Found by mutation testing (dropping the bound passed every test).
TEST(Npy, AShapePastInt64IsRefusedBeforeWriting) {
  TempDir d;
  const float v = 1.0f;
  const std::string path = (d.path / "x.npy").string();
  test::expect_error([&] { write_npy_f32(path, &v, {int64_t{1} << 62, 4}); },
                     {"npy shape dimension 4611686018427387904", path});
  EXPECT_TRUE(d.names().empty());
}

}  // namespace
}  // namespace gqa
