// What `t2 status RUN_DIR` shows: every job of a run directory with its state, its progress (batches
// evaluated, training step, CEM generation) and its latest metrics, read through results/ readers
// (never taking the writer's lock, so it is safe while `t2 run` writes).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace t2 {

// {"run": {...meta...}, "jobs": [{"id", "kind", "state", "attempts", "progress": {...},
//  "metrics": {...}, "message"}], "counts": {"done": n, ...}}. UsageError when RUN_DIR is no run.
nlohmann::json run_dir_status(const std::string& run_dir);

// One line per job plus a header and a summary line.
std::string run_dir_status_text(const nlohmann::json& status);

}  // namespace t2
