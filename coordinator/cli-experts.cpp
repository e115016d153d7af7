// t2 experts: List, show and compare SVF expert files
#include <CLI/CLI.hpp>

#include "coordinator/cli.h"

namespace t2::cli {

Command add_experts_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("experts", "List, show and compare SVF expert files");
  app->allow_extras();
  return {app, [] () -> int { not_available("experts", "expert files are being built (issue: SVF experts)"); }};
}

}  // namespace t2::cli
