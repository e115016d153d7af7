// t2 submit: render a campaign into sbatch scripts and submit them (cluster/slurm-script.h).
//
//   t2 submit CAMPAIGN.yaml [key.path=value ...] [--dry-run] [--array] [--hold] [--launcher srun|mpirun]
//                           [--t2 PATH]
//
// One script, one MPI allocation, one coordinator for the whole campaign, whatever its model sizes:
// worker groups are sized per model (a 70B at tp 8 and 8B models at tp 1 get one TP-8 group and
// TP-1 groups in the same world; cluster/placement.h). Nodes, tasks, tasks per node and GPUs per node
// are derived from that placement (cluster/slurm-allocation.h: the coordinator its own task on node 0,
// one task per GPU, nodes raised to what one group of every degree needs), and the script lists the
// layout as comments; --signal=USR1@<signal_seconds>, --requeue, --open-mode=append,
// logs RUN_DIR/slurm/logs/%x-%A_%a.out, launch line `srun --mpi=pmix <t2> run RUN_DIR/campaign.frozen.yaml`:
// the campaign as resolved at submission (overrides included) is frozen in the run directory and every
// start and requeue runs that copy; edits that touch jobs with results exit 2 unless --rerun-changed
// (coordinator/campaign-freeze.h).
// --array makes each script a job array over the seed sweep instead (independent sweep points; each
// task runs one seed into RUN_DIR/seed<S>, so every run directory keeps a single writer).
// --dry-run prints the scripts and writes nothing; otherwise the scripts go to RUN_DIR/slurm/, are
// submitted with sbatch, and recorded in RUN_DIR/slurm/jobs.json (t2 status, t2 cancel).
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "cli/campaign-memory-plan.h"
#include "cli/cli.h"
#include "cluster/slurm-allocation.h"
#include "cluster/slurm-client.h"
#include "cluster/slurm-run-jobs.h"
#include "cluster/slurm-script.h"
#include "coordinator/campaign-freeze.h"
#include "coordinator/memory-plan-model.h"
#include "coordinator/memory-plan.h"
#include "core/check.h"
#include "core/files.h"
#include "core/names.h"
#include "jobs/campaign.h"
#include "jobs/config-override.h"
#include "jobs/job-plan.h"

