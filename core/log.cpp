#include "core/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "core/files.h"

namespace t2 {

void log_init(const std::string& level, int rank) {
  auto logger = std::make_shared<spdlog::logger>("t2", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_pattern(rank == 0 ? "[%H:%M:%S.%e] [%^%l%$] %v" : fmt::format("[%H:%M:%S.%e] [rank {}] [%^%l%$] %v", rank));
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

void log_to_run_dir(const std::string& run_dir, const std::string& name) {
  make_dirs(run_dir + "/logs");
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(run_dir + "/logs/" + name + ".log", false);
  sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  spdlog::default_logger()->sinks().push_back(sink);
}

}  // namespace t2
