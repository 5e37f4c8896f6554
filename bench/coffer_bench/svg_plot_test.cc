#include "bench/coffer_bench/svg_plot.h"

#include <gtest/gtest.h>

#include "bench/coffer_bench/report.h"

namespace coffer::bench {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(SvgPlot, NiceTicksCoverTheRangeInRoundSteps) {
  EXPECT_EQ(NiceTicks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  auto ticks = NiceTicks(0, 537, 5);
  EXPECT_EQ(ticks.front(), 0);
  EXPECT_GE(ticks.back(), 537);
  EXPECT_EQ(ticks[1] - ticks[0], 200);  // 537 / 5 = 107: the next nice step is 200
  EXPECT_EQ(ticks.back(), 600);
  EXPECT_LE(NiceTicks(2, 16, 6).front(), 2);
  EXPECT_GE(NiceTicks(2, 16, 6).back(), 16);
  // A single value or a reversed range still gives an axis.
  EXPECT_GE(NiceTicks(5, 5).size(), 2u);
  EXPECT_EQ(NiceTicks(10, 0).front(), 0);
}

TEST(SvgPlot, EscapesText) {
  EXPECT_EQ(XmlEscape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
}

TEST(SvgPlot, DrawsAPolylinePerSeriesAndALegend) {
  PlotPanel throughput{"throughput", "ops/s", {{"coffer", {{2, 500}, {4, 900}, {8, 1200}}}}};
  PlotPanel lag{"lag", "ms", {{"p50", {{2, 1}, {4, 2}}}, {"p99 <tail>", {{2, 5}, {4, 9}}}}};
  const std::string svg = RenderSvgPlot("scale & more", "nodes", {throughput, lag});
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(Count(svg, "<polyline"), 3u);
  EXPECT_EQ(Count(svg, "class=\"legend\""), 3u);
  EXPECT_NE(svg.find("scale &amp; more"), std::string::npos);
  EXPECT_NE(svg.find("p99 &lt;tail&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<tail>"), std::string::npos);
  EXPECT_EQ(Count(svg, "<g class=\"panel\">"), 2u);
  EXPECT_NE(svg.find(">nodes<"), std::string::npos);
  // The first point of the throughput series sits on the left axis (x = 80).
  EXPECT_NE(svg.find("points=\"80.0,"), std::string::npos);
}

TEST(SvgPlot, EmptySeriesAppearsOnlyInTheLegend) {
  PlotPanel panel{"lag", "ms", {{"lag p50", {}}}};
  const std::string svg = RenderSvgPlot("t", "nodes", {panel});
  EXPECT_EQ(Count(svg, "<polyline"), 0u);
  EXPECT_EQ(Count(svg, "class=\"legend\""), 1u);
}

TEST(SvgPlot, ScalePlotOfBenchPoints) {
  std::vector<ScalePoint> points(2);
  points[0].nodes = 2;
  points[0].run.result.seconds = 1;
  points[0].run.result.ok_ops = 100;
  points[0].run.result.replication_lag_us = {1000, 2000};
  points[1].nodes = 4;
  points[1].run.result.seconds = 1;
  points[1].run.result.ok_ops = 180;
  const std::string svg = ScaleSvg(points, "write");
  // Throughput has two points; lag only where measured (one point each).
  EXPECT_EQ(Count(svg, "<polyline"), 3u);
  EXPECT_NE(svg.find("coffer write ops/s"), std::string::npos);
  EXPECT_NE(ScaleTable(points).find("180"), std::string::npos);
}

}  // namespace
}  // namespace coffer::bench
