// t2 decompose: Compute and cache the SVD factors of a model's adapted matrices
#include <CLI/CLI.hpp>

#include "coordinator/cli.h"

namespace t2::cli {

Command add_decompose_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("decompose", "Compute and cache the SVD factors of a model's adapted matrices");
  app->allow_extras();
  return {app, [] () -> int { not_available("decompose", "SVF decomposition is being built (issue: SVF experts)"); }};
}

}  // namespace t2::cli
