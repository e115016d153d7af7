#include "results/svg-chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace t2::results {
namespace {

constexpr int margin_left = 58, margin_right = 16, margin_top = 34, margin_bottom = 64;

std::string fmt_tick(double v, double step) {
  int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  return fmt::format("{:.{}f}", v, std::clamp(decimals, 0, 6));
}

struct Frame {
  double x0, x1, y0, y1;        // data range
  int w, h;                     // svg size
  double px(double x) const { return margin_left + (x - x0) / (x1 - x0) * (w - margin_left - margin_right); }
  double py(double y) const { return h - margin_bottom - (y - y0) / (y1 - y0) * (h - margin_top - margin_bottom); }
};

std::string open_svg(const std::string& title, ChartSize s) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"{2}\"><title>{2}</title>"
      "<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"#ffffff\"/>"
      "<text x=\"{3}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\" "
      "font-family=\"sans-serif\">{2}</text>",
      s.width, s.height, xml_escape(title), s.width / 2);
}

std::string axes(const Frame& f, const std::vector<double>& yticks, const std::string& x_label,
                 const std::string& y_label) {
  std::string o;
  double step = yticks.size() > 1 ? yticks[1] - yticks[0] : 1;
  for (double t : yticks) {
    double y = f.py(t);
    o += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#e0e0e0\"/>", margin_left, y,
                     f.w - margin_right, y);
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" font-size=\"11\" font-family=\"sans-serif\">{}</text>",
                     margin_left - 6, y + 4, fmt_tick(t, step));
  }
  o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#333\"/>", margin_left, margin_top,
                   f.h - margin_bottom);
  o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#333\"/>", margin_left,
                   f.h - margin_bottom, f.w - margin_right);
  o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\" font-family=\"sans-serif\">{}</text>",
                   (margin_left + f.w - margin_right) / 2, f.h - margin_bottom + 34, xml_escape(x_label));
  o += fmt::format("<text transform=\"translate(14,{}) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\" "
                   "font-family=\"sans-serif\">{}</text>",
                   (margin_top + f.h - margin_bottom) / 2, xml_escape(y_label));
  return o;
}

std::string legend(const std::vector<std::string>& names, const std::vector<std::string>& colors, int w, int h) {
  std::string o;
  double x = margin_left;
  double y = h - 14;
  for (size_t i = 0; i < names.size(); ++i) {
    double width = 22 + 7.0 * static_cast<double>(names[i].size());
    if (x + width > w && x > margin_left) {
      x = margin_left;
      y += 14;
    }
    o += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"12\" height=\"10\" fill=\"{}\"/>", x, y - 9, colors[i]);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" font-family=\"sans-serif\">{}</text>", x + 16, y,
                     xml_escape(names[i]));
    x += width;
  }
  return o;
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) {
    double pad = std::abs(lo) > 0 ? std::abs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  double raw = (hi - lo) / std::max(1, target);
  double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::floor(lo / step) * step; v <= hi + step * 0.5 && t.size() < 50; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  if (t.back() < hi) t.push_back(t.back() + step);
  return t;
}

std::string svg_line_chart(const std::string& title, const std::vector<LineSeries>& series,
                           const std::string& x_label, const std::string& y_label, ChartSize size) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (auto& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(s.x[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  std::string o = open_svg(title, size);
  if (!std::isfinite(x0)) {
    o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\" font-family=\"sans-serif\">no "
                     "data</text></svg>",
                     size.width / 2, size.height / 2);
    return o;
  }
  if (x1 == x0) x1 = x0 + 1;
  auto yt = nice_ticks(y0, y1);
  Frame f{x0, x1, yt.front(), yt.back(), size.width, size.height};
  o += axes(f, yt, x_label, y_label);
  auto xt = nice_ticks(x0, x1, 6);
  double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  for (double t : xt) {
    if (t < x0 - 1e-9 || t > x1 + 1e-9) continue;
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" font-family=\"sans-serif\">{}</text>",
                     f.px(t), size.height - margin_bottom + 16, fmt_tick(t, xstep));
  }
  std::vector<std::string> names, colors;
  for (auto& s : series) {
    if (!s.name.empty()) {
      names.push_back(s.name);
      colors.push_back(s.color);
    }
    // NaN breaks the line into segments; isolated points are drawn as dots.
    std::vector<std::pair<double, double>> seg;
    auto flush = [&] {
      if (seg.size() == 1)
        o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>", seg[0].first, seg[0].second, s.color);
      else if (seg.size() > 1) {
        o += "<polyline fill=\"none\" stroke-width=\"2.5\" stroke=\"" + s.color + "\" points=\"";
        for (auto& [px, py] : seg) o += fmt::format("{:.1f},{:.1f} ", px, py);
        o += "\"/>";
      }
      seg.clear();
    };
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) {
        flush();
        continue;
      }
      seg.emplace_back(f.px(s.x[i]), f.py(s.y[i]));
    }
    flush();
  }
  o += legend(names, colors, size.width, size.height);
  o += "</svg>";
  return o;
}

