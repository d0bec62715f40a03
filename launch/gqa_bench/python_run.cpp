#include "launch/gqa_bench/python_run.h"

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <iostream>

#include "launch/gqa_bench/report.h"

namespace gqa::bench {
namespace {

constexpr const char* kResultPrefix = "GQA_BENCH_JSON ";

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

}  // namespace

std::string PythonRun::failure() const {
  // (timeout(1) exits 124 after its TERM, 137 where the KILL 10 s later was needed; a script killed
  // otherwise before its limit, e.g. by the kernel's out-of-memory killer, also reads 128 + 9)
  if (exit_code == 124 || (exit_code == 137 && elapsed_s >= timeout_s)) {
    return strf("timed out after %.0f s (its share of --budget-s: a larger budget gives it more)", timeout_s);
  }
  if (exit_code > 128) {
    return strf("killed by signal %d after %.0f s, before its %.0f s limit", exit_code - 128, elapsed_s, timeout_s) +
           (tail.empty() ? "" : ": " + tail);
  }
  if (exit_code == 127) return "python not found";
  if (has_result && result.value("status", "") != "ok") return result.value("reason", "reported no result");
  std::string s = "exit " + std::to_string(exit_code) + " without a result";
  if (!tail.empty()) s += ": " + tail;
  return s;
}

PythonRun run_python(const std::string& python, const std::string& dir, const std::string& script,
                     const std::vector<std::string>& args, double timeout_s) {
  PythonRun r;
  r.timeout_s = std::max(1.0, std::round(timeout_s));  // (as timeout(1) is given it: whole seconds)
  std::string cmd = strf("timeout -k 10 %.0f ", r.timeout_s) + shell_quote(python) + " " +
                    shell_quote(dir + "/" + script);
  for (const std::string& a : args) {
    cmd += ' ';  // (not " " + shell_quote(a): GCC 12 warns a false -Wrestrict on that once inlined)
    cmd += shell_quote(a);
  }
  cmd += " 2>&1";
  progress("running " + cmd);
  std::cout.flush();
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    r.tail = "popen failed";
    return r;
  }
  std::deque<std::string> last;
  char buf[8192];
  std::string line;
  while (std::fgets(buf, sizeof(buf), pipe) != nullptr) {
    line += buf;
    if (line.empty() || line.back() != '\n') continue;
    line.pop_back();
    if (line.rfind(kResultPrefix, 0) == 0) {
      try {
        r.result = nlohmann::json::parse(line.substr(std::string(kResultPrefix).size()));
        r.has_result = r.result.is_object();
      } catch (const std::exception& e) {
        last.push_back(std::string("unparsable result line: ") + e.what());
      }
    } else {
      std::cerr << "  | " << line << "\n";
      last.push_back(line);
      if (last.size() > 3) last.pop_front();
    }
    line.clear();
  }
  const int status = pclose(pipe);
  r.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  for (const std::string& l : last) r.tail += (r.tail.empty() ? "" : " / ") + l;
  return r;
}

}  // namespace gqa::bench
