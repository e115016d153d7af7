#include <gtest/gtest.h>

#include "cluster/world-layout.h"
#include "core/error.h"

using t2::WorldLayout;

namespace {

std::map<std::string, std::string> srun_env(int procid, int ntasks, int localid, int nodeid, int nnodes) {
  return {{"SLURM_PROCID", std::to_string(procid)},   {"SLURM_NTASKS", std::to_string(ntasks)},
          {"SLURM_LOCALID", std::to_string(localid)}, {"SLURM_NODEID", std::to_string(nodeid)},
          {"SLURM_JOB_NUM_NODES", std::to_string(nnodes)}};
}

std::string usage_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const t2::UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(WorldLayout, FiveRanksTpTwoIsCoordinatorPlusTwoGroups) {
  // expected layout written out by hand: 0 coordinates, {1,2} and {3,4} work
  const int want_group[5] = {-1, 0, 0, 1, 1};
  const int want_tp_rank[5] = {-1, 0, 1, 0, 1};
  for (int r = 0; r < 5; ++r) {
    auto w = WorldLayout::make(5, r, 2);
    EXPECT_EQ(w.num_groups(), 2);
    EXPECT_FALSE(w.coordinator_works());
    EXPECT_EQ(w.group_of(), want_group[r]) << r;
    EXPECT_EQ(w.tp_rank(), want_tp_rank[r]) << r;
    EXPECT_EQ(w.is_coordinator(), r == 0);
    EXPECT_EQ(w.is_worker(), r != 0);
    EXPECT_FALSE(w.is_idle());
  }
  auto w = WorldLayout::make(5, 0, 2);
  EXPECT_EQ(w.group_ranks(0), (std::vector<int>{1, 2}));
  EXPECT_EQ(w.group_ranks(1), (std::vector<int>{3, 4}));
  EXPECT_TRUE(w.idle_ranks().empty());
}

TEST(WorldLayout, LeftOverRanksAreIdle) {
  auto w = WorldLayout::make(6, 5, 2);  // 0 + {1,2} + {3,4} + idle 5
  EXPECT_EQ(w.num_groups(), 2);
  EXPECT_TRUE(w.is_idle());
  EXPECT_EQ(w.group_of(), -1);
  EXPECT_EQ(w.tp_rank(), -1);
  EXPECT_EQ(w.idle_ranks(), std::vector<int>{5});
}

TEST(WorldLayout, CoordinatorWorksWhenTooFewRanks) {
  auto one = WorldLayout::single();
  EXPECT_TRUE(one.is_coordinator());
  EXPECT_TRUE(one.is_worker());
  EXPECT_TRUE(one.coordinator_works());
  EXPECT_EQ(one.group_ranks(0), std::vector<int>{0});

  // mpirun -np 2 with tp 2: one group {0,1}, rank 0 also coordinates
  auto a = WorldLayout::make(2, 0, 2), b = WorldLayout::make(2, 1, 2);
  EXPECT_TRUE(a.coordinator_works());
  EXPECT_EQ(a.num_groups(), 1);
  EXPECT_EQ(a.tp_rank(), 0);
  EXPECT_EQ(b.tp_rank(), 1);
  EXPECT_EQ(a.group_ranks(0), (std::vector<int>{0, 1}));

  // two ranks with tp 1: dedicated coordinator and one worker
  auto c = WorldLayout::make(2, 0, 1);
  EXPECT_FALSE(c.coordinator_works());
  EXPECT_EQ(c.group_ranks(0), std::vector<int>{1});
}

TEST(WorldLayout, RejectsWorldsWithoutRoomForAGroup) {
  const std::string m = usage_error_of([] { WorldLayout::make(3, 0, 4); });
  EXPECT_NE(m.find("3 rank(s)"), std::string::npos) << m;
  EXPECT_NE(m.find("tp 4"), std::string::npos) << m;
  EXPECT_THROW(WorldLayout::make(4, 4, 1), t2::UsageError);
  EXPECT_THROW(WorldLayout::make(4, 0, 0), t2::UsageError);
}

TEST(WorldLayout, FromSlurmEnvReadsPlacementAndDevices) {
  auto env = srun_env(5, 9, 1, 1, 2);
  env["CUDA_VISIBLE_DEVICES"] = "0,1,2,3";
  auto w = WorldLayout::from_slurm_env(env, 4);
  EXPECT_EQ(w.world_size(), 9);
  EXPECT_EQ(w.world_rank(), 5);
  EXPECT_EQ(w.group_of(), 1);  // 0 | 1..4 | 5..8
  EXPECT_EQ(w.tp_rank(), 0);
  EXPECT_EQ(w.node_id(), 1);
  EXPECT_EQ(w.num_nodes(), 2);
  EXPECT_EQ(w.local_rank(), 1);
  EXPECT_EQ(w.local_device(), 1);
  EXPECT_EQ(w.source(), "slurm");

  // --gpus-per-task=1: each task sees one device, whatever its local rank
  env["CUDA_VISIBLE_DEVICES"] = "3";
  EXPECT_EQ(WorldLayout::from_slurm_env(env, 4).local_device(), 0);
  // no CUDA_VISIBLE_DEVICES: the step's GPU list, then the count
  env.erase("CUDA_VISIBLE_DEVICES");
  env["SLURM_STEP_GPUS"] = "4,5";
  EXPECT_EQ(WorldLayout::from_slurm_env(env, 4).local_device(), 1);
  env.erase("SLURM_STEP_GPUS");
  env["SLURM_GPUS_ON_NODE"] = "8";
  EXPECT_EQ(WorldLayout::from_slurm_env(env, 4).local_device(), 1);
  env.erase("SLURM_GPUS_ON_NODE");
  EXPECT_EQ(WorldLayout::from_slurm_env(env, 4).local_device(), -1);  // CPU
}

TEST(WorldLayout, FromSlurmEnvNamesTheBadVariable) {
  auto env = srun_env(0, 2, 0, 0, 1);
  env.erase("SLURM_LOCALID");
  EXPECT_NE(usage_error_of([&] { WorldLayout::from_slurm_env(env, 1); }).find("SLURM_LOCALID is not set"),
            std::string::npos);
  env = srun_env(0, 2, 0, 0, 1);
  env["SLURM_NTASKS"] = "two";
  EXPECT_NE(usage_error_of([&] { WorldLayout::from_slurm_env(env, 1); }).find("SLURM_NTASKS='two'"),
            std::string::npos);
  env = srun_env(2, 2, 0, 0, 1);
  EXPECT_NE(usage_error_of([&] { WorldLayout::from_slurm_env(env, 1); }).find("SLURM_PROCID=2"), std::string::npos);
  env = srun_env(1, 2, 0, 3, 2);
  EXPECT_NE(usage_error_of([&] { WorldLayout::from_slurm_env(env, 1); }).find("SLURM_NODEID=3"), std::string::npos);
  env = srun_env(3, 4, 3, 0, 1);
  env["CUDA_VISIBLE_DEVICES"] = "0,1";
  EXPECT_NE(usage_error_of([&] { WorldLayout::from_slurm_env(env, 1); }).find("CUDA_VISIBLE_DEVICES='0,1'"),
            std::string::npos);
}

TEST(WorldLayout, DeviceListCounts) {
  EXPECT_EQ(t2::count_device_list(""), 0);
  EXPECT_EQ(t2::count_device_list("NoDevFiles"), 0);
  EXPECT_EQ(t2::count_device_list("7"), 1);
  EXPECT_EQ(t2::count_device_list("0,1,2"), 3);
}

TEST(WorldLayout, DetectLauncherFromTheEnvironment) {
  EXPECT_EQ(WorldLayout::detect_launcher({}), "single");
  EXPECT_EQ(WorldLayout::detect_launcher({{"OMPI_COMM_WORLD_SIZE", "4"}}), "mpi");
  EXPECT_EQ(WorldLayout::detect_launcher({{"PMIX_RANK", "0"}, {"SLURM_STEP_ID", "0"}, {"SLURM_NTASKS", "2"}}), "mpi");
  // an sbatch script itself (no step) or a one-task step is a plain process
  EXPECT_EQ(WorldLayout::detect_launcher({{"SLURM_NTASKS", "4"}}), "single");
  EXPECT_EQ(WorldLayout::detect_launcher({{"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NUM_TASKS", "1"}}), "single");
  const std::string m = usage_error_of(
      [] { WorldLayout::detect_launcher({{"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NUM_TASKS", "2"}}); });
  EXPECT_NE(m.find("SLURM_STEP_NUM_TASKS=2"), std::string::npos) << m;
  EXPECT_NE(m.find("srun --mpi=pmix"), std::string::npos) << m;
}
