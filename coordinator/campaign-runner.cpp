#include "coordinator/campaign-runner.h"

#include <set>
#include <tuple>

#include "coordinator/memory-plan-model.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <optional>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cluster/communicator-mpi.h"
#include "cluster/communicator-nccl.h"
#include "cluster/mpi-channel.h"
#include "cluster/mpi-runtime.h"
#include "cluster/shared-dir-check.h"
#include "cluster/signals.h"
#include "cluster/slurm-client.h"
#include "cluster/world-layout.h"
#include "coordinator/campaign-data.h"
#include "coordinator/campaign-freeze.h"
#include "coordinator/campaign-jobs.h"
#include "coordinator/progress.h"
#include "coordinator/scheduler.h"
#include "coordinator/status-server-metrics.h"
#include "coordinator/status-server.h"
#include "workers/device-info.h"
#include "coordinator/work-deadlines.h"
#include "workers/work-executor.h"
#include "coordinator/work-transport-mpi.h"
#include "coordinator/work-transport-threads.h"
#include "core/check.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "jobs/job-plan.h"
#include "results/run-layout.h"
#include "results/run-store.h"

namespace t2 {

namespace {

// Thrown from the scheduler's tick when a preemption signal arrived: leaves run() at once.
struct Preempted {
  int signal = 0;
};
// Thrown from the tick when a worker group was declared hung or unreachable: the run ends promptly
// (its rank may never answer again) and a rerun, or the Slurm requeue, resumes.
struct GroupLost {};

const Seconds kWorkerIdle{24 * 3600};

// SIGUSR1 asks for a requeue (bounded by max_restarts); SIGTERM is a cancellation. Never throws:
// a failed `scontrol requeue` is logged and the start ends as not requeued.
RequeueDecision requeue_after_signal(int signal, int max_restarts, Seconds slurm_timeout) {
  RequeueDecision d;
  if (signal != SIGUSR1) {
    d.why = fmt::format("signal {} ({}): cancelled, stopping without requeue", signal,
                        signal == SIGTERM ? "SIGTERM from scancel / t2 cancel" : "not a preemption warning");
    spdlog::warn("{}", d.why);
    return d;
  }
  try {
    SlurmClientOptions so;
    so.timeout = slurm_timeout;
    SlurmClient client(so);
    d = requeue_self(client, WorldLayout::process_env(), max_restarts);
  } catch (const std::exception& e) {
    d.requeued = false;
    d.why = std::string("requeue failed: ") + e.what();
  }
  spdlog::warn("{}", d.why);
  return d;
}

// The tensor-parallel degree of every model: the world forms groups of each (cluster/placement.h),
// and every model runs on groups of its own degree (never the largest one for all).
std::vector<int> campaign_tps(const Campaign& c) {
  std::vector<int> tps;
  for (const auto& m : c.models) tps.push_back(static_cast<int>(m.tp));
  if (tps.empty()) tps.push_back(1);
  return distinct_tps(tps);
}

Seconds timeout_of(const Campaign& c, const std::string& name, Seconds fallback) {
  auto it = c.timeouts.find(name);
  return it == c.timeouts.end() ? fallback : Seconds(it->second);
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

results::RunMeta run_meta(const Campaign& c, const WorldLayout& layout) {
  results::RunMeta m;
  m.name = c.name;
  m.campaign_yaml = read_text(c.file);
  m.campaign_resolved = c.resolved.dump(2);
  m.sandbox_isolation = c.sandbox_isolation;
  m.ranks = layout.world_size();
  const Placement& p = layout.placement();
  m.hosts = p.nodes;
  m.placement.push_back(p.summary());
  for (int r = 0; r < layout.world_size(); ++r) m.placement.push_back(p.describe(r));
  m.seeds = c.seeds;
  for (const auto& model : c.models)
    m.models.push_back({model.name, model.params.value("display_name", model.name)});
  for (const auto& t : c.tasks)
    if (t.kind != "cls") m.tasks.push_back({t.name, t.params.value("display_name", t.name)});
  return m;
}

// Rank 0 logs where every rank is (host, device, group); every other rank logs its own line.
void log_placement(const WorldLayout& layout) {
  const Placement& p = layout.placement();
  if (layout.is_coordinator()) {
    spdlog::info("placement: {}", p.summary());
    for (int r = 0; r < layout.world_size(); ++r) spdlog::info("placement: {}", p.describe(r));
  } else {
    spdlog::debug("placement: {}", p.describe(layout.world_rank()));
  }
}

// A model given by Hub id must mean the same snapshot on every start of a run: a resumed run whose
// cache ref moved on would mix results of two different weights.
void check_same_snapshots(const Campaign& c) {
  if (!path_exists(c.output + "/" + results::layout::run_file)) return;
  nlohmann::json before;
  try {
    before = nlohmann::json::parse(results::RunReader(c.output).meta().campaign_resolved);
  } catch (const std::exception&) {
    return;  // an unreadable or older run.h5 has no snapshot to compare with
  }
  for (const auto& m : c.models) {
    if (!before.contains("models") || !before["models"].contains(m.name)) continue;
    const auto& was = before["models"][m.name];
    const std::string old_commit = was.contains("hf_cache") ? was["hf_cache"].value("commit", "") : "";
    if (old_commit.empty() || old_commit == m.hf_commit) continue;
    throw UsageError(fmt::format(
        "{}: models.{}.path: the run in {} was started with snapshot {} of {}, but the cache now resolves it to {}; "
        "pin it with models.{}.revision={} to resume, or start a new run directory",
        c.file, m.name, c.output, old_commit, was["hf_cache"].value("repo_id", m.hf_id),
        m.hf_commit.empty() ? "a folder" : m.hf_commit, m.name, old_commit));
  }
}

// `lost` (when given) gets one line per worker group declared hung or unreachable: its rank may never
// reach MPI_Finalize, so the caller ends the job with MPI_Abort instead.
int coordinate(const Campaign& c, const Plan& plan, const WorldLayout& layout, WorkTransport& transport,
               const CampaignRunOptions& o, std::vector<std::string>* lost = nullptr) {
  make_dirs(c.output);
  auto store = results::RunStore::open_for_write(c.output, run_meta(c, layout),
                                                 Deadline::after(timeout_of(c, "file_lock", timeouts::file_lock)));
  log_to_run_dir(c.output, "coordinator");
  if (auto line = settle_campaign_changes(c, plan, o.rerun_changed); !line.empty()) spdlog::warn("{}", line);
  CampaignTasks tasks(c);
  // code tasks stop here, before any job starts, when the sandbox cannot isolate them (exit 2)
  for (const auto& t : c.tasks) {
    const std::string level = tasks.get(t.name).sandbox_isolation();
    if (level != "none") spdlog::info("task {}: code sandbox isolation {}", t.name, level);
  }
  CampaignJobsOptions jo;
  jo.tp = layout.tp();
  for (const auto& m : c.models) jo.model_tp[m.name] = static_cast<int>(m.tp);
  jo.log = [](const std::string& line) { spdlog::info("{}", line); };
  auto jobs = make_campaign_jobs(c, plan, store, tasks, jo);

  std::vector<int> group_ranks;
  for (int g = 0; g < transport.groups(); ++g) group_ranks.push_back(transport.group_rank(g));

  Scheduler* sched_ptr = nullptr;
  ProgressTracker tracker;
  std::unique_ptr<ProgressRenderer> renderer = o.progress ? make_progress_renderer(STDERR_FILENO, Seconds(o.progress_every_s)) : nullptr;
  Clock::time_point last_draw{};
  auto draw = [&](bool final) {
    if (!renderer || !sched_ptr) return;
    auto now = Clock::now();
    // a snapshot copies every job: at most ten a second (the terminal's redraw rate), not one per result
    if (!final && now - last_draw < std::chrono::milliseconds(100)) return;
    last_draw = now;
    // Every job, waiting ones too: the display counts them; only started jobs get a line of their own.
    for (const auto& j : sched_ptr->snapshot().jobs)
      tracker.update(j.id, j.units_done, j.units_total, job_state_name(j.state), now);
    renderer->render(tracker.rows(), now, final);
  };

  SchedulerOptions so;
  so.item_timeout = timeout_of(c, "control_message", timeouts::control_message);
  if (layout.tps().size() > 1 && transport.groups() == layout.num_groups())
    for (int g = 0; g < layout.num_groups(); ++g) so.group_tp.push_back(layout.group_tp(g));
  const WorkDeadlines deadlines = WorkDeadlines::from_campaign(c);  // per kind of work, heartbeats restart them
  so.item_deadline = [deadlines](const std::string& job_kind, const std::string& item_kind) {
    return deadlines.of(job_kind, item_kind);
  };
  so.load_timeout = deadlines.load;
  so.on_incident = [](const std::string& line) { spdlog::warn("{}", line); };
  so.on_tick = [&] {
    if (preemption_requested()) throw Preempted{preemption_signal()};
    if (sched_ptr && sched_ptr->unresponsive_groups() > 0) throw GroupLost{};
    draw(false);
  };
  Scheduler sched(std::move(jobs), group_ranks, so);
  sched_ptr = &sched;

  std::unique_ptr<StatusServer> server;
  if (o.status_port > 0) {
    StatusServerOptions sso;
    sso.port = static_cast<uint16_t>(o.status_port);
    server = std::make_unique<StatusServer>(
        sso, [&] { return scheduler_snapshot_json(sched.snapshot()); },
        [&] { return prometheus_metrics(sched.snapshot()); });
    spdlog::info("status server on http://{}/status", server->address());
  }

  spdlog::info("campaign {}: {} jobs, {} worker group(s) ({}), run directory {}", c.name, plan.jobs.size(),
               transport.groups(), layout.placement().summary(), c.output);
  int rc = 1;
  bool preempted = false, group_lost = false;
  try {
    rc = sched.run(transport);
  } catch (const GroupLost&) {
    group_lost = true;
    rc = 1;
    spdlog::error("a worker group is lost (see the incident above): stopping the campaign; everything finished so "
                  "far is saved in {} and a rerun resumes from it", c.output);
  } catch (const Preempted& p) {
    preempted = true;
    spdlog::warn("signal {} received: stopping; everything finished so far is saved in {}", p.signal, c.output);
    for (const auto& g : sched.snapshot().groups)  // what each rank was doing (a dead peer ends the job too)
      if (g.state != GroupState::idle)
        spdlog::warn("  at the stop: group {} (rank {}) {}: {}", g.group, g.rank, group_state_name(g.state), g.current);
  }
  draw(true);
  // USR1 (time limit, preemption): requeue FIRST, so that nothing in the shutdown below can skip it;
  // Slurm then ends this start. SIGTERM (scancel, t2 cancel): stop cleanly, never requeue.
  std::optional<RequeueDecision> requeue;
  if (preempted || (group_lost && WorldLayout::process_env().count("SLURM_JOB_ID")))  // lost: requeued like USR1
    requeue = requeue_after_signal(preempted ? preemption_signal() : SIGUSR1, o.max_restarts,
                                   timeout_of(c, "slurm_command", timeouts::slurm_command));
  try {
    transport.shutdown(Deadline::after(Seconds(30)));
  } catch (const std::exception& e) {
    spdlog::error("releasing the worker groups failed: {}", e.what());
    if (rc == 0) rc = 1;
  }
  if (server) server->stop();

  auto snap = sched.snapshot();
  for (const auto& g : snap.groups)
    spdlog::info("group {} (rank {}): {}, {} item(s), {} heartbeat(s), longest item {:.1f} s", g.group, g.rank,
                 group_state_name(g.state), g.items_done, g.heartbeats, g.longest_item_seconds);
  for (const auto& g : snap.groups)
    if (g.state == GroupState::unresponsive && lost)
      lost->push_back(fmt::format("group {} (rank {}), last request: {}", g.group, g.rank, g.current));
  std::map<std::string, int> counts;
  for (const auto& j : snap.jobs) {
    counts[job_state_name(j.state)]++;
    if (j.state == JobState::failed || j.state == JobState::skipped)
      std::cerr << "  " << job_state_name(j.state) << " " << j.id << ": " << j.reason << "\n";
    if (j.state == JobState::failed && store.reader().job(j.id)) {
      try {
        store.set_job_status(j.id, results::JobStatus::failed, j.reason);  // t2 status shows why
      } catch (const std::exception& e) {
        spdlog::warn("could not record the failure of {}: {}", j.id, e.what());
      }
    }
  }
  std::string summary;
  for (const auto& [k, v] : counts) summary += (summary.empty() ? "" : ", ") + std::to_string(v) + " " + k;
  std::cerr << "campaign " << c.name << ": " << summary << "; results in " << c.output << " (t2 table " << c.output
            << ")\n";

  if (preempted) return requeue && requeue->requeued ? 0 : 1;
  if (rc == 0) store.finish_run();
  return rc;
}

// Rank 0's text on every rank (bounded: a TimeoutError when a rank does not arrive).
std::string broadcast_from_rank0(std::string text, Seconds timeout) {
  const Deadline deadline = Deadline::after(timeout);
  uint64_t n = text.size();
  MPI_Request req;
  MPI_Ibcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD, &req);
  T2_CHECK_AS(TimeoutError, mpi_wait_until(req, deadline), "rank 0's verdict on the campaign did not arrive in time");
  text.resize(n);
  if (n == 0) return text;
  MPI_Ibcast(text.data(), static_cast<int>(n), MPI_CHAR, 0, MPI_COMM_WORLD, &req);
  T2_CHECK_AS(TimeoutError, mpi_wait_until(req, deadline), "rank 0's verdict on the campaign did not arrive in time");
  return text;
}

}  // namespace

namespace {

// Cross-model transfer needs the same adapted shapes (experts/svf-transfer.h): refuse a pair of models
// whose configs already differ before any work starts (exit 2), naming the jobs, models and numbers.
void check_transfer_shapes(const Campaign& c, const Plan& plan) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& j : plan.jobs) {
    if (!j.params.contains("transfer_from") || !j.params["transfer_from"].is_string()) continue;
    const std::string from = j.params["transfer_from"].get<std::string>();
    if (!seen.insert({from, j.model}).second) continue;
    const ModelShape a = model_shape_from_path(c.find_model(from)->path), b = model_shape_from_path(c.find_model(j.model)->path);
    auto hd = [](const ModelShape& s) { return s.head_dim ? s.head_dim : s.hidden / std::max<int64_t>(1, s.heads); };
    const std::vector<std::tuple<const char*, int64_t, int64_t>> fields = {
        {"layers", a.layers, b.layers},        {"hidden", a.hidden, b.hidden},   {"intermediate", a.intermediate, b.intermediate},
        {"heads", a.heads, b.heads},           {"kv_heads", a.kv_heads, b.kv_heads}, {"head_dim", hd(a), hd(b)}};
    for (const auto& [name, va, vb] : fields)
      if (va != vb)
        throw UsageError(fmt::format("{}: job {} applies the experts of model {} (transfer_from) to model {}, whose adapted "
                                     "shapes differ: {} {} vs {}; expected two models with the same matrices",
                                     c.file, j.id, from, j.model, name, va, vb));
  }
}

}  // namespace

