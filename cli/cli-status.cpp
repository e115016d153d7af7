// t2 status RUN_DIR [--json]     every job of a run directory: state, progress, latest metrics, read
//                                 from the HDF5 files (safe while `t2 run` writes)
// t2 status --port N [--json]     the same from a running coordinator's status server (GET /status),
//                                 with the worker groups and recent incidents
// Exit code 0, or 2 when RUN_DIR is no run, 1 when the server cannot be reached.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "coordinator/progress-run-dir.h"
#include "coordinator/progress.h"
#include "coordinator/status-server-client.h"
#include "core/error.h"

namespace t2::cli {

namespace {

std::string live_status_text(const nlohmann::json& s) {
  std::string out = fmt::format("{:<52} {:<16} {:<10} {:<14} {}\n", "job", "kind", "state", "progress", "latest metrics");
  for (const auto& j : s.value("jobs", nlohmann::json::array())) {
    const uint64_t done = j.value("units_done", 0ull), total = j.value("units_total", 0ull);
    std::string metrics = j.contains("metrics") ? j["metrics"].dump() : "{}";
    if (j.contains("reason")) metrics += "; " + j["reason"].get<std::string>();
    out += fmt::format("{:<52} {:<16} {:<10} {:<14} {}\n", j.value("id", ""), j.value("kind", ""), j.value("state", ""),
                       fmt::format("{}/{}", done, total), metrics);
  }
  for (const auto& g : s.value("groups", nlohmann::json::array()))
    out += fmt::format("group {} (rank {}): {}, model {}, {} items, last request: {}\n", g.value("group", 0),
                       g.value("rank", 0), g.value("state", ""), g.value("model", ""), g.value("items_done", 0ull),
                       g.value("request", ""));
  for (const auto& line : s.value("incidents", nlohmann::json::array())) out += "incident: " + line.get<std::string>() + "\n";
  out += fmt::format("elapsed {}, {} model switches, {}\n", format_duration(s.value("elapsed_seconds", 0.0)),
                     s.value("model_switches", 0), s.value("finished", false) ? "finished" : "running");
  return out;
}

}  // namespace

Command add_status_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("status", "Show the state, progress and latest metrics of every job of a run directory");
  struct Args {
    std::string run_dir;
    int port = 0;
    std::string address = "127.0.0.1";
    double timeout = 10;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  app->add_option("run_dir", a->run_dir, "the run directory");
  app->add_option("--port", a->port, "ask the status server of a running coordinator instead")
      ->check(CLI::Range(1, 65535));
  app->add_option("--address", a->address, "the status server's address")->capture_default_str();
  app->add_option("--timeout", a->timeout, "seconds to wait for the status server")->capture_default_str();
  app->add_flag("--json", a->json, "print JSON");
  return {app, [a]() -> int {
            if (a->port > 0) {
              const std::string body = status_server_get(a->address, static_cast<uint16_t>(a->port), "/status",
                                                         Deadline::after(Seconds(a->timeout)));
              nlohmann::json s;
              try {
                s = nlohmann::json::parse(body);
              } catch (const nlohmann::json::parse_error& e) {
                throw FormatError(fmt::format("the status server at {}:{} sent invalid JSON at byte {}", a->address,
                                              a->port, e.byte));
              }
              std::cout << (a->json ? s.dump(2) + "\n" : live_status_text(s));
              return 0;
            }
            if (a->run_dir.empty()) throw UsageError("t2 status needs a run directory or --port N");
            const auto s = run_dir_status(a->run_dir);
            std::cout << (a->json ? s.dump(2) + "\n" : run_dir_status_text(s));
            return 0;
          }};
}

}  // namespace t2::cli
