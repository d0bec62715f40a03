// gqa-bench's report (launch/gqa_bench/report.h): slots hold tables that are filled in passes
// with other sections between them, each fill replacing the slot's content in place; the saved
// file has everything in order, and no temporary file is left beside it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/error.h"
#include "launch/gqa_bench/report.h"

namespace gqa::bench {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

Table one_row(const std::string& cell) {
  Table t({"name", "value"});
  t.row({cell, "1"});
  return t;
}

TEST(BenchReport, SlotsAreFilledInPlaceAndSavedInOrder) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("gqa_test_bench_report_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "sub" / "r.md").string();
  Report r(path, "title");
  r.heading("first");
  r.line("before a");
  const size_t a = r.slot();
  r.line("between");
  const size_t b = r.slot();
  r.line("after b");
  r.fill(a, [](Report& out) { out.table(one_row("a-pass-1")); });
  r.save();
  std::string text = read_file(path);
  EXPECT_NE(text.find("a-pass-1"), std::string::npos);
  EXPECT_LT(text.find("# title"), text.find("## first"));
  EXPECT_LT(text.find("before a"), text.find("a-pass-1"));
  EXPECT_LT(text.find("a-pass-1"), text.find("between"));
  EXPECT_LT(text.find("between"), text.find("after b"));

  r.fill(b, [](Report& out) { out.line("b-content"); });
  r.fill(a, [](Report& out) {  // the second pass replaces the first's content, in its place
    out.table(one_row("a-pass-2"));
    out.line("a-note");
  });
  r.save();
  text = read_file(path);
  EXPECT_EQ(text.find("a-pass-1"), std::string::npos);
  EXPECT_LT(text.find("before a"), text.find("a-pass-2"));
  EXPECT_LT(text.find("a-pass-2"), text.find("a-note"));
  EXPECT_LT(text.find("a-note"), text.find("between"));
  EXPECT_LT(text.find("between"), text.find("b-content"));
  EXPECT_LT(text.find("b-content"), text.find("after b"));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  EXPECT_THROW(r.fill(0, [](Report&) {}), Error);  // the free text before the first slot is no slot
  EXPECT_THROW(r.fill(a + 1, [](Report&) {}), Error);
  EXPECT_THROW(r.fill(99, [](Report&) {}), Error);
  std::filesystem::remove_all(dir);
}

// The markdown: the names column left-aligned, the numbers right-aligned, every column padded to
// its widest cell.
TEST(BenchReport, TableMarkdownAlignsNamesLeftAndNumbersRight) {
  Table t({"name", "value"});
  t.row({"decode", "12.5"});
  const std::vector<std::string> md = t.markdown();
  ASSERT_EQ(md.size(), 3u);
  EXPECT_EQ(md[0], "| name   | value |");
  EXPECT_EQ(md[1], "| :----- | ----: |");
  EXPECT_EQ(md[2], "| decode |  12.5 |");
}

// A section's grant is its share of what is left, over the shares of the sections still to come.
TEST(BenchReport, BudgetGrantsAShareOfWhatIsLeft) {
  const Budget b(100);
  EXPECT_NEAR(b.grant(1, 4), 25, 0.5);
  EXPECT_NEAR(b.grant(2, 4), 50, 0.5);
  EXPECT_NEAR(b.grant(1, 1), 100, 0.5);
  EXPECT_EQ(b.grant(1, 0), 0);
  EXPECT_EQ(Budget(-5).grant(1, 1), 0);  // nothing left: nothing granted
}

}  // namespace
}  // namespace gqa::bench
