// The timeline picture: its buckets, and what the SVG and HTML contain.
#include "tests/chaos/timeline.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include "common/svg_text.h"

namespace coffer::chaos {
namespace {

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

OpEvent Op(double t, EventType type, const std::string& code = "OK", double latency_ms = 0) {
  OpEvent e;
  e.t = t;
  e.op = "register";
  e.type = type;
  e.node = "node1";
  e.code = code;
  e.latency_ms = latency_ms;
  return e;
}

// The data-values of the series named `name` (the first such series).
std::string SeriesValues(const std::string& svg, const std::string& name) {
  std::smatch m;
  const std::regex re("class=\"series\" data-name=\"" + name + "\" data-values=\"([^\"]*)\"");
  return std::regex_search(svg, m, re) ? m[1].str() : "<none>";
}

// Every geometric attribute holds only finite numbers, and the tags balance.
void ExpectWellFormed(const std::string& svg) {
  ASSERT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  const std::regex attr(
      R"re(\s(x|y|x1|x2|y1|y2|cx|cy|r|width|height|points|viewBox|data-values|data-start)="([^"]*)")re");
  const std::regex number(R"(^[-0-9., ]*$)");
  size_t checked = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), attr); it != std::sregex_iterator();
       ++it, ++checked) {
    const std::string value = (*it)[2].str();
    if (value == "100%") continue;
    EXPECT_TRUE(std::regex_match(value, number)) << (*it)[0].str();
  }
  EXPECT_GT(checked, 20u);
  EXPECT_EQ(Count(svg, "<g "), Count(svg, "</g>"));
  EXPECT_EQ(Count(svg, "<text"), Count(svg, "</text>"));
  // Every '<' opens a tag: text never carries a raw one.
  for (size_t at = svg.find('<'); at != std::string::npos; at = svg.find('<', at + 1)) {
    const char next = svg[at + 1];
    EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(next)) || next == '/')
        << svg.substr(at, 20);
  }
}

TEST(TimelineTest, BucketsCountOkFailUnknownPerSecond) {
  const std::vector<OpEvent> ops = {
      Op(0.0, EventType::kInvoke),
      Op(0.1, EventType::kOk, "OK", 10),
      Op(0.5, EventType::kOk, "OK", 30),
      Op(0.99, EventType::kOk, "OK", 20),
      Op(1.2, EventType::kFail, "READ_ONLY_RESTRICTED"),
      Op(2.0, EventType::kOk, "OK", 7),
      Op(2.5, EventType::kUnknown, "OUTCOME_UNKNOWN"),
      Op(2.6, EventType::kUnknown, "UNAVAILABLE"),
      Op(2.7, EventType::kFail, "READ_ONLY_RESTRICTED"),
  };
  const TimelineBuckets b = BucketOps(ops);
  EXPECT_EQ(b.ok, (std::vector<double>{3, 0, 1}));
  EXPECT_EQ(b.fail, (std::vector<double>{0, 1, 1}));
  EXPECT_EQ(b.unknown, (std::vector<double>{0, 0, 2}));
  EXPECT_EQ(b.p50_ms, (std::vector<double>{20, -1, 7}));
  EXPECT_EQ(b.p99_ms, (std::vector<double>{30, -1, 7}));
  EXPECT_EQ(b.max_ms, (std::vector<double>{30, -1, 7}));
  ASSERT_EQ(b.errors.size(), 3u);
  EXPECT_EQ(b.errors.at("READ_ONLY_RESTRICTED"), (std::vector<double>{0, 1, 1}));
  EXPECT_EQ(b.errors.at("OUTCOME_UNKNOWN"), (std::vector<double>{0, 0, 1}));
  EXPECT_EQ(b.errors.at("UNAVAILABLE"), (std::vector<double>{0, 0, 1}));
}

TEST(TimelineTest, PercentilesByNearestRank) {
  std::vector<OpEvent> ops;
  for (int i = 1; i <= 100; ++i) ops.push_back(Op(0.5, EventType::kOk, "OK", i));
  const TimelineBuckets b = BucketOps(ops);
  EXPECT_EQ(b.p50_ms, (std::vector<double>{50}));
  EXPECT_EQ(b.p99_ms, (std::vector<double>{99}));
  EXPECT_EQ(b.max_ms, (std::vector<double>{100}));
}