namespace t2::cli {

namespace {

namespace fs = std::filesystem;

struct SubmitArgs {
  std::string campaign;
  std::vector<std::string> overrides;
  bool dry_run = false;
  bool array = false;
  bool hold = false;
  std::string launcher = "srun";
  std::string t2_path;
  bool rerun_changed = false;
};

struct Script {
  std::string name;  // job name, also the script's file name
  std::string shape;
  SbatchSpec spec;
  SlurmAllocation allocation;
};

std::vector<int> model_tps(const Campaign& c) {
  std::vector<int> tps;
  for (const auto& m : c.models) tps.push_back(static_cast<int>(m.tp));
  return distinct_tps(tps);
}

// The memory plan of each model with a readable config.json, at its own tp: a comment line, or a
// UsageError when the model does not fit the GPUs the campaign asks for.
std::vector<std::string> memory_notes(const Campaign& c) {
  std::vector<std::string> notes;
  for (const auto& m : c.models) {
    const int tp = static_cast<int>(m.tp);
    const std::string cfg = m.path + "/config.json";
    if (!path_exists(cfg)) {
      notes.push_back(fmt::format("model {}: {} not found, memory not planned", m.name, cfg));
      continue;
    }
    // the settings `t2 plan CAMPAIGN` uses: the model's and its experiments' (batch, micro_batch, ...)
    ModelShape shape = model_shape_from_path(m.path);
    shape.name = m.name;
    // (the check below is for GPU campaigns; a CPU campaign's plan is only a note, sized with materialised
    // attention, the larger of the two)
    const PlanSettings st =
        campaign_plan_settings(c, m, shape, PlanSettings{}, [](const char*) { return false; }, false);
    const MemoryPlan p = plan_memory(shape, st);
    if (c.slurm.gpus_per_node > 0 && st.device == PlanDevice::gpu) {
      T2_CHECK_AS(UsageError, p.valid, "model {}: tp {} cannot shard it: {}", m.name, tp, p.invalid_reason);
      std::vector<std::string> over;
      for (const PhasePlan* ph : phases_over_budget(p))
        over.push_back(fmt::format("{} {} of {}", ph->phase, format_gb(ph->total_bytes), format_gb(ph->budget_bytes)));
      T2_CHECK_AS(UsageError, over.empty(),
                  "{}: model {} with tp {} does not fit GPUs of {} GB ({}); raise tp, lower the experiments' "
                  "batch_size or micro_batch, or use bigger GPUs (t2 plan {} shows every term)",
                  c.file, m.name, tp, m.gpu_memory_gb, join(over, "; "), c.file);
    }
    notes.push_back(fmt::format("model {}: tp {}, per GPU evaluate {} / train {} of {}", m.name, tp,
                                format_gb(p.evaluate.total_bytes), format_gb(p.train.total_bytes),
                                format_gb(p.evaluate.budget_bytes)));
  }
  return notes;
}

// The layout of the allocation (cluster/placement.h), as comment lines of the script: what srun will
// start and which models each group serves.
std::vector<std::string> layout_notes(const Campaign& c, const SlurmAllocation& a) {
  const Placement& p = a.placement;
  std::vector<std::string> out;
  out.push_back("# layout: " + p.summary());
  out.push_back(fmt::format("# layout: rank 0: coordinator on {} (its own task, no GPU)", p.ranks[0].host));
  for (int g = 0; g < static_cast<int>(p.groups.size()); ++g) {
    std::vector<std::string> models;
    for (const auto& m : c.models)
      if (static_cast<int>(m.tp) == p.group_tp[static_cast<size_t>(g)]) models.push_back(m.name);
    out.push_back(fmt::format("# layout: {} (models {})", p.describe_group(g), join(models, ", ")));
  }
  if (!p.idle.empty())
    out.push_back(fmt::format("# layout: {} idle rank(s) (no group of any degree fits beside the others)",
                              p.idle.size()));
  if (!a.nodes_note.empty()) out.push_back("# layout: " + a.nodes_note);
  return out;
}

SbatchSpec base_spec(const Campaign& c, const SlurmAllocation& alloc, const SubmitArgs& a, const std::string& run_dir) {
  SbatchSpec s;
  s.partition = c.slurm.partition.value_or("");
  s.account = c.slurm.account.value_or("");
  s.qos = c.slurm.qos.value_or("");
  s.mem = c.slurm.mem.value_or("");
  s.time = c.slurm.time;
  // exactly the world the placement was computed for (cluster/slurm-allocation.h)
  s.nodes = alloc.nodes;
  s.ntasks = alloc.ntasks;
  s.ntasks_per_node = alloc.ntasks_per_node;
  s.gpus_per_node = alloc.gpus_per_node;
  s.distribution = alloc.distribution;
  s.cpus_per_task = static_cast<int>(c.slurm.cpus_per_task);
  s.signal = c.slurm.signal_seconds > 0 ? fmt::format("USR1@{}", c.slurm.signal_seconds) : "";
  s.requeue = c.slurm.requeue;
  for (std::string x : c.slurm.extra) {
    if (x.rfind("#SBATCH", 0) == 0) x = x.substr(7);
    const auto b = x.find_first_not_of(" \t");
    s.extra_options.push_back(b == std::string::npos ? "" : x.substr(b));
  }
  s.output = run_dir + "/slurm/logs/%x-%A_%a.out";
  s.launcher = a.launcher;
  // The campaign frozen in the run directory (with the user's overrides resolved into it), never the
  // live file: a requeued job runs what was submitted (coordinator/campaign-freeze.h).
  s.command = {a.t2_path, "run", frozen_campaign_path(run_dir)};
  if (a.rerun_changed) s.command.push_back("--rerun-changed");
  return s;
}

// One script for the whole campaign: one coordinator, worker groups sized per model (the models'
// degrees, docs/cluster.md "Mixed model sizes"), one run directory. With --array one job array over
// the seed sweep, each element its own run directory.
std::vector<Script> plan_scripts(const Campaign& c, const SubmitArgs& a, const std::string& run_dir) {
  T2_CHECK_AS(UsageError, !c.models.empty(), "{}: no models, nothing to submit", c.file);
  const auto tps = model_tps(c);
  Script sc;
  sc.allocation = plan_slurm_allocation(tps, static_cast<int>(c.slurm.nodes), static_cast<int>(c.slurm.gpus_per_node));
  std::vector<std::string> shape;
  for (int t : tps) shape.push_back(fmt::format("tp{}", t));
  sc.shape = join(shape, "+");
  sc.name = "t2-" + c.name;
  sc.spec = base_spec(c, sc.allocation, a, run_dir);
  sc.spec.job_name = sc.name;
  if (a.array) {
    T2_CHECK_AS(UsageError, c.seeds.size() >= 2, "t2 submit --array: {} has {} seed(s); an array needs a seed sweep "
                "(e.g. seed=[1,2,3])", c.file, c.seeds.size());
    std::vector<std::string> seeds;
    for (auto s : c.seeds) seeds.push_back(std::to_string(s));
    sc.spec.array = fmt::format("0-{}", seeds.size() - 1);
    sc.spec.setup_lines.push_back("T2_SEEDS=(" + join(seeds, " ") + ")");
    sc.spec.setup_lines.push_back("T2_SEED=${T2_SEEDS[$SLURM_ARRAY_TASK_ID]}");
    // each element runs the copy frozen in its own run directory (seed and output resolved in it)
    std::string suffix = shell_quote(run_dir + "/seed") + "\"${T2_SEED}\"" + shell_quote("/campaign.frozen.yaml");
    for (size_t i = 3; i < sc.spec.command.size(); ++i) suffix += " " + shell_quote(sc.spec.command[i]);
    sc.spec.command.resize(2);
    sc.spec.command_suffix = suffix;
    sc.shape += "-array";
  }
  for (const auto& line : layout_notes(c, sc.allocation)) sc.spec.setup_lines.push_back(line);
  for (const auto& note : memory_notes(c)) sc.spec.setup_lines.push_back("# plan: " + note);
  std::vector<std::string> models;
  for (const auto& m : c.models) models.push_back(fmt::format("{} (tp {})", m.name, m.tp));
  sc.spec.comment = fmt::format("t2 submit {}: one coordinator, models {}", c.file, join(models, ", "));
  return {std::move(sc)};
}

std::string self_path() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("t2") : p.string();
}

int run_submit(SubmitArgs a) {
  for (const auto& o : a.overrides)
    T2_CHECK_AS(UsageError, looks_like_override(o),
                "t2 submit: '{}' is not an override; expected key.path=value or ~key.path after the campaign file", o);
  if (a.t2_path.empty()) a.t2_path = self_path();
  CampaignLoadOptions lo;
  lo.check_model_paths = false;  // checked by t2 run on the compute nodes
  const Campaign c = load_campaign(a.campaign, a.overrides, lo);
  expand_plan(c);
  const std::string run_dir = fs::absolute(c.output).lexically_normal().string();
  const auto scripts = plan_scripts(c, a, run_dir);
  if (a.dry_run) {
    for (const auto& s : scripts) {
      std::cout << "# ===== " << run_dir << "/slurm/" << s.name << ".sbatch (" << s.shape
                << "; dry run: not written, not submitted) =====\n"
                << render_sbatch(s.spec);
    }
    return 0;
  }
  T2_CHECK_AS(UsageError, SlurmClient::available(), "t2 submit: sbatch/scontrol not found on PATH (use --dry-run to "
              "see the scripts)");
  // Edits that would mix with results already in the run directory stop here (exit 2) unless
  // --rerun-changed; then the resolved campaign is frozen where the scripts read it.
  std::vector<Campaign> frozen;
  if (a.array) {
    for (auto seed : c.seeds) {
      std::vector<std::string> ov = a.overrides;
      ov.push_back(fmt::format("seed={}", seed));
      ov.push_back(fmt::format("output={}/seed{}", run_dir, seed));
      frozen.push_back(load_campaign(a.campaign, ov, lo));
    }
  } else {
    frozen.push_back(c);
  }
  for (const auto& f : frozen) {
    check_campaign_changes(f, expand_plan(f), a.rerun_changed);
    write_frozen_campaign(fs::absolute(f.output).lexically_normal().string(), f);
  }
  make_dirs(run_dir + "/slurm/logs");
  SlurmClientOptions so;
  if (auto it = c.timeouts.find("slurm_command"); it != c.timeouts.end()) so.timeout = Seconds(it->second);
  SlurmClient client(so);
  for (const auto& s : scripts) {
    const std::string path = run_dir + "/slurm/" + s.name + ".sbatch";
    write_file_atomic(path, render_sbatch(s.spec));
    std::vector<std::string> extra;
    if (a.hold) extra.push_back("--hold");
    const std::string id = client.submit(path, extra);
    record_submitted_job(run_dir, {id, "slurm/" + s.name + ".sbatch", s.shape, s.spec.array, ""});
    std::cout << "submitted job " << id << " (" << s.shape << "): " << path << "\n";
  }
  std::cout << "jobs recorded in " << slurm_jobs_path(run_dir) << "; t2 status " << run_dir << ", t2 cancel "
            << run_dir << "\n";
  return 0;
}

}  // namespace

Command add_submit_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("submit", "Submit a campaign to Slurm (sbatch scripts, job arrays, preemption and requeue)");
  auto args = std::make_shared<SubmitArgs>();
  app->add_option("campaign", args->campaign, "campaign YAML file")->required();
  app->add_option("overrides", args->overrides, "key.path=value overrides, passed on to t2 run");
  app->add_flag("--dry-run", args->dry_run, "print the sbatch scripts; write and submit nothing");
  app->add_flag("--array", args->array, "one job array over the seed sweep (each seed its own run directory)");
  app->add_flag("--hold", args->hold, "submit held (release with scontrol release)");
  app->add_option("--launcher", args->launcher, "srun (srun --mpi=pmix) or mpirun")
      ->check(CLI::IsMember({"srun", "mpirun"}));
  app->add_flag("--rerun-changed", args->rerun_changed,
                "the jobs recompute what the campaign's edits changed (t2 run --rerun-changed) instead of refusing");
  app->add_option("--t2", args->t2_path, "the t2 binary the jobs run (default: this one)");
  return {app, [args]() -> int { return run_submit(*args); }};
}

}  // namespace t2::cli
