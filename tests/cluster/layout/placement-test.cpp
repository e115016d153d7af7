// place_ranks over many cluster shapes: 1x8, 2x8, 16x8 GPUs; tp 1, 2, 8 (and 16); the coordinator on a
// node of its own or sharing one with workers; device auto / cpu / cuda; Slurm's one-GPU-per-task.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cluster/placement.h"
#include "core/error.h"

using t2::Placement;
using t2::PlacementInput;
using t2::place_ranks;

namespace {

// `nodes` nodes of `per_node` ranks each seeing `gpus` GPUs; with `own_node` the coordinator is a
// task on a head node of its own, otherwise it is one more task on node 0.
PlacementInput cluster(int nodes, int per_node, int gpus, int tp, bool own_node, std::string device = "auto",
                       bool cuda_built = true) {
  PlacementInput in;
  in.hosts.push_back(own_node ? "head" : "n0");
  in.gpus.push_back(own_node ? 0 : gpus);
  for (int n = 0; n < nodes; ++n)
    for (int i = 0; i < per_node; ++i) {
      in.hosts.push_back("n" + std::to_string(n));
      in.gpus.push_back(gpus);
    }
  in.tp = tp;
  in.device = std::move(device);
  in.cuda_built = cuda_built;
  return in;
}

std::string usage_error_of(const PlacementInput& in) {
  try {
    place_ranks(in);
  } catch (const t2::UsageError& e) {
    return e.what();
  }
  return "";
}

// What must hold for every placement: groups of tp, each rank in at most one group, a group inside one
// node unless groups span nodes, one GPU per working rank per node, no GPU for ranks that do not work.
void expect_sound(const Placement& p, const PlacementInput& in) {
  std::set<int> seen;
  for (size_t g = 0; g < p.groups.size(); ++g) {
    ASSERT_EQ(p.group_tp.size(), p.groups.size());
    ASSERT_EQ(static_cast<int>(p.groups[g].size()), p.group_tp[g]);
    if (g > 0) {
      EXPECT_LT(p.groups[g - 1][0], p.groups[g][0]) << "groups are numbered by first rank";
    }
    std::set<int> nodes;
    for (size_t i = 0; i < p.groups[g].size(); ++i) {
      const int r = p.groups[g][i];
      EXPECT_TRUE(seen.insert(r).second) << "rank " << r << " in two groups";
      EXPECT_EQ(p.ranks[static_cast<size_t>(r)].group, static_cast<int>(g));
      EXPECT_EQ(p.ranks[static_cast<size_t>(r)].tp_rank, static_cast<int>(i));
      nodes.insert(p.ranks[static_cast<size_t>(r)].node);
    }
    if (!p.groups_span_nodes || p.group_tp[g] <= 8) {
      EXPECT_EQ(nodes.size(), 1u) << "group " << g << " spans nodes: " << p.summary();
    }
  }
  std::map<std::string, std::set<std::string>> used;  // host -> GPUs given out
  for (const auto& r : p.ranks) {
    if (r.group < 0) {
      EXPECT_EQ(r.device, "cpu") << p.describe(r.rank);
      continue;
    }
    if (p.device_kind == "cpu") {
      EXPECT_EQ(r.device, "cpu");
      continue;
    }
    ASSERT_EQ(r.device.rfind("cuda:", 0), 0u) << p.describe(r.rank);
    const int index = std::stoi(r.device.substr(5));
    EXPECT_LT(index, in.gpus[static_cast<size_t>(r.rank)]) << p.describe(r.rank);
    if (in.gpus[static_cast<size_t>(r.rank)] > 1)
      EXPECT_TRUE(used[r.host].insert(r.device).second) << "two ranks on " << r.device << " of " << r.host;
  }
  EXPECT_EQ(seen.size() + p.idle.size() + (p.coordinator_works ? 0 : 1), p.ranks.size());
}

}  // namespace

