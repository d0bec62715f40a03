#include "core/host_memory.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <sstream>

namespace gqa {

size_t physical_memory_bytes() {
  static const size_t bytes = [] {  // (asked once: every host tensor allocation checks against it)
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : size_t{0};
  }();
  return bytes;
}

std::string MemoryLimit::source() const {
  std::string s = cgroup ? "its control group's memory limit (a container's)" : "the machine's physical memory";
  if (sharers > 1) s += ", divided among the " + std::to_string(sharers) + " ranks on this machine";
  return s;
}

namespace {
std::atomic<int> processes_on_this_machine{1};
}  // namespace

void set_processes_on_this_machine(int n) { processes_on_this_machine.store(n >= 1 ? n : 1); }

namespace host_memory_detail {
namespace {

// A limit file's number of bytes; 0 for "max", an empty or malformed file.
size_t parse_limit(const std::string& text) {
  size_t i = 0, value = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  const size_t start = i;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    const size_t digit = static_cast<size_t>(text[i] - '0');
    if (value > (static_cast<size_t>(-1) - digit) / 10) return 0;  // (past size_t: no limit worth the name)
    value = value * 10 + digit;
  }
  if (i == start) return 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  // (v1 writes "no limit" as LONG_MAX rounded down to a page: 9223372036854771712)
  return i == text.size() && value < (size_t(1) << 62) ? value : 0;
}

// The smallest limit in `file` of the group at `path` and of every group above it, under `root`.
// (v1: an ancestor whose memory.use_hierarchy is 0 does not limit the groups below it.)
size_t smallest_up_the_tree(const std::string& root, std::string path, const std::string& file, bool v1,
                            const std::function<std::string(const std::string&)>& read) {
  size_t best = 0;
  bool leaf = true;
  while (true) {
    while (!path.empty() && path.back() == '/') path.pop_back();
    const bool applies = leaf || !v1 || read(root + path + "/memory.use_hierarchy").rfind("0", 0) != 0;
    const size_t limit = applies ? parse_limit(read(root + path + "/" + file)) : 0;
    if (limit > 0) best = best == 0 ? limit : std::min(best, limit);
    if (path.empty()) return best;
    path.erase(path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
    leaf = false;
  }
}

}  // namespace

size_t cgroup_limit_bytes(const std::string& self_cgroup, const std::function<std::string(const std::string&)>& read) {
  size_t best = 0;
  const auto take = [&](size_t limit) {
    if (limit > 0) best = best == 0 ? limit : std::min(best, limit);
  };
  std::istringstream lines(self_cgroup);
  std::string line;
  while (std::getline(lines, line)) {  // "hierarchy-id:controllers:path"
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string id = line.substr(0, a), controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (id == "0" && controllers.empty()) {
      take(smallest_up_the_tree("/sys/fs/cgroup", path, "memory.max", false, read));
      continue;
    }
    std::istringstream names(controllers);
    std::string name;
    while (std::getline(names, name, ',')) {
      if (name == "memory") {
        take(smallest_up_the_tree("/sys/fs/cgroup/memory", path, "memory.limit_in_bytes", true, read));
      }
    }
  }
  return best;
}

}  // namespace host_memory_detail

MemoryLimit memory_limit() {
  static const MemoryLimit whole = [] {
    const auto read = [](const std::string& path) {
      std::ifstream in(path);
      std::ostringstream text;
      text << in.rdbuf();
      return in ? text.str() : std::string();
    };
    MemoryLimit m;
    m.bytes = physical_memory_bytes();
    const size_t group = host_memory_detail::cgroup_limit_bytes(read("/proc/self/cgroup"), read);
    if (group > 0 && (m.bytes == 0 || group < m.bytes)) {
      m.bytes = group;
      m.cgroup = true;
    }
    return m;
  }();
  MemoryLimit mine = whole;
  mine.sharers = processes_on_this_machine.load();
  mine.bytes /= static_cast<size_t>(mine.sharers);
  return mine;
}

}  // namespace gqa
