// Test programs for the sandbox: a generated solution plus its tests, packed into one Python file
// that runs the solution's top level, then each test in the solution's globals under its own time
// limit (an interval timer per test, as evalplus does per input), and reports a verdict line on
// fd 3 tagged with a per-run nonce. Pass iff the program exits 0, the verdict says every test
// passed, and the nonce matches (a solution that calls exit(0) before the tests run does not pass).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/sandbox.h"

namespace t2::tasks {

struct CodeProgram {
  std::string solution;                 // the candidate code (executed first, as __main__)
  std::vector<std::string> tests;       // snippets executed after it in the same globals
  std::vector<double> test_limits;      // seconds per test (same length as tests)
  double solution_limit = 5;            // seconds for the solution's top-level code
  // Input/output tests (MBPP+ style): the expected value of each input comes from `reference`
  // (the ground-truth solution) run in the same process; the candidate's `entry_point` must match it.
  std::string reference;
  std::string entry_point;
  nlohmann::json inputs = nlohmann::json::array();  // list of argument lists
  double atol = 0;
  double min_limit = 0.2, limit_factor = 4;  // per input: max(min_limit, limit_factor * reference time)
  double wall_margin = 3;                    // seconds added to the summed limits for start-up
  bool measure_only = false;                 // run tests without limits and report their times
  std::vector<std::string> args;             // extra command-line arguments (sys.argv[1:])
};

struct CodeOutcome {
  bool passed = false;
  std::string status;      // "passed", "failed", "timeout", "error" (harness missing: crash/kill)
  int failed_test = -1;    // index of the first failing test, -1 when none or unknown
  std::string error;       // the exception (truncated) or the sandbox's description
  std::vector<double> test_seconds;  // per test, when all passed
  SandboxResult raw;
};

// The Python program text for `prog` with `nonce`.
std::string build_harness(const CodeProgram& prog, const std::string& nonce);

// Runs `prog` in `sandbox` and interprets the result.
CodeOutcome run_code_program(const Sandbox& sandbox, const CodeProgram& prog);

}  // namespace t2::tasks
