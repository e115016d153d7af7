// t2 status RUN_DIR [--json]: every job of a run directory with its state, progress and latest metrics,
// read from the HDF5 files (safe while `t2 run` writes). Exit code 0, or 2 when RUN_DIR is no run.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "coordinator/cli.h"
#include "coordinator/progress-run-dir.h"

namespace t2::cli {

Command add_status_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("status", "Show the state, progress and latest metrics of every job of a run directory");
  struct Args {
    std::string run_dir;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  app->add_option("run_dir", a->run_dir, "the run directory")->required();
  app->add_flag("--json", a->json, "print JSON");
  return {app, [a]() -> int {
            const auto s = run_dir_status(a->run_dir);
            if (a->json)
              std::cout << s.dump(2) << "\n";
            else
              std::cout << run_dir_status_text(s);
            return 0;
          }};
}

}  // namespace t2::cli
