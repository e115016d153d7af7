// Shared by the runtime tests: random tiny HF checkpoints written by tests/workers/fixtures/
// make_fixture.py and outputs of the independent Python reference (reference.py).
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/files.h"
#include "tests/support/test-support.h"

namespace t2::test {

inline std::string fixtures_script(const std::string& name) {
  return source_dir() + "/tests/workers/fixtures/" + name;
}

// Writes a fixture folder (cached per process by argument list) and returns its path.
inline std::string make_fixture(const std::string& tag, const std::vector<std::string>& args) {
  // the folder lives for the whole test process and is removed at exit
  struct Root {
    std::string path = make_temp_dir("t2-runtime-fixtures");
    ~Root() { std::filesystem::remove_all(path); }
  };
  static std::map<std::string, std::string> made;
  static Root root_dir;
  const std::string& root = root_dir.path;
  std::string key = tag;
  for (const auto& a : args) key += " " + a;
  auto it = made.find(key);
  if (it != made.end()) return it->second;
  std::string dir = root + "/" + tag;
  std::vector<std::string> argv = {python3(), fixtures_script("make_fixture.py"), dir};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_subprocess(argv, SubprocessOptions{Seconds(120)});
  T2_CHECK(r.ok(), "make_fixture.py {} failed: {}\n{}", tag, r.describe(), r.err);
  made[key] = dir;
  return dir;
}

inline std::string ids_arg(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

// Runs reference.py and parses its JSON answer.
inline nlohmann::json reference(const std::string& cmd, const std::string& dir,
                                const std::vector<std::vector<int32_t>>& prompts,
                                const std::vector<std::vector<int32_t>>& conts = {}, int max_new = 0,
                                const std::vector<int32_t>& eos = {}) {
  std::vector<std::string> argv = {python3(), fixtures_script("reference.py"), cmd, dir};
  for (const auto& p : prompts) argv.insert(argv.end(), {"--ids", ids_arg(p)});
  for (const auto& c : conts) argv.insert(argv.end(), {"--cont", ids_arg(c)});
  if (max_new > 0) argv.insert(argv.end(), {"--max-new", std::to_string(max_new)});
  for (int32_t e : eos) argv.insert(argv.end(), {"--eos", std::to_string(e)});
  SubprocessOptions o;
  o.timeout = Seconds(300);
  o.env_set = {{"OMP_NUM_THREADS", "1"}};
  auto r = run_subprocess(argv, o);
  T2_CHECK(r.ok(), "reference.py {} failed: {}\n{}", cmd, r.describe(), r.err);
  return nlohmann::json::parse(r.out);
}

// Deterministic pseudo-random token ids in [0, vocab).
inline std::vector<int32_t> some_ids(int n, int vocab, uint32_t seed) {
  std::vector<int32_t> v;
  uint32_t x = seed * 2654435761u + 12345u;
  for (int i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    v.push_back(static_cast<int32_t>((x >> 8) % static_cast<uint32_t>(vocab)));
  }
  return v;
}

}  // namespace t2::test
