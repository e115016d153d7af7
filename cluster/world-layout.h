// WorldLayout: which rank does what (DESIGN.md: rank 0 coordinates, the other ranks form worker
// groups of the allocation's TP degree). A value type built by validated factories; no rank
// arithmetic anywhere else (group_of, tp_rank and group_ranks answer every question).
//
// The rule is cluster/placement.h's place_ranks (one rule for hosts, groups and devices):
//   N - 1 >= tp : rank 0 only coordinates (no GPU); the worker ranks of each node form groups of tp
//                 consecutive ranks, so a group never spans nodes unless tp exceeds one node; the
//                 ranks left over are idle (they exit at once).
//   N - 1 <  tp : too few ranks for a dedicated coordinator, so rank 0 coordinates AND works; all N
//                 ranks form groups (N = 1, tp = 1 is the single-process run; N = tp = 2 is the
//                 "mpirun -np 2 gives the same logits as one rank" run). N must be a multiple of tp.
// make() places every rank on one host on the CPU (the arithmetic above with one node); from_mpi and
// detect place the real world: host names gathered over MPI (or T2_TEST_HOSTS, the test seam),
// GPUs visible per rank, and the campaign's device.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/placement.h"

namespace t2 {

// What a rank asks of placement: the campaign's device and what this process can see.
struct PlacementRequest {
  std::string device = "cpu";   // auto | cpu | cuda
  bool cuda_built = false;      // this t2 has CUDA
  int gpus_visible = -1;        // CUDA devices this process sees; -1: count CUDA_VISIBLE_DEVICES
};

class WorldLayout {
 public:
  // The layout of rank `rank` in a world of `size` ranks. Throws UsageError naming the numbers
  // when no group of `tp` ranks fits.
  static WorldLayout make(int size, int rank, int tp);
  // Groups of several degrees (one per model shape; placement.h's rounds), one host, the CPU.
  static WorldLayout make(int size, int rank, const std::vector<int>& tps);

  // One process, no MPI: the coordinator is the only worker.
  static WorldLayout single() { return make(1, 0, 1); }

  using Request = PlacementRequest;

  // The layout of rank `rank` under a placement (place_ranks).
  static WorldLayout from_placement(const Placement& p, int rank, std::string source);

  // From MPI_COMM_WORLD (initialises MPI): rank and size from MPI; the host names and GPU counts of
  // all ranks gathered (one all_gather each, with a deadline; T2_TEST_HOSTS replaces the host
  // names), then place_ranks. Every rank computes the same placement.
  static WorldLayout from_mpi(int tp, const Request& req = {});
  // Groups of several degrees (a campaign whose models differ in size).
  static WorldLayout from_mpi(const std::vector<int>& tps, const Request& req = {});

  // From the environment of an srun task: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NODEID,
  // SLURM_JOB_NUM_NODES (required) and CUDA_VISIBLE_DEVICES / SLURM_STEP_GPUS / SLURM_GPUS_ON_NODE
  // (the local device, in that order of preference). Errors name the variable and its value.
  static WorldLayout from_slurm_env(const std::map<std::string, std::string>& env, int tp);

  // What started this process, from its environment: "mpi" (mpirun, or srun --mpi=pmix: MPI/PMIx
  // variables present), "single" (a plain process). An srun step of several tasks without an MPI
  // plugin would give N independent singletons: UsageError naming SLURM_NTASKS and the fix.
  static std::string detect_launcher(const std::map<std::string, std::string>& env);

  // The layout of this process: from_mpi when detect_launcher says "mpi", else one process placed
  // alone (tp must then be 1).
  static WorldLayout detect(int tp, const Request& req = {});
  static WorldLayout detect(const std::vector<int>& tps, const Request& req = {});

  // The process environment as a map (for from_slurm_env).
  static std::map<std::string, std::string> process_env();

  int world_size() const { return size_; }
  int world_rank() const { return rank_; }
  // The degree of this rank's group; the largest degree for ranks outside every group.
  int tp() const { return tp_; }
  // The degree of group g, and every degree of the world (largest first).
  int group_tp(int g) const;
  const std::vector<int>& tps() const { return placement_->tps; }
  int coordinator_rank() const { return 0; }
  bool is_coordinator() const { return rank_ == 0; }
  bool coordinator_works() const { return coordinator_works_; }
  int num_groups() const { return num_groups_; }

  // The worker group of `rank` (default: this rank), or -1 for a coordinator that does not work and
  // for idle ranks.
  int group_of(int rank) const;
  int group_of() const { return group_of(rank_); }
  // Position of `rank` inside its group (0..tp-1), or -1 outside every group.
  int tp_rank(int rank) const;
  int tp_rank() const { return tp_rank(rank_); }
  bool is_worker() const { return group_of() >= 0; }
  bool is_idle() const { return !is_coordinator() && !is_worker(); }
  // World ranks of group g, in TP order.
  std::vector<int> group_ranks(int g) const;
  std::vector<int> idle_ranks() const;

  // Placement of this rank (filled by the MPI and Slurm factories; defaults for make()).
  int local_rank() const { return local_rank_; }
  int node_id() const { return node_id_; }
  int num_nodes() const { return num_nodes_; }
  int local_device() const { return local_device_; }  // CUDA device index, -1 for CPU
  // "cpu" or "cuda:N": where this rank's tensors live (the coordinator-only rank: "cpu")
  std::string device() const { return local_device_ >= 0 ? "cuda:" + std::to_string(local_device_) : "cpu"; }
  const std::string& source() const { return source_; }  // "explicit", "mpi", "slurm"
  // The placement of every rank (host, device, group); for logs and run.h5.
  const Placement& placement() const { return *placement_; }

  // "world 5 (mpi), rank 3: group 1 tp_rank 0 of 2 groups x tp 2; node 0/1 local 3 device -1"
  std::string describe() const;

  WorldLayout with_placement(int local_rank, int node_id, int num_nodes, int local_device, std::string source) const;

 private:
  WorldLayout() = default;

  std::shared_ptr<const Placement> placement_;
  int size_ = 1, rank_ = 0, tp_ = 1, num_groups_ = 1;
  bool coordinator_works_ = true;
  int local_rank_ = 0, node_id_ = 0, num_nodes_ = 1, local_device_ = -1;
  std::string source_ = "explicit";
};

// This rank's position among the ranks of `comm` on the same host (host names gathered over `comm`
// with its deadline; T2_TEST_HOSTS, when set, names the hosts of comm's ranks instead).
class Communicator;
int host_local_rank(Communicator& comm);

// Number of devices named by a CUDA_VISIBLE_DEVICES / SLURM_STEP_GPUS style list ("0,1,3" -> 3;
// "" or "NoDevFiles" -> 0).
int count_device_list(const std::string& list);

}  // namespace t2
