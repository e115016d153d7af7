// Whole-file reads and crash-safe writes. write_file_atomic writes to a temporary file in the same
// directory, fsyncs it, renames it over the target and fsyncs the directory: a kill -9 at any
// instant leaves either the old or the new file, never a torn one.
#pragma once

#include <string>
#include <string_view>

namespace t2 {

// Reads the whole file; throws t2::Error naming the path when it cannot.
std::string read_file(const std::string& path);

// Atomically replaces `path` with `contents` (temp file + fsync + rename + fsync of the directory).
void write_file_atomic(const std::string& path, std::string_view contents);

// Renames `from` over `to` and fsyncs the directory of `to`; the caller has fsynced `from`.
void rename_durable(const std::string& from, const std::string& to);

// fsync of a file or directory by path.
void fsync_path(const std::string& path);

// A fresh temporary path beside `path` (same directory, so rename is atomic): "<path>.tmp.<pid>.<n>".
std::string temp_path_beside(const std::string& path);

// mkdir -p; throws with the path on failure.
void make_dirs(const std::string& path);

bool path_exists(const std::string& path);

}  // namespace t2
