#include "cluster/slurm-allocation.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/check.h"

namespace t2 {

std::vector<std::string> plane_distribution_hosts(int nodes, int ntasks, int plane) {
  T2_CHECK_AS(UsageError, nodes >= 1 && ntasks >= nodes && plane >= 1,
              "slurm allocation: {} task(s) in planes of {} cannot cover {} node(s)", ntasks, plane, nodes);
  std::vector<std::string> hosts;
  for (int r = 0; r < ntasks; ++r) hosts.push_back("node" + std::to_string((r / plane) % nodes));
  return hosts;
}

namespace {

Placement place_gpu_world(const std::vector<int>& tps, int nodes, int ntasks, int g) {
  PlacementInput in;
  in.hosts = plane_distribution_hosts(nodes, ntasks, g);
  in.gpus.assign(in.hosts.size(), g);
  in.tps = tps;
  in.device = "cuda";
  in.cuda_built = true;
  return place_ranks(in);
}

}  // namespace

SlurmAllocation plan_slurm_allocation(const std::vector<int>& tps_in, int min_nodes, int gpus_per_node) {
  const std::vector<int> tps = distinct_tps(tps_in.empty() ? std::vector<int>{1} : tps_in);
  T2_CHECK_AS(UsageError, tps.back() >= 1, "slurm allocation: tensor-parallel degree must be >= 1, got {}", tps.back());
  SlurmAllocation a;
  const int asked = std::max(1, min_nodes);
  const int g = gpus_per_node;
  if (g <= 0) {
    int workers = 0;
    for (int t : tps) workers += t;
    a.nodes = asked;
    a.ntasks = std::max(1 + workers, asked);
    PlacementInput in;
    in.hosts.assign(static_cast<size_t>(a.ntasks), "node0");
    in.gpus.assign(in.hosts.size(), 0);
    in.tps = tps;
    in.device = "cpu";
    a.placement = place_ranks(in);
    return a;
  }
  std::string last_error;
  for (int n = asked; n <= asked + 64; ++n) {
    try {
      a.placement = place_gpu_world(tps, n, n * g + 1, g);
    } catch (const UsageError& e) {
      last_error = e.what();
      continue;
    }
    if (a.placement.coordinator_works) continue;  // too few GPUs for a group beside the coordinator
    a.nodes = n;
    a.ntasks = n * g + 1;
    break;
  }
  T2_CHECK_AS(UsageError, a.ntasks > 1,
              "slurm: no allocation of {} to {} node(s) with {} GPU(s) each holds worker groups of tp {}: {}", asked,
              asked + 64, g, fmt::join(tps, ", "), last_error);
  a.ntasks_per_node = g + 1;
  a.gpus_per_node = g;
  a.distribution = fmt::format("plane={}", g);
  if (a.nodes != asked) {
    std::vector<std::string> kinds;
    for (int t : tps) kinds.push_back(fmt::format("{} group(s) of tp {}", a.placement.groups_of_tp(t).size(), t));
    a.nodes_note = fmt::format("slurm.nodes is {}; {} node(s) of {} GPU(s) are requested: the coordinator's own task "
                               "plus {}", asked, a.nodes, g, fmt::join(kinds, " + "));
  }
  return a;
}

}  // namespace t2
