// t2 experts: list, show and compare SVF expert files; export them as safetensors and import them
// back (experts/expert-safetensors.h). Every subcommand reads either form.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "core/check.h"
#include "core/error.h"
#include "core/files.h"
#include "experts/expert-file.h"
#include "experts/expert-safetensors.h"
#include "experts/svd-layout.h"
#include "experts/svf-transfer.h"

namespace t2::cli {

namespace {

std::string with_extension(const std::string& path, const std::string& ext) {
  return std::filesystem::path(path).replace_extension(ext).string();
}

}  // namespace

Command add_experts_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("experts", "List, show, compare, export and import SVF expert files");
  struct Args {
    std::vector<std::string> list_files, show_files, diff_files;
    std::string export_file, export_format = "safetensors", export_out;
    std::string import_file, import_out;
    // transfer (experts/svf-transfer.h)
    std::string from_file, to_model, to_svd, out, transfer_from, sigma_order = "ordered";
    uint64_t seed = 0;
  };
  auto a = std::make_shared<Args>();
  auto* list = app->add_subcommand("list", "One line per expert file: task, method, size, best validation, base hash");
  list->add_option("files", a->list_files, "expert files (.h5 or .safetensors)")->required();
  auto* show = app->add_subcommand("show", "Metadata, per-matrix z statistics and the resolved config");
  show->add_option("files", a->show_files, "expert files (.h5 or .safetensors)")->required();
  auto* diff = app->add_subcommand("diff", "Per-matrix differences of z (and sigmoid(z)) between two experts");
  diff->add_option("files", a->diff_files, "two expert files")->required()->expected(2);
  auto* exp = app->add_subcommand("export", "Write an expert as safetensors: z per matrix under the model's tensor "
                                            "names, metadata (base model, hash, task, method, config, curve)");
  exp->add_option("file", a->export_file, "expert .h5 file")->required();
  exp->add_option("--format", a->export_format, "safetensors")->check(CLI::IsMember({"safetensors"}))
      ->capture_default_str();
  exp->add_option("--out", a->export_out, "output file (default FILE with .safetensors)");
  auto* imp = app->add_subcommand("import", "Read a safetensors expert (t2 experts export) back into an .h5 expert");
  imp->add_option("file", a->import_file, "expert .safetensors file")->required();
  imp->add_option("--out", a->import_out, "output .h5 file (default FILE with .h5)");
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
  return {app, [a, list, show, diff, exp, imp, transfer]() -> int {
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
              for (auto& f : a->list_files) std::cout << expert_summary_line(f, expert_read_any(f)) << "\n";
            if (show->parsed())
              for (auto& f : a->show_files) std::cout << expert_show(f, expert_read_any(f));
            if (diff->parsed())
              std::cout << expert_diff(a->diff_files[0], expert_read_any(a->diff_files[0]), a->diff_files[1],
                                       expert_read_any(a->diff_files[1]));
            if (exp->parsed()) {
              T2_CHECK_AS(UsageError, path_exists(a->export_file), "t2 experts export: {} does not exist", a->export_file);
              T2_CHECK_AS(UsageError, !is_safetensors_file(a->export_file),
                          "t2 experts export: {} is already safetensors; give the .h5 expert", a->export_file);
              const std::string out = a->export_out.empty() ? with_extension(a->export_file, ".safetensors") : a->export_out;
              T2_CHECK_AS(UsageError, out != a->export_file, "t2 experts export: --out is the input file {}", out);
              expert_write_safetensors(out, expert_read(a->export_file));
              std::cout << out << "\n";
            }
            if (imp->parsed()) {
              T2_CHECK_AS(UsageError, path_exists(a->import_file), "t2 experts import: {} does not exist", a->import_file);
              T2_CHECK_AS(UsageError, is_safetensors_file(a->import_file),
                          "t2 experts import: {} is not a safetensors file", a->import_file);
              const std::string out = a->import_out.empty() ? with_extension(a->import_file, ".h5") : a->import_out;
              T2_CHECK_AS(UsageError, out != a->import_file, "t2 experts import: --out is the input file {}", out);
              expert_write(out, expert_read_safetensors(a->import_file));
              std::cout << out << "\n";
            }
            return 0;
          }};
}

}  // namespace t2::cli
