#include "bench/coffer_bench/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace coffer::bench {
namespace {

constexpr double kWidth = 720;
constexpr double kPanelHeight = 300;
constexpr double kTop = 40;  // the document title
constexpr double kLeft = 80, kRight = 170, kPanelTop = 30, kPanelBottom = 50;
const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

}  // namespace

std::string RenderSvgPlot(const std::string& title, const std::string& x_label,
                          const std::vector<PlotPanel>& panels) {
  const double height =
      kTop + kPanelHeight * static_cast<double>(std::max<size_t>(panels.size(), 1));
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Num(kWidth) +
                    "\" height=\"" + Num(height) + "\" viewBox=\"0 0 " + Num(kWidth) + " " +
                    Num(height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + Num(kWidth / 2) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">" +
         XmlEscape(title) + "</text>\n";

  // One x range for every panel.
  double x_low = 0, x_high = 1;
  bool any = false;
  for (const auto& panel : panels) {
    for (const auto& series : panel.series) {
      for (const auto& [x, y] : series.points) {
        x_low = any ? std::min(x_low, x) : x;
        x_high = any ? std::max(x_high, x) : x;
        any = true;
      }
    }
  }
  const std::vector<double> x_ticks = NiceTicks(x_low, x_high, 6);
  const double x_min = x_ticks.front(), x_max = x_ticks.back();

  for (size_t p = 0; p < panels.size(); ++p) {
    const PlotPanel& panel = panels[p];
    const double top = kTop + kPanelHeight * static_cast<double>(p) + kPanelTop;
    const double bottom = kTop + kPanelHeight * static_cast<double>(p + 1) - kPanelBottom;
    const double left = kLeft, right = kWidth - kRight;
    double y_high = 0;
    for (const auto& series : panel.series) {
      for (const auto& point : series.points) y_high = std::max(y_high, point.second);
    }
    const std::vector<double> y_ticks = NiceTicks(0, y_high > 0 ? y_high : 1, 5);
    const double y_max = y_ticks.back();
    auto sx = [&](double x) { return left + (x - x_min) / (x_max - x_min) * (right - left); };
    auto sy = [&](double y) { return bottom - y / y_max * (bottom - top); };

    svg += "<g class=\"panel\">\n";
    svg += "<text x=\"" + Num(left) + "\" y=\"" + Num(top - 10) + "\" font-size=\"14\">" +
           XmlEscape(panel.title) + "</text>\n";
    svg += "<line x1=\"" + Num(left) + "\" y1=\"" + Num(bottom) + "\" x2=\"" + Num(right) +
           "\" y2=\"" + Num(bottom) + "\" stroke=\"black\"/>\n";
    svg += "<line x1=\"" + Num(left) + "\" y1=\"" + Num(top) + "\" x2=\"" + Num(left) + "\" y2=\"" +
           Num(bottom) + "\" stroke=\"black\"/>\n";
    for (double t : x_ticks) {
      svg += "<line x1=\"" + Num(sx(t)) + "\" y1=\"" + Num(bottom) + "\" x2=\"" + Num(sx(t)) +
             "\" y2=\"" + Num(bottom + 5) + "\" stroke=\"black\"/>";
      svg += "<text x=\"" + Num(sx(t)) + "\" y=\"" + Num(bottom + 18) +
             "\" text-anchor=\"middle\">" + TickText(t) + "</text>\n";
    }
    for (double t : y_ticks) {
      svg += "<line x1=\"" + Num(left - 5) + "\" y1=\"" + Num(sy(t)) + "\" x2=\"" + Num(right) +
             "\" y2=\"" + Num(sy(t)) + "\" stroke=\"#ddd\"/>";
      svg += "<text x=\"" + Num(left - 8) + "\" y=\"" + Num(sy(t) + 4) + "\" text-anchor=\"end\">" +
             TickText(t) + "</text>\n";
    }
    svg += "<text x=\"" + Num((left + right) / 2) + "\" y=\"" + Num(bottom + 36) +
           "\" text-anchor=\"middle\">" + XmlEscape(x_label) + "</text>\n";
    svg += "<text transform=\"translate(" + Num(left - 55) + "," + Num((top + bottom) / 2) +
           ") rotate(-90)\" text-anchor=\"middle\">" + XmlEscape(panel.y_label) + "</text>\n";
    for (size_t s = 0; s < panel.series.size(); ++s) {
      const PlotSeries& series = panel.series[s];
      const char* color = kColors[s % (sizeof(kColors) / sizeof(kColors[0]))];
      if (!series.points.empty()) {
        svg += "<polyline fill=\"none\" stroke=\"" + std::string(color) +
               "\" stroke-width=\"2\" points=\"";
        for (size_t i = 0; i < series.points.size(); ++i) {
          if (i > 0) svg += " ";
          svg += Num(sx(series.points[i].first)) + "," + Num(sy(series.points[i].second));
        }
        svg += "\"/>\n";
        for (const auto& [x, y] : series.points) {
          svg += "<circle cx=\"" + Num(sx(x)) + "\" cy=\"" + Num(sy(y)) + "\" r=\"3\" fill=\"" +
                 color + "\"/>";
        }
        svg += "\n";
      }
      const double ly = top + 10 + 20 * static_cast<double>(s);
      svg += "<line x1=\"" + Num(right + 15) + "\" y1=\"" + Num(ly) + "\" x2=\"" + Num(right + 40) +
             "\" y2=\"" + Num(ly) + "\" stroke=\"" + color + "\" stroke-width=\"2\"/>";
      svg += "<text class=\"legend\" x=\"" + Num(right + 46) + "\" y=\"" + Num(ly + 4) + "\">" +
             XmlEscape(series.name) + "</text>\n";
    }
    svg += "</g>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace coffer::bench