std::string svg_bar_chart(const std::string& title, const std::vector<std::string>& series_names,
                          const std::vector<std::string>& series_colors, const std::vector<BarGroup>& groups,
                          const std::string& y_label, ChartSize size) {
  double hi = 0, lo = 0;
  auto error_of = [&](const BarGroup& g, size_t s) {
    return s < g.errors.size() && g.errors[s] && *g.errors[s] > 0 ? *g.errors[s] : 0.0;
  };
  for (auto& g : groups)
    for (size_t s = 0; s < g.values.size(); ++s)
      if (g.values[s]) hi = std::max(hi, *g.values[s] + error_of(g, s)), lo = std::min(lo, *g.values[s] - error_of(g, s));
  std::string o = open_svg(title, size);
  auto yt = nice_ticks(lo, hi > lo ? hi : lo + 1);
  Frame f{0, 1, yt.front(), yt.back(), size.width, size.height};
  o += axes(f, yt, "", y_label);
  const double plot_w = size.width - margin_left - margin_right;
  const double group_w = plot_w / std::max<size_t>(1, groups.size());
  const size_t n = std::max<size_t>(1, series_names.size());
  const double bar_w = group_w * 0.8 / static_cast<double>(n);
  for (size_t g = 0; g < groups.size(); ++g) {
    double gx = margin_left + group_w * static_cast<double>(g) + group_w * 0.1;
    for (size_t s = 0; s < groups[g].values.size() && s < n; ++s) {
      if (!groups[g].values[s]) continue;
      double v = *groups[g].values[s];
      double top = f.py(std::max(v, 0.0)), bottom = f.py(std::min(v, 0.0));
      o += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{}: "
                       "{:.2f}</title></rect>",
                       gx + bar_w * static_cast<double>(s), top, std::max(1.0, bar_w - 1), std::max(0.5, bottom - top),
                       series_colors[s % series_colors.size()], xml_escape(series_names[s]), v);
      if (double e = error_of(groups[g], s); e > 0) {
        // the error bar: a vertical line over ± e with caps, centred on the bar
        double cx = gx + bar_w * (static_cast<double>(s) + 0.5) - 0.5, cap = std::max(2.0, bar_w * 0.25);
        double y1 = f.py(v + e), y2 = f.py(v - e);
        o += fmt::format(R"(<g class="errorbar" stroke="#222" stroke-width="1.2"><title>{}: {:.2f} ± {:.2f}</title>)"
                         R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}"/>)"
                         R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}"/>)"
                         R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}"/></g>)",
                         xml_escape(series_names[s]), v, e, cx, y1, cx, y2, cx - cap, y1, cx + cap, y1, cx - cap, y2,
                         cx + cap, y2);
      }
    }
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" font-family=\"sans-serif\">{}</text>",
                     margin_left + group_w * (static_cast<double>(g) + 0.5), size.height - margin_bottom + 16,
                     xml_escape(groups[g].label));
  }
  std::vector<std::string> colors;
  for (size_t s = 0; s < series_names.size(); ++s) colors.push_back(series_colors[s % series_colors.size()]);
  o += legend(series_names, colors, size.width, size.height);
  o += "</svg>";
  return o;
}

}  // namespace t2::results
