// A small hand-written SVG line chart for `coffer-bench --scale`: one or
// more panels stacked vertically, each with axes, ticks, a polyline per
// series and a legend. Plain text, no dependencies.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/svg_text.h"

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

// NiceTicks (the axis ticks) comes from common/svg_text.h.

// The whole SVG document. Every panel shares the x axis label `x_label`;
// the y axis of each panel starts at 0. A series with no points is listed in
// the legend only.
std::string RenderSvgPlot(const std::string& title, const std::string& x_label,
                          const std::vector<PlotPanel>& panels);

}  // namespace coffer::bench
