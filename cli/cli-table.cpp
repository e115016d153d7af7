// t2 table: print the paper-style result table of one or more run directories.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "results/layout-tables.h"
#include "results/result-table.h"
#include "results/run-reader.h"

namespace t2::cli {

Command add_table_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("table", "Print the paper-style result table of one or more run directories");
  struct Args {
    std::vector<std::string> run_dirs;
    std::string format = "md";
    results::TableOptions table;
    std::string layout = "standard";  // results/layout-tables.h
    results::TableLayoutOptions layout_options;
  };
  auto a = std::make_shared<Args>();
  app->add_option("run_dirs", a->run_dirs, "run directories (several are merged: a sweep split over jobs)")
      ->required();
  app->add_option("--format", a->format, "md, latex, csv or json")->capture_default_str();
  app->add_option("--metric", a->table.metric, "accuracy, or another metric the evaluations stored")
      ->capture_default_str();
  app->add_option("--methods", a->table.methods,
                  "rows to show, in this order (comma separated; default: base, lora, svf, t2_prompt, t2_cls, "
                  "t2_fewshot, then any other)")
      ->delimiter(',');
  app->add_option("--decimals", a->table.decimals, "decimals of scores and normalised scores")
      ->capture_default_str()
      ->check(CLI::Range(0, 6));
  app->add_flag("--no-se{false}", a->table.show_se,
                "scores only, as the published tables (CSV and JSON keep the standard errors)");
  app->add_flag("--check-records", a->table.check_records,
                "recompute every accuracy from the per-example records and fail on a mismatch");
  app->add_option("--layout", a->layout,
                  "standard (Tables 1, 2), ablation (Table 4: method, objective, module, #params) or transfer "
                  "(Tables 5, 9: ordered / shuffled sigma, cross-model few-shot)")
      ->capture_default_str();
  app->add_option("--model", a->layout_options.model, "ablation/transfer layouts: the model whose rows to show");
  return {app, [a]() -> int {
            auto format = results::parse_table_format(a->format);
            auto layout = results::parse_table_layout(a->layout);
            std::vector<results::RunReader> runs;
            for (auto& d : a->run_dirs) runs.emplace_back(d);
            std::cout << results::render_layout(results::build_result_table(runs, a->table), layout, format,
                                                a->layout_options);
            return 0;
          }};
}

}  // namespace t2::cli
