// Reading the record files of the benchmarks: JSON Lines (optionally gzip-compressed, as HumanEval
// is published), a single JSON array (sanitized MBPP), or a folder of one-JSON-object files (the
// original MATH layout). Every record remembers where it came from, so a malformed record can be
// reported by file and line.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace t2::tasks {

struct JsonRecord {
  nlohmann::json value;
  std::string file;  // the file the record was read from
  size_t line = 0;   // 1-based line in a .jsonl file; for a JSON array, the 1-based element index
  std::string where() const;  // "file:line" (or "file, element N")
  bool from_array = false;
};

// Reads one JSON object per non-empty line. A line that is not valid JSON, or not an object, is a
// FormatError naming the file, the line and the parser's message.
std::vector<JsonRecord> read_jsonl(const std::string& path);

// Decodes `text` (the contents of `path`) as JSON Lines; `path` is only used in messages.
std::vector<JsonRecord> parse_jsonl(const std::string& text, const std::string& path);

// Any supported layout, picked by name: *.jsonl, *.jsonl.gz / *.gz (decompressed with `gzip -dc`),
// *.json (a JSON array of objects, or a single object), or a directory (every *.json below it, in
// sorted path order: the original MATH `test/<subject>/<n>.json` layout).
std::vector<JsonRecord> read_records(const std::string& path);

// Accessors that throw FormatError("<file>:<line>: field 'key' ...") when missing or mistyped.
const std::string& require_string(const JsonRecord& r, const std::string& key);
const nlohmann::json& require_field(const JsonRecord& r, const std::string& key);
const nlohmann::json& require_array(const JsonRecord& r, const std::string& key);
std::string optional_string(const JsonRecord& r, const std::string& key, const std::string& dflt = "");

// Writes `records` as JSON Lines (one compact object per line), atomically.
void write_jsonl(const std::string& path, const std::vector<nlohmann::json>& records);

}  // namespace t2::tasks
