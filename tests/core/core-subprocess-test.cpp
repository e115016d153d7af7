#include <gtest/gtest.h>

#include "core/error.h"
#include "core/subprocess.h"

using t2::Seconds;

TEST(Subprocess, CapturesOutputAndExitCode) {
  t2::SubprocessOptions o;
  o.stdin_data = "hello\n";
  auto r = t2::run_subprocess({"sh", "-c", "cat; echo err >&2; exit 3"}, o);
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(Subprocess, DeadlineKillsWholeGroupIncludingGrandchildren) {
  t2::SubprocessOptions o;
  o.timeout = Seconds(0.5);
  auto t0 = t2::Clock::now();
  // the grandchild keeps stdout open; the deadline must still end the call
  auto r = t2::run_subprocess({"sh", "-c", "sleep 300 & sleep 300"}, o);
  double took = std::chrono::duration_cast<Seconds>(t2::Clock::now() - t0).count();
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(took, 120.0);  // the sleepers last 300 s: only the deadline ends the call sooner
}

TEST(Subprocess, OutputIsCapped) {
  t2::SubprocessOptions o;
  o.max_output_bytes = 1000;
  auto r = t2::run_subprocess({"sh", "-c", "head -c 100000 /dev/zero"}, o);
  EXPECT_EQ(r.out.size(), 1000u);
  EXPECT_TRUE(r.output_truncated);
}

TEST(Subprocess, MissingProgramThrows) {
  std::vector<std::string> argv{"/nonexistent/prog"};
  EXPECT_THROW(t2::run_subprocess(argv), t2::Error);
}
