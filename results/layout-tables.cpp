#include "results/layout-tables.h"

#include <fmt/format.h>

#include "core/check.h"
#include "core/error.h"

namespace t2::results {
namespace {

std::string cell_text(const std::optional<TableCell>& c, int d) {
  if (!c) return "–";
  std::string s = fmt::format("{:.{}f}", c->mean, d);
  if (c->seeds > 1) s += fmt::format(" ± {:.{}f}", c->std, d);
  return s;
}

std::string params_text(int64_t n) {
  if (n >= 1000000) return fmt::format("{:.2f}M", static_cast<double>(n) / 1e6);
  if (n >= 1000) return fmt::format("{:.1f}K", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

struct Line {
  std::vector<std::string> cols;
};

std::string render_lines(const std::vector<std::string>& header, const std::vector<Line>& lines,
                         const std::vector<std::string>& notes, TableFormat format) {
  std::string o;
  if (format == TableFormat::csv) {
    auto csv = [](const std::string& s) {
      return s.find_first_of(",\"") == std::string::npos ? s : "\"" + s + "\"";
    };
    for (size_t i = 0; i < header.size(); ++i) o += (i ? "," : "") + csv(header[i]);
    o += "\n";
    for (const auto& l : lines) {
      for (size_t i = 0; i < l.cols.size(); ++i) o += (i ? "," : "") + csv(l.cols[i]);
      o += "\n";
    }
    return o;
  }
  T2_CHECK_AS(UsageError, format == TableFormat::markdown, "the ablation and transfer layouts print md or csv");
  o += "|";
  for (const auto& h : header) o += " " + h + " |";
  o += "\n|";
  for (size_t i = 0; i < header.size(); ++i) o += "---|";
  o += "\n";
  for (const auto& l : lines) {
    o += "|";
    for (const auto& c : l.cols) o += " " + c + " |";
    o += "\n";
  }
  for (const auto& n : notes) o += "\n" + n + "\n";
  return o;
}

std::string pick_model(const ResultTable& t, const std::string& want) {
  for (const auto& r : t.rows)
    if (want.empty() || r.model_key == want || r.model_name == want) return r.model_key;
  throw UsageError(want.empty() ? std::string("the runs hold no evaluations to lay out")
                                : "no evaluations of model '" + want + "' in the runs");
}

const TableRow* find_row(const ResultTable& t, const std::string& model, const std::string& method) {
  for (const auto& r : t.rows)
    if (r.model_key == model && r.method == method) return &r;
  return nullptr;
}

}  // namespace

TableLayout parse_table_layout(const std::string& name) {
  if (name == "standard") return TableLayout::standard;
  if (name == "ablation") return TableLayout::ablation;
  if (name == "transfer") return TableLayout::transfer;
  throw UsageError("--layout must be standard, ablation or transfer, got '" + name + "'");
}

std::optional<AblationMethod> parse_ablation_method(const std::string& key) {
  static const std::map<std::string, std::string> names = {{"svf", "SVF"}, {"lora", "LoRA"}, {"ia3", "IA3"}, {"dora", "DoRA"}};
  std::vector<std::string> parts;
  size_t b = 0;
  while (true) {
    auto e = key.find('_', b);
    parts.push_back(key.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  auto it = names.find(parts[0]);
  if (it == names.end() || parts.size() > 3) return std::nullopt;
  const bool svf = parts[0] == "svf";
  AblationMethod m{it->second, svf ? "policy gradient" : "next-token", svf ? "MLP" : "attention"};
  bool seen_obj = false, seen_mod = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    const auto& p = parts[i];
    if (!seen_obj && !seen_mod && (p == "pg" || p == "nt")) {
      m.objective = p == "pg" ? "policy gradient" : "next-token";
      seen_obj = true;
    } else if (!seen_mod && (p == "attn" || p == "mlp" || p == "both")) {
      m.module = p == "attn" ? "attention" : p == "mlp" ? "MLP" : "MLP+attention";
      seen_mod = true;
    } else {
      return std::nullopt;
    }
  }
  return m;
}

std::string render_layout(const ResultTable& t, TableLayout layout, TableFormat format,
                          const TableLayoutOptions& opt) {
  if (layout == TableLayout::standard) return render_table(t, format);
  const std::string model = pick_model(t, opt.model);
  std::vector<std::string> header;
  std::vector<Line> lines;
  std::vector<std::string> notes;
  if (layout == TableLayout::ablation) {
    header = {"#", "Method", "Objective", "Module", "#Params"};
    for (const auto& task : t.tasks) header.push_back(task.display_name.empty() ? task.key : task.display_name);
    int k = 0;
    if (const auto* base = find_row(t, model, "base")) {
      Line l{{"0", "base", "–", "–", "–"}};
      for (const auto& c : base->cells) l.cols.push_back(cell_text(c, t.decimals));
      lines.push_back(l);
    }
    for (const auto& r : t.rows) {
      if (r.model_key != model || r.is_base) continue;
      auto m = parse_ablation_method(r.method);
      if (!m) continue;
      auto p = opt.params.find(r.method);
      Line l{{std::to_string(++k), m->method, m->objective, m->module, p == opt.params.end() ? "–" : params_text(p->second)}};
      for (const auto& c : r.cells) l.cols.push_back(cell_text(c, t.decimals));
      lines.push_back(l);
    }
    T2_CHECK_AS(UsageError, k > 0,
                "no ablation rows for model {}: methods named <svf|lora|ia3|dora>[_pg|_nt][_attn|_mlp|_both]", model);
    notes.push_back("Method keys: <svf|lora|ia3|dora>[_pg|_nt][_attn|_mlp|_both]; svf defaults to policy gradient on the "
                    "MLP, the baselines to next-token on attention (q, v).");
  } else {
    header = {"Method"};
    for (const auto& task : t.tasks) header.push_back(task.display_name.empty() ? task.key : task.display_name);
    const std::vector<std::pair<std::string, std::string>> rows = {{"base", "base"},
                                                                   {"svf_transfer_ordered", "ordered σ"},
                                                                   {"svf_transfer_shuffled", "shuffled σ"},
                                                                   {"t2_fewshot_transfer", "cross-model few-shot"}};
    int k = 0;
    for (const auto& [key, label] : rows) {
      const auto* r = find_row(t, model, key);
      if (r == nullptr) continue;
      if (key != "base") ++k;
      Line l{{label}};
      for (const auto& c : r->cells) l.cols.push_back(cell_text(c, t.decimals));
      lines.push_back(l);
    }
    T2_CHECK_AS(UsageError, k > 0,
                "no transfer rows for model {}: methods svf_transfer_ordered, svf_transfer_shuffled, t2_fewshot_transfer",
                model);
    notes.push_back("Experts trained on another model (transfer_from) applied to " + model +
                    "; shuffled σ permutes each matrix's z with a recorded seed.");
  }
  return render_lines(header, lines, notes, format);
}

}  // namespace t2::results
