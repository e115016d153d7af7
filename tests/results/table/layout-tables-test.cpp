// `t2 table --layout ablation|transfer`: the paper's Table 4 and Table 5 shapes, laid out from a
// result table holding the paper's numbers; method keys parsed by the documented grammar.
#include <gtest/gtest.h>

#include "core/error.h"
#include "results/layout-tables.h"

namespace t2::results {
namespace {

TableRow row(const std::string& model, const std::string& method, std::vector<double> v, int seeds = 1) {
  TableRow r;
  r.model_key = model;
  r.model_name = model;
  r.method = method;
  r.is_base = method == "base";
  for (double x : v) {
    TableCell c;
    c.mean = x;
    c.seeds = seeds;
    c.std = seeds > 1 ? 0.5 : 0;
    r.cells.push_back(c);
  }
  return r;
}

TEST(LayoutTables, AblationHasTable4Shape) {
  ResultTable t;
  t.tasks = {{"gsm8k", "GSM8K"}, {"math", "MATH"}};
  t.rows = {row("llama3-8b", "base", {75.89, 24.54}),         row("llama3-8b", "svf", {78.62, 24.20}),
            row("llama3-8b", "svf_attn", {76.19, 24.20}),     row("llama3-8b", "svf_both", {79.23, 25.04}),
            row("llama3-8b", "svf_nt_attn", {60.50, 18.52}),  row("llama3-8b", "lora_pg", {57.92, 15.72}),
            row("llama3-8b", "lora", {77.18, 24.12}, 3),      row("llama3-8b", "lora_both", {75.66, 22.12}),
            row("llama3-8b", "t2_prompt", {1, 1}),            row("mistral", "svf", {1, 2})};
  TableLayoutOptions o;
  o.params = {{"svf", 390000}, {"lora", 6820000}};
  auto md = render_layout(t, TableLayout::ablation, TableFormat::markdown, o);
  EXPECT_NE(md.find("| # | Method | Objective | Module | #Params | GSM8K | MATH |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0 | base | – | – | – | 75.89 | 24.54 |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1 | SVF | policy gradient | MLP | 390.0K | 78.62 | 24.20 |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| 3 | SVF | policy gradient | MLP+attention | – | 79.23 | 25.04 |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| 4 | SVF | next-token | attention | – | 60.50 | 18.52 |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| 5 | LoRA | policy gradient | attention | – | 57.92 | 15.72 |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| 6 | LoRA | next-token | attention | 6.82M | 77.18 ± 0.50 | 24.12 ± 0.50 |\n"), std::string::npos)
      << md;
  EXPECT_EQ(md.find("t2_prompt"), std::string::npos);  // not an ablation row
  EXPECT_EQ(md.find("| 8 |"), std::string::npos);       // the other model's rows are not mixed in
  auto csv = render_layout(t, TableLayout::ablation, TableFormat::csv, o);
  EXPECT_NE(csv.find("7,LoRA,next-token,MLP+attention,–,75.66,22.12\n"), std::string::npos) << csv;
  o.model = "mistral";
  EXPECT_NE(render_layout(t, TableLayout::ablation, TableFormat::markdown, o).find("| 1 | SVF |"), std::string::npos);
  o.model = "nope";
  EXPECT_THROW(render_layout(t, TableLayout::ablation, TableFormat::markdown, o), UsageError);
}

TEST(LayoutTables, TransferHasTable5Shape) {
  ResultTable t;
  t.tasks = {{"math", "MATH"}, {"humaneval", "HumanEval"}, {"arc_challenge", "ARC-Challenge"}};
  t.rows = {row("mistral-7b", "base", {13.02, 43.29, 71.76}),
            row("mistral-7b", "svf_transfer_shuffled", {10.52, 40.24, 70.82}),
            row("mistral-7b", "svf_transfer_ordered", {11.96, 45.12, 72.01}),
            row("mistral-7b", "t2_fewshot_transfer", {12.65, 46.75, 75.64})};
  auto md = render_layout(t, TableLayout::transfer, TableFormat::markdown);
  const std::string want =
      "| Method | MATH | HumanEval | ARC-Challenge |\n|---|---|---|---|\n| base | 13.02 | 43.29 | 71.76 |\n"
      "| ordered σ | 11.96 | 45.12 | 72.01 |\n| shuffled σ | 10.52 | 40.24 | 70.82 |\n"
      "| cross-model few-shot | 12.65 | 46.75 | 75.64 |\n";
  EXPECT_EQ(md.substr(0, want.size()), want) << md;
  ResultTable none;
  none.tasks = t.tasks;
  none.rows = {row("mistral-7b", "base", {1, 2, 3})};
  EXPECT_THROW(render_layout(none, TableLayout::transfer, TableFormat::markdown), UsageError);
  EXPECT_THROW(render_layout(t, TableLayout::transfer, TableFormat::latex), UsageError);
}

TEST(LayoutTables, MethodKeyGrammar) {
  auto m = parse_ablation_method("dora_nt_both");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->method, "DoRA");
  EXPECT_EQ(m->module, "MLP+attention");
  EXPECT_FALSE(parse_ablation_method("svf_attn_pg"));  // objective before module
  EXPECT_FALSE(parse_ablation_method("t2_prompt"));
  EXPECT_FALSE(parse_ablation_method("svf_x"));
  EXPECT_THROW(parse_table_layout("wide"), UsageError);
}

}  // namespace
}  // namespace t2::results
