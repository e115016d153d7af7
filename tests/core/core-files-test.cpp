#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "tests/support/test-support.h"

TEST(Files, AtomicWriteReplacesAndLeavesNoTemp) {
  auto dir = t2::test::make_temp_dir("files");
  std::string p = dir + "/a.txt";
  t2::write_file_atomic(p, "one");
  t2::write_file_atomic(p, "two two");
  EXPECT_EQ(t2::read_file(p), "two two");
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++n;
  EXPECT_EQ(n, 1);
  std::filesystem::remove_all(dir);
}

TEST(Files, ReadMissingNamesPath) {
  try {
    t2::read_file("/nonexistent/t2/file.yaml");
    FAIL();
  } catch (const t2::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/t2/file.yaml"), std::string::npos);
    EXPECT_EQ(e.code(), t2::ExitCode::usage_error);
  }
}
