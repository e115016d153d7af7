// t2 submit: render a campaign into sbatch scripts and submit them (cluster/slurm-script.h).
//
//   t2 submit CAMPAIGN.yaml [key.path=value ...] [--dry-run] [--array] [--hold] [--launcher srun|mpirun]
//                           [--t2 PATH]
//
// One MPI allocation per resource shape (the models' TP degrees): nodes, tasks and GPUs per node
// from the campaign's `slurm:` section, --signal=USR1@<signal_seconds>, --requeue, --open-mode=append,
// logs RUN_DIR/slurm/logs/%x-%A_%a.out, launch line `srun --mpi=pmix <t2> run RUN_DIR/campaign.frozen.yaml`:
// the campaign as resolved at submission (overrides included) is frozen in the run directory and every
// start and requeue runs that copy; edits that touch jobs with results exit 2 unless --rerun-changed
// (coordinator/campaign-freeze.h). With
// several shapes each script restricts the experiments to its models (experiments.<name>.models=[...]).
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

#include "cluster/slurm-client.h"
#include "cluster/slurm-run-jobs.h"
#include "cluster/slurm-script.h"
#include "cluster/world-layout.h"
#include "cli/cli.h"
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

struct Shape {
  int tp = 1;
  std::vector<std::string> models;
};

struct Script {
  std::string name;  // job name, also the script's file name
  std::string shape;
  SbatchSpec spec;
};

std::vector<Shape> shapes_of(const Campaign& c) {
  std::map<int, Shape> by_tp;
  for (const auto& m : c.models) {
    auto& s = by_tp[static_cast<int>(m.tp)];
    s.tp = static_cast<int>(m.tp);
    s.models.push_back(m.name);
  }
  std::vector<Shape> out;
  for (auto& [tp, s] : by_tp) out.push_back(s);
  return out;
}

std::string list_override(const std::vector<std::string>& v) { return "[" + join(v, ",") + "]"; }

// Overrides that keep only this shape's models in every experiment (none when there is one shape).
std::vector<std::string> shape_overrides(const Campaign& c, const Shape& shape, size_t nshapes) {
  std::vector<std::string> out;
  if (nshapes == 1) return out;
  for (const auto& e : c.experiments) {
    std::vector<std::string> keep;
    for (const auto& m : e.models)
      for (const auto& s : shape.models)
        if (m == s) keep.push_back(m);
    out.push_back(keep.empty() ? "~experiments." + e.name : "experiments." + e.name + ".models=" + list_override(keep));
  }
  return out;
}

// The memory plan of each model with a readable config.json: a comment line, or a UsageError when
// the model does not fit the GPUs the campaign asks for.
std::vector<std::string> memory_notes(const Campaign& c, const Shape& shape) {
  std::vector<std::string> notes;
  for (const auto& name : shape.models) {
    const ModelSpec* m = c.find_model(name);
    const std::string cfg = m->path + "/config.json";
    if (!path_exists(cfg)) {
      notes.push_back(fmt::format("model {}: {} not found, memory not planned", name, cfg));
      continue;
    }
    PlanSettings st;
    st.tp = shape.tp;
    st.gpu_memory_gb = m->gpu_memory_gb;
    st.weight_bytes = m->dtype == "fp32" ? 4 : 2;
    st.factor_bytes = st.weight_bytes;  // U and V are held in the serving dtype (fp32 models: fp32)
    const MemoryPlan p = plan_memory(model_shape_from_path(m->path), st);
    if (c.slurm.gpus_per_node > 0) {
      T2_CHECK_AS(UsageError, p.valid, "model {}: tp {} cannot shard it: {}", name, shape.tp, p.invalid_reason);
      T2_CHECK_AS(UsageError, p.evaluate.fits && p.train.fits,
                  "model {} with tp {} does not fit GPUs of {} GB (evaluate {} of {}, train {} of {}); raise tp or "
                  "use bigger GPUs (t2 plan --model-config {} --tp {} shows the details)",
                  name, shape.tp, m->gpu_memory_gb, format_gb(p.evaluate.total_bytes), format_gb(p.evaluate.budget_bytes),
                  format_gb(p.train.total_bytes), format_gb(p.train.budget_bytes), m->path, shape.tp);
    }
    notes.push_back(fmt::format("model {}: tp {}, per GPU evaluate {} / train {} of {}", name, shape.tp,
                                format_gb(p.evaluate.total_bytes), format_gb(p.train.total_bytes),
                                format_gb(p.evaluate.budget_bytes)));
  }
  return notes;
}

