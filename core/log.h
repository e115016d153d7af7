// Logging: spdlog to stderr, and to RUN_DIR/logs/<name>.log once a run directory is known.
// Use spdlog's functions directly (spdlog::info(...)); these set up the sinks once per process.
#pragma once

#include <string>

namespace t2 {

// Sets the level ("trace".."off") and a stderr sink; on MPI ranks > 0 the pattern carries the rank.
void log_init(const std::string& level = "info", int rank = 0);

// Adds a file sink RUN_DIR/logs/<name>.log (appends). Safe to call more than once.
void log_to_run_dir(const std::string& run_dir, const std::string& name);

}  // namespace t2