TEST(TimelineTest, SvgCarriesTheBucketedSeries) {
  History h;
  for (double t : {0.1, 0.2, 0.3, 2.4}) h.Add(Op(t, EventType::kOk, "OK", 5));
  h.Add(Op(1.5, EventType::kFail, "READ_ONLY_RESTRICTED"));
  const std::string svg = RenderTimelineSvg(h, "run");
  ExpectWellFormed(svg);
  EXPECT_EQ(SeriesValues(svg, "ok"), "3 0 1");
  EXPECT_EQ(SeriesValues(svg, "fail"), "0 1 0");
  EXPECT_EQ(SeriesValues(svg, "unknown"), "0 0 0");
  EXPECT_EQ(SeriesValues(svg, "p50"), "5 - 5");
  EXPECT_EQ(SeriesValues(svg, "READ_ONLY_RESTRICTED"), "0 1 0");
  // The error code is named in the legend.
  EXPECT_NE(svg.find("class=\"legend\">READ_ONLY_RESTRICTED</text>"), std::string::npos);
  EXPECT_EQ(svg.find("no operations"), std::string::npos);
}

TEST(TimelineTest, OneLanePerNodeAndABandPerFault) {
  History h;
  h.Add(Op(0.5, EventType::kOk, "OK", 1));
  for (double t : {0.0, 1.0, 2.0}) {
    h.AddSample({t, "node1", "ACTIVE", "read-write"});
    h.AddSample({t, "node2", t < 1.5 ? "ACTIVE" : "down", ""});
    h.AddSample({t, "node3", "DISABLED", "restricted"});
  }
  h.AddSample({2.5, "node4 <ro>", "unreachable", ""});
  h.BeginFault({0.5, 1.5, "R1", "cut node1<->node2", {"node1", "node2"}});
  h.BeginFault({1.0, 1.0, "R2", "kill -9 node3", {"node3"}});
  h.BeginFault({2.0, -1, "R3", "SIGSTOP node2", {"node2"}});
  const std::string svg = RenderTimelineSvg(h, "R1 & R2 <chaos>");
  ExpectWellFormed(svg);

  EXPECT_EQ(Count(svg, "<g class=\"lane\""), 4u);
  for (const char* node : {"node1", "node2", "node3", "node4 &lt;ro&gt;"}) {
    EXPECT_NE(svg.find("<g class=\"lane\" data-node=\"" + std::string(node) + "\">"),
              std::string::npos)
        << node;
  }
  // Samples of one state and mode make one segment: node1 (ACTIVE throughout)
  // one, node2 (ACTIVE, then down) two.
  auto lane = [&](const std::string& node) {
    const size_t at = svg.find("<g class=\"lane\" data-node=\"" + node + "\">");
    return at == std::string::npos ? std::string() : svg.substr(at, svg.find("</g>", at) - at);
  };
  EXPECT_EQ(Count(lane("node1"), "<rect"), 1u);
  EXPECT_EQ(Count(lane("node2"), "<rect"), 2u);
  EXPECT_EQ(Count(svg, "<g class=\"fault\""), 3u);
  // Fault text is escaped, never raw.
  EXPECT_NE(svg.find("R1: cut node1&lt;-&gt;node2"), std::string::npos);
  EXPECT_EQ(svg.find("node1<->node2"), std::string::npos);
  EXPECT_NE(svg.find("R1 &amp; R2 &lt;chaos&gt;"), std::string::npos);
  // The open band runs to the end of the run.
  EXPECT_NE(svg.find("data-start=\"2\" data-end=\"open\""), std::string::npos);
  // Restricted mode is hatched; down is red.
  EXPECT_NE(svg.find("fill=\"url(#restricted)\""), std::string::npos);
  EXPECT_NE(svg.find("fill=\"#d62728\"><title>node2 down"), std::string::npos);
}

TEST(TimelineTest, InstantFaultIsALineAndBandsCoverEveryPanel) {
  History h;
  h.Add(Op(0.5, EventType::kOk));
  h.AddSample({0, "node1", "ACTIVE", "read-write"});
  h.BeginFault({1.0, 1.0, "R2", "kill -9 node3", {"node3"}});
  h.BeginFault({0.2, 0.8, "R1", "cut", {}});
  const std::string svg = RenderTimelineSvg(h, "t");
  const size_t instant = svg.find("<g class=\"fault\" data-start=\"1\" data-end=\"1\">");
  const size_t band = svg.find("<g class=\"fault\" data-start=\"0.2\" data-end=\"0.8\">");
  ASSERT_NE(instant, std::string::npos);
  ASSERT_NE(band, std::string::npos);
  const std::string instant_group = svg.substr(instant, svg.find("</g>", instant) - instant);
  const std::string band_group = svg.substr(band, svg.find("</g>", band) - band);
  EXPECT_EQ(Count(instant_group, "<rect"), 0u);
  EXPECT_EQ(Count(instant_group, "stroke-width=\"1.5\""), 4u);  // one per panel
  EXPECT_EQ(Count(band_group, "<rect"), 4u);
  EXPECT_NE(band_group.find("fill-opacity=\"0.12\""), std::string::npos);
}

