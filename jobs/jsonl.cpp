#include "jobs/jsonl.h"

#include <algorithm>
#include <filesystem>

#include "core/check.h"
#include "core/files.h"
#include "core/subprocess.h"

namespace t2::tasks {

namespace fs = std::filesystem;

std::string JsonRecord::where() const {
  if (from_array) return fmt::format("{}, element {}", file, line);
  return fmt::format("{}:{}", file, line);
}

std::vector<JsonRecord> parse_jsonl(const std::string& text, const std::string& path) {
  std::vector<JsonRecord> out;
  size_t pos = 0, line = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line;
    std::string_view s(text.data() + pos, end - pos);
    pos = end + 1;
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    size_t first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) continue;  // blank line
    nlohmann::json v;
    try {
      v = nlohmann::json::parse(s);
    } catch (const nlohmann::json::parse_error& e) {
      T2_FAIL_AS(FormatError, "{}:{}: not valid JSON (expected one JSON object per line): {}", path, line,
                 e.what());
    }
    T2_CHECK_AS(FormatError, v.is_object(), "{}:{}: expected a JSON object per line, got {}", path, line,
                v.type_name());
    out.push_back({std::move(v), path, line});
  }
  return out;
}

std::vector<JsonRecord> read_jsonl(const std::string& path) { return parse_jsonl(read_file(path), path); }

namespace {

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string gunzip(const std::string& path) {
  SubprocessOptions o;
  o.timeout = Seconds(120);
  o.max_output_bytes = size_t(1) << 31;
  auto r = run_subprocess({"gzip", "-dc", path}, o);
  T2_CHECK_AS(FormatError, r.ok(), "{}: cannot decompress with gzip -dc ({}): {}", path, r.describe(), r.err);
  return r.out;
}

std::vector<JsonRecord> parse_json_document(const std::string& text, const std::string& path) {
  nlohmann::json v;
  try {
    v = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    T2_FAIL_AS(FormatError, "{}: not valid JSON (byte {}): {}", path, e.byte, e.what());
  }
  std::vector<JsonRecord> out;
  if (v.is_object()) {
    out.push_back({std::move(v), path, 1});
    return out;
  }
  T2_CHECK_AS(FormatError, v.is_array(), "{}: expected a JSON array of objects or one object, got {}", path,
              v.type_name());
  for (size_t i = 0; i < v.size(); ++i) {
    T2_CHECK_AS(FormatError, v[i].is_object(), "{}, element {}: expected a JSON object, got {}", path, i + 1,
                v[i].type_name());
    JsonRecord r{std::move(v[i]), path, i + 1};
    r.from_array = true;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::vector<JsonRecord> read_records(const std::string& path) {
  T2_CHECK_AS(UsageError, path_exists(path), "data file '{}' does not exist", path);
  if (fs::is_directory(path)) {
    std::vector<std::string> files;
    for (auto& e : fs::recursive_directory_iterator(path))
      if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    T2_CHECK_AS(FormatError, !files.empty(), "{}: directory holds no *.json problem files", path);
    std::vector<JsonRecord> out;
    for (auto& f : files) {
      auto one = parse_json_document(read_file(f), f);
      for (auto& r : one) out.push_back(std::move(r));
    }
    return out;
  }
  if (ends_with(path, ".gz")) return parse_jsonl(gunzip(path), path);
  if (ends_with(path, ".json")) return parse_json_document(read_file(path), path);
  return read_jsonl(path);
}

const nlohmann::json& require_field(const JsonRecord& r, const std::string& key) {
  auto it = r.value.find(key);
  T2_CHECK_AS(FormatError, it != r.value.end(), "{}: record has no field '{}' (fields: {})", r.where(), key,
              [&] {
                std::string s;
                for (auto& [k, v] : r.value.items()) s += (s.empty() ? "" : ", ") + k;
                return s;
              }());
  return *it;
}

const std::string& require_string(const JsonRecord& r, const std::string& key) {
  const auto& v = require_field(r, key);
  T2_CHECK_AS(FormatError, v.is_string(), "{}: field '{}' must be a string, got {}", r.where(), key,
              v.type_name());
  return v.get_ref<const std::string&>();
}

const nlohmann::json& require_array(const JsonRecord& r, const std::string& key) {
  const auto& v = require_field(r, key);
  T2_CHECK_AS(FormatError, v.is_array(), "{}: field '{}' must be an array, got {}", r.where(), key,
              v.type_name());
  return v;
}

std::string optional_string(const JsonRecord& r, const std::string& key, const std::string& dflt) {
  auto it = r.value.find(key);
  if (it == r.value.end() || it->is_null()) return dflt;
  T2_CHECK_AS(FormatError, it->is_string(), "{}: field '{}' must be a string, got {}", r.where(), key,
              it->type_name());
  return it->get<std::string>();
}

void write_jsonl(const std::string& path, const std::vector<nlohmann::json>& records) {
  std::string s;
  for (auto& r : records) s += r.dump() + "\n";
  write_file_atomic(path, s);
}

}  // namespace t2::tasks
