// t2 cancel: cancel the Slurm jobs of a run directory (those recorded by t2 submit in
// RUN_DIR/slurm/jobs.json that are still queued or running).
//
//   t2 cancel RUN_DIR
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cluster/slurm-client.h"
#include "cluster/slurm-run-jobs.h"
#include "cli/cli.h"
#include "core/check.h"
#include "core/files.h"

namespace t2::cli {

namespace {

int run_cancel(const std::string& run_dir) {
  T2_CHECK_AS(UsageError, path_exists(run_dir), "t2 cancel: run directory {} does not exist", run_dir);
  const auto jobs = read_submitted_jobs(run_dir);
  T2_CHECK_AS(UsageError, !jobs.empty(), "t2 cancel: {} has no Slurm jobs ({} is missing or empty; jobs come from "
              "t2 submit)", run_dir, slurm_jobs_path(run_dir));
  SlurmClient client;
  const auto cancelled = cancel_run_jobs(run_dir, client);
  for (const auto& id : cancelled) std::cout << "cancelled job " << id << "\n";
  std::cout << cancelled.size() << " of " << jobs.size() << " job(s) cancelled; the others had finished\n";
  return 0;
}

}  // namespace

Command add_cancel_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("cancel", "Cancel the Slurm jobs of a run directory");
  auto run_dir = std::make_shared<std::string>();
  app->add_option("run_dir", *run_dir, "run directory (the campaign's output)")->required();
  return {app, [run_dir]() -> int { return run_cancel(*run_dir); }};
}

}  // namespace t2::cli
