#include "cluster/world-layout.h"

#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "cluster/communicator-mpi.h"
#include "cluster/mpi-runtime.h"
#include "core/check.h"

extern char** environ;

namespace t2 {

WorldLayout WorldLayout::make(int size, int rank, int tp) {
  T2_CHECK_AS(UsageError, size >= 1, "world layout: world size must be >= 1, got {}", size);
  T2_CHECK_AS(UsageError, rank >= 0 && rank < size, "world layout: rank {} outside a world of {} ranks", rank, size);
  T2_CHECK_AS(UsageError, tp >= 1, "world layout: tensor-parallel degree must be >= 1, got {}", tp);
  WorldLayout w;
  w.size_ = size;
  w.rank_ = rank;
  w.tp_ = tp;
  w.coordinator_works_ = size - 1 < tp;
  if (w.coordinator_works_) {
    T2_CHECK_AS(UsageError, size % tp == 0,
                "world layout: {} rank(s) cannot hold a coordinator plus a worker group of tp {} (need {} ranks), "
                "nor groups of {} that include the coordinator (need a multiple of {})",
                size, tp, tp + 1, tp, tp);
    w.num_groups_ = size / tp;
  } else {
    w.num_groups_ = (size - 1) / tp;
  }
  return w;
}

int WorldLayout::group_of(int rank) const {
  T2_CHECK(rank >= 0 && rank < size_, "group_of: rank {} outside a world of {}", rank, size_);
  const int k = rank - first_worker();
  if (k < 0) return -1;
  const int g = k / tp_;
  return g < num_groups_ ? g : -1;
}

int WorldLayout::tp_rank(int rank) const {
  return group_of(rank) < 0 ? -1 : (rank - first_worker()) % tp_;
}

std::vector<int> WorldLayout::group_ranks(int g) const {
  T2_CHECK(g >= 0 && g < num_groups_, "group_ranks: group {} of {}", g, num_groups_);
  std::vector<int> r(static_cast<size_t>(tp_));
  for (int i = 0; i < tp_; ++i) r[static_cast<size_t>(i)] = first_worker() + g * tp_ + i;
  return r;
}

std::vector<int> WorldLayout::idle_ranks() const {
  std::vector<int> r;
  for (int k = first_worker() + num_groups_ * tp_; k < size_; ++k) r.push_back(k);
  return r;
}

std::string WorldLayout::describe() const {
  std::string role = is_coordinator() ? (is_worker() ? "coordinator and worker" : "coordinator")
                                      : (is_worker() ? "worker" : "idle");
  return fmt::format("world {} ({}), rank {} {}: group {} tp_rank {} of {} group(s) x tp {}; node {}/{} local {} "
                     "device {}",
                     size_, source_, rank_, role, group_of(), tp_rank(), num_groups_, tp_, node_id_, num_nodes_,
                     local_rank_, local_device_);
}

WorldLayout WorldLayout::with_placement(int local_rank, int node_id, int num_nodes, int local_device,
                                        std::string source) const {
  WorldLayout w = *this;
  w.local_rank_ = local_rank;
  w.node_id_ = node_id;
  w.num_nodes_ = num_nodes;
  w.local_device_ = local_device;
  w.source_ = std::move(source);
  return w;
}

int count_device_list(const std::string& list) {
  if (list.empty() || list == "NoDevFiles") return 0;
  int n = 1;
  for (char c : list) n += c == ',';
  return n;
}

namespace {

int env_int(const std::map<std::string, std::string>& env, const std::string& name, bool required, int fallback = -1) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) {
    T2_CHECK_AS(UsageError, !required, "Slurm environment: {} is not set (is this process an srun task?)", name);
    return fallback;
  }
  const std::string& v = it->second;
  size_t used = 0;
  long x = -1;
  try {
    x = std::stol(v, &used);
  } catch (...) {
    used = 0;
  }
  T2_CHECK_AS(UsageError, used == v.size() && x >= 0 && x <= 1 << 24,
              "Slurm environment: {}='{}' is not a non-negative integer", name, v);
  return static_cast<int>(x);
}

// SLURM_GPUS_ON_NODE is a count; the lists name devices.
int visible_devices(const std::map<std::string, std::string>& env, std::string* from) {
  for (const char* name : {"CUDA_VISIBLE_DEVICES", "SLURM_STEP_GPUS"}) {
    auto it = env.find(name);
    if (it != env.end()) {
      *from = fmt::format("{}='{}'", name, it->second);
      return count_device_list(it->second);
    }
  }
  if (env.count("SLURM_GPUS_ON_NODE")) {
    *from = fmt::format("SLURM_GPUS_ON_NODE='{}'", env.at("SLURM_GPUS_ON_NODE"));
    return env_int(env, "SLURM_GPUS_ON_NODE", false, 0);
  }
  *from = "no GPU variable";
  return 0;
}

int device_for(int local_rank, int visible, const std::string& from) {
  if (visible == 0) return -1;
  if (visible == 1) return 0;  // one device per task: the scheduler already chose it
  T2_CHECK_AS(UsageError, local_rank < visible,
              "local rank {} has no GPU of its own: only {} visible ({}); use at most {} tasks per node", local_rank,
              visible, from, visible);
  return local_rank;
}

}  // namespace

