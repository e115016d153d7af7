// Runs the `t2 table` and `t2 report` subcommands in-process (the same command code the t2 binary
// registers), capturing stdout and mapping errors to exit codes as the t2 binary does.
#pragma once

#include <CLI/CLI.hpp>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "core/error.h"

namespace t2::test {

struct CliResult {
  int code = 0;
  std::string out, err;
};

inline CliResult run_results_cli(std::vector<std::string> args) {
  CLI::App app{"t2"};
  std::vector<cli::Command> commands = {cli::add_table_command(app), cli::add_report_command(app)};
  app.require_subcommand(1);
  args.insert(args.begin(), "t2");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  CliResult r;
  std::ostringstream out;
  auto* old = std::cout.rdbuf(out.rdbuf());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    for (auto& c : commands)
      if (c.app->parsed()) r.code = c.run();
  } catch (const CLI::ParseError& e) {
    r.code = e.get_exit_code() == 0 ? 0 : static_cast<int>(ExitCode::usage_error);
    r.err = e.what();
  } catch (const Error& e) {
    r.code = static_cast<int>(e.code());
    r.err = e.what();
  }
  std::cout.rdbuf(old);
  r.out = out.str();
  return r;
}

}  // namespace t2::test
