// gqa::error_text (core/error.h): the line a tool prints for an exception. std::filesystem's own
// text ("filesystem error: status: ... [PATH]") becomes "cannot access PATH: REASON"; every other
// exception keeps its what().
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "core/error.h"

namespace gqa {
namespace {

TEST(ErrorText, FilesystemErrorNamesThePathAndTheReason) {
  const std::filesystem::filesystem_error one("status", "/models/llama/config.json",
                                              std::make_error_code(std::errc::permission_denied));
  EXPECT_EQ(error_text(one), "cannot access /models/llama/config.json: " +
                                 std::make_error_code(std::errc::permission_denied).message());
  const std::filesystem::filesystem_error two("copy", "/a", "/b",
                                              std::make_error_code(std::errc::too_many_symbolic_link_levels));
  EXPECT_EQ(error_text(two), "cannot access /a or /b: " +
                                 std::make_error_code(std::errc::too_many_symbolic_link_levels).message());
}

TEST(ErrorText, OtherErrorsKeepTheirText) {
  EXPECT_EQ(error_text(Error("model config x.json is a folder")), "model config x.json is a folder");
  EXPECT_EQ(error_text(std::runtime_error("plain")), "plain");
  // (a filesystem error without a path: nothing better to say than its own text)
  const std::filesystem::filesystem_error no_path("space", std::make_error_code(std::errc::io_error));
  EXPECT_EQ(error_text(no_path), no_path.what());
}

// A path the library cannot resolve, as a tool meets it: a symlink loop (ELOOP, which root meets
// too, unlike a permission).
TEST(ErrorText, ASymlinkLoopAsThrown) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("gqa-error-text-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::create_symlink(dir / "a", dir / "b");
  std::filesystem::create_symlink(dir / "b", dir / "a");
  try {
    (void)std::filesystem::is_regular_file(dir / "a");
    ADD_FAILURE() << "no error for a symlink loop";
  } catch (const std::exception& e) {
    EXPECT_EQ(error_text(e), "cannot access " + (dir / "a").string() + ": " +
                                 std::make_error_code(std::errc::too_many_symbolic_link_levels).message());
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gqa
