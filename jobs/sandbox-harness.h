// Test programs for the sandbox: a generated solution and its tests, judged by a fixed Python
// harness in two processes inside one sandbox. The judge forks the candidate process first, then
// reads the specification (tests, reference, per-run nonce) from stdin, which the candidate never
// sees, and sends the candidate its solution. The tests run in the judge: every name the solution
// defines is a proxy that calls into the candidate process, and every value that comes back is
// decoded into plain built-in data, so no object of the candidate (an always-equal __eq__, a
// patched builtin) takes part in a comparison. Each test has its own time limit (an interval timer,
// as evalplus does per input). The judge writes the verdict line "<nonce> {json}" to fd 3, which
// the candidate closes before any of its code runs; the judge is not dumpable, so the candidate
// cannot reach its memory or descriptors through /proc or ptrace. Pass iff the judge exits 0 and
// its verdict, with the nonce, says every test passed. Input/output tests compare type-strictly
// (a bool is not an int, a tuple not a list; floats within atol).
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

// The harness program (the same text for every program) and its stdin for `prog` with `nonce`.
std::string harness_program();
std::string harness_input(const CodeProgram& prog, const std::string& nonce);

// Runs `prog` in `sandbox` and interprets the result.
CodeOutcome run_code_program(const Sandbox& sandbox, const CodeProgram& prog);

}  // namespace t2::tasks