TEST(Placement, OneNodeOfEightGpus) {
  // coordinator + 8 workers on one node: tp 1 -> 8 groups, tp 2 -> 4, tp 8 -> 1; cuda:0..7 in rank order
  for (int tp : {1, 2, 8}) {
    auto in = cluster(1, 8, 8, tp, false);
    Placement p = place_ranks(in);
    SCOPED_TRACE(p.summary());
    expect_sound(p, in);
    EXPECT_EQ(p.device_kind, "cuda");
    EXPECT_FALSE(p.coordinator_works);
    EXPECT_EQ(static_cast<int>(p.groups.size()), 8 / tp);
    EXPECT_EQ(p.ranks[0].role, "coordinator");
    EXPECT_EQ(p.ranks[0].device, "cpu");
    for (int r = 1; r <= 8; ++r) EXPECT_EQ(p.ranks[static_cast<size_t>(r)].device, "cuda:" + std::to_string(r - 1));
    EXPECT_TRUE(p.idle.empty());
  }
  // mpirun -np 8 on the node: 7 workers left; tp 8 needs rank 0 to work too (cuda:0)
  {
    PlacementInput in;
    in.hosts.assign(8, "n0");
    in.gpus.assign(8, 8);
    in.tp = 8;
    in.cuda_built = true;
    Placement p = place_ranks(in);
    expect_sound(p, in);
    EXPECT_TRUE(p.coordinator_works);
    EXPECT_EQ(p.ranks[0].role, "coordinator+worker");
    EXPECT_EQ(p.ranks[0].device, "cuda:0");
    EXPECT_EQ(p.ranks[7].device, "cuda:7");
    // ... and tp 2: the coordinator only coordinates; 3 groups, 1 idle rank without a GPU
    in.tp = 2;
    p = place_ranks(in);
    expect_sound(p, in);
    EXPECT_EQ(p.groups.size(), 3u);
    EXPECT_EQ(p.idle, std::vector<int>{7});
    EXPECT_EQ(p.ranks[7].device, "cpu");
  }
}

