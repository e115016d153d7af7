#include "cluster/world-layout.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "cluster/communicator-mpi.h"
#include "cluster/mpi-runtime.h"
#include "core/check.h"

extern char** environ;

namespace t2 {

WorldLayout WorldLayout::make(int size, int rank, int tp) { return make(size, rank, std::vector<int>{tp}); }

WorldLayout WorldLayout::make(int size, int rank, const std::vector<int>& tps) {
  T2_CHECK_AS(UsageError, size >= 1, "world layout: world size must be >= 1, got {}", size);
  T2_CHECK_AS(UsageError, rank >= 0 && rank < size, "world layout: rank {} outside a world of {} ranks", rank, size);
  PlacementInput in;
  in.hosts.assign(static_cast<size_t>(size), "localhost");
  in.gpus.assign(static_cast<size_t>(size), 0);
  in.tps = tps;
  in.device = "cpu";
  WorldLayout w = from_placement(place_ranks(in), rank, "explicit");
  // no placement known: the defaults (one node, local rank 0, CPU)
  w.local_rank_ = 0;
  return w;
}

WorldLayout WorldLayout::from_placement(const Placement& p, int rank, std::string source) {
  const int size = static_cast<int>(p.ranks.size());
  T2_CHECK_AS(UsageError, rank >= 0 && rank < size, "world layout: rank {} outside a world of {} ranks", rank, size);
  WorldLayout w;
  w.placement_ = std::make_shared<const Placement>(p);
  w.size_ = size;
  w.rank_ = rank;
  w.coordinator_works_ = p.coordinator_works;
  w.num_groups_ = static_cast<int>(p.groups.size());
  const RankPlace& me = p.ranks[static_cast<size_t>(rank)];
  w.tp_ = me.group >= 0 ? p.group_tp[static_cast<size_t>(me.group)] : p.tp;
  w.local_rank_ = me.local_rank;
  w.node_id_ = me.node;
  w.num_nodes_ = static_cast<int>(p.nodes.size());
  w.local_device_ = me.device.rfind("cuda:", 0) == 0 ? std::stoi(me.device.substr(5)) : -1;
  w.source_ = std::move(source);
  return w;
}

int WorldLayout::group_of(int rank) const {
  T2_CHECK(rank >= 0 && rank < size_, "group_of: rank {} outside a world of {}", rank, size_);
  return placement_->ranks[static_cast<size_t>(rank)].group;
}

int WorldLayout::tp_rank(int rank) const {
  T2_CHECK(rank >= 0 && rank < size_, "tp_rank: rank {} outside a world of {}", rank, size_);
  return placement_->ranks[static_cast<size_t>(rank)].tp_rank;
}

int WorldLayout::group_tp(int g) const {
  T2_CHECK(g >= 0 && g < num_groups_, "group_tp: group {} of {}", g, num_groups_);
  return placement_->group_tp[static_cast<size_t>(g)];
}

std::vector<int> WorldLayout::group_ranks(int g) const {
  T2_CHECK(g >= 0 && g < num_groups_, "group_ranks: group {} of {}", g, num_groups_);
  return placement_->groups[static_cast<size_t>(g)];
}

std::vector<int> WorldLayout::idle_ranks() const { return placement_->idle; }

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

namespace {

std::vector<std::string> gather_hosts(Communicator& comm) {
  constexpr size_t kHost = 256;
  std::vector<char> mine(kHost, '\0');
  gethostname(mine.data(), kHost - 1);
  std::vector<char> all(kHost * static_cast<size_t>(comm.size()));
  comm.all_gather({mine.data(), kHost, DType::u8, -1}, {all.data(), all.size(), DType::u8, -1});
  std::vector<std::string> hosts;
  for (int r = 0; r < comm.size(); ++r) hosts.emplace_back(all.data() + static_cast<size_t>(r) * kHost);
  if (const char* test_hosts = std::getenv("T2_TEST_HOSTS"); test_hosts && *test_hosts)
    hosts = parse_test_hosts(test_hosts, comm.size());
  return hosts;
}

}  // namespace

int host_local_rank(Communicator& comm) {
  const auto hosts = gather_hosts(comm);
  int local = 0;
  for (int r = 0; r < comm.rank(); ++r) local += hosts[static_cast<size_t>(r)] == hosts[static_cast<size_t>(comm.rank())];
  return local;
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

WorldLayout WorldLayout::from_mpi(int tp, const Request& req) { return from_mpi(std::vector<int>{tp}, req); }

WorldLayout WorldLayout::from_mpi(const std::vector<int>& tps, const Request& req) {
  mpi_init();
  auto world = make_mpi_communicator(MpiCommunicatorOptions{"layout"});
  PlacementInput in;
  in.hosts = gather_hosts(*world);
  int32_t gpus = req.gpus_visible;
  if (gpus < 0) {
    const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
    gpus = v ? count_device_list(v) : 0;
  }
  std::vector<int32_t> all_gpus(static_cast<size_t>(world->size()));
  world->all_gather({&gpus, 1, DType::i32, -1}, {all_gpus.data(), all_gpus.size(), DType::i32, -1});
  in.gpus.assign(all_gpus.begin(), all_gpus.end());
  in.tps = tps;
  in.device = req.device;
  in.cuda_built = req.cuda_built;
  // Launched by srun (its step's task ids are MPI's): say so; the layout itself comes from the hosts.
  std::string source = "mpi";
  const auto env = process_env();
  auto procid = env.find("SLURM_PROCID");
  auto ntasks = env.find("SLURM_STEP_NUM_TASKS");
  if (ntasks == env.end()) ntasks = env.find("SLURM_NTASKS");
  if (procid != env.end() && ntasks != env.end() && env.count("SLURM_STEP_ID") &&
      procid->second == std::to_string(world->rank()) && ntasks->second == std::to_string(world->size()))
    source = "slurm";
  return from_placement(place_ranks(in), world->rank(), source);
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

WorldLayout WorldLayout::detect(int tp, const Request& req) { return detect(std::vector<int>{tp}, req); }

WorldLayout WorldLayout::detect(const std::vector<int>& tps, const Request& req) {
  const auto env = process_env();
  const std::vector<int> degrees = distinct_tps(tps);
  const int tp = degrees.empty() ? 1 : degrees.front();
  if (detect_launcher(env) == "single") {
    T2_CHECK_AS(UsageError, tp == 1, "a single process cannot hold a tensor-parallel group of {}: run under "
                "`mpirun -np {}` or `srun --mpi=pmix`", tp, degrees.size() > 1 ? 1 + [&] {
                  int s = 0;
                  for (int t : degrees) s += t;
                  return s;
                }() : tp);
    PlacementInput in;
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    in.hosts = {host};
    int gpus = req.gpus_visible;
    if (gpus < 0) {
      auto it = env.find("CUDA_VISIBLE_DEVICES");
      gpus = it == env.end() ? 0 : count_device_list(it->second);
    }
    in.gpus = {gpus};
    in.tp = 1;
    in.device = req.device;
    in.cuda_built = req.cuda_built;
    return from_placement(place_ranks(in), 0, "single");
  }
  return from_mpi(degrees, req);
}

}  // namespace t2
