#include <gtest/gtest.h>

#include <filesystem>

#include "cluster/slurm-run-jobs.h"
#include "core/error.h"
#include "core/files.h"
#include "tests/support/test-support.h"

TEST(SlurmRunJobs, RecordsAndReadsBack) {
  const std::string run = t2::test::make_temp_dir("runjobs");
  EXPECT_TRUE(t2::read_submitted_jobs(run).empty());
  t2::record_submitted_job(run, {"41", "slurm/tp8.sbatch", "tp8", "", ""});
  t2::record_submitted_job(run, {"42", "slurm/array.sbatch", "array", "0-2", "2026-01-01T00:00:00Z"});
  const auto jobs = t2::read_submitted_jobs(run);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].job_id, "41");
  EXPECT_EQ(jobs[0].shape, "tp8");
  EXPECT_EQ(jobs[0].submitted_at.size(), 20u);  // filled in: YYYY-MM-DDTHH:MM:SSZ
  EXPECT_EQ(jobs[1].array, "0-2");
  EXPECT_EQ(jobs[1].submitted_at, "2026-01-01T00:00:00Z");
  std::filesystem::remove_all(run);
}

TEST(SlurmRunJobs, MalformedFileNamesFileAndKey) {
  const std::string run = t2::test::make_temp_dir("runjobs");
  t2::make_dirs(run + "/slurm");
  t2::write_file_atomic(run + "/slurm/jobs.json", R"({"version": 1, "jobs": [{"job_id": 7}]})");
  try {
    t2::read_submitted_jobs(run);
    FAIL() << "accepted a numeric job id";
  } catch (const t2::FormatError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("jobs.json"), std::string::npos) << m;
    EXPECT_NE(m.find("jobs[0].job_id"), std::string::npos) << m;
  }
  t2::write_file_atomic(run + "/slurm/jobs.json", "{\"version\": 1, \"jobs\": [");
  EXPECT_THROW(t2::read_submitted_jobs(run), t2::FormatError);
  std::filesystem::remove_all(run);
}
