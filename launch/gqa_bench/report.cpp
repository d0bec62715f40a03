#include "launch/gqa_bench/report.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/error.h"

namespace gqa::bench {

std::string strf(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

std::vector<std::string> Table::markdown() const {
  std::vector<size_t> width(header_.size(), 3);
  for (size_t c = 0; c < header_.size(); ++c) width[c] = std::max(width[c], header_[c].size());
  for (const auto& r : rows_) {
    for (size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  // The first column (names) left-aligned, the rest (numbers) right-aligned.
  auto render = [&](const std::vector<std::string>& cells, bool rule) {
    std::string s = "|";
    for (size_t c = 0; c < width.size(); ++c) {
      std::string cell = c < cells.size() ? cells[c] : std::string();
      if (rule) {
        cell.assign(width[c], '-');
        (c == 0 ? cell.front() : cell.back()) = ':';
      }
      const std::string pad(width[c] - cell.size(), ' ');
      s.append(" ").append(c == 0 ? cell : pad).append(c == 0 ? pad : cell).append(" |");
    }
    return s;
  };
  std::vector<std::string> out = {render(header_, false), render({}, true)};
  for (const auto& r : rows_) out.push_back(render(r, false));
  return out;
}

Report::Report(std::string path, std::string title) : path_(std::move(path)) {
  lines_.push_back("# " + title);
  lines_.push_back("");
}

void Report::heading(const std::string& text) {
  lines_.push_back("## " + text);
  lines_.push_back("");
  progress(text);
}

void Report::line(const std::string& text) {
  lines_.push_back(text);
  lines_.push_back("");
}

void Report::table(const Table& t) {
  for (const std::string& l : t.markdown()) lines_.push_back(l);
  lines_.push_back("");
}

void Report::replace_from(size_t mark, const Table& t) {
  if (mark < lines_.size()) lines_.resize(mark);
  table(t);
}

void Report::save() const {
  const std::filesystem::path p(path_);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  std::ofstream f(path_);
  GQA_CHECK(f.good(), "gqa-bench: cannot write " << path_);
  for (const std::string& l : lines_) f << l << "\n";
}

void Report::print() const {
  for (const std::string& l : lines_) std::cout << l << "\n";
  std::cout << std::flush;
}

void progress(const std::string& text) { std::cerr << "[gqa-bench] " << text << std::endl; }

Budget::Budget(double seconds) : start_(std::chrono::steady_clock::now()), seconds_(seconds) {}

double Budget::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Budget::remaining_s() const { return seconds_ - elapsed_s(); }

double Budget::grant(double share, double shares_left) const {
  return shares_left > 0 ? std::max(0.0, remaining_s()) * share / shares_left : 0.0;
}

Deadline::Deadline(double seconds)
    : end_(std::chrono::steady_clock::now() +
           std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds))) {}

double Deadline::remaining_s() const {
  return std::chrono::duration<double>(end_ - std::chrono::steady_clock::now()).count();
}

}  // namespace gqa::bench
