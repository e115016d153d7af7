// t2 run: Run a campaign (YAML) on this machine, under mpirun or srun; resumes an existing run directory
#include <CLI/CLI.hpp>

#include "coordinator/cli.h"

namespace t2::cli {

Command add_run_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("run", "Run a campaign (YAML) on this machine, under mpirun or srun; resumes an existing run directory");
  app->allow_extras();
  return {app, [] () -> int { not_available("run", "campaign execution is being built (issue: coordinator)"); }};
}

}  // namespace t2::cli
