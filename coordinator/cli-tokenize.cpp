// t2 tokenize: Tokenize text or decode ids with a model folder's tokenizer
#include <CLI/CLI.hpp>

#include "coordinator/cli.h"

namespace t2::cli {

Command add_tokenize_command(CLI::App& t2) {
  auto* app = t2.add_subcommand("tokenize", "Tokenize text or decode ids with a model folder's tokenizer");
  app->allow_extras();
  return {app, [] () -> int { not_available("tokenize", "tokenizers are being built (issue: model runtime)"); }};
}

}  // namespace t2::cli
