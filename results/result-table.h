// The paper-style result table of one or more run directories: rows are base model x method (the
// base model first, then LoRA, SVF, T² (Prompt), T² (Cls-expert), T² (Few-shot), then any other
// method), columns are tasks, cells are `score (score/base)`. Scores are the final metrics of the
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
};

struct TableCell {
  double mean = 0;                     // in percent (metric x 100)
  double std = 0;                      // sample standard deviation over seeds, percent
  int seeds = 0;
  int64_t n = 0;                       // examples per seed (the first seed's)
  std::optional<double> normalised;    // mean / base mean of the same model and task
};

struct TableRow {
  std::string model_key, model_name, method, label;   // label: "Llama3-8B-Instruct" or "+ SVF"
  bool is_base = false;
  std::vector<std::optional<TableCell>> cells;        // one per task column
};

struct ResultTable {
  std::string metric;
  int decimals = 2;
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