TEST(Placement, TwoNodesGroupsNeverSpanNodes) {
  for (bool own : {true, false})
    for (int tp : {1, 2, 8}) {
      auto in = cluster(2, 8, 8, tp, own);
      Placement p = place_ranks(in);
      SCOPED_TRACE(p.summary());
      expect_sound(p, in);
      EXPECT_FALSE(p.groups_span_nodes);
      EXPECT_EQ(static_cast<int>(p.groups.size()), 16 / tp);
      EXPECT_EQ(p.nodes.size(), own ? 3u : 2u);
      EXPECT_EQ(p.ranks[0].device, "cpu");
    }
  // tp 8 with the coordinator sharing node 0: groups {1..8} on n0 and {9..16} on n1, cuda:0..7 each
  Placement p = place_ranks(cluster(2, 8, 8, 8, false));
  EXPECT_EQ(p.groups[0], (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(p.groups[1], (std::vector<int>{9, 10, 11, 12, 13, 14, 15, 16}));
  EXPECT_EQ(p.ranks[9].device, "cuda:0");
  EXPECT_EQ(p.ranks[16].device, "cuda:7");
}

TEST(Placement, StraddlingRanksAreIdleNotSplitAcrossNodes) {
  // mpirun -np 17 filling node 0 with 8 ranks (the coordinator among them) and node 1 with 9: with tp 8
  // the 7 workers of node 0 cannot form a group of their own, so they idle rather than straddle.
  PlacementInput in;
  for (int r = 0; r < 17; ++r) {
    in.hosts.push_back(r < 8 ? "n0" : "n1");
    in.gpus.push_back(8);
  }
  in.tp = 8;
  in.cuda_built = true;
  Placement p = place_ranks(in);
  expect_sound(p, in);
  ASSERT_EQ(p.groups.size(), 1u);
  EXPECT_EQ(p.groups[0], (std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(p.idle, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 16}));
}

TEST(Placement, SixteenNodesOfEight) {
  for (bool own : {true, false})
    for (int tp : {1, 2, 8}) {
      auto in = cluster(16, 8, 8, tp, own);
      Placement p = place_ranks(in);
      SCOPED_TRACE(p.summary());
      expect_sound(p, in);
      EXPECT_EQ(static_cast<int>(p.groups.size()), 128 / tp);
      EXPECT_TRUE(p.idle.empty());
      EXPECT_EQ(p.ranks[0].device, "cpu");
      EXPECT_EQ(p.ranks[0].role, "coordinator");
    }
  // tp 16 exceeds a node: groups span exactly two nodes each, in node order
  auto in = cluster(16, 8, 8, 16, true);
  Placement p = place_ranks(in);
  expect_sound(p, in);
  EXPECT_TRUE(p.groups_span_nodes);
  ASSERT_EQ(p.groups.size(), 8u);
  for (const auto& g : p.groups) {
    std::set<int> nodes;
    for (int r : g) nodes.insert(p.ranks[static_cast<size_t>(r)].node);
    EXPECT_EQ(nodes.size(), 2u);
  }
}

TEST(Placement, OneGpuPerTaskGivesCudaZero) {
  // srun --gpus-per-task=1: every task sees exactly its own GPU
  auto in = cluster(2, 8, 1, 8, true);
  Placement p = place_ranks(in);
  expect_sound(p, in);
  EXPECT_FALSE(p.groups_span_nodes);
  EXPECT_EQ(p.groups.size(), 2u);
  for (const auto& r : p.ranks)
    if (r.group >= 0) EXPECT_EQ(r.device, "cuda:0");
}

TEST(Placement, DeviceKind) {
  // auto: CUDA only when built with it and every worker sees a GPU
  EXPECT_EQ(place_ranks(cluster(1, 2, 0, 1, false, "auto", true)).device_kind, "cpu");
  EXPECT_EQ(place_ranks(cluster(1, 2, 8, 1, false, "auto", false)).device_kind, "cpu");
  EXPECT_EQ(place_ranks(cluster(1, 2, 8, 1, false, "auto", true)).device_kind, "cuda");
  EXPECT_EQ(place_ranks(cluster(1, 2, 8, 1, false, "cpu", true)).device_kind, "cpu");
  // a coordinator on a GPU-less head node does not make auto fall back to the CPU
  EXPECT_EQ(place_ranks(cluster(1, 2, 8, 1, true, "auto", true)).device_kind, "cuda");
  // cuda where there is none: a clear UsageError
  std::string m = usage_error_of(cluster(1, 2, 8, 1, false, "cuda", false));
  EXPECT_NE(m.find("built against a LibTorch without CUDA"), std::string::npos) << m;
  EXPECT_NE(m.find("device: cpu"), std::string::npos) << m;
  m = usage_error_of(cluster(1, 2, 0, 1, false, "cuda", true));
  EXPECT_NE(m.find("sees no GPU"), std::string::npos) << m;
  m = usage_error_of(cluster(1, 2, 0, 1, false, "gpu", true));
  EXPECT_NE(m.find("expected auto, cpu or cuda"), std::string::npos) << m;
}

TEST(Placement, CpuOnlyWorldMatchesTheOldArithmeticOnOneHost) {
  // one host, CPU: ranks 1.. in consecutive groups, the rest idle (WorldLayout::make's rule)
  PlacementInput in;
  in.hosts.assign(6, "localhost");
  in.gpus.assign(6, 0);
  in.tp = 2;
  Placement p = place_ranks(in);
  EXPECT_EQ(p.device_kind, "cpu");
  EXPECT_EQ(p.groups, (std::vector<std::vector<int>>{{1, 2}, {3, 4}}));
  EXPECT_EQ(p.idle, std::vector<int>{5});
  for (const auto& r : p.ranks) EXPECT_EQ(r.device, "cpu");
}

// Several degrees in one world (a campaign with a 70B at tp 8 and 8B models at tp 1): one coordinator,
// groups formed in rounds of one group per degree, largest first, each inside one node.
TEST(Placement, MixedDegreesFormNodeAlignedGroupsOfEach) {
  // 2 nodes of 8 GPUs, the coordinator an extra task on node 0: one TP-8 group (node 0), eight TP-1 (node 1)
  auto in = cluster(2, 8, 8, 1, false);
  in.tps = {1, 8, 1};  // duplicates and order do not matter
  Placement p = place_ranks(in);
  SCOPED_TRACE(p.summary());
  expect_sound(p, in);
  EXPECT_EQ(p.tp, 8);
  EXPECT_EQ(p.tps, (std::vector<int>{8, 1}));
  EXPECT_FALSE(p.coordinator_works);
  EXPECT_EQ(p.ranks[0].role, "coordinator");
  EXPECT_EQ(p.ranks[0].device, "cpu");
  ASSERT_EQ(p.groups.size(), 9u);
  EXPECT_EQ(p.groups[0], (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(p.group_tp[0], 8);
  for (int g = 1; g <= 8; ++g) {
    EXPECT_EQ(p.groups[static_cast<size_t>(g)], std::vector<int>{8 + g});
    EXPECT_EQ(p.group_tp[static_cast<size_t>(g)], 1);
    EXPECT_EQ(p.ranks[static_cast<size_t>(8 + g)].device, "cuda:" + std::to_string(g - 1));
  }
  EXPECT_TRUE(p.idle.empty());
  EXPECT_NE(p.summary().find("1 group(s) x tp 8 + 8 group(s) x tp 1"), std::string::npos);
  EXPECT_EQ(p.describe_group(0), "group 0: tp 8, node n0, ranks 1-8, devices cuda");
  EXPECT_EQ(p.describe_group(1), "group 1: tp 1, node n1, rank 9, devices cuda");

  // 16 nodes: the rounds give both degrees the same number of groups while room lasts: 14 TP-8 groups
  // (nodes 0, 2-9, 12-15... one per round) and 16 TP-1 groups (nodes 1 and 10); 3 degrees on one node
  // of 8: 4 + 2 + 1, then one more tp 1 in the round where 4 and 2 find no room
  in = cluster(16, 8, 8, 1, false);
  in.tps = {8, 1};
  p = place_ranks(in);
  expect_sound(p, in);
  EXPECT_EQ(p.groups_of_tp(8).size(), 14u);
  EXPECT_EQ(p.groups_of_tp(1).size(), 16u);
  EXPECT_TRUE(p.idle.empty());
  in = cluster(1, 8, 8, 1, false);
  in.tps = {4, 2, 1};
  p = place_ranks(in);
  expect_sound(p, in);
  EXPECT_EQ(p.groups_of_tp(4).size(), 1u);
  EXPECT_EQ(p.groups_of_tp(2).size(), 1u);
  EXPECT_EQ(p.groups_of_tp(1).size(), 2u);

  // CPU, one host, mpirun -np 5 with tp {2, 1}: {1,2} tp 2, {3} and {4} tp 1
  PlacementInput cpu;
  cpu.hosts.assign(5, "localhost");
  cpu.gpus.assign(5, 0);
  cpu.tps = {2, 1};
  p = place_ranks(cpu);
  expect_sound(p, cpu);
  EXPECT_EQ(p.groups, (std::vector<std::vector<int>>{{1, 2}, {3}, {4}}));
  EXPECT_EQ(p.group_tp, (std::vector<int>{2, 1, 1}));

  // a degree that spans nodes beside one that does not: tp 16 over two whole nodes, tp 1 on the third
  in = cluster(3, 8, 8, 1, true);
  in.tps = {16, 1};
  p = place_ranks(in);
  expect_sound(p, in);
  EXPECT_TRUE(p.groups_span_nodes);
  EXPECT_EQ(p.groups_of_tp(16).size(), 1u);
  EXPECT_EQ(p.groups_of_tp(1).size(), 8u);
}

TEST(Placement, MixedDegreesWithoutRoomForEveryDegreeIsAUsageError) {
  // one node of 8: the TP-8 group takes every GPU, nothing is left for the tp-1 models
  auto in = cluster(1, 8, 8, 1, false);
  in.tps = {8, 1};
  const std::string m = usage_error_of(in);
  EXPECT_NE(m.find("no room for a worker group of tp 1"), std::string::npos) << m;
  EXPECT_NE(m.find("at least 10 ranks"), std::string::npos) << m;
  // several degrees never make rank 0 work: mpirun -np 3 with {2, 1} has no room for both
  PlacementInput cpu;
  cpu.hosts.assign(3, "localhost");
  cpu.gpus.assign(3, 0);
  cpu.tps = {2, 1};
  EXPECT_NE(usage_error_of(cpu).find("no room for a worker group of tp 1"), std::string::npos);
}

TEST(Placement, TooManyWorkersForTheGpus) {
  auto in = cluster(1, 9, 8, 1, true);
  const std::string m = usage_error_of(in);
  EXPECT_NE(m.find("more worker ranks than GPUs"), std::string::npos) << m;
  EXPECT_NE(m.find("at most 8 worker rank(s) per node"), std::string::npos) << m;
}

TEST(Placement, TestHostsSeam) {
  EXPECT_EQ(t2::parse_test_hosts("a*2,b", 3), (std::vector<std::string>{"a", "a", "b"}));
  EXPECT_THROW(t2::parse_test_hosts("a*2,b", 4), t2::UsageError);
  EXPECT_THROW(t2::parse_test_hosts("a*x", 1), t2::UsageError);
  EXPECT_THROW(t2::parse_test_hosts("a,,b", 3), t2::UsageError);
}

TEST(Placement, DescribeNamesHostDeviceAndGroup) {
  Placement p = place_ranks(cluster(1, 2, 2, 1, false));
  EXPECT_EQ(p.describe(0), "rank 0: host n0 (node 0, local 0), coordinator, device cpu");
  EXPECT_EQ(p.describe(2), "rank 2: host n0 (node 0, local 2), worker of group 1 (tp_rank 0), device cuda:1");
}