std::map<std::string, std::string> WorldLayout::process_env() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq) env.emplace(std::string(*e, static_cast<size_t>(eq - *e)), std::string(eq + 1));
  }
  return env;
}

WorldLayout WorldLayout::from_slurm_env(const std::map<std::string, std::string>& env, int tp) {
  const int ntasks = env.count("SLURM_NPROCS") && !env.count("SLURM_NTASKS") ? env_int(env, "SLURM_NPROCS", true)
                                                                            : env_int(env, "SLURM_NTASKS", true);
  const int procid = env_int(env, "SLURM_PROCID", true);
  T2_CHECK_AS(UsageError, ntasks >= 1 && procid < ntasks,
              "Slurm environment: SLURM_PROCID={} is not below SLURM_NTASKS={}", procid, ntasks);
  const int localid = env_int(env, "SLURM_LOCALID", true);
  const int nodeid = env_int(env, "SLURM_NODEID", true);
  const int nnodes = env.count("SLURM_JOB_NUM_NODES") ? env_int(env, "SLURM_JOB_NUM_NODES", true)
                                                      : env_int(env, "SLURM_NNODES", true);
  T2_CHECK_AS(UsageError, nnodes >= 1 && nodeid < nnodes,
              "Slurm environment: SLURM_NODEID={} is not below SLURM_JOB_NUM_NODES={}", nodeid, nnodes);
  T2_CHECK_AS(UsageError, localid <= procid,
              "Slurm environment: SLURM_LOCALID={} cannot exceed SLURM_PROCID={}", localid, procid);
  std::string from;
  const int visible = visible_devices(env, &from);
  return make(ntasks, procid, tp).with_placement(localid, nodeid, nnodes, device_for(localid, visible, from), "slurm");
}

WorldLayout WorldLayout::from_mpi(int tp) {
  mpi_init();
  auto world = make_mpi_communicator(MpiCommunicatorOptions{"layout"});
  constexpr size_t kHost = 256;
  std::vector<char> mine(kHost, '\0');
  gethostname(mine.data(), kHost - 1);
  std::vector<char> all(kHost * static_cast<size_t>(world->size()));
  world->all_gather({mine.data(), kHost, DType::u8, -1}, {all.data(), all.size(), DType::u8, -1});
  // node ids in order of first appearance; the local rank counts earlier ranks on the same host
  std::vector<std::string> hosts;
  int node = -1, local = 0;
  for (int r = 0; r < world->size(); ++r) {
    const std::string h(all.data() + static_cast<size_t>(r) * kHost);
    int id = -1;
    for (size_t i = 0; i < hosts.size(); ++i)
      if (hosts[i] == h) id = static_cast<int>(i);
    if (id < 0) {
      id = static_cast<int>(hosts.size());
      hosts.push_back(h);
    }
    if (r == world->rank()) node = id;
    if (r < world->rank() && h == std::string(mine.data())) ++local;
  }
  std::string from = "no CUDA_VISIBLE_DEVICES";
  int visible = 0;
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) {
    visible = count_device_list(v);
    from = fmt::format("CUDA_VISIBLE_DEVICES='{}'", v);
  }
  return make(world->size(), world->rank(), tp)
      .with_placement(local, node, static_cast<int>(hosts.size()), device_for(local, visible, from), "mpi");
}

std::string WorldLayout::detect_launcher(const std::map<std::string, std::string>& env) {
  for (const char* k : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (env.count(k)) return "mpi";
  auto it = env.find("SLURM_STEP_NUM_TASKS");
  if (it == env.end()) it = env.find("SLURM_NTASKS");
  if (env.count("SLURM_STEP_ID") && it != env.end() && it->second != "1")
    T2_FAIL_AS(UsageError, "this process is one of {}={} srun tasks but no MPI was set up for them: launch with "
               "`srun --mpi=pmix` (or mpirun inside the allocation)", it->first, it->second);
  return "single";
}

WorldLayout WorldLayout::detect(int tp) {
  const auto env = process_env();
  if (detect_launcher(env) == "single") {
    T2_CHECK_AS(UsageError, tp == 1, "a single process cannot hold a tensor-parallel group of {}: run under "
                "`mpirun -np {}` or `srun --mpi=pmix`", tp, tp);
    return single();
  }
  WorldLayout w = from_mpi(tp);
  // srun: Slurm knows the GPUs of the step; under mpirun inside sbatch SLURM_PROCID is 0 everywhere,
  // so Slurm's view is used only when it matches MPI's
  if (env.count("SLURM_PROCID") && env.count("SLURM_STEP_ID")) {
    try {
      const WorldLayout s = from_slurm_env(env, tp);
      if (s.world_rank() == w.world_rank() && s.world_size() == w.world_size()) return s;
    } catch (const UsageError&) {
      // incomplete Slurm variables: keep MPI's view
    }
  }
  return w;
}

}  // namespace t2
