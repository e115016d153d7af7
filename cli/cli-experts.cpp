// t2 experts: list, show and compare SVF expert files.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "core/check.h"
#include "experts/expert-file.h"

namespace t2::cli {

Command add_experts_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("experts", "List, show and compare SVF expert files");
  struct Args {
    std::vector<std::string> list_files, show_files, diff_files;
  };
  auto a = std::make_shared<Args>();
  auto* list = app->add_subcommand("list", "One line per expert file: task, method, size, best validation, base hash");
  list->add_option("files", a->list_files, "expert .h5 files")->required();
  auto* show = app->add_subcommand("show", "Metadata, per-matrix z statistics and the resolved config");
  show->add_option("files", a->show_files, "expert .h5 files")->required();
  auto* diff = app->add_subcommand("diff", "Per-matrix differences of z (and sigmoid(z)) between two experts");
  diff->add_option("files", a->diff_files, "two expert .h5 files")->required()->expected(2);
  app->require_subcommand(1);
  return {app, [a, list, show, diff]() -> int {
            if (list->parsed())
              for (auto& f : a->list_files) std::cout << expert_summary_line(f, expert_read(f)) << "\n";
            if (show->parsed())
              for (auto& f : a->show_files) std::cout << expert_show(f, expert_read(f));
            if (diff->parsed())
              std::cout << expert_diff(a->diff_files[0], expert_read(a->diff_files[0]), a->diff_files[1],
                                       expert_read(a->diff_files[1]));
            return 0;
          }};
}

}  // namespace t2::cli
