// The paper-style result table of one or more run directories: rows are base model x method (the
// base model first, then LoRA, SVF, T² (Prompt), T² (Cls-expert), T² (Few-shot), then any other
// method), columns are tasks, cells are `score ± SE (score/base ± paired SE)` (several seeds:
// `mean ± sd`). A base scored on a different number of examples or a different evaluated set
// (job parameters `evaluated`, `compat`, `split`) is not used to normalise: the cell says `—` and a
// note says why. Scores are the final metrics of the
// evaluate jobs (result.h5); several seeds of the same (model, task, method) are averaged; several
// run directories are merged (a sweep split over Slurm jobs).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "results/run-reader.h"
#include "results/run-records.h"

namespace t2::results {

struct TableOptions {
  std::string metric = "accuracy";     // "accuracy" or a name in Metrics::extra
  std::vector<std::string> methods;    // rows to show, in this order; empty: every method, default order
  int decimals = 2;
  // Recompute every accuracy from the job's per-example records (eval-*.h5) and fail on a mismatch.
  bool check_records = false;
  // Show each single-seed cell's standard error and the normalised score's paired standard error
  // (false: the published tables' layout, scores only; CSV and JSON carry them either way).
  bool show_se = true;
};

struct TableCell {
  double mean = 0;                     // in percent (metric x 100)
  double std = 0;                      // sample standard deviation over seeds, percent
  double se = 0;                       // standard error of the mean, percent: sqrt(p(1-p)/n) for one
                                       // seed, sqrt(sum se_s^2) / seeds for several
  int seeds = 0;
  int64_t n = 0;                       // examples per seed (the first seed's)
  std::optional<double> normalised;    // mean / base mean of the same model and task
  // Paired standard error of the normalised score (delta method on per-example differences), when
  // method and base scored the same examples (one seed each, records present).
  std::optional<double> normalised_se;
  std::string not_normalised;          // why there is no normalised score ("" when there is)
};

struct TableRow {
  std::string model_key, model_name, method, label;   // label: "Llama3-8B-Instruct" or "+ SVF"
  bool is_base = false;
  std::vector<std::optional<TableCell>> cells;        // one per task column
};

struct ResultTable {
  std::string metric;
  int decimals = 2;
  bool show_se = true;
  std::vector<NamedItem> tasks;
  std::vector<TableRow> rows;
  std::vector<std::string> notes;      // the selection rule and anything the reader must know
};

ResultTable build_result_table(const std::vector<RunReader>& runs, const TableOptions& options = {});

enum class TableFormat { markdown, latex, csv, json };
// "md"/"markdown", "latex"/"tex", "csv", "json"; UsageError listing the valid names otherwise.
TableFormat parse_table_format(const std::string& name);
std::string render_table(const ResultTable& table, TableFormat format);

// "+ SVF", "+ T² (Prompt)", ... ; "+ <method>" for methods t2 does not know.
std::string method_label(const std::string& method);
// The paper's name of a task key ("arc_challenge" -> "ARC-Challenge"); used when the run metadata
// names no display name for a task; unknown keys are returned as they are.
std::string task_display_name(const std::string& key);
// The default row order of the known methods (base first).
const std::vector<std::string>& default_method_order();

}  // namespace t2::results
