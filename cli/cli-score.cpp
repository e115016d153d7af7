// t2 score: score saved responses for a task (GSM8K, MATH, MBPP, HumanEval, ARC, cls, user tasks).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "core/check.h"
#include "core/names.h"
#include "jobs/score.h"
#include "jobs/task.h"

namespace t2::cli {

namespace {

struct ScoreArgs {
  std::string task, responses, data, split = "test", data_root, spec, time_limit = "fixed";
  std::vector<std::string> compat;
  bool json = false;
  int parallel = 2;
  double test_seconds = 5.0;
  std::string sandbox_isolation = "namespaces";
};

}  // namespace

Command add_score_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("score",
                                "Score saved responses for a task (gsm8k, math, mbpp, humaneval, arc_easy, "
                                "arc_challenge, cls, user)");
  auto a = std::make_shared<ScoreArgs>();
  app->add_option("task", a->task, "task kind: " + join(tasks::task_kinds()))->required();
  app->add_option("--responses", a->responses, "JSONL file, one {\"id\": ..., \"response\": ...} per line")
      ->required();
  app->add_option("--data", a->data, "score against this data file instead of the task's split");
  app->add_option("--split", a->split, "split of the task's default data (default: test)");
  app->add_option("--data-root", a->data_root, "folder holding data/<task>/ (default: $T2_DATA_DIR or ../shared)");
  app->add_option("--spec", a->spec, "YAML spec of a user task (task 'user')");
  app->add_option("--compat", a->compat, "compat switch, repeatable (original, gsm8k_regex, arc_guess, ...)");
  app->add_option("--parallel", a->parallel, "programs run at once for code tasks (default 2)");
  app->add_option("--time-limit", a->time_limit, "code tests: fixed or evalplus");
  app->add_option("--test-seconds", a->test_seconds, "code tests: seconds per test when fixed (default 5)");
  app->add_option("--sandbox-isolation", a->sandbox_isolation,
                  "code sandbox: namespaces (default; stops where the kernel refuses user namespaces) or "
                  "rlimits (opt-out: resource limits only, no file-system or network isolation)")
      ->capture_default_str();
  app->add_flag("--json", a->json, "print a JSON report instead of text");
  return {app, [a]() -> int {
            tasks::TaskOptions o;
            o.data_root = a->data_root;
            o.user_spec = a->spec;
            o.compat = std::set<std::string>(a->compat.begin(), a->compat.end());
            o.time_limit = a->time_limit;
            o.test_seconds = a->test_seconds;
            o.sandbox.isolation = tasks::parse_sandbox_isolation(a->sandbox_isolation);
            T2_CHECK_AS(UsageError, a->parallel >= 1, "--parallel must be at least 1, got {}", a->parallel);
            auto task = tasks::make_task(a->task, o);
            auto examples = a->data.empty() ? task->load(a->split) : task->load_file(a->data);
            auto responses = tasks::read_responses(a->responses, examples);
            auto report = tasks::score_responses(*task, examples, responses, a->parallel);
            report.split = a->data.empty() ? a->split : a->data;
            if (task->runs_code()) report.sandbox = tasks::probe_sandbox_support(o.sandbox).describe();
            if (a->json)
              std::cout << report.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
            else
              std::cout << report.to_text();
            return 0;
          }};
}

}  // namespace t2::cli
