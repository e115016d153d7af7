// t2 run: validate a campaign, expand it into jobs and run them (coordinator/campaign-runner.h),
// on one process, under mpirun or under srun; an existing run directory is resumed.
//
//   t2 run CAMPAIGN.yaml [key.path=value ...] [--dry-run] [--json] [--status-port N] [--device D] [--rerun-changed]
//
// An existing run directory is resumed with the campaign frozen in it at its first start
// (RUN_DIR/campaign.frozen.yaml): edits that change jobs with results exit 2 listing the changed keys
// per job; --rerun-changed recomputes exactly those jobs and their dependents (coordinator/campaign-freeze.h).
//
// --dry-run validates, expands and prints the job list with its dependency edges and nothing
// else: no file or directory is created. Validation problems exit with code 2, one line each.
// --device auto|cpu|cuda is the override device=D (cluster/placement.h: cuda without CUDA exits 2).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "coordinator/campaign-runner.h"
#include "cli/cli.h"
#include "core/error.h"
#include "jobs/campaign.h"
#include "jobs/config-override.h"
#include "jobs/job-plan.h"
#include "jobs/sandbox.h"

namespace t2::cli {

namespace {

struct RunArgs {
  std::string campaign;
  std::vector<std::string> overrides;
  bool dry_run = false;
  bool json = false;
  int status_port = 0;
  bool no_progress = false;
  std::string sandbox_isolation;
  std::string device;
  double progress_every = 30;
  bool rerun_changed = false;
};

int run(RunArgs a) {
  if (!a.sandbox_isolation.empty()) {
    tasks::parse_sandbox_isolation(a.sandbox_isolation);  // UsageError for anything else
    a.overrides.push_back("sandbox.isolation=" + a.sandbox_isolation);
  }
  if (!a.device.empty()) a.overrides.push_back("device=" + a.device);
  for (const auto& o : a.overrides)
    if (!looks_like_override(o))
      throw UsageError("t2 run: '" + o + "' is not an override; expected key.path=value or ~key.path after the campaign file");
  CampaignLoadOptions opt;
  opt.check_model_paths = !a.dry_run;
  if (a.dry_run) {
    Campaign c = load_campaign(a.campaign, a.overrides, opt);
    Plan plan = expand_plan(c);
    if (a.json) {
      nlohmann::json j = plan.to_json();
      j["file"] = c.file;
      j["output"] = c.output;
      j["config"] = c.resolved;
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "campaign " << c.name << " (" << c.file << "), output " << c.output << " (not created: dry run)\n"
                << plan.to_text();
    }
    return 0;
  }
  CampaignRunOptions ro;
  ro.overrides = a.overrides;
  ro.status_port = a.status_port;
  ro.progress = !a.no_progress;
  ro.progress_every_s = a.progress_every;
  ro.rerun_changed = a.rerun_changed;
  return run_campaign(a.campaign, ro);
}

}  // namespace

Command add_run_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("run", "Run a campaign (YAML) on this machine, under mpirun or srun; resumes an existing run directory");
  auto args = std::make_shared<RunArgs>();
  app->add_option("campaign", args->campaign, "campaign YAML file")->required();
  app->add_option("overrides", args->overrides, "key.path=value overrides (Hydra style), e.g. seed=[1,2] models.llama3-8b.path=/m");
  auto* dry = app->add_flag("--dry-run", args->dry_run,
                            "validate and print the expanded jobs and their dependencies; write nothing");
  app->add_flag("--json", args->json, "with --dry-run: print the plan as JSON")->needs(dry);
  app->add_option("--sandbox-isolation", args->sandbox_isolation,
                  "code sandbox: namespaces or rlimits (opt-out: resource limits only, no file-system or network "
                  "isolation); the same as the override sandbox.isolation=VALUE");
  app->add_option("--device", args->device, "where worker ranks compute: auto (CUDA when built and visible), cpu, cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app->add_flag("--no-progress", args->no_progress, "no progress display or periodic progress lines");
  app->add_option("--progress-every", args->progress_every,
                  "seconds between progress lines when stderr is not a terminal (logs, Slurm): the campaign, then "
                  "one line per running job")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app->add_flag("--rerun-changed", args->rerun_changed,
                "recompute the jobs whose parameters changed since their results were made (and the jobs that "
                "use them); earlier records are kept under RUN_DIR/superseded/");
  app->add_option("--status-port", args->status_port, "port of the status server (localhost)")->check(CLI::Range(1, 65535));
  return {app, [args]() -> int { return run(*args); }};
}

}  // namespace t2::cli
