// t2 cancel: Cancel the Slurm jobs of a run directory
#include <CLI/CLI.hpp>

#include "coordinator/cli.h"

namespace t2::cli {

Command add_cancel_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("cancel", "Cancel the Slurm jobs of a run directory");
  app->allow_extras();
  return {app, [] () -> int { not_available("cancel", "Slurm support is being built (issue: coordinator and cluster)"); }};
}

}  // namespace t2::cli
