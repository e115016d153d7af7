// `t2 status RUN_DIR`'s reader against a run directory written by the results store.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "coordinator/progress-run-dir.h"
#include "core/error.h"
#include "results/run-store.h"
#include "tests/support/test-support.h"

namespace t2 {
namespace {

TEST(RunDirStatus, ShowsStateProgressAndMetricsOfEveryJob) {
  const std::string dir = test::make_temp_dir("status-run") + "/run";
  {
    results::RunMeta meta;
    meta.name = "tiny-campaign";
    meta.sandbox_isolation = "rlimits";
    auto store = results::RunStore::open_for_write(dir, meta);
    results::JobInfo train{"train_expert/tiny/gsm8k/seed1", "train-expert", {}, results::JobStatus::running};
    store.begin_job(train);
    results::CheckpointState ck;
    ck.step = 7;
    ck.floats["z"] = {0.1f, 0.2f};
    ck.curve.points = {{6, 0.25, 0.1, 1.5, 0, 0.01, 0.5}, {7, 0.4, 0.1, 1.2, 0, 0.01, std::nan("")}};
    store.write_checkpoint(train.id, ck);

    results::JobInfo eval{"evaluate/tiny/gsm8k/base/seed1", "evaluate", {}, results::JobStatus::running};
    store.begin_job(eval);
    for (int64_t b = 0; b < 2; ++b) {
      results::EvalBatch batch;
      batch.index = b;
      batch.first_example = b * 2;
      for (int k = 0; k < 2; ++k) {
        results::ExampleRecord r;
        r.example_id = "gsm8k/test/" + std::to_string(b * 2 + k);
        r.example_index = b * 2 + k;
        r.score = k == 0 ? 1 : 0;
        batch.records.push_back(r);
      }
      store.write_eval_batch(eval.id, batch);
    }
    store.write_metrics(eval.id, results::Metrics::from_scores({1, 0, 1, 0}));
    store.mark_done(eval.id);

    results::JobInfo bad{"fewshot_search/tiny/math/seed1", "few-shot-search", {}, results::JobStatus::running};
    store.begin_job(bad);
    store.set_job_status(bad.id, results::JobStatus::failed, "item 3 failed 3 of 3 attempts");
  }
  auto s = run_dir_status(dir);
  EXPECT_EQ(s["run"]["name"], "tiny-campaign");
  ASSERT_EQ(s["jobs"].size(), 3u);
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& j : s["jobs"]) by_id[j["id"]] = j;
  const auto& t = by_id["train_expert/tiny/gsm8k/seed1"];
  EXPECT_EQ(t["state"], "running");
  EXPECT_EQ(t["progress"]["step"], 7);
  EXPECT_DOUBLE_EQ(t["metrics"]["reward_mean"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(t["metrics"]["val_accuracy"].get<double>(), 0.5);  // the last measured one
  const auto& e = by_id["evaluate/tiny/gsm8k/base/seed1"];
  EXPECT_EQ(e["state"], "done");
  EXPECT_EQ(e["progress"]["eval_batches"], 2);
  EXPECT_DOUBLE_EQ(e["metrics"]["accuracy"].get<double>(), 0.5);
  EXPECT_EQ(e["metrics"]["n"], 4);
  const auto& f = by_id["fewshot_search/tiny/math/seed1"];
  EXPECT_EQ(f["state"], "failed");
  EXPECT_EQ(f["message"], "item 3 failed 3 of 3 attempts");
  EXPECT_EQ(s["counts"]["done"], 1);

  const std::string text = run_dir_status_text(s);
  EXPECT_NE(text.find("run tiny-campaign"), std::string::npos) << text;
  EXPECT_NE(text.find("eval_batches 2"), std::string::npos) << text;
  EXPECT_NE(text.find("accuracy 0.5"), std::string::npos) << text;
  EXPECT_NE(text.find("item 3 failed 3 of 3 attempts"), std::string::npos) << text;
  EXPECT_NE(text.find("jobs: 1 done, 1 failed, 1 running"), std::string::npos) << text;
  EXPECT_EQ(s["run"]["sandbox_isolation"], "rlimits");
  EXPECT_NE(text.find("code sandbox: rlimits (opted out of namespaces"), std::string::npos) << text;
  std::system(("rm -rf " + dir).c_str());
}

TEST(RunDirStatus, NotARunDirectoryIsAUsageError) {
  const std::string dir = test::make_temp_dir("status-none");
  EXPECT_THROW(run_dir_status(dir), UsageError);
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace t2
