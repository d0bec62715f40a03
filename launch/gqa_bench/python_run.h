// gqa-bench's peers are python scripts (launch/bench_peers/): one run of one, under a time limit,
// and why it gave no usable result. Plain C++ (no CUDA): its test builds it in.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gqa::bench {

struct PythonRun {
  int exit_code = -1;          // 124: timed out; 128 + n: killed by signal n
  double timeout_s = 0;        // the limit it ran under
  double elapsed_s = 0;        // how long it ran
  std::string tail;            // the last lines of its output (for the report when it failed)
  bool has_result = false;
  nlohmann::json result;       // the object on its "GQA_BENCH_JSON " line
  std::string failure() const; // one line: why there is no usable result
};

// Runs `python dir/script args...` under timeout(1) (killed 10 s after its TERM), echoing its
// output to stderr as progress; its result is the JSON object on a line starting
// "GQA_BENCH_JSON ".
PythonRun run_python(const std::string& python, const std::string& dir, const std::string& script,
                     const std::vector<std::string>& args, double timeout_s);

}  // namespace gqa::bench
