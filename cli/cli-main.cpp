#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>
#include <vector>

#include "cli/cli.h"
#include "core/error.h"
#include "core/log.h"
#include "core/version.h"

namespace t2::cli {

void not_available(const std::string& what, const std::string& why) {
  throw NotAvailable("t2 " + what + " is not available in this build yet: " + why);
}

int run_main(int argc, char** argv) {
  CLI::App app{"t2: Transformer² (self-adaptive LLMs) at cluster scale.\n"
               "Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 not available."};
  app.set_version_flag("--version", std::string("t2 ") + t2::version() + " (git " + t2::git_sha() + ")\n");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.require_subcommand(1);

  std::vector<Command> commands = {
      add_run_command(app),      add_submit_command(app),   add_plan_command(app),
      add_status_command(app),   add_cancel_command(app),   add_table_command(app),
      add_report_command(app),   add_decompose_command(app), add_experts_command(app),
      add_generate_command(app), add_tokenize_command(app), add_logprobs_command(app),
      add_score_command(app),    add_quickstart_init_command(app), add_export_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);  // prints help/version or the parse error
    return rc == 0 ? 0 : static_cast<int>(ExitCode::usage_error);
  }
  log_init(log_level);
  try {
    for (auto& c : commands)
      if (c.app->parsed()) return c.run();
    std::cerr << "t2: no subcommand chosen\n";
    return static_cast<int>(ExitCode::usage_error);
  } catch (const Error& e) {
    std::cerr << "t2: error: " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::cerr << "t2: internal error: " << e.what() << "\n";
    return static_cast<int>(ExitCode::runtime_failure);
  }
}

}  // namespace t2::cli
