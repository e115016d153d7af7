// t2 report: Write a self-contained HTML report of a run directory
#include <CLI/CLI.hpp>

#include "coordinator/cli.h"

namespace t2::cli {

Command add_report_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("report", "Write a self-contained HTML report of a run directory");
  app->allow_extras();
  return {app, [] () -> int { not_available("report", "reports are being built (issue: results)"); }};
}

}  // namespace t2::cli
