#include "results/report-html.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/files.h"
#include "results/svg-chart.h"

namespace t2::results {

const std::vector<std::string>& report_colors::methods() {
  static const std::vector<std::string> c = {"#7f7f7f", "#bcbd22", "#1f77b4", "#ff7f0e",
                                             "#2ca02c", "#d62728", "#17becf", "#8c564b", "#e377c2"};
  return c;
}

namespace {

const char* const style = R"CSS(
body { font-family: sans-serif; margin: 24px; color: #222; background: #fafafa; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 8px 0; background: #fff; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; font-size: 13px; }
th:first-child, td:first-child { text-align: left; }
tr.base td { font-weight: bold; border-top: 2px solid #888; }
.notes { font-size: 12px; color: #555; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure.chart { margin: 0; background: #fff; border: 1px solid #ddd; }
figure.chart figcaption { font-size: 12px; padding: 2px 8px; color: #555; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; font-size: 13px; }
dl.meta dt { font-weight: bold; }
pre { background: #fff; border: 1px solid #ddd; padding: 8px; font-size: 12px; max-height: 320px; overflow: auto; }
)CSS";

std::string figure(const std::string& id, const std::string& svg, const std::string& caption) {
  return fmt::format("<figure class=\"chart\" id=\"{}\">{}<figcaption>{}</figcaption></figure>\n", xml_escape(id), svg,
                     xml_escape(caption));
}

std::string cell_html(const std::optional<TableCell>& c, const TableRow& r, int d, bool show_se) {
  if (!c) return "—";
  std::string s = fmt::format("{:.{}f}", c->mean, d);
  if (c->seeds > 1) s += fmt::format(" ± {:.{}f}", c->std, d);
  else if (show_se && c->n > 0) s += fmt::format(" ± {:.{}f}", c->se, d);
  if (r.is_base) s += fmt::format(" ({:.{}f})", 1.0, d);
  else if (c->normalised && c->normalised_se && show_se)
    s += fmt::format(" ({:.{}f} ± {:.{}f})", *c->normalised, d, *c->normalised_se, d);
  else if (c->normalised) s += fmt::format(" ({:.{}f})", *c->normalised, d);
  return s;
}

std::string color_of_method(const std::string& m, const std::vector<std::string>& others) {
  const auto& order = default_method_order();
  const auto& c = report_colors::methods();
  auto it = std::find(order.begin(), order.end(), m);
  if (it != order.end()) return c[static_cast<size_t>(it - order.begin())];
  auto jt = std::find(others.begin(), others.end(), m);
  size_t k = order.size() + static_cast<size_t>(jt - others.begin());
  return c[k % c.size()];
}

}  // namespace

std::string render_report_html(const std::vector<RunReader>& runs, const ReportOptions& opt) {
  std::vector<RunMeta> metas;
  for (auto& r : runs) metas.push_back(r.meta());
  std::string name = metas.empty() || metas[0].name.empty() ? "run" : metas[0].name;
  std::string title = opt.title.empty() ? "t2 report: " + name : opt.title;

  std::string o = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  o += "<title>" + xml_escape(title) + "</title><style>" + style + "</style></head><body>\n";
  o += "<h1>" + xml_escape(title) + "</h1>\n";

  // Run metadata.
  o += "<h2 id=\"run\">Run</h2>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& m = metas[i];
    std::string hosts;
    for (auto& h : m.hosts) hosts += (hosts.empty() ? "" : ", ") + h;
    o += "<dl class=\"meta\">";
    auto row = [&](const std::string& k, const std::string& v) {
      o += "<dt>" + xml_escape(k) + "</dt><dd>" + xml_escape(v) + "</dd>";
    };
    row("directory", runs[i].dir());
    row("campaign", m.name);
    row("t2", m.t2_version + " (git " + m.git_sha + ")");
    row("started / ended", m.started_at + " / " + (m.ended_at.empty() ? "running or interrupted" : m.ended_at));
    row("hosts, ranks", (hosts.empty() ? "—" : hosts) + ", " + std::to_string(m.ranks));
    row("writer sessions", std::to_string(m.sessions));
    if (!m.sandbox_isolation.empty())
      row("code sandbox", m.sandbox_isolation == "rlimits"
                              ? "rlimits only (opted out: no file-system or network isolation for generated code)"
                              : m.sandbox_isolation + " (user, PID, network and mount namespaces)");
    o += "</dl>\n";
    if (!m.campaign_yaml.empty())
      o += "<details><summary>campaign as given</summary><pre>" + xml_escape(m.campaign_yaml) + "</pre></details>\n";
  }

  // Result table.
  ResultTable table = build_result_table(runs, opt.table);
  o += "<h2 id=\"results\">Results</h2>\n<table class=\"results\"><thead><tr><th>Method</th>";
  for (auto& t : table.tasks) o += "<th>" + xml_escape(t.display_name) + "</th>";
  o += "</tr></thead><tbody>\n";
  for (auto& r : table.rows) {
    o += r.is_base ? "<tr class=\"base\">" : "<tr>";
    o += "<td>" + xml_escape(r.label) + "</td>";
    for (auto& c : r.cells) o += "<td>" + xml_escape(cell_html(c, r, table.decimals, table.show_se)) + "</td>";
    o += "</tr>\n";
  }
  o += "</tbody></table>\n<div class=\"notes\">";
  for (auto& n : table.notes) o += "<p>" + xml_escape(n) + "</p>";
  o += "</div>\n";

  // Bars per task: groups are models, bars are methods.
  if (!table.rows.empty()) {
    std::vector<std::string> methods, models, model_names, others;
    for (auto& r : table.rows) {
      if (std::find(methods.begin(), methods.end(), r.method) == methods.end()) methods.push_back(r.method);
      if (std::find(models.begin(), models.end(), r.model_key) == models.end()) {
        models.push_back(r.model_key);
        model_names.push_back(r.model_name);
      }
    }
    for (auto& m : methods)
      if (std::find(default_method_order().begin(), default_method_order().end(), m) == default_method_order().end())
        others.push_back(m);
    std::vector<std::string> names, colors;
    for (auto& m : methods) {
      names.push_back(m == "base" ? "base" : method_label(m).substr(2));
      colors.push_back(color_of_method(m, others));
    }
    o += "<h2 id=\"bars\">Scores per task</h2>\n<div class=\"charts\">\n";
    for (size_t k = 0; k < table.tasks.size(); ++k) {
      std::vector<BarGroup> groups;
      for (size_t mi = 0; mi < models.size(); ++mi) {
        BarGroup g{model_names[mi], std::vector<std::optional<double>>(methods.size()),
                   std::vector<std::optional<double>>(methods.size())};
        for (auto& r : table.rows) {
          if (r.model_key != models[mi] || !r.cells[k]) continue;
          size_t s = static_cast<size_t>(std::find(methods.begin(), methods.end(), r.method) - methods.begin());
          g.values[s] = r.cells[k]->mean;
          // error bars: ± sd over seeds, or ± the standard error of one seed
          g.errors[s] = r.cells[k]->seeds > 1 ? r.cells[k]->std : r.cells[k]->se;
        }
        groups.push_back(std::move(g));
      }
      std::string t = "Scores on " + table.tasks[k].display_name;
      o += figure("bars-" + table.tasks[k].key,
                  svg_bar_chart(t, names, colors, groups, table.metric + " (%)", {std::max(520, 180 * int(models.size())), 320}),
                  "per model, one bar per method; error bars: ± standard error (one seed) or ± sd over seeds");
    }
    o += "</div>\n";
  }

  // Training curves and CEM progress.
  std::string curves, cem, jobs;
  for (auto& r : runs) {
    for (auto& id : r.job_ids()) {
      auto job = r.job(id);
      if (!job) continue;
      JobStatus st = r.job_status(id);
      jobs += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0f}</td><td>{}</td></tr>\n",
                          xml_escape(id), xml_escape(job->kind), job_status_name(st), job->attempts, job->wall_seconds,
                          xml_escape(job->message));
      auto curve = r.training_curve(id);
      if (!curve.points.empty()) {
        LineSeries reward{"reward mean", report_colors::reward, {}, {}};
        LineSeries hi{"reward mean ± std", report_colors::reward_band, {}, {}};
        LineSeries lo{"", report_colors::reward_band, {}, {}};
        LineSeries val{"validation accuracy", report_colors::validation, {}, {}};
        for (auto& p : curve.points) {
          double x = static_cast<double>(p.step);
          reward.x.push_back(x);
          reward.y.push_back(p.reward_mean);
          hi.x.push_back(x);
          hi.y.push_back(p.reward_mean + p.reward_std);
          lo.x.push_back(x);
          lo.y.push_back(p.reward_mean - p.reward_std);
          if (std::isfinite(p.val_accuracy)) {
            val.x.push_back(x);
            val.y.push_back(p.val_accuracy * 100);
          }
        }
        curves += figure("reward-" + id, svg_line_chart("Reward: " + id, {hi, lo, reward}, "step", "reward"),
                         fmt::format("{} steps; band: ± one standard deviation over the batch", curve.points.size()));
        curves += figure("validation-" + id,
                         svg_line_chart("Validation accuracy: " + id, {val}, "step", "accuracy (%)"),
                         val.x.empty() ? "no validation measured yet" : "measured every few steps");
      }
      auto hist = r.cem_history(id);
      if (!hist.empty()) {
        LineSeries best{"best score", report_colors::cem_best, {}, {}};
        LineSeries mean{"population mean", report_colors::cem_mean, {}, {}};
        for (auto& g : hist) {
          best.x.push_back(static_cast<double>(g.generation));
          best.y.push_back(g.best_score * 100);
          if (!g.population_scores.empty()) {
            double s = 0;
            for (double v : g.population_scores) s += v;
            mean.x.push_back(static_cast<double>(g.generation));
            mean.y.push_back(100 * s / static_cast<double>(g.population_scores.size()));
          }
        }
        std::vector<LineSeries> series = {best};
        if (!mean.x.empty()) series.push_back(mean);
        cem += figure("cem-" + id, svg_line_chart("CEM best score: " + id, series, "generation", "score (%)"),
                      fmt::format("{} generations", hist.size()));
      }
    }
  }
  o += "<h2 id=\"curves\">Training curves</h2>\n";
  o += curves.empty() ? "<p>No training checkpoints in this run.</p>\n" : "<div class=\"charts\">\n" + curves + "</div>\n";
  o += "<h2 id=\"cem\">Few-shot search (CEM)</h2>\n";
  o += cem.empty() ? "<p>No CEM generations in this run.</p>\n" : "<div class=\"charts\">\n" + cem + "</div>\n";
  o += "<h2 id=\"jobs\">Jobs</h2>\n<table class=\"jobs\"><thead><tr><th>job</th><th>kind</th><th>status</th>"
       "<th>attempts</th><th>seconds</th><th>message</th></tr></thead><tbody>\n" +
       jobs + "</tbody></table>\n";
  o += "</body></html>\n";
  return o;
}

void write_report(const std::vector<RunReader>& runs, const std::string& out_path, const ReportOptions& options) {
  write_file_atomic(out_path, render_report_html(runs, options));
}

}  // namespace t2::results
