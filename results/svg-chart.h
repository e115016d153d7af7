// Inline SVG charts for the HTML report: line charts (training curves, CEM progress) and grouped bar
// charts (scores per task). Self-contained markup, no script and no network; text is XML-escaped.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace t2::results {

struct LineSeries {
  std::string name;                  // shown in the legend; empty: not shown (e.g. the second edge of a band)
  std::string color;                 // "#rrggbb"
  std::vector<double> x, y;          // NaN y values are gaps (not measured at that x)
};

struct ChartSize {
  int width = 520, height = 300;
};

// A line chart with axes, ticks, a legend and `title` as its <title> and caption.
std::string svg_line_chart(const std::string& title, const std::vector<LineSeries>& series,
                           const std::string& x_label, const std::string& y_label, ChartSize size = {});

struct BarGroup {
  std::string label;                          // the group's x label (a model)
  std::vector<std::optional<double>> values;  // one per series; nullopt: no bar
  std::vector<std::optional<double>> errors;  // optional, one per series: an error bar of ± this
};

// Grouped bars: one group per BarGroup, one bar (coloured per series) per value.
std::string svg_bar_chart(const std::string& title, const std::vector<std::string>& series_names,
                          const std::vector<std::string>& series_colors, const std::vector<BarGroup>& groups,
                          const std::string& y_label, ChartSize size = {});

// About `target` round tick values covering [lo, hi] (1, 2, 5 x 10^k steps).
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

std::string xml_escape(const std::string& s);

}  // namespace t2::results
