// t2 submit: Submit a campaign to Slurm (sbatch scripts, job arrays, preemption and requeue)
#include <CLI/CLI.hpp>

#include "coordinator/cli.h"

namespace t2::cli {

Command add_submit_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("submit", "Submit a campaign to Slurm (sbatch scripts, job arrays, preemption and requeue)");
  app->allow_extras();
  return {app, [] () -> int { not_available("submit", "Slurm submission is being built (issue: coordinator and cluster)"); }};
}

}  // namespace t2::cli