SbatchSpec base_spec(const Campaign& c, const Shape& shape, const SubmitArgs& a, const std::string& run_dir,
                     const std::string& campaign_path) {
  SbatchSpec s;
  s.partition = c.slurm.partition.value_or("");
  s.account = c.slurm.account.value_or("");
  s.qos = c.slurm.qos.value_or("");
  s.mem = c.slurm.mem.value_or("");
  s.time = c.slurm.time;
  const int g = static_cast<int>(c.slurm.gpus_per_node);
  const int n = static_cast<int>(c.slurm.nodes);
  if (g > 0) {
    // one task per GPU; a group larger than a node spans ceil(tp / g) nodes
    s.nodes = std::max(n, (shape.tp + g - 1) / g);
    s.gpus_per_node = g;
    s.ntasks_per_node = g;
    s.ntasks = s.nodes * g;
  } else {
    // CPU: the coordinator plus one worker group
    s.nodes = n;
    s.ntasks = std::max(shape.tp + 1, n);
  }
  WorldLayout::make(s.ntasks, 0, shape.tp);  // throws UsageError when no group fits
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
  (void)campaign_path;
  s.command = {a.t2_path, "run", frozen_campaign_path(run_dir)};
  if (a.rerun_changed) s.command.push_back("--rerun-changed");
  return s;
}

std::vector<Script> plan_scripts(const Campaign& c, const SubmitArgs& a, const std::string& run_dir,
                                 const std::string& campaign_path) {
  const auto shapes = shapes_of(c);
  T2_CHECK_AS(UsageError, !shapes.empty(), "{}: no models, nothing to submit", c.file);
  std::vector<Script> scripts;
  for (const auto& shape : shapes) {
    Script sc;
    sc.shape = fmt::format("tp{}", shape.tp);
    sc.name = shapes.size() == 1 ? "t2-" + c.name : fmt::format("t2-{}-tp{}", c.name, shape.tp);
    sc.spec = base_spec(c, shape, a, run_dir, campaign_path);
    sc.spec.job_name = sc.name;
    const auto restrict = shape_overrides(c, shape, shapes.size());
    for (const auto& o : restrict) sc.spec.command.push_back(o);
    // the restricted campaign must still load and expand, or the job would fail on its first start
    std::vector<std::string> check = a.overrides;
    check.insert(check.end(), restrict.begin(), restrict.end());
    CampaignLoadOptions lo;
    lo.check_model_paths = false;
    expand_plan(load_campaign(campaign_path, check, lo));
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
    for (const auto& note : memory_notes(c, shape)) sc.spec.setup_lines.push_back("# plan: " + note);
    sc.spec.comment = fmt::format("t2 submit {}: models {} (tp {})", c.file, join(shape.models, ", "), shape.tp);
    scripts.push_back(std::move(sc));
  }
  return scripts;
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
  const std::string campaign_path = fs::absolute(a.campaign).lexically_normal().string();
  const std::string run_dir = fs::absolute(c.output).lexically_normal().string();
  const auto scripts = plan_scripts(c, a, run_dir, campaign_path);
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
  app->add_flag("--array", args->array, "one job array over the seed sweep per shape (each seed its own run directory)");
  app->add_flag("--hold", args->hold, "submit held (release with scontrol release)");
  app->add_option("--launcher", args->launcher, "srun (srun --mpi=pmix) or mpirun")
      ->check(CLI::IsMember({"srun", "mpirun"}));
  app->add_flag("--rerun-changed", args->rerun_changed,
                "the jobs recompute what the campaign's edits changed (t2 run --rerun-changed) instead of refusing");
  app->add_option("--t2", args->t2_path, "the t2 binary the jobs run (default: this one)");
  return {app, [args]() -> int { return run_submit(*args); }};
}

}  // namespace t2::cli
