// The paper's other table shapes, laid out from a built ResultTable (result-table.h):
//
//   ablation (Table 4): # | Method | Objective | Module | #Params | <task columns>
//     one row per method of one base model; the method key says what was trained:
//       <svf|lora|ia3|dora>[_pg|_nt][_attn|_mlp|_both]
//     objective pg = policy gradient, nt = next-token; module attn = attention (q, v), mlp, both.
//     Defaults follow the paper: svf = policy gradient on the MLP; lora/ia3/dora = next-token on
//     attention. Row 0 is the base model. #Params from TableLayoutOptions::params (trainable values
//     per method key, e.g. from the trainer or t2 plan), "–" when not given.
//   transfer (Tables 5, 9): rows base (the target model), ordered σ, shuffled σ, cross-model few-shot
//     from the methods svf_transfer_ordered, svf_transfer_shuffled, t2_fewshot_transfer of one model.
//
// Cells are the ResultTable's (mean, ± sd over seeds when several); markdown or csv.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "results/result-table.h"

namespace t2::results {

enum class TableLayout { standard, ablation, transfer };
TableLayout parse_table_layout(const std::string& name);  // "standard" | "ablation" | "transfer"; UsageError

struct AblationMethod {
  std::string method;     // "SVF", "LoRA", "IA3", "DoRA"
  std::string objective;  // "policy gradient" | "next-token"
  std::string module;     // "attention" | "MLP" | "MLP+attention"
};
// Parses a method key by the grammar above; nullopt for keys that are not ablation rows.
std::optional<AblationMethod> parse_ablation_method(const std::string& key);

struct TableLayoutOptions {
  std::string model;                        // model key or display name; empty: the first model
  std::map<std::string, int64_t> params;    // trainable parameters per method key
};

// Renders `t` in `layout` (standard: render_table). UsageError when the layout has no rows to show.
std::string render_layout(const ResultTable& t, TableLayout layout, TableFormat format,
                          const TableLayoutOptions& options = {});

}  // namespace t2::results
