// t2 submit and t2 cancel: the commands of cli/cli-submit.cpp and cli-cancel.cpp, parsed and
// run in-process (the same code the t2 binary runs, without linking the torch libraries). The dry
// run renders one script for the whole campaign (one coordinator, worker groups sized per model); the
// tests parse its #SBATCH lines back, rebuild the world srun would start from them, and check that
// the placement rule (cluster/placement.h) gives node-aligned groups of every model's degree with the
// coordinator as a task of its own, and that the script's layout comments are that placement. A real
// submission against the local Slurm records the job in the run directory and t2 cancel cancels it.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "cluster/placement.h"
#include "cluster/slurm-allocation.h"
#include "cluster/slurm-client.h"
#include "cluster/slurm-run-jobs.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/files.h"
#include "tests/support/test-support.h"

namespace fs = std::filesystem;
using t2::Seconds;

namespace {

// A campaign with a user-defined JSONL task (no external data) and two models of different TP
// degrees: two resource shapes.
std::string write_campaign(const std::string& dir, int gpus_per_node, const std::string& seeds) {
  t2::write_file_atomic(dir + "/qa.jsonl", "{\"question\": \"1+1?\", \"answer\": \"2\"}\n"
                                           "{\"question\": \"2+2?\", \"answer\": \"4\"}\n");
  const std::string yaml = "name: sub\noutput: " + dir + "/run\nseed: " + seeds +
                           "\nmodels:\n"
                           "  small: {path: /nonexistent/small, tp: 1}\n"
                           "  big: {path: /nonexistent/big, tp: 2}\n"
                           "tasks:\n"
                           "  qa: {kind: user, scorer: exact, data: {test: " + dir + "/qa.jsonl}}\n"
                           "experiments:\n"
                           "  - {name: eval, kind: evaluate, tasks: [qa], methods: [base]}\n"
                           "slurm:\n"
                           "  partition: debug\n  account: proj7\n  time: \"00:20:00\"\n  nodes: 1\n"
                           "  gpus_per_node: " + std::to_string(gpus_per_node) +
                           "\n  cpus_per_task: 1\n  signal_seconds: 120\n  extra: [\"#SBATCH --comment=t2test\"]\n";
  t2::write_file_atomic(dir + "/campaign.yaml", yaml);
  return dir + "/campaign.yaml";
}

constexpr const char* kT2 = "/opt/t2/bin/t2";  // the binary the rendered scripts launch

struct CliResult {
  int exit_code = 0;
  std::string out, err;
  std::string describe() const { return "exit " + std::to_string(exit_code) + ": " + err; }
  bool ok() const { return exit_code == 0; }
};

// Parses and runs `t2 <args>` with the submit and cancel commands; errors map to exit codes as in
// cli-main.cpp (t2::Error::code(), CLI11 parse errors 2).
CliResult run_cli(const std::vector<std::string>& args) {
  CLI::App app{"t2"};
  app.require_subcommand(1);
  const t2::cli::Command submit = t2::cli::add_submit_command(app);
  const t2::cli::Command cancel = t2::cli::add_cancel_command(app);
  std::vector<std::string> full{"t2"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& a : full) argv.push_back(a.c_str());
  CliResult r;
  std::ostringstream out;
  auto* old = std::cout.rdbuf(out.rdbuf());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    r.exit_code = submit.app->parsed() ? submit.run() : cancel.run();
  } catch (const CLI::ParseError& e) {
    r.exit_code = 2;
    r.err = e.what();
  } catch (const t2::Error& e) {
    r.exit_code = static_cast<int>(e.code());
    r.err = e.what();
  }
  std::cout.rdbuf(old);
  r.out = out.str();
  return r;
}

// One rendered script, parsed back: #SBATCH options, the layout comment lines, the launch line.
struct ParsedScript {
  std::map<std::string, std::string> options;  // "nodes" -> "2"; flags -> ""
  std::vector<std::string> layout;             // the "# layout: " lines, without the prefix
  std::string launch;                          // the srun / mpirun line
  int number(const std::string& key) const {
    auto it = options.find(key);
    return it == options.end() ? 0 : std::stoi(it->second);
  }
};

std::vector<ParsedScript> parse_scripts(const std::string& out) {
  std::vector<ParsedScript> scripts;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line == "#!/bin/bash") scripts.emplace_back();
    if (scripts.empty()) continue;
    ParsedScript& s = scripts.back();
    if (line.rfind("#SBATCH --", 0) == 0) {
      const std::string o = line.substr(10);
      const auto eq = o.find('=');
      s.options[o.substr(0, eq)] = eq == std::string::npos ? "" : o.substr(eq + 1);
    } else if (line.rfind("# layout: ", 0) == 0) {
      s.layout.push_back(line.substr(10));
    } else if (line.rfind("srun ", 0) == 0 || line.rfind("mpirun ", 0) == 0) {
      s.launch = line;
    }
  }
  return scripts;
}

