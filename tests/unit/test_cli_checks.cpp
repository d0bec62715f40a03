// The launch tools' shared command-line checks (launch/cli_checks.h) on small CLI11 apps: sizes
// with a K suffix and their bounds, size lists, positive numbers, and the exit statuses of
// parse_or_exit_status (0 after --help, 2 after a usage error, -1 to go on).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "launch/cli_checks.h"

namespace gqa {
namespace {

// Parses `args` (after a program name) into an app with `--n` (size_in(min, max)), `--list`
// (size_list) and `--x` (positive_number); the status parse_or_exit_status returned.
struct Parsed {
  int status = 0;
  long long n = -7;
  std::vector<int64_t> list;
  double x = -1;
};
Parsed parse(std::vector<std::string> args, long long min = 1, long long max = 1000000) {
  Parsed p;
  CLI::App app{"test", "cli-checks-test"};
  bench_options(app, "0");
  app.add_option("--n", p.n)->transform(size_in(min, max));
  app.add_option_function<std::string>(
         "--list", [&p](const std::string& digits) { p.list = split_sizes(digits); })
      ->transform(size_list());
  app.add_option("--x", p.x)->check(positive_number());
  args.insert(args.begin(), "cli-checks-test");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  p.status = parse_or_exit_status(app, static_cast<int>(argv.size()), argv.data());
  return p;
}

TEST(CliChecks, SizesWithAKSuffix) {
  EXPECT_EQ(parse({"--n", "32768"}).n, 32768);
  EXPECT_EQ(parse({"--n", "32K"}).n, 32768);
  EXPECT_EQ(parse({"--n", "32k"}).n, 32768);
  EXPECT_EQ(parse({"--n", "0"}, 0).n, 0);
  EXPECT_EQ(parse({"--n", "0K"}, 0).n, 0);
  EXPECT_EQ(parse({"--n", "1000000"}).status, -1);
}

TEST(CliChecks, SizesRefused) {
  for (const char* bad : {"", "x", "1000x", "32M", "-5", "+5", " 5", "5 ", "1.5", "010", "0x10", "K", "1KK",
                          "9999999999999999999", "9007199254740992K"}) {
    EXPECT_EQ(parse({"--n", bad}).status, 2) << "'" << bad << "'";
  }
  EXPECT_EQ(parse({"--n", "0"}).status, 2);         // (below min 1)
  EXPECT_EQ(parse({"--n", "1000001"}).status, 2);   // (above max)
  EXPECT_EQ(parse({"--n", "977K"}).status, 2);      // (1000448: above max once multiplied)
  EXPECT_EQ(parse({"--n"}).status, 2);              // (no value)
}

TEST(CliChecks, SizeLists) {
  EXPECT_EQ(parse({"--list", "1K,8K,32768"}).list, (std::vector<int64_t>{1024, 8192, 32768}));
  EXPECT_EQ(parse({"--list", "7"}).list, (std::vector<int64_t>{7}));
  for (const char* bad : {"", ",", "1K,", ",1K", "1K,,8K", "1K, 8K", "1K,x", "0", "1K,0", "9007199254740992K"}) {
    EXPECT_EQ(parse({"--list", bad}).status, 2) << "'" << bad << "'";
  }
}

TEST(CliChecks, PositiveNumbers) {
  EXPECT_EQ(parse({"--x", "2.5"}).x, 2.5);
  EXPECT_EQ(parse({"--x", "1e3"}).x, 1000);
  for (const char* bad : {"", "0", "-1", "x", "2.5s", "inf", "nan", "1e999"}) {
    EXPECT_EQ(parse({"--x", bad}).status, 2) << "'" << bad << "'";
  }
}

TEST(CliChecks, AFlagGivenAgainOverrides) {
  const Parsed p = parse({"--n", "3", "--list", "1K", "--n", "4K", "--list", "2,3"});
  EXPECT_EQ(p.status, -1);
  EXPECT_EQ(p.n, 4096);
  EXPECT_EQ(p.list, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(parse({"--n", "x", "--n", "3"}).status, 2);  // (each value is checked, not only the last)
}

TEST(CliChecks, ExitStatuses) {
  EXPECT_EQ(parse({}).status, -1);
  EXPECT_EQ(parse({"--help"}).status, 0);
  EXPECT_EQ(parse({"--version"}).status, 0);
  EXPECT_EQ(parse({"--bogus"}).status, 2);
  EXPECT_EQ(parse({"stray"}).status, 2);
}

TEST(CliChecks, WrapText) {
  EXPECT_EQ(wrap_text("aa bb cc", 5), "aa bb\ncc");
  EXPECT_EQ(wrap_text("  aa   bb  ", 100), "aa bb");
  EXPECT_EQ(wrap_text("abcdefgh ij", 4), "abcdefgh\nij");  // (a longer word stays whole)
  EXPECT_EQ(wrap_text("", 10), "");
}

}  // namespace
}  // namespace gqa
