// t2 decompose: compute and cache the SVD factors of a model's adapted matrices.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/cli.h"
#include "core/hf-cache.h"
#include "experts/decompose.h"

namespace t2::cli {

Command add_decompose_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("decompose", "Compute and cache the SVD factors of a model's adapted matrices");
  struct Args {
    std::string model_dir;
    std::string revision;
    DecomposeOptions opt;
    bool verbose = false;
  };
  auto a = std::make_shared<Args>();
  app->add_option("model_dir", a->model_dir, "Hugging Face model folder, or Hub id in the local cache")->required();
  app->add_option("--revision", a->revision, "branch, tag or commit of a Hub id (default main)");
  app->add_option("--modules", a->opt.modules, "mlp (gate/up/down, the reference), attn (q/v, the paper's ablation), attn_qkvo (q/k/v/o), all (mlp + q/v) or all_qkvo")
      ->capture_default_str();
  app->add_option("--layers", a->opt.layers,
                  "only these decoder layers, comma separated (default: every layer; the paper's 70B used half)")
      ->delimiter(',');
  app->add_option("--tp", a->opt.tp, "write shard files for this tensor-parallel degree")->capture_default_str();
  app->add_option("--out", a->opt.out_dir, "output folder (default MODEL_DIR/t2-svd)");
  app->add_flag("--fp64", a->opt.fp64, "SVD in float64 (factors stored as float64)");
  app->add_option("--threads", a->opt.threads, "matrices decomposed in parallel")->capture_default_str();
  app->add_flag("-v,--verbose", a->verbose, "print one line per matrix");
  return {app, [a]() -> int {
            const ModelLocation loc = resolve_model(a->model_dir, a->revision, "t2 decompose: model");
            if (loc.from_cache()) std::cout << fmt::format("{} at {} is snapshot {}\n", loc.repo_id, loc.revision, loc.commit);
            auto rep = decompose_model(loc.dir, a->opt);
            if (a->verbose)
              for (auto& m : rep.matrices)
                std::cout << fmt::format("{}\t{}x{}\t{}\n", m.name, m.rows, m.cols,
                                         m.reused ? std::string("reused") : fmt::format("{:.3f} s", m.seconds));
            std::cout << fmt::format("source hash {}: {} matrices, {}\n", rep.source_hash, rep.matrices.size(),
                                     rep.reused ? "reused existing factors" : "decomposed");
            for (auto& f : rep.files) std::cout << f << "\n";
            return rep.files.empty() ? 1 : 0;
          }};
}

}  // namespace t2::cli