// The run directory a launch line runs: the folder of its campaign.frozen.yaml.
std::string run_dir_of(const std::string& launch) {
  const auto at = launch.find("/campaign.frozen.yaml");
  if (at == std::string::npos) return "";
  const auto from = launch.rfind(' ', at);
  return launch.substr(from + 1, at - from - 1);
}

// The world srun starts for the script's #SBATCH numbers (its --distribution=plane=G, every task
// seeing the node's GPUs), placed with the campaign's degrees.
t2::Placement world_of(const ParsedScript& s, const std::vector<int>& tps) {
  t2::PlacementInput in;
  const std::string dist = s.options.count("distribution") ? s.options.at("distribution") : "";
  EXPECT_EQ(dist.rfind("plane=", 0), 0u) << dist;
  in.hosts = t2::plane_distribution_hosts(s.number("nodes"), s.number("ntasks"), std::stoi(dist.substr(6)));
  std::map<std::string, int> per_node;
  for (const auto& h : in.hosts) ++per_node[h];
  for (const auto& [h, n] : per_node) EXPECT_LE(n, s.number("ntasks-per-node")) << h;
  in.gpus.assign(in.hosts.size(), s.number("gpus-per-node"));
  in.tps = tps;
  in.device = "cuda";
  in.cuda_built = true;
  return t2::place_ranks(in);
}

// What every rendered GPU script must be: the coordinator a task of its own without a GPU, every
// other task in a group (nothing requested sits idle), each group inside one node with one GPU per
// rank, every degree present, and the layout comments the placement's own description.
void expect_node_aligned(const ParsedScript& s, const std::vector<int>& tps) {
  const t2::Placement p = world_of(s, tps);
  EXPECT_EQ(p.ranks[0].role, "coordinator");
  EXPECT_EQ(p.ranks[0].device, "cpu");
  EXPECT_TRUE(p.idle.empty()) << p.summary();
  EXPECT_FALSE(p.groups_span_nodes) << p.summary();
  std::map<std::string, std::set<std::string>> devices;  // host -> devices given out
  for (size_t g = 0; g < p.groups.size(); ++g) {
    std::set<int> nodes;
    for (int r : p.groups[g]) {
      const auto& rp = p.ranks[static_cast<size_t>(r)];
      nodes.insert(rp.node);
      EXPECT_TRUE(devices[rp.host].insert(rp.device).second) << "two ranks on " << rp.device << " of " << rp.host;
      EXPECT_EQ(rp.device.rfind("cuda:", 0), 0u) << rp.device;
    }
    EXPECT_EQ(nodes.size(), 1u) << p.describe_group(static_cast<int>(g));
  }
  for (int t : tps) EXPECT_FALSE(p.groups_of_tp(t).empty()) << "no group of tp " << t << ": " << p.summary();
  ASSERT_GE(s.layout.size(), p.groups.size() + 2);
  EXPECT_EQ(s.layout[0], p.summary());
  for (size_t g = 0; g < p.groups.size(); ++g)
    EXPECT_EQ(s.layout[g + 2].rfind(p.describe_group(static_cast<int>(g)) + " (models ", 0), 0u) << s.layout[g + 2];
}

// The allocation a script requests: its #SBATCH numbers (key -> value, e.g. "ntasks" -> 5) as
// expected, and the world srun starts from them node-aligned for the degrees `tps`; returns that world.
t2::Placement expect_allocation(const ParsedScript& s, const std::map<std::string, int>& sbatch,
                                const std::vector<int>& tps) {
  for (const auto& [key, value] : sbatch) EXPECT_EQ(s.number(key), value) << "#SBATCH --" << key;
  expect_node_aligned(s, tps);
  return world_of(s, tps);
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

class Submit : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = t2::test::make_temp_dir("submit");
  }
  void TearDown() override {
    if (!HasFailure() && !dir_.empty()) fs::remove_all(dir_);
  }
  std::string dir_;
};

}  // namespace

