// t2 generate: Generate text with a model folder (optionally adapted by experts)
#include <CLI/CLI.hpp>

#include "coordinator/cli.h"

namespace t2::cli {

Command add_generate_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("generate", "Generate text with a model folder (optionally adapted by experts)");
  app->allow_extras();
  return {app, [] () -> int { not_available("generate", "the model runtime is being built (issue: model runtime)"); }};
}

}  // namespace t2::cli
