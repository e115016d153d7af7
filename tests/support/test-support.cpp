#include "tests/support/test-support.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace t2::test {

namespace {
std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}
}  // namespace

std::string source_dir() { return env_or("T2_SOURCE_DIR", T2_DEFAULT_SOURCE_DIR); }
std::string binary_dir() { return env_or("T2_BINARY_DIR", T2_DEFAULT_BINARY_DIR); }
std::string t2_binary() { return binary_dir() + "/bin/t2"; }
std::string python3() { return "/usr/bin/python3"; }

std::optional<std::string> data_dir() {
  std::string d = env_or("T2_DATA_DIR", source_dir() + "/../shared");
  if (!std::filesystem::is_directory(d + "/data")) return std::nullopt;
  return std::filesystem::canonical(d).string();
}

std::string make_temp_dir(const std::string& tag) {
  std::string base = env_or("TMPDIR", "/tmp");
  std::string templ = base + "/t2-test-" + tag + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp " + templ);
  return std::string(buf.data());
}

bool have_program(const std::string& name) {
  try {
    SubprocessOptions o;
    o.timeout = Seconds(10);
    return run_subprocess({"sh", "-c", "command -v " + name}, o).ok();
  } catch (...) {
    return false;
  }
}

bool have_gpu() {
  if (!have_program("nvidia-smi")) return false;
  SubprocessOptions o;
  o.timeout = Seconds(20);
  auto r = run_subprocess({"nvidia-smi", "-L"}, o);
  return r.ok() && r.out.find("GPU") != std::string::npos;
}

SubprocessResult run_t2(const std::vector<std::string>& args, Seconds timeout,
                        const std::optional<std::string>& cwd) {
  std::vector<std::string> argv{t2_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  SubprocessOptions o;
  o.timeout = timeout;
  o.cwd = cwd;
  return run_subprocess(argv, o);
}

}  // namespace t2::test
