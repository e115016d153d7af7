// t2 logprobs: Per-token log-probabilities of continuation ids after prompt ids
#include <CLI/CLI.hpp>

#include "coordinator/cli.h"

namespace t2::cli {

Command add_logprobs_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("logprobs", "Per-token log-probabilities of continuation ids after prompt ids");
  app->allow_extras();
  return {app, [] () -> int { not_available("logprobs", "the model runtime is being built (issue: model runtime)"); }};
}

}  // namespace t2::cli
