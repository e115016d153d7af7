// t2 error types and the documented exit codes of the `t2` command.
//
//   0  ok                    everything finished
//   1  runtime failure       a job failed, a rank died, an I/O error
//   2  usage or config error bad flags, invalid campaign, corrupt input named by file and position
//   3  not available         the subcommand or feature is not built into this binary (yet)
//
// Every failure inside t2 is an exception derived from t2::Error; the CLI maps its kind to the exit
// code. Messages name the thing that is wrong (file, key path, byte offset, rank) and what was expected.
#pragma once

#include <stdexcept>
#include <string>

namespace t2 {

enum class ExitCode : int { ok = 0, runtime_failure = 1, usage_error = 2, not_available = 3 };

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, ExitCode code = ExitCode::runtime_failure)
      : std::runtime_error(what), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// Bad flags, bad campaign files, bad input data given by the user: exit code 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what, ExitCode::usage_error) {}
};

// Corrupt or malformed input file (checkpoint, data set, tokenizer): exit code 2, message names the
// file and the byte offset or line.
class FormatError : public Error {
 public:
  explicit FormatError(const std::string& what) : Error(what, ExitCode::usage_error) {}
};

// A feature this binary does not have (not built yet, or built without CUDA/NCCL): exit code 3.
class NotAvailable : public Error {
 public:
  explicit NotAvailable(const std::string& what) : Error(what, ExitCode::not_available) {}
};

// A deadline passed: a receive, a collective, a subprocess or a lock did not finish in time.
class TimeoutError : public Error {
 public:
  explicit TimeoutError(const std::string& what) : Error(what, ExitCode::runtime_failure) {}
};

}  // namespace t2
