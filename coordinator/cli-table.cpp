// t2 table: Print the paper-style result table of one or more run directories
#include <CLI/CLI.hpp>

#include "coordinator/cli.h"

namespace t2::cli {

Command add_table_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("table", "Print the paper-style result table of one or more run directories");
  app->allow_extras();
  return {app, [] () -> int { not_available("table", "result tables are being built (issue: results)"); }};
}

}  // namespace t2::cli
