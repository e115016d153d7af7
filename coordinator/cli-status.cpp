// t2 status: Show the state, progress and latest metrics of every job of a run directory
#include <CLI/CLI.hpp>

#include "coordinator/cli.h"

namespace t2::cli {

Command add_status_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("status", "Show the state, progress and latest metrics of every job of a run directory");
  app->allow_extras();
  return {app, [] () -> int { not_available("status", "run status is being built (issue: coordinator)"); }};
}

}  // namespace t2::cli
