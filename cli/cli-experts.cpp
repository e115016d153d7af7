// t2 experts: list, show and compare SVF expert files.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "core/check.h"
#include "experts/expert-file.h"
#include "experts/svd-layout.h"
#include "experts/svf-transfer.h"

namespace t2::cli {

Command add_experts_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("experts", "List, show and compare SVF expert files");
  struct Args {
    std::vector<std::string> list_files, show_files, diff_files;
    // transfer (experts/svf-transfer.h)
    std::string from_file, to_model, to_svd, out, transfer_from, sigma_order = "ordered";
    uint64_t seed = 0;
  };
  auto a = std::make_shared<Args>();
  auto* list = app->add_subcommand("list", "One line per expert file: task, method, size, best validation, base hash");
  list->add_option("files", a->list_files, "expert .h5 files")->required();
  auto* show = app->add_subcommand("show", "Metadata, per-matrix z statistics and the resolved config");
  show->add_option("files", a->show_files, "expert .h5 files")->required();
  auto* diff = app->add_subcommand("diff", "Per-matrix differences of z (and sigmoid(z)) between two experts");
  diff->add_option("files", a->diff_files, "two expert .h5 files")->required()->expected(2);
  auto* transfer = app->add_subcommand(
      "transfer", "Apply an expert trained on model A to model B with the same adapted shapes (Tables 5, 9)");
  transfer->add_option("expert", a->from_file, "the expert .h5 trained on model A")->required();
  transfer->add_option("--to", a->to_model, "model B's folder (its decomposition: t2 decompose MODEL_B)")->required();
  transfer->add_option("--svd", a->to_svd, "model B's SVD folder (default MODEL_B/t2-svd)");
  transfer->add_option("--transfer-from", a->transfer_from,
                       "model A's name or decomposition hash, as recorded in the expert (required: transfer is explicit)")
      ->required();
  transfer->add_option("--sigma-order", a->sigma_order, "ordered (z as trained) or shuffled (seeded permutation per matrix)")
      ->capture_default_str();
  transfer->add_option("--seed", a->seed, "permutation seed of --sigma-order shuffled")->capture_default_str();
  transfer->add_option("--out", a->out, "the transferred expert .h5 to write")->required();
  app->require_subcommand(1);
  return {app, [a, list, show, diff, transfer]() -> int {
            if (transfer->parsed()) {
              TransferSpec spec{a->transfer_from, parse_sigma_order(a->sigma_order), a->seed};
              auto svd = read_svd_layout(a->to_svd.empty() ? a->to_model + "/t2-svd" : a->to_svd, 1);
              auto e = expert_transfer(expert_read(a->from_file), a->from_file, svd.layout, svd.source_hash,
                                       a->to_model, spec);
              expert_write(a->out, e);
              std::cout << expert_summary_line(a->out, e) << "\n";
              return 0;
            }
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