int run_campaign(const std::string& file, const CampaignRunOptions& o) {
  CampaignLoadOptions lo;
  lo.check_model_paths = true;
  Campaign c = load_campaign(file, o.overrides, lo);
  Plan plan = expand_plan(c);
  // A model folder without config.json would only fail inside its first work item: say it now.
  for (const auto& m : c.models) {
    if (!m.hf_id.empty())
      spdlog::info("model {}: {} at revision {} is snapshot {} in {}", m.name, m.hf_id,
                   m.revision.empty() ? "main" : m.revision, m.hf_commit, m.path);
    T2_CHECK_AS(UsageError, path_exists(m.path + "/config.json"),
                "{}: models.{}.path: '{}' has no config.json; expected a Hugging Face model folder", c.file, m.name,
                m.path);
  }
  check_same_snapshots(c);  // every rank: each exits 2 alike, none waits on a coordinator that left
  check_transfer_shapes(c, plan);
  const std::vector<int> tps = campaign_tps(c);
  const DeviceInfo di = device_info();
  WorldLayout::Request req;
  req.device = c.device;
  req.cuda_built = di.cuda_built;
  req.gpus_visible = di.cuda_devices;
  WorldLayout layout = WorldLayout::detect(tps, req);
  install_preemption_handlers();  // every rank: Slurm signals the whole step; only rank 0 acts on it
  if (layout.world_size() > 1) log_init("info", layout.world_rank());
  log_placement(layout);
  // every rank decides alike (the placement is the same everywhere), so none is left waiting
  const bool nccl = layout.placement().device_kind == "cuda" && layout.placement().tp > 1;
  T2_CHECK_AS(NotAvailable, !nccl || nccl_available(),
              "{}: tensor-parallel groups of {} on CUDA need NCCL, and this t2 was built without it (configure "
              "with NCCL, see scripts/gpu-build), or run with device: cpu",
              c.file, layout.placement().tp);

  // Edits that would mix with results: rank 0 decides before anything starts and every rank exits 2
  // with its message (workers must not judge a run directory that rank 0 may already be writing).
  std::string refusal;
  if (layout.world_rank() == 0) {
    try {
      check_campaign_changes(c, plan, o.rerun_changed);
    } catch (const UsageError& e) {
      refusal = e.what();
    }
  }
  if (layout.world_size() > 1)
    refusal = broadcast_from_rank0(refusal, timeout_of(c, "control_message", timeouts::control_message));
  if (!refusal.empty()) throw UsageError(refusal);

  if (layout.world_size() == 1) {
    WorkExecutor exec(c, c.output, ExecutorPlacement{nullptr, layout.device(), true});
    ThreadTransport transport(1, [&](const WorkItem& item, ThreadTransport::Context&) { return exec.execute(item); });
    return coordinate(c, plan, layout, transport, o);
  }

  // Every rank must see rank 0's run directory (docs/cluster.md): a clear error now, not a missing
  // SVD file on some node later.
  check_shared_directory(c.output, timeout_of(c, "control_message", timeouts::control_message));
  MpiChannel chan(MPI_COMM_WORLD);
  MpiCommunicatorOptions co;
  co.name = "tp group";
  co.default_timeout = timeout_of(c, "collective", timeouts::collective);
  // the group's control plane (work items, shutdown) is MPI; its tensors go over NCCL when on CUDA
  std::unique_ptr<Communicator> group =
      make_mpi_communicator_split(MPI_COMM_WORLD, layout.group_of(), layout.tp_rank(), co);
  std::unique_ptr<Communicator> tensors;
  if (nccl && group && layout.tp() > 1) tensors = make_nccl_communicator(*group, layout.local_device());
  ExecutorPlacement place{tensors ? tensors.get() : group.get(), layout.device(), layout.tp_rank() == 0};

  if (layout.is_coordinator()) {
    std::unique_ptr<WorkExecutor> exec;
    ItemExecutor local;
    if (layout.coordinator_works()) {
      T2_CHECK_AS(UsageError, layout.tp() == 1 || mpi_thread_level() >= MPI_THREAD_MULTIPLE,
                  "rank 0 must coordinate and work in a tensor-parallel group of {}, which needs MPI_THREAD_MULTIPLE; "
                  "start one more rank (mpirun -np {}) so that rank 0 only coordinates",
                  layout.tp(), layout.world_size() + 1);
      exec = std::make_unique<WorkExecutor>(c, c.output, place);
      Communicator* g = group.get();
      WorkExecutor* e = exec.get();
      local = [g, e](const WorkItem& item) {
        return run_group_item(g, [e](const WorkItem& i) { return e->execute(i); }, item, kWorkerIdle);
      };
    }
    int rc;
    std::vector<std::string> lost;
    {
      MpiWorkTransport transport(chan, layout, local);
      rc = coordinate(c, plan, layout, transport, o, &lost);
    }
    if (!lost.empty()) {
      // A hung or stopped rank never reaches MPI_Finalize and would hold every other rank in it: end
      // the whole job now; everything finished is saved and a rerun resumes from it.
      for (const auto& l : lost) spdlog::error("lost worker {}", l);
      spdlog::default_logger()->flush();
      mpi_abort(rc == 0 ? 1 : rc, fmt::format("{} worker group(s) lost: {}", lost.size(), fmt::join(lost, "; ")));
    }
    if (layout.coordinator_works()) group_shutdown(group.get(), Seconds(60));
    return rc;
  }
  if (layout.is_idle()) {
    spdlog::info("rank {} is not part of any worker group (of tp {}): idle", layout.world_rank(),
                 fmt::join(layout.tps(), ", "));
    return 0;
  }
  WorkExecutor exec(c, c.output, place);
  return run_worker_loop(chan, layout, group.get(), [&](const WorkItem& item) { return exec.execute(item); }, kWorkerIdle);
}

}  // namespace t2
