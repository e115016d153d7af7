// The `t2` command line. Each subcommand lives in its own cli-<name>.cpp and registers itself with
// add_<name>_command(); the returned Command's run() is called when that subcommand was chosen and
// returns the process exit code (see core/error.h). Errors are thrown as t2::Error and mapped to
// exit codes in one place (cli-main.cpp).
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace t2::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// Throws t2::NotAvailable ("t2 <what> is not available in this build yet: <why>") -> exit code 3.
[[noreturn]] void not_available(const std::string& what, const std::string& why);

// Builds the whole application (used by main and by tests of the CLI).
int run_main(int argc, char** argv);

Command add_run_command(CLI::App& t2);
Command add_submit_command(CLI::App& t2);
Command add_plan_command(CLI::App& t2);
Command add_status_command(CLI::App& t2);
Command add_cancel_command(CLI::App& t2);
Command add_table_command(CLI::App& t2);
Command add_report_command(CLI::App& t2);
Command add_decompose_command(CLI::App& t2);
Command add_experts_command(CLI::App& t2);
Command add_generate_command(CLI::App& t2);
Command add_tokenize_command(CLI::App& t2);
Command add_logprobs_command(CLI::App& t2);
Command add_score_command(CLI::App& t2);
Command add_quickstart_init_command(CLI::App& t2);
Command add_export_command(CLI::App& t2);

}  // namespace t2::cli
