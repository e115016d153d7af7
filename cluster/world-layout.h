// WorldLayout: which rank does what (DESIGN.md: rank 0 coordinates, the other ranks form worker
// groups of the allocation's TP degree). A value type built by validated factories; no rank
// arithmetic anywhere else (group_of, tp_rank and group_ranks answer every question).
//
// Rules, for a world of N ranks and tensor-parallel degree tp (one degree per allocation: t2 submit
// makes one allocation per resource shape):
//   N - 1 >= tp : rank 0 only coordinates; ranks 1..N-1 form floor((N-1)/tp) groups of tp
//                 consecutive ranks; the (N-1) % tp ranks left over are idle (they exit at once).
//   N - 1 <  tp : too few ranks for a dedicated coordinator, so rank 0 coordinates AND works; all N
//                 ranks form groups (N = 1, tp = 1 is the single-process run; N = tp = 2 is the
//                 "mpirun -np 2 gives the same logits as one rank" run). N must be a multiple of tp.
// Consecutive ranks share a node under both mpirun and srun's block distribution, so a group
// stays inside a node whenever tp divides the tasks per node.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace t2 {

class WorldLayout {
 public:
  // The layout of rank `rank` in a world of `size` ranks. Throws UsageError naming the numbers
  // when no group of `tp` ranks fits.
  static WorldLayout make(int size, int rank, int tp);

  // One process, no MPI: the coordinator is the only worker.
  static WorldLayout single() { return make(1, 0, 1); }

  // From MPI_COMM_WORLD (initialises MPI): rank and size from MPI; node id, local rank and the
  // number of nodes from the host names of all ranks (one all_gather with a deadline). The local
  // device is the local rank when CUDA_VISIBLE_DEVICES names more than one device, 0 when it names
  // one, -1 (CPU) when it is unset or empty.
  static WorldLayout from_mpi(int tp);

  // From the environment of an srun task: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NODEID,
  // SLURM_JOB_NUM_NODES (required) and CUDA_VISIBLE_DEVICES / SLURM_STEP_GPUS / SLURM_GPUS_ON_NODE
  // (the local device, in that order of preference). Errors name the variable and its value.
  static WorldLayout from_slurm_env(const std::map<std::string, std::string>& env, int tp);

  // What started this process, from its environment: "mpi" (mpirun, or srun --mpi=pmix: MPI/PMIx
  // variables present), "single" (a plain process). An srun step of several tasks without an MPI
  // plugin would give N independent singletons: UsageError naming SLURM_NTASKS and the fix.
  static std::string detect_launcher(const std::map<std::string, std::string>& env);

  // The layout of this process: from_mpi when detect_launcher says "mpi", else single() (tp must
  // then be 1). Under srun, the local device follows the Slurm variables when they agree with MPI.
  static WorldLayout detect(int tp);

  // The process environment as a map (for from_slurm_env).
  static std::map<std::string, std::string> process_env();

  int world_size() const { return size_; }
  int world_rank() const { return rank_; }
  int tp() const { return tp_; }
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
  const std::string& source() const { return source_; }  // "explicit", "mpi", "slurm"

  // "world 5 (mpi), rank 3: group 1 tp_rank 0 of 2 groups x tp 2; node 0/1 local 3 device -1"
  std::string describe() const;

  WorldLayout with_placement(int local_rank, int node_id, int num_nodes, int local_device, std::string source) const;

 private:
  WorldLayout() = default;
  int first_worker() const { return coordinator_works_ ? 0 : 1; }

  int size_ = 1, rank_ = 0, tp_ = 1, num_groups_ = 1;
  bool coordinator_works_ = true;
  int local_rank_ = 0, node_id_ = 0, num_nodes_ = 1, local_device_ = -1;
  std::string source_ = "explicit";
};

// Number of devices named by a CUDA_VISIBLE_DEVICES / SLURM_STEP_GPUS style list ("0,1,3" -> 3;
// "" or "NoDevFiles" -> 0).
int count_device_list(const std::string& list);

}  // namespace t2
