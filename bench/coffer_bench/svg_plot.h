// A small hand-written SVG line chart for `coffer-bench --scale`: one or
// more panels stacked vertically, each with axes, ticks, a polyline per
// series and a legend. Plain text, no dependencies.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace coffer::bench {

struct PlotSeries {
  std::string name;                               // legend text
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in order
};

struct PlotPanel {
  std::string title;    // above the panel
  std::string y_label;  // e.g. "ops/s"
  std::vector<PlotSeries> series;
};

// "Nice" tick values (1, 2 or 5 times a power of ten) covering [low, high],
// about `target` of them; always at least two. low > high is swapped.
std::vector<double> NiceTicks(double low, double high, int target = 5);

// Escapes &, <, >, " for SVG text and attributes.
std::string SvgEscape(const std::string& text);

// The whole SVG document. Every panel shares the x axis label `x_label`;
// the y axis of each panel starts at 0. A series with no points is listed in
// the legend only.
std::string RenderSvgPlot(const std::string& title, const std::string& x_label,
                          const std::vector<PlotPanel>& panels);

}  // namespace coffer::bench
