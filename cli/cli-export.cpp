// t2 export RUN_DIR --format lm-eval --out DIR: a run's evaluations in another tool's format
// (results/lm-eval-export.h).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "results/lm-eval-export.h"

namespace t2::cli {

Command add_export_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("export", "Write a run's evaluations in lm-evaluation-harness's output format");
  struct Args {
    std::string run_dir, format = "lm-eval", out;
  };
  auto a = std::make_shared<Args>();
  app->add_option("run_dir", a->run_dir, "run directory")->required();
  app->add_option("--format", a->format, "lm-eval (results_<date>.json and samples_<task>_<date>.jsonl per model x method)")
      ->check(CLI::IsMember({"lm-eval"}))
      ->capture_default_str();
  app->add_option("--out", a->out, "output folder")->required();
  return {app, [a]() -> int {
            auto rep = results::export_lm_eval(a->run_dir, a->out);
            for (const auto& f : rep.files) std::cout << f << "\n";
            for (const auto& j : rep.skipped) std::cerr << "not finished, not exported: " << j << "\n";
            return 0;
          }};
}

}  // namespace t2::cli
