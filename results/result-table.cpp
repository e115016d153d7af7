#include "results/result-table.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/names.h"

namespace t2::results {
namespace {

const char* const dash = "—";

template <typename T>
void add_unique(std::vector<T>& v, const T& x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

std::string cell_text(const std::optional<TableCell>& c, int d, bool base, bool show_se) {
  if (!c) return dash;
  std::string s = fmt::format("{:.{}f}", c->mean, d);
  if (c->seeds > 1) s += fmt::format(" ± {:.{}f}", c->std, d);               // over seeds
  else if (show_se && c->n > 0) s += fmt::format(" ± {:.{}f}", c->se, d);   // standard error
  if (base) s += fmt::format(" ({:.{}f})", 1.0, d);
  else if (c->normalised && c->normalised_se && show_se)
    s += fmt::format(" ({:.{}f} ± {:.{}f})", *c->normalised, d, *c->normalised_se, d);
  else if (c->normalised) s += fmt::format(" ({:.{}f})", *c->normalised, d);
  else s += fmt::format(" ({})", dash);
  return s;
}

struct SeedValue {
  double value = 0;  // percent
  int64_t n = 0;
  double se = 0;     // percent
  const RunReader* run = nullptr;
  std::string job_id;
  std::string evaluated;  // what the scores cover: params evaluated / compat / split
};

// Paired standard error of ratio r = mean(x) / mean(b) over the same examples (delta method):
// sd(x_i - r b_i) / sqrt(n) / mean(b). nullopt when the examples differ or records are missing.
std::optional<double> paired_ratio_se(const SeedValue& m, const SeedValue& b) {
  if (!m.run || !b.run) return std::nullopt;
  auto xm = m.run->read_examples(m.job_id), xb = b.run->read_examples(b.job_id);
  if (xm.empty() || xm.size() != xb.size()) return std::nullopt;
  std::map<std::string, double> base;
  for (auto& r : xb) base[r.example_id] = r.score;
  if (base.size() != xb.size()) return std::nullopt;
  double sm = 0, sb = 0;
  std::vector<std::pair<double, double>> pairs;
  for (auto& r : xm) {
    auto it = base.find(r.example_id);
    if (it == base.end()) return std::nullopt;
    pairs.emplace_back(r.score, it->second);
    sm += r.score;
    sb += it->second;
  }
  const double n = double(pairs.size());
  if (sb <= 0 || n < 2) return std::nullopt;
  const double ratio = sm / sb, mb = sb / n;
  double mean_d = 0, ss = 0;
  for (auto& [x, y] : pairs) mean_d += x - ratio * y;
  mean_d /= n;
  for (auto& [x, y] : pairs) ss += (x - ratio * y - mean_d) * (x - ratio * y - mean_d);
  return std::sqrt(ss / (n - 1)) / std::sqrt(n) / mb;
}

std::string latex_escape(const std::string& s) {
  std::string o;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (s.compare(i, 2, "²") == 0) {
      o += "$^2$";
      i += 1;
    } else if (s.compare(i, 3, "—") == 0) {
      o += "--";
      i += 2;
    } else if (s.compare(i, 2, "±") == 0) {
      o += "$\\pm$";
      i += 1;
    } else if (c == '&' || c == '%' || c == '$' || c == '#' || c == '_' || c == '{' || c == '}') {
      o += '\\';
      o += c;
    } else if (c == '\\') {
      o += "\\textbackslash{}";
    } else {
      o += c;
    }
  }
  return o;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

}  // namespace

const std::vector<std::string>& default_method_order() {
  static const std::vector<std::string> order = {"base", "lora", "svf", "t2_prompt", "t2_cls", "t2_fewshot"};
  return order;
}

std::string task_display_name(const std::string& key) {
  static const std::map<std::string, std::string> names = {
      {"gsm8k", "GSM8K"},         {"math", "MATH"},           {"mbpp", "MBPP-Pro"},
      {"mbpp_pro", "MBPP-Pro"},   {"mbpp-pro", "MBPP-Pro"},   {"humaneval", "HumanEval"},
      {"arc_easy", "ARC-Easy"},   {"arc-easy", "ARC-Easy"},   {"arc_challenge", "ARC-Challenge"},
      {"arc-challenge", "ARC-Challenge"}, {"textvqa", "TextVQA"}, {"okvqa", "OKVQA"},
  };
  auto it = names.find(key);
  return it != names.end() ? it->second : key;
}

std::string method_label(const std::string& m) {
  static const std::map<std::string, std::string> labels = {
      {"lora", "+ LoRA"},           {"svf", "+ SVF"},
      {"t2_prompt", "+ T² (Prompt)"}, {"t2_cls", "+ T² (Cls-expert)"},
      {"t2_fewshot", "+ T² (Few-shot)"}, {"ia3", "+ IA3"},
      {"dora", "+ DoRA"},
  };
  auto it = labels.find(m);
  return it != labels.end() ? it->second : "+ " + m;
}

ResultTable build_result_table(const std::vector<RunReader>& runs, const TableOptions& opt) {
  ResultTable t;
  t.metric = opt.metric;
  t.decimals = opt.decimals;
  t.show_se = opt.show_se;
  std::vector<NamedItem> models, tasks;
  std::map<std::string, std::string> model_names, task_names;
  auto note_item = [](std::vector<NamedItem>& v, std::map<std::string, std::string>& names, const NamedItem& i) {
    if (!names.count(i.key)) {
      names[i.key] = i.display_name.empty() ? i.key : i.display_name;
      v.push_back(i);
    }
  };
  // (model, task, method) -> seed -> value
  std::map<std::tuple<std::string, std::string, std::string>, std::map<std::string, SeedValue>> values;
  std::vector<std::string> methods_seen, models_seen, tasks_seen;
  int duplicates = 0, missing_metric = 0, checked_jobs = 0, unchecked_jobs = 0;
  int64_t checked_examples = 0;
  for (auto& r : runs) {
    auto meta = r.meta();
    for (auto& m : meta.models) note_item(models, model_names, m);
    for (auto& x : meta.tasks) note_item(tasks, task_names, x);
    for (auto& id : r.job_ids()) {
      auto job = r.job(id);
      if (!job || job->kind != "evaluate") continue;
      auto metrics = r.metrics(id);
      if (!metrics) continue;
      auto get = [&](const char* k) -> std::string {
        auto it = job->params.find(k);
        T2_CHECK_AS(FormatError, it != job->params.end() && !it->second.empty(),
                    "{}: evaluate job '{}' has no parameter '{}' (needs model, task, method)", r.job_dir(id) + "/job.h5",
                    id, k);
        return it->second;
      };
      std::string model = get("model"), task = get("task"), method = get("method");
      std::string seed = job->params.count("seed") ? job->params.at("seed") : "";
      auto v = metrics->get(opt.metric);
      if (!v) {
        ++missing_metric;
        continue;
      }
      if (opt.check_records && opt.metric == "accuracy") {
        auto records = r.read_examples(id);
        if (records.empty()) {
          ++unchecked_jobs;
        } else {
          auto again = Metrics::from_records(records);
          T2_CHECK(again.n == metrics->n && std::abs(again.accuracy - metrics->accuracy) <= 1e-12,
                   "{}: job '{}' reports accuracy {} over {} examples, but its {} per-example records give {}",
                   r.unit_path(id, "result.h5"), id, metrics->accuracy, metrics->n, again.n, again.accuracy);
          ++checked_jobs;
          checked_examples += again.n;
        }
      }
      auto& slot = values[{model, task, method}];
      if (slot.count(seed)) {
        ++duplicates;
        continue;
      }
      SeedValue sv;
      sv.value = *v * 100.0;
      sv.n = metrics->n;
      // the binomial standard error of the mean metric (fractions; extras: of a 0/1 metric as well)
      // the binomial standard error sqrt(p(1-p)/n) of the mean of 0/1 scores (what Metrics stores)
      const double p = std::clamp(*v, 0.0, 1.0);
      sv.se = metrics->n > 0 ? std::sqrt(p * (1 - p) / double(metrics->n)) * 100.0 : 0;
      sv.run = &r;
      sv.job_id = id;
      for (const char* k : {"evaluated", "compat", "split"})
        if (job->params.count(k)) sv.evaluated += std::string(sv.evaluated.empty() ? "" : "; ") + k + " " + job->params.at(k);
      slot[seed] = sv;
      add_unique(methods_seen, method);
      add_unique(models_seen, model);
      add_unique(tasks_seen, task);
    }
  }
  for (auto& m : models_seen) note_item(models, model_names, {m, m});
  for (auto& x : tasks_seen) note_item(tasks, task_names, {x, task_display_name(x)});
  for (auto& x : tasks)
    if (std::find(tasks_seen.begin(), tasks_seen.end(), x.key) != tasks_seen.end())
      t.tasks.push_back({x.key, task_names[x.key]});

  std::vector<std::string> method_order;
  if (!opt.methods.empty()) {
    for (auto& m : opt.methods)
      T2_CHECK_AS(UsageError, std::find(methods_seen.begin(), methods_seen.end(), m) != methods_seen.end(),
                  "--methods: no evaluate job has method '{}'; {}", m, suggest(m, methods_seen));
    method_order = opt.methods;
  } else {
    for (auto& m : default_method_order())
      if (std::find(methods_seen.begin(), methods_seen.end(), m) != methods_seen.end()) method_order.push_back(m);
    for (auto& m : methods_seen) add_unique(method_order, m);
  }

  auto cell_of = [&](const std::string& model, const std::string& task,
                     const std::string& method) -> std::optional<TableCell> {
    auto it = values.find({model, task, method});
    if (it == values.end()) return std::nullopt;
    TableCell c;
    c.seeds = static_cast<int>(it->second.size());
    double sum = 0;
    double se2 = 0;
    for (auto& [s, v] : it->second) sum += v.value, se2 += v.se * v.se;
    c.mean = sum / c.seeds;
    c.se = std::sqrt(se2) / c.seeds;
    c.n = it->second.begin()->second.n;
    if (c.seeds > 1) {
      double ss = 0;
      for (auto& [s, v] : it->second) ss += (v.value - c.mean) * (v.value - c.mean);
      c.std = std::sqrt(ss / (c.seeds - 1));
    }
    return c;
  };

  bool several_seeds = false, any_paired = false;
  std::vector<std::string> refusals;
  for (auto& model : models) {
    if (std::find(models_seen.begin(), models_seen.end(), model.key) == models_seen.end()) continue;
    std::vector<std::optional<TableCell>> base_cells;
    for (auto& task : t.tasks) base_cells.push_back(cell_of(model.key, task.key, "base"));
    for (auto& method : method_order) {
      TableRow row{model.key, model_names[model.key], method, "", method == "base", {}};
      row.label = row.is_base ? row.model_name : method_label(method);
      bool any = false;
      for (size_t k = 0; k < t.tasks.size(); ++k) {
        auto c = cell_of(model.key, t.tasks[k].key, method);
        if (c) {
          any = true;
          several_seeds |= c->seeds > 1;
          const auto& b = base_cells[k];
          if (b && b->mean > 0 && method != "base") {
            // normalise only by a base that scored the same evaluated set
            const auto& ms = values.at({model.key, t.tasks[k].key, method});
            const auto& bs = values.at({model.key, t.tasks[k].key, "base"});
            const SeedValue &m0 = ms.begin()->second, &b0 = bs.begin()->second;
            if (b->n != c->n) {
              c->not_normalised = fmt::format("base scored n={} examples, {} n={}", b->n, method, c->n);
            } else if (m0.evaluated != b0.evaluated) {
              c->not_normalised = fmt::format("base evaluated '{}', {} '{}'", b0.evaluated, method, m0.evaluated);
            } else {
              c->normalised = c->mean / b->mean;
              if (ms.size() == 1 && bs.size() == 1) c->normalised_se = paired_ratio_se(m0, b0);
              any_paired |= c->normalised_se.has_value();
            }
            if (!c->not_normalised.empty())
              refusals.push_back(fmt::format("{} {} on {}: not normalised: {}.", model_names[model.key],
                                             method_label(method).substr(2), t.tasks[k].display_name,
                                             c->not_normalised));
          }
        }
        row.cells.push_back(c);
      }
      if (any) t.rows.push_back(std::move(row));
    }
  }

  if (t.rows.empty()) t.notes.push_back("No evaluate job has final metrics yet.");
  t.notes.push_back(fmt::format("Scores: {} x 100 of the evaluate jobs' final metrics; in parentheses the score "
                                "divided by the base model's score on the same task ({} where there is none).",
                                opt.metric, dash));
  t.notes.push_back("Selection: SVF experts are the checkpoint with the best validation score (best-on-validation); "
                    "T² (Few-shot) uses the best mixture of the final CEM generation.");
  if (opt.check_records)
    t.notes.push_back(fmt::format("Checked against the per-example records: {} evaluation(s), {} examples, all agree{}.",
                                  checked_jobs, checked_examples,
                                  unchecked_jobs ? fmt::format("; {} evaluation(s) have no records to check", unchecked_jobs)
                                                 : std::string()));
  if (opt.show_se) t.notes.push_back("Cells with one seed show score ± its standard error (sqrt(p(1-p)/n)).");
  if (any_paired && opt.show_se)
    t.notes.push_back("Normalised scores show ± the paired standard error of the ratio over the examples method and "
                      "base both scored (delta method on per-example differences).");
  if (several_seeds) t.notes.push_back("Cells with several seeds show mean ± sample standard deviation over seeds.");
  for (auto& r : refusals) t.notes.push_back(r);
  if (duplicates)
    t.notes.push_back(fmt::format("{} duplicate evaluation(s) of the same model, task, method and seed in the merged "
                                  "run directories were ignored (the first run given wins).", duplicates));
  if (missing_metric)
    t.notes.push_back(fmt::format("{} evaluate job(s) have no metric '{}' and are left out.", missing_metric, opt.metric));
  return t;
}

TableFormat parse_table_format(const std::string& name) {
  if (name == "md" || name == "markdown") return TableFormat::markdown;
  if (name == "latex" || name == "tex") return TableFormat::latex;
  if (name == "csv") return TableFormat::csv;
  if (name == "json") return TableFormat::json;
  T2_FAIL_AS(UsageError, "--format: unknown table format '{}'; {}", name,
             suggest(name, {"md", "markdown", "latex", "tex", "csv", "json"}));
}

std::string render_table(const ResultTable& t, TableFormat format) {
  const int d = t.decimals;
  std::string o;
  switch (format) {
    case TableFormat::markdown: {
      o += "| Method |";
      for (auto& x : t.tasks) o += " " + x.display_name + " |";
      o += "\n|---|";
      for (size_t i = 0; i < t.tasks.size(); ++i) o += "---|";
      o += "\n";
      for (auto& r : t.rows) {
        o += "| " + r.label + " |";
        for (auto& c : r.cells) o += " " + cell_text(c, d, r.is_base, t.show_se) + " |";
        o += "\n";
      }
      o += "\n";
      for (auto& n : t.notes) o += n + "\n";
      break;
    }
    case TableFormat::latex: {
      o += "\\begin{table}[t]\n\\centering\n\\begin{tabular}{l" + std::string(t.tasks.size(), 'c') + "}\n\\toprule\nMethod";
      for (auto& x : t.tasks) o += " & " + latex_escape(x.display_name);
      o += " \\\\\n\\midrule\n";
      for (size_t i = 0; i < t.rows.size(); ++i) {
        auto& r = t.rows[i];
        if (r.is_base && i > 0) o += "\\midrule\n";
        o += latex_escape(r.label);
        for (auto& c : r.cells) o += " & " + latex_escape(cell_text(c, d, r.is_base, t.show_se));
        o += " \\\\\n";
      }
      o += "\\bottomrule\n\\end{tabular}\n\\caption{";
      for (size_t i = 0; i < t.notes.size(); ++i) o += (i ? " " : "") + latex_escape(t.notes[i]);
      o += "}\n\\end{table}\n";
      break;
    }
    case TableFormat::csv: {
      // One row per table row; per task the score and the normalised score in separate columns.
      // per task: score, its standard error, sd over seeds, seeds, n, normalised, its paired SE
      o += "model,method,label";
      for (auto& x : t.tasks)
        for (const char* col : {"", " se", " sd", " seeds", " n", " (normalised)", " (normalised se)"})
          o += "," + csv_field(x.display_name + col);
      o += "\n";
      for (auto& r : t.rows) {
        o += csv_field(r.model_name) + "," + csv_field(r.method) + "," + csv_field(r.label);
        for (auto& c : r.cells) {
          if (!c) {
            o += ",,,,,,,";
            continue;
          }
          o += fmt::format(",{:.{}f},{:.{}f},{:.{}f},{},{}", c->mean, d, c->se, d + 1, c->std, d + 1, c->seeds, c->n);
          if (r.is_base) o += fmt::format(",{:.{}f},", 1.0, d);
          else if (c->normalised) o += fmt::format(",{:.{}f},", *c->normalised, d);
          else o += ",,";
          if (!r.is_base && c->normalised_se) o += fmt::format("{:.{}f}", *c->normalised_se, d + 2);
        }
        o += "\n";
      }
      for (auto& n : t.notes) o += "# " + n + "\n";
      break;
    }
    case TableFormat::json: {
      nlohmann::json j;
      j["metric"] = t.metric;
      j["scale"] = 100;
      j["tasks"] = nlohmann::json::array();
      for (auto& x : t.tasks) j["tasks"].push_back({{"key", x.key}, {"name", x.display_name}});
      j["rows"] = nlohmann::json::array();
      for (auto& r : t.rows) {
        nlohmann::json row = {{"model", r.model_key}, {"model_name", r.model_name}, {"method", r.method},
                              {"label", r.label}, {"is_base", r.is_base}};
        nlohmann::json cells = nlohmann::json::object();
        for (size_t k = 0; k < r.cells.size(); ++k) {
          auto& c = r.cells[k];
          if (!c) {
            cells[t.tasks[k].key] = nullptr;
            continue;
          }
          nlohmann::json cj = {{"score", c->mean}, {"se", c->se}, {"std", c->std}, {"seeds", c->seeds}, {"n", c->n}};
          if (r.is_base) cj["normalised"] = 1.0;
          else if (c->normalised) cj["normalised"] = *c->normalised;
          else cj["normalised"] = nullptr;
          cj["normalised_se"] = !r.is_base && c->normalised_se ? nlohmann::json(*c->normalised_se) : nlohmann::json();
          if (!c->not_normalised.empty()) cj["not_normalised"] = c->not_normalised;
          cells[t.tasks[k].key] = cj;
        }
        row["cells"] = cells;
        j["rows"].push_back(row);
      }
      j["notes"] = t.notes;
      o = j.dump(2) + "\n";
      break;
    }
  }
  return o;
}

}  // namespace t2::results
