// t2 score: Score saved responses for a task (GSM8K, MATH, MBPP, HumanEval, ARC)
#include <CLI/CLI.hpp>

#include "coordinator/cli.h"

namespace t2::cli {

Command add_score_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("score", "Score saved responses for a task (GSM8K, MATH, MBPP, HumanEval, ARC)");
  app->allow_extras();
  return {app, [] () -> int { not_available("score", "task scoring is being built (issue: tasks and scoring)"); }};
}

}  // namespace t2::cli
