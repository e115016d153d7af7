// `t2 report`: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched) with the
// run metadata, the result table, per-task bars of the methods, the training curves of every expert
// (reward and validation accuracy per step) and the best CEM score per generation of every
// few-shot search, plus the job list.
#pragma once

#include <string>
#include <vector>

#include "results/result-table.h"
#include "results/run-reader.h"

namespace t2::results {

struct ReportOptions {
  std::string title;                 // default: "t2 report: <run name>"
  TableOptions table;
};

std::string render_report_html(const std::vector<RunReader>& runs, const ReportOptions& options = {});

// Renders and writes `out_path` atomically.
void write_report(const std::vector<RunReader>& runs, const std::string& out_path, const ReportOptions& options = {});

// Colours the report uses, so tests can find each chart kind in a screenshot.
namespace report_colors {
inline constexpr const char* reward = "#0b6e4f";
inline constexpr const char* reward_band = "#9fd8c4";
inline constexpr const char* validation = "#c2185b";
inline constexpr const char* cem_best = "#6a3d9a";
inline constexpr const char* cem_mean = "#f0a500";
// Method bars: base, lora, svf, t2_prompt, t2_cls, t2_fewshot, then the rest in turn.
const std::vector<std::string>& methods();
}  // namespace report_colors

}  // namespace t2::results
