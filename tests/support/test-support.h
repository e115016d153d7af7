// Shared helpers for t2's tests: where the data, the sources, the t2 binary and the reference
// Python are, and skip macros that report SKIPPED (never passed) when a prerequisite is missing.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "core/subprocess.h"

namespace t2::test {

// T2_DATA_DIR, else ../shared beside the source checkout; nullopt when that folder does not exist.
std::optional<std::string> data_dir();
std::string source_dir();       // T2_SOURCE_DIR or the configured source root
std::string binary_dir();       // T2_BINARY_DIR or the configured build root
std::string t2_binary();        // <binary_dir>/bin/t2
std::string python3();          // /usr/bin/python3 (Debian's, with torch, h5py, numpy)
std::string make_temp_dir(const std::string& tag);  // fresh directory under $TMPDIR, removed by the caller
bool have_gpu();                // nvidia-smi lists a device
bool have_program(const std::string& name);

// Runs the t2 binary with arguments; output captured, 300 s deadline by default.
SubprocessResult run_t2(const std::vector<std::string>& args, Seconds timeout = Seconds(300),
                        const std::optional<std::string>& cwd = std::nullopt);

}  // namespace t2::test

// Skip (reported as SKIPPED by ctest) when ../shared is missing; binds `dir` to the data root.
#define T2_REQUIRE_DATA(dir)                                                          \
  auto dir##_opt = ::t2::test::data_dir();                                            \
  if (!dir##_opt) GTEST_SKIP() << "T2_DATA_DIR / ../shared not found: data test skipped"; \
  const std::string dir = *dir##_opt

#define T2_REQUIRE_GPU() \
  if (!::t2::test::have_gpu()) GTEST_SKIP() << "no GPU on this machine: gpu test skipped"
