// Placement: the one rule that puts every rank of a run on a host, a device and a worker group.
// A pure function of what the ranks report about themselves (host, GPUs visible), the tensor-parallel
// degree and the campaign's `device`; WorldLayout (world-layout.h) is built from its answer, so no
// other code decides who works where.
//
// The rule, for a world of N ranks (rank i on host hosts[i], seeing gpus[i] CUDA devices):
//   coordinator  rank 0 coordinates. When N - 1 >= tp it only coordinates (its own task, no GPU, on a
//                node it may share with workers); when N - 1 < tp it also works (N must then be a
//                multiple of tp: the single-process run, mpirun -np tp). With several degrees rank 0
//                always only coordinates.
//   device kind  `cpu`: every rank on the CPU. `cuda`: every worker on a GPU; UsageError (exit 2) when
//                this t2 has no CUDA or a worker's host shows no GPU. `auto` (the default): CUDA when
//                this t2 has CUDA and every worker sees a GPU, the CPU otherwise.
//   groups       one tp, or several (a campaign whose models differ in size: one degree per model
//                shape, e.g. {8, 1}). Groups are formed in rounds: each round places one group of
//                every degree, largest first, until a round places none. A group whose tp fits one
//                node (its GPUs under CUDA, its worker ranks on the CPU) takes tp consecutive free
//                worker ranks of the first node that has that many; a group whose tp exceeds one
//                node takes the next tp free workers in node order (it spans nodes). Ranks left over
//                are idle. With one degree this is "cut every node's workers into groups of tp";
//                with {8, 1} on two nodes of 8 GPUs it is one TP-8 group on node 0 and eight TP-1
//                groups on node 1. Every degree must get at least one group (UsageError naming the
//                degree and the ranks needed). Groups are numbered by their first rank.
//   devices      a worker's GPU is cuda:<its index among the workers of its node> (cuda:0 when the
//                launcher shows each task exactly one GPU); UsageError when a node has more workers
//                than GPUs. The coordinator-only rank and idle ranks get the CPU (no GPU).
// Hosts are numbered in order of first appearance (node 0 is rank 0's host); a rank's local rank is
// the number of lower ranks on its host.
#pragma once

#include <string>
#include <vector>

namespace t2 {

struct PlacementInput {
  std::vector<std::string> hosts;  // host of each world rank (index = rank)
  std::vector<int> gpus;           // CUDA devices visible to each rank (0: none)
  int tp = 1;
  // Several degrees (one per model shape); empty: {tp}. Duplicates are ignored.
  std::vector<int> tps;
  std::string device = "auto";     // auto | cpu | cuda
  bool cuda_built = false;         // this t2 was built against a LibTorch with CUDA
};

struct RankPlace {
  int rank = 0;
  std::string host;
  int node = 0;         // host index, in order of first appearance
  int local_rank = 0;   // lower ranks on the same host
  int group = -1;       // worker group, -1 for the coordinator-only and idle ranks
  int tp_rank = -1;     // position inside the group
  std::string role;     // "coordinator", "coordinator+worker", "worker", "idle"
  std::string device;   // "cpu" or "cuda:N"
};

struct Placement {
  int tp = 1;                              // the largest degree
  std::vector<int> tps;                    // every degree, largest first
  std::vector<int> group_tp;               // degree of each group
  bool coordinator_works = false;
  std::string device_kind;                 // "cpu" or "cuda"
  std::string device_reason;               // why that kind ("device: auto and no GPU visible", ...)
  bool groups_span_nodes = false;
  std::vector<std::string> nodes;          // host names by node id
  std::vector<RankPlace> ranks;            // by world rank
  std::vector<std::vector<int>> groups;    // world ranks of each group, in TP order
  std::vector<int> idle;

  // "rank 3: host n1 (node 1, local 2), worker of group 1 (tp_rank 0), device cuda:2"
  std::string describe(int rank) const;
  // One line: "16 ranks on 2 node(s): 1 coordinator, 2 group(s) x tp 8 on cuda (...), 7 idle"
  std::string summary() const;
  // "group 1: tp 1, node n1, ranks 9" / "group 0: tp 8, node n0, ranks 1-8"
  std::string describe_group(int g) const;
  // The groups of degree `tp`.
  std::vector<int> groups_of_tp(int tp) const;
};

// The degrees to place for a set of per-model degrees: distinct, largest first.
std::vector<int> distinct_tps(std::vector<int> tps);

// Throws UsageError (naming the numbers and the fix) when no group fits (or a degree gets none), when
// CUDA is asked for and missing, or when a node has more workers than GPUs.
Placement place_ranks(const PlacementInput& in);

// Test seam: T2_TEST_HOSTS="a*9,b*8" (or "a,a,b") names the host of every rank, so that one machine
// can play a multi-node world. Expands the list; UsageError when it does not name `world_size` ranks.
std::vector<std::string> parse_test_hosts(const std::string& spec, int world_size);

}  // namespace t2