TEST_F(Submit, DryRunRendersOneScriptWithGroupsSizedPerModel) {
  const std::string campaign = write_campaign(dir_, 4, "[1, 2]");
  const auto r = run_cli({"submit", campaign, "--dry-run", "--t2", kT2});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.out << r.err;
  const std::string& out = r.out;
  const auto scripts = parse_scripts(out);
  ASSERT_EQ(scripts.size(), 1u) << out;  // one coordinator for both model sizes
  const ParsedScript& s = scripts[0];
  EXPECT_EQ(s.options.at("job-name"), "t2-sub");
  EXPECT_EQ(s.options.at("partition"), "debug");
  EXPECT_EQ(s.options.at("account"), "proj7");
  EXPECT_EQ(s.options.at("time"), "00:20:00");
  // 4 GPUs, tp {2, 1}: the coordinator plus 4 workers on one node: one TP-2 group, two TP-1 groups
  const t2::Placement p = expect_allocation(
      s, {{"nodes", 1}, {"ntasks", 5}, {"ntasks-per-node", 5}, {"gpus-per-node", 4}, {"cpus-per-task", 1}}, {2, 1});
  EXPECT_EQ(p.groups_of_tp(2).size(), 1u) << p.summary();
  EXPECT_EQ(p.groups_of_tp(1).size(), 2u) << p.summary();
  EXPECT_NE(out.find("# layout: group 0: tp 2, node node0, ranks 1-2, devices cuda (models big)\n"), std::string::npos)
      << out;
  EXPECT_EQ(s.options.at("signal"), "USR1@120");
  EXPECT_TRUE(s.options.count("requeue"));
  EXPECT_EQ(s.options.at("open-mode"), "append");
  EXPECT_EQ(s.options.at("comment"), "t2test");
  EXPECT_EQ(s.options.at("output"), dir_ + "/run/slurm/logs/%x-%A_%a.out");
  // the script runs the campaign frozen in the run directory, never the live file, unrestricted
  EXPECT_EQ(s.launch, std::string("srun --mpi=pmix --distribution=plane=4 ") + kT2 + " run " + dir_ +
                         "/run/campaign.frozen.yaml") << out;
  EXPECT_EQ(run_dir_of(s.launch), dir_ + "/run");
  EXPECT_EQ(out.find(" run " + campaign), std::string::npos) << out;
  EXPECT_NE(out.find("memory not planned"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir_ + "/run")) << "a dry run wrote the run directory";
}

