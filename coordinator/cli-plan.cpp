// t2 plan: Print per-rank memory plans (weights, U/V shards, KV cache, activations) and whether they fit
#include <CLI/CLI.hpp>

#include "coordinator/cli.h"

namespace t2::cli {

Command add_plan_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("plan", "Print per-rank memory plans (weights, U/V shards, KV cache, activations) and whether they fit");
  app->allow_extras();
  return {app, [] () -> int { not_available("plan", "the memory planner is being built (issue: coordinator)"); }};
}

}  // namespace t2::cli
