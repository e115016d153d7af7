// The Slurm allocation a campaign asks for: derived from the placement rule (cluster/placement.h) on
// the very world srun will start in it, so that `t2 submit` requests exactly what the layout uses.
//
// GPU nodes (gpus_per_node = G > 0): the coordinator is a task of its own on node 0 (no GPU) and
// every other task is one worker with one GPU: node 0 runs G + 1 tasks, every other node G, all
// seeing the node's G GPUs (--gpus-per-node=G). In sbatch and srun terms: --nodes=N --ntasks=N*G+1
// --ntasks-per-node=G+1 (the most a node gets) --gpus-per-node=G --distribution=plane=G: blocks of G
// consecutive ranks go to the nodes in turn (ranks 0..G-1 on node 0, G..2G-1 on node 1, ...), and the
// one rank left over, N*G, goes to node 0 again. (Block distribution would give G + 1 tasks to every
// node but the last.) N is the smallest number of nodes, at least the campaign's `slurm.nodes`, on
// which the placement finds one group of every degree (e.g. tp {8, 1} on 8-GPU nodes: 2 nodes, one
// TP-8 group on node 0 and eight TP-1 groups on node 1). Ranks no group takes (tp not dividing the
// GPUs of a node) are reported as idle in the layout.
// CPU (G = 0): one task per worker plus the coordinator, T = max(1 + sum of the degrees, nodes);
// the placement is computed as if the tasks shared node 0 (Slurm decides how they are spread).
#pragma once

#include <string>
#include <vector>

#include "cluster/placement.h"

namespace t2 {

struct SlurmAllocation {
  int nodes = 1;
  int ntasks = 1;
  int ntasks_per_node = 0;   // 0: not requested (CPU)
  int gpus_per_node = 0;     // 0: no GPU request
  std::string distribution;  // "plane=G" on GPU nodes, "" on the CPU
  Placement placement;       // the layout of that world (placement.h), host names "node0", "node1", ...
  std::string nodes_note;    // why more nodes than asked for ("" when as asked)
};

// Throws UsageError when no number of nodes up to min_nodes + 64 holds a group of every degree.
SlurmAllocation plan_slurm_allocation(const std::vector<int>& tps, int min_nodes, int gpus_per_node);

// The host of each rank srun starts with --nodes=nodes --ntasks=ntasks --distribution=plane=plane:
// rank r on node (r / plane) mod nodes, named "node<i>".
std::vector<std::string> plane_distribution_hosts(int nodes, int ntasks, int plane);

}  // namespace t2
