#include "results/run-layout.h"

#include <fmt/format.h>

#include "core/check.h"

namespace t2::results::layout {
namespace {

bool keep_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string job_dir_name(const std::string& job_id) {
  T2_CHECK_AS(UsageError, !job_id.empty(), "a job id must not be empty");
  std::string out;
  for (size_t i = 0; i < job_id.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(job_id[i]);
    if (c == '/') out += '~';
    else if (keep_byte(c) && !(i == 0 && c == '.')) out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  T2_CHECK_AS(UsageError, out.size() <= 255, "job id '{}' is too long for a folder name ({} bytes encoded, max 255)",
              job_id, out.size());
  return out;
}

std::string job_id_from_dir(const std::string& d) {
  std::string out;
  for (size_t i = 0; i < d.size(); ++i) {
    char c = d[i];
    if (c == '~') {
      out += '/';
    } else if (c == '%') {
      int hi = i + 2 < d.size() ? hex_value(d[i + 1]) : -1;
      int lo = i + 2 < d.size() ? hex_value(d[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        T2_FAIL_AS(FormatError, "job folder '{}': bad escape at byte {} (expected %XX)", d, i);
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (keep_byte(static_cast<unsigned char>(c))) {
      out += c;
    } else {
      T2_FAIL_AS(FormatError, "job folder '{}': byte {} ('{}') is not part of a job folder name", d, i, c);
    }
  }
  T2_CHECK_AS(FormatError, !out.empty(), "job folder name is empty");
  return out;
}

std::string eval_batch_file(int64_t i) { return fmt::format("eval-{:06}.h5", i); }
std::string checkpoint_file(int64_t s) { return fmt::format("ckpt-{:06}.h5", s); }
std::string cem_generation_file(int64_t g) { return fmt::format("cem-gen-{:04}.h5", g); }

std::optional<int64_t> parse_unit_index(const std::string& name, const std::string& prefix) {
  const std::string suffix = ".h5";
  if (name.size() <= prefix.size() + suffix.size()) return std::nullopt;
  if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return std::nullopt;
  std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

bool is_temp_file(const std::string& name) { return name.find(".tmp.") != std::string::npos; }

}  // namespace t2::results::layout