// The README's paper campaign (Llama-3-8B and Mistral-7B at tp 1, Llama-3-70B at tp 8, 8-GPU nodes):
// one script whose allocation holds a TP-8 group inside one node, TP-1 groups for the small models
// and the coordinator as a task of its own; experiments that exclude the 70B from some methods load
// as they are (nothing is split or re-validated per shape).
TEST_F(Submit, DryRunOfThePaperCampaignHasNodeAlignedGroupsAndOneCoordinator) {
  T2_REQUIRE_DATA(data);  // the campaign's tasks read their data files when it loads
  const std::string campaign = t2::test::source_dir() + "/examples/paper-all.yaml";
  ASSERT_TRUE(fs::exists(campaign)) << campaign;
  const auto r =
      run_cli({"submit", campaign, "--dry-run", "--t2", kT2, "output=" + dir_ + "/paper", "data_dir=" + data});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.out << r.err;
  const auto scripts = parse_scripts(r.out);
  ASSERT_EQ(scripts.size(), 1u) << r.out;
  std::set<std::string> run_dirs;
  for (const auto& s : scripts) run_dirs.insert(run_dir_of(s.launch));
  EXPECT_EQ(run_dirs.size(), scripts.size()) << "two scripts share a run directory";
  const ParsedScript& s = scripts[0];
  EXPECT_EQ(run_dir_of(s.launch), dir_ + "/paper");
  // slurm.nodes: 1 holds the 70B's group or the small models' groups, not both: 2 nodes, one more
  // task than GPUs (the coordinator), 9 tasks at most per node
  const t2::Placement p = expect_allocation(
      s, {{"nodes", 2}, {"ntasks", 17}, {"ntasks-per-node", 9}, {"gpus-per-node", 8}, {"cpus-per-task", 16}}, {8, 1});
  ASSERT_EQ(p.groups_of_tp(8).size(), 1u) << p.summary();
  EXPECT_EQ(p.groups_of_tp(1).size(), 8u) << p.summary();
  const auto& big = p.groups[static_cast<size_t>(p.groups_of_tp(8)[0])];
  // node 0's 8 GPUs beside the coordinator: ranks 1-7 and 16, the rank srun's plane distribution puts
  // back on node 0
  EXPECT_EQ(big, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 16}));
  EXPECT_NE(r.out.find("(models llama3-70b)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(models llama3-8b, mistral-7b)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("# layout: slurm.nodes is 1; 2 node(s) of 8 GPU(s) are requested"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("experiments."), std::string::npos) << "the script restricts experiments: " << r.out;

  // the same campaign on 4 nodes: the rounds give the 70B three TP-8 groups and the small models eight
  const auto four =
      run_cli({"submit", campaign, "--dry-run", "--t2", kT2, "output=" + dir_ + "/paper", "data_dir=" + data,
               "slurm.nodes=4"});
  ASSERT_TRUE(four.ok()) << four.describe();
  const auto s4 = parse_scripts(four.out);
  ASSERT_EQ(s4.size(), 1u);
  const t2::Placement p4 = expect_allocation(s4[0], {{"nodes", 4}, {"ntasks", 33}}, {8, 1});
  EXPECT_EQ(p4.groups_of_tp(8).size(), 3u) << p4.summary();
  EXPECT_EQ(p4.groups_of_tp(1).size(), 8u) << p4.summary();
}

// t2 submit sizes a GPU campaign as `t2 plan CAMPAIGN` does, from the experiments' own settings: a
// Llama-3-8B SVF trainer that scores its whole shard per gradient item (16 rollouts of 1024 + 1024
// tokens) needs 89 GB of an 80 GB GPU and is refused before anything is queued, naming the item and
// the keys to change; with micro_batch 4 the same campaign is submitted.
TEST_F(Submit, RefusesACampaignWhoseGradientItemDoesNotFitItsGpus) {
  const std::string model = dir_ + "/llama3-8b";
  fs::create_directories(model);
  t2::write_file_atomic(model + "/config.json",
                        R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
      "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32,
      "num_key_value_heads": 8, "vocab_size": 128256, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
      "max_position_embeddings": 8192, "tie_word_embeddings": false, "torch_dtype": "bfloat16"})");
  t2::write_file_atomic(dir_ + "/qa.jsonl", "{\"question\": \"1+1?\", \"answer\": \"2\"}\n"
                                            "{\"question\": \"2+2?\", \"answer\": \"4\"}\n");
  auto campaign = [&](const std::string& name, const std::string& extra) {
    const std::string yaml =
        "name: fit\noutput: " + dir_ + "/" + name + "\nmodels:\n  big: {path: " + model + ", tp: 1, dtype: bf16}\n" +
        "tasks:\n  qa: {kind: user, scorer: exact, max_new_tokens: 1024, data: {train: " + dir_ + "/qa.jsonl, test: " +
        dir_ + "/qa.jsonl}, split: {train: 'train|even', valid: 'train|odd'}}\n" +
        "experiments:\n  - {name: train, kind: train_expert, tasks: [qa]" + extra + "}\n" +
        "slurm:\n  partition: debug\n  nodes: 1\n  gpus_per_node: 8\n";
    t2::write_file_atomic(dir_ + "/" + name + ".yaml", yaml);
    return dir_ + "/" + name + ".yaml";
  };
  const auto r = run_cli({"submit", campaign("whole", ""), "--dry-run", "--t2", kT2});
  EXPECT_EQ(r.exit_code, 2) << r.describe() << "\n" << r.out;
  EXPECT_NE(r.err.find("model big with tp 1 does not fit GPUs of 80 GB"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("grad item"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("micro_batch"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("#SBATCH"), std::string::npos) << "a script was rendered: " << r.out;

  const auto ok = run_cli({"submit", campaign("four", ", micro_batch: 4"), "--dry-run", "--t2", kT2});
  ASSERT_TRUE(ok.ok()) << ok.describe() << "\n" << ok.out;
  EXPECT_NE(ok.out.find("# plan: model big: tp 1"), std::string::npos) << ok.out;
}

// The allocation rule over many shapes: whatever the degrees and node sizes, the world it requests is
// placed without idle ranks at its end, with a group of every degree, node-aligned when tp fits a node.
TEST(SlurmAllocation, RequestsWhatThePlacementUses) {
  for (int g : {1, 2, 4, 8}) {
    for (const std::vector<int>& tps :
         std::vector<std::vector<int>>{{1}, {2}, {8}, {8, 1}, {4, 2, 1}, {2, 1}, {16}, {16, 1}}) {
      for (int nodes : {1, 2, 3}) {
        SCOPED_TRACE(::testing::Message() << "g " << g << " nodes " << nodes << " tps " << tps.size() << " first "
                                          << tps[0]);
        const auto a = t2::plan_slurm_allocation(tps, nodes, g);
        EXPECT_EQ(a.gpus_per_node, g);
        EXPECT_EQ(a.ntasks_per_node, g + 1);
        EXPECT_GE(a.nodes, 1);
        EXPECT_EQ(a.ntasks, a.nodes * g + 1);
        EXPECT_EQ(a.distribution, "plane=" + std::to_string(g));
        const auto& p = a.placement;
        EXPECT_EQ(static_cast<int>(p.ranks.size()), a.ntasks);
        EXPECT_EQ(static_cast<int>(p.nodes.size()), a.nodes);
        EXPECT_EQ(p.ranks[0].role, "coordinator");
        std::map<std::string, int> per_node;
        for (const auto& rp : p.ranks) ++per_node[rp.host];
        for (const auto& [host, n] : per_node) EXPECT_EQ(n, host == "node0" ? g + 1 : g) << host;
        // idle only where no degree divides what is left of a node
        if (t2::distinct_tps(tps).back() == 1) {
          EXPECT_TRUE(p.idle.empty()) << p.summary();
        }
        for (int t : t2::distinct_tps(tps)) EXPECT_FALSE(p.groups_of_tp(t).empty()) << p.summary();
        for (size_t k = 0; k < p.groups.size(); ++k) {
          std::set<int> ns;
          for (int rank : p.groups[k]) ns.insert(p.ranks[static_cast<size_t>(rank)].node);
          if (p.group_tp[k] <= g) {
            EXPECT_EQ(ns.size(), 1u) << p.describe_group(static_cast<int>(k));
          }
        }
      }
    }
  }
}

TEST_F(Submit, DryRunArrayOverSeeds) {
  const std::string campaign = write_campaign(dir_, 0, "[3, 5, 8]");
  const auto r = run_cli({"submit", campaign, "--dry-run", "--array"});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.out << r.err;
  EXPECT_EQ(count(r.out, "#SBATCH --array=0-2\n"), 1u) << r.out;
  EXPECT_EQ(count(r.out, "T2_SEEDS=(3 5 8)\n"), 1u) << r.out;
  EXPECT_EQ(count(r.out, "/run/seed\"${T2_SEED}\"/campaign.frozen.yaml"), 1u) << r.out;
  // CPU: the coordinator and one worker per rank of each degree (1 + 2 + 1)
  EXPECT_EQ(count(r.out, "#SBATCH --ntasks=4\n"), 1u) << r.out;
  EXPECT_EQ(r.out.find("--gpus-per-node"), std::string::npos) << r.out;  // CPU campaign
}

TEST_F(Submit, BadCampaignIsAUsageError) {
  const std::string campaign = write_campaign(dir_, 4, "[1]");
  auto r = run_cli({"submit", campaign, "--dry-run", "slurm.time=soon"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  r = run_cli({"submit", campaign, "--dry-run", "--array"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("seed sweep"), std::string::npos) << r.err;
  r = run_cli({"cancel", dir_ + "/no-such-run"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
}

TEST_F(Submit, SubmitHeldThenCancelThroughTheRunDirectory) {
  if (!fs::exists("/usr/bin/sbatch")) GTEST_SKIP() << "Slurm is not installed: slurm test skipped";
  if (!std::getenv("SLURM_CONF")) setenv("SLURM_CONF", "/tmp/t2-slurm-local/slurm.conf", 1);
  const std::string campaign = write_campaign(dir_, 0, "[1]");
  auto r = run_cli({"submit", campaign, "--hold", "--t2", kT2});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.out << r.err;
  const auto jobs = t2::read_submitted_jobs(dir_ + "/run");
  ASSERT_EQ(jobs.size(), 1u) << r.out;  // one coordinator for both model sizes
  EXPECT_TRUE(fs::exists(dir_ + "/run/slurm/t2-sub.sbatch"));
  EXPECT_EQ(jobs[0].shape, "tp2+tp1");
  t2::SlurmClient client;
  for (const auto& j : jobs) {
    const auto shown = client.show_job(j.job_id);
    ASSERT_TRUE(shown.has_value()) << j.job_id;
    EXPECT_EQ(shown->at(0).state, "PENDING") << j.job_id;  // held
  }
  r = run_cli({"cancel", dir_ + "/run"});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.out << r.err;
  EXPECT_NE(r.out.find("1 of 1 job(s) cancelled"), std::string::npos) << r.out;
  for (const auto& j : jobs) {
    const auto done = client.wait_until(
        j.job_id, [](const t2::SlurmJob& s) { return s.finished(); }, t2::Deadline::after(Seconds(30)), "cancelling");
    EXPECT_EQ(done.at(0).state, "CANCELLED");
  }
}
