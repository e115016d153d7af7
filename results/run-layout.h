// Where things live in a run directory, and the reversible mapping from job ids to folder names.
//
//   RUN_DIR/run.h5                      run metadata (rewritten atomically when it changes)
//   RUN_DIR/.lock                       writer lock: flock'ed by the one writer, holds "pid host time"
//   RUN_DIR/jobs/<job-dir>/job.h5       job kind, parameters, status, timings
//   RUN_DIR/jobs/<job-dir>/eval-000012.h5   evaluation batch 12 (per-example records)
//   RUN_DIR/jobs/<job-dir>/ckpt-000040.h5   training checkpoint at step 40 (last K kept)
//   RUN_DIR/jobs/<job-dir>/cem-gen-0007.h5  CEM generation 7
//   RUN_DIR/jobs/<job-dir>/result.h5    final metrics; expert.h5 and other final products beside it
//   RUN_DIR/jobs/<job-dir>/DONE         written last: the job is complete
//   *.tmp.<pid>.<n>                     a unit being written (or left by a kill): ignored by readers,
//                                       removed when a writer opens the run
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace t2::results::layout {

inline constexpr const char* run_file = "run.h5";
inline constexpr const char* lock_file = ".lock";
inline constexpr const char* jobs_dir = "jobs";
inline constexpr const char* job_file = "job.h5";
inline constexpr const char* result_file = "result.h5";
inline constexpr const char* expert_file = "expert.h5";
inline constexpr const char* done_marker = "DONE";

// Job id -> one path component: [A-Za-z0-9._-] kept, '/' -> '~', every other byte (and a leading
// '.') -> %XX. Reversible; throws UsageError for an empty id or one whose name would exceed 255 bytes.
std::string job_dir_name(const std::string& job_id);
// The inverse; FormatError naming the folder when it is not a valid encoding.
std::string job_id_from_dir(const std::string& dir_name);

// Unit file names: "eval-000012.h5", "ckpt-000040.h5", "cem-gen-0007.h5".
std::string eval_batch_file(int64_t batch_index);
std::string checkpoint_file(int64_t step);
std::string cem_generation_file(int64_t generation);

// Parses a unit file name with the given prefix ("eval-", "ckpt-", "cem-gen-") and suffix ".h5";
// nullopt for anything else (temporary files included).
std::optional<int64_t> parse_unit_index(const std::string& file_name, const std::string& prefix);

// True for temporary files ("x.h5.tmp.123.4").
bool is_temp_file(const std::string& file_name);

}  // namespace t2::results::layout
