// t2 report: write a self-contained HTML report of one or more run directories.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "results/report-html.h"
#include "results/run-reader.h"

namespace t2::cli {

Command add_report_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("report", "Write a self-contained HTML report of a run directory");
  struct Args {
    std::vector<std::string> run_dirs;
    std::string out;
    results::ReportOptions report;
  };
  auto a = std::make_shared<Args>();
  app->add_option("run_dirs", a->run_dirs, "run directories (several are merged)")->required();
  app->add_option("--out,-o", a->out, "the HTML file to write")->required();
  app->add_option("--title", a->report.title, "page title (default: t2 report: <campaign name>)");
  app->add_option("--metric", a->report.table.metric, "metric of the table and the bars")->capture_default_str();
  return {app, [a]() -> int {
            std::vector<results::RunReader> runs;
            for (auto& d : a->run_dirs) runs.emplace_back(d);
            results::write_report(runs, a->out, a->report);
            std::cout << "wrote " << a->out << "\n";
            return 0;
          }};
}

}  // namespace t2::cli
