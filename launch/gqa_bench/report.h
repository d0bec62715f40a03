// gqa-bench's output: markdown sections and tables, kept in order, saved to
// bench/results/<gpu>-<date>.md after every section (a run cut short by a timeout still leaves
// what it measured) and printed whole at the end.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace gqa::bench {

// printf-style formatting into a std::string.
std::string strf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  std::vector<std::string> markdown() const;  // header, |---| line, rows; columns padded

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

class Report {
 public:
  // path: the markdown file (its directory is created when missing).
  Report(std::string path, std::string title);
  const std::string& path() const { return path_; }

  void heading(const std::string& text);  // "## text" (also echoed to stderr as progress)
  void line(const std::string& text);     // a paragraph line
  void table(const Table& t);
  void save() const;                      // rewrites the file with everything so far (through a
                                          // temporary file: a kill mid-write keeps the last copy)
  void print() const;                     // to stdout
  // A place for content that grows while it is measured (a table filled row by row, or in passes
  // with other sections between them): slot() reserves it at the end of the report (what comes
  // later goes after it); fill(slot, write) replaces its content with what `write` puts into a
  // scratch report (heading, line, table).
  size_t slot();
  void fill(size_t slot, const std::function<void(Report&)>& write);

 private:
  std::vector<std::string>& open() { return parts_.back(); }
  std::vector<std::string> all_lines() const;

  std::string path_;
  // The report in parts: slots and the free text between them; heading/line/table append to the
  // last part.
  std::vector<std::vector<std::string>> parts_;
};

// Progress lines on stderr (the report on stdout stays clean).
void progress(const std::string& text);

// Wall-clock budget of the whole run, shared out among the sections still to come.
class Budget {
 public:
  explicit Budget(double seconds);
  double elapsed_s() const;
  double remaining_s() const;
  // Seconds granted to a section of weight `share` when the sections still to come (this one
  // included) weigh `shares_left` in all: remaining * share / shares_left.
  double grant(double share, double shares_left) const;

 private:
  std::chrono::steady_clock::time_point start_;
  double seconds_;
};

// A section's own deadline.
class Deadline {
 public:
  explicit Deadline(double seconds);
  double remaining_s() const;
  bool passed() const { return remaining_s() <= 0; }

 private:
  std::chrono::steady_clock::time_point end_;
};

}  // namespace gqa::bench
