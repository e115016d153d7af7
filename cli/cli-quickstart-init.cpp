// t2 quickstart-init OUT_DIR: build the quickstart's tiny default model and synthetic tasks
// (quickstart/quickstart-init.h, docs/quickstart.md).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>
#include <algorithm>
#include <memory>

#include "cli/cli.h"
#include "quickstart/quickstart-init.h"
#include "core/check.h"

namespace t2::cli {

Command add_quickstart_init_command(CLI::App& t2) {
  auto* app = t2.add_subcommand(
      "quickstart-init",
      "Build the quickstart assets: a tiny Llama model trained from scratch on synthetic tasks (OUT_DIR/model) "
      "and the tasks' data (OUT_DIR/data); prints the base model's accuracy per task");
  auto o = std::make_shared<quickstart::InitOptions>();
  auto steps_given = std::make_shared<int64_t>(0);
  app->add_option("out_dir", o->out_dir, "output folder (e.g. runs/quickstart-assets)")->required();
  app->add_option("--seed", o->seed, "seed of the data, the tokenizer and the training (default 1)");
  auto* steps = app->add_option("--steps", *steps_given,
                                "pre-training steps (default " + std::to_string(o->steps) + "; reproducible)")
                    ->check(CLI::PositiveNumber);
  app->add_option("--train-seconds", o->train_seconds,
                  "train for about this many seconds instead of a fixed step count (not byte-reproducible)")
      ->check(CLI::PositiveNumber)
      ->excludes(steps);
  app->add_flag("--force", o->force, "replace existing quickstart files in OUT_DIR");
  app->add_flag("!--no-eval", o->evaluate, "skip the base-model evaluation at the end");
  app->add_option("--responses", o->responses_dir,
                  "write the evaluation's answers to DIR/<task>.jsonl (id, correct, response, careful, sloppy)");
  // model and data shape (for experiments; the defaults are what the quickstart campaign expects)
  app->add_option("--batch-size", o->batch_size, "sequences per pre-training step")->check(CLI::PositiveNumber);
  app->add_option("--lr", o->lr, "peak learning rate")->check(CLI::PositiveNumber);
  app->add_option("--hidden", o->shape.hidden, "hidden size")->check(CLI::PositiveNumber);
  app->add_option("--layers", o->shape.layers, "decoder layers")->check(CLI::PositiveNumber);
  app->add_option("--heads", o->shape.heads, "attention heads")->check(CLI::PositiveNumber);
  app->add_option("--kv-heads", o->shape.kv_heads, "key/value heads")->check(CLI::PositiveNumber);
  app->add_option("--intermediate", o->shape.intermediate, "MLP size")->check(CLI::PositiveNumber);
  app->add_option("--vocab", o->shape.vocab, "vocabulary size (bytes + merges + 5 special tokens)")
      ->check(CLI::Range(261, 65536));
  auto train_items = std::make_shared<size_t>(0);
  auto* ti = app->add_option("--train-items", *train_items,
                             "training items of arith and choice (code gets 3/5 of it; the "
                             "quickstart campaign expects the default, 1000)")
                 ->check(CLI::PositiveNumber);
  app->add_option("--test-items", o->sizes.test, "test items of arith, choice and code")->check(CLI::PositiveNumber);
  app->add_option("--unseen-train-items", o->sizes.unseen_train, "training items of arith_choice")
      ->check(CLI::PositiveNumber);
  app->add_option("--unseen-test-items", o->sizes.unseen_test, "test items of arith_choice")->check(CLI::PositiveNumber);
  return {app, [o, steps_given, steps, train_items, ti]() -> int {
            if (steps->count()) o->steps = *steps_given;
            if (ti->count()) {
              o->sizes.train = *train_items;
              o->sizes.code_train = std::max<size_t>(1, *train_items * 3 / 5);
            }
            T2_CHECK_AS(UsageError, o->shape.heads % o->shape.kv_heads == 0,
                        "--heads {} must be a multiple of --kv-heads {}", o->shape.heads, o->shape.kv_heads);
            o->log = [](const std::string& s) { std::cout << s << std::endl; };
            quickstart::InitReport r = quickstart::quickstart_init(*o);
            if (!r.base.empty()) {
              std::cout << "\nbase model, greedy, scored by the tasks' own scorers:\n";
              std::cout << fmt::format("  {:<13} {:<14} {:>5} {:>9} {:>13}\n", "task", "kind", "n", "accuracy",
                                       "careful form");
              for (const auto& s : r.base)
                std::cout << fmt::format("  {:<13} {:<14} {:>5} {:>8.1f}% {:>12.1f}%\n", s.task, s.kind, s.n,
                                         100.0 * s.accuracy(),
                                         s.n ? 100.0 * static_cast<double>(s.careful) / static_cast<double>(s.n) : 0.0);
            }
            std::cout << "\nfiles:\n";
            for (const auto& [path, bytes] : r.files) std::cout << fmt::format("  {:<32} {:>10} bytes\n", path, bytes);
            std::cout << fmt::format(
                "\ntraining {:.1f} s, evaluation {:.1f} s, total {:.1f} s\n"
                "next: T2_QUICKSTART_DIR={} t2 run examples/quickstart.yaml\n",
                r.train_seconds, r.eval_seconds, r.total_seconds, o->out_dir);
            return 0;
          }};
}

}  // namespace t2::cli