TEST(TimelineTest, EmptyHistorySaysNoOperations) {
  const std::string svg = RenderTimelineSvg(History(), "empty");
  ExpectWellFormed(svg);
  EXPECT_NE(svg.find("no operations"), std::string::npos);
  EXPECT_EQ(SeriesValues(svg, "ok"), "");
  const std::string html = RenderTimelineHtml(History(), "empty");
  EXPECT_NE(html.find("<p>no operations</p>"), std::string::npos);
  EXPECT_NE(html.find("<p>no faults</p>"), std::string::npos);
}

TEST(TimelineTest, HostileTimesStayFiniteAndBounded) {
  History h;
  h.Add(Op(std::nan(""), EventType::kOk, "OK", std::nan("")));
  h.Add(Op(-5, EventType::kOk, "OK", -3));
  h.Add(Op(1e300, EventType::kFail, "UNAVAILABLE"));
  h.Add(Op(INFINITY, EventType::kOk, "OK", INFINITY));
  h.AddSample({std::nan(""), "node1", "ACTIVE", ""});
  h.AddSample({1e300, "node2", "ACTIVE", ""});
  h.AddSample({-1, "node3", "ACTIVE", ""});
  h.BeginFault({std::nan(""), 1e300, "R9", "bad \x01\xff text", {}});
  h.BeginFault({5, 2, "R9", "ends before it starts", {}});
  const std::string svg = RenderTimelineSvg(h, "hostile");
  ExpectWellFormed(svg);
  EXPECT_LT(svg.size(), 200000u);
  EXPECT_EQ(SeriesValues(svg, "ok"), "1");  // only t = -5, counted in bucket 0
  EXPECT_EQ(svg.find('\x01'), std::string::npos);
  EXPECT_NE(svg.find("bad  \xef\xbf\xbd text"), std::string::npos);
  const std::string lower = [&] {
    std::string s = svg;
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }();
  EXPECT_EQ(lower.find("nan"), std::string::npos);
  EXPECT_EQ(lower.find("inf"), std::string::npos);
}

TEST(TimelineTest, EscapeHandlesMarkupAndBadUtf8) {
  EXPECT_EQ(XmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(XmlEscape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91");
  EXPECT_EQ(XmlEscape("x\xc3"), "x\xef\xbf\xbd");                                // truncated
  EXPECT_EQ(XmlEscape("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");                  // overlong
  EXPECT_EQ(XmlEscape("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  EXPECT_EQ(XmlEscape(std::string("a\0b\tc\n", 6)), "a b\tc\n");
}

TEST(TimelineTest, HtmlHasTheSvgFaultTableAndSummary) {
  History h;
  h.Add(Op(0.1, EventType::kInvoke, ""));
  h.Add(Op(0.2, EventType::kOk, "OK", 3));
  h.Add(Op(0.3, EventType::kOk, "OK", 4));
  h.Add(Op(1.3, EventType::kFail, "READ_ONLY_RESTRICTED"));
  h.Add(Op(1.4, EventType::kUnknown, "OUTCOME_UNKNOWN"));
  h.BeginFault({0.5, 1.5, "R1", "cut node1<->node2", {"node1", "node2"}});
  h.BeginFault({2.0, -1, "R3", "SIGSTOP node2", {"node2"}});
  const std::string html = RenderTimelineHtml(h, "run <1>");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>run &lt;1&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<svg xmlns="), std::string::npos);
  EXPECT_EQ(Count(html, "<tr class=\"fault-row\">"), 2u);
  EXPECT_NE(html.find("<tr class=\"fault-row\"><td class=\"n\">0.500</td><td class=\"n\">1.500</td>"
                      "<td>R1</td><td>cut node1&lt;-&gt;node2</td><td>node1, node2</td></tr>"),
            std::string::npos);
  EXPECT_NE(html.find("<td class=\"n\">2.000</td><td class=\"n\">end of run</td><td>R3</td>"),
            std::string::npos);
  EXPECT_EQ(html.find("node1<->node2"), std::string::npos);
  // Summary: by type and by code.
  EXPECT_NE(html.find("<tr><td>ok</td><td class=\"n\">2</td></tr>"), std::string::npos);
  EXPECT_NE(html.find("<tr><td>invoke</td><td class=\"n\">1</td></tr>"), std::string::npos);
  EXPECT_NE(
      html.find("<tr><td>READ_ONLY_RESTRICTED</td><td class=\"n\">0</td><td class=\"n\">1</td>"
                "<td class=\"n\">0</td></tr>"),
      std::string::npos);
  EXPECT_NE(html.find("<tr><td>OK</td><td class=\"n\">2</td>"), std::string::npos);
  EXPECT_EQ(html.substr(html.size() - 8), "</html>\n");
}

}  // namespace
}  // namespace coffer::chaos
