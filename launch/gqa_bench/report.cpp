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

Report::Report(std::string path, std::string title) : path_(std::move(path)), parts_(1) {
  if (!title.empty()) open() = {"# " + title, ""};
}

void Report::heading(const std::string& text) {
  open().push_back("## " + text);
  open().push_back("");
  progress(text);
}

void Report::line(const std::string& text) {
  open().push_back(text);
  open().push_back("");
}

void Report::table(const Table& t) {
  for (const std::string& l : t.markdown()) open().push_back(l);
  open().push_back("");
}

size_t Report::slot() {
  parts_.emplace_back();  // the slot
  parts_.emplace_back();  // what comes after it
  return parts_.size() - 2;
}

void Report::fill(size_t slot, const std::function<void(Report&)>& write) {
  GQA_CHECK(slot > 0 && slot + 1 < parts_.size() && slot % 2 == 1, "gqa-bench: no report slot " << slot);
  Report scratch("", "");
  write(scratch);
  parts_[slot] = scratch.all_lines();
}

std::vector<std::string> Report::all_lines() const {
  std::vector<std::string> all;
  for (const auto& part : parts_) all.insert(all.end(), part.begin(), part.end());
  return all;
}

void Report::save() const {
  const std::filesystem::path p(path_);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream f(tmp);
    GQA_CHECK(f.good(), "gqa-bench: cannot write " << tmp);
    for (const std::string& l : all_lines()) f << l << "\n";
    f.flush();
    GQA_CHECK(f.good(), "gqa-bench: cannot write " << tmp);
  }
  std::filesystem::rename(tmp, path_);
}

void Report::print() const {
  for (const std::string& l : all_lines()) std::cout << l << "\n";
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
