// History: its thread-safe recording and its JSON-lines files (WriteTo /
// ReadFrom), including the errors for missing, malformed and oversized files.
#include "tests/chaos/history.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace coffer::chaos {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "chaos-history-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const char* name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

const char* const kGoodOp =
    R"({"t":1.5,"client":2,"op":"register","type":"ok","node":"node1","code":"OK",)"
    R"("request_id":"r1","key":"k1","latency_ms":3.25})";

// A folder whose three files are valid (one record each); tests then spoil one.
void WriteValidFolder(const TempDir& dir) {
  WriteFile(dir.File(kHistoryFile), std::string(kGoodOp) + "\n");
  WriteFile(dir.File(kFaultsFile),
            R"({"start":1,"end":2,"scenario":"R1","fault":"kill","nodes":["node1"]})"
            "\n");
  WriteFile(dir.File(kNodesFile), R"({"t":0.5,"node":"node1","state":"ACTIVE","mode":"read-write"})"
                                  "\n");
}

TEST(HistoryTest, EventTypeNamesRoundTrip) {
  for (EventType t : {EventType::kInvoke, EventType::kOk, EventType::kFail, EventType::kUnknown}) {
    auto parsed = ParseEventType(EventTypeName(t));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_EQ(ParseEventType("OK").status().code(), Code::kInvalidArgument);
}

TEST(HistoryTest, RecordsAndFaultBands) {
  History h;
  const double t0 = h.Now();
  EXPECT_GE(t0, 0);
  const size_t a = h.BeginFault({h.Now(), -1, "R1", "cut node1<->node2", {"node1", "node2"}});
  const size_t b = h.BeginFault({h.Now(), h.Now(), "R2", "kill -9 node3", {"node3"}});
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b, 1u);
  EXPECT_LT(h.faults()[0].end, 0);  // still holding
  h.EndFault(a);
  h.EndFault(99);  // not a band: ignored
  ASSERT_EQ(h.faults().size(), 2u);
  EXPECT_GE(h.faults()[0].end, h.faults()[0].start);
  EXPECT_GE(h.Now(), t0);
}

TEST(HistoryTest, ConcurrentAddsAreAllKept) {
  History h;
  std::vector<std::thread> threads;
  for (int c = 0; c < 4; ++c) {
    threads.emplace_back([&h, c] {
      for (int i = 0; i < 500; ++i) {
        OpEvent e;
        e.t = h.Now();
        e.client = c;
        h.Add(e);
        h.AddSample({h.Now(), "node" + std::to_string(c), "ACTIVE", "read-write"});
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.ops().size(), 2000u);
  EXPECT_EQ(h.samples().size(), 2000u);
}

TEST(HistoryTest, RoundTripThroughFiles) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  History h;
  h.Add({0.25, 0, "register", EventType::kInvoke, "", "", "req-1", "", 0});
  h.Add({0.75, 0, "register", EventType::kOk, "node1", "OK", "req-1", "uuid-1", 500.5});
  h.Add({1.5, 1, "claim", EventType::kFail, "node2", "READ_ONLY_RESTRICTED", "req-2",
         "name \"q\" <x> \xc3\xa9", 12});
  h.Add({2.0, -3, "read", EventType::kUnknown, "", "OUTCOME_UNKNOWN", "req-3", "k", 1e-3});
  h.BeginFault({1.0, 4.5, "R1", "cut node1<->node2", {"node1", "node2"}});
  h.BeginFault({3.0, 3.0, "R2", "kill -9 node3", {}});
  h.BeginFault({5.0, -1, "R3", "SIGSTOP node2", {"node2"}});
  h.AddSample({0.1, "node1", "ACTIVE", "read-write"});
  h.AddSample({0.2, "node2", "DISABLED", ""});
  ASSERT_TRUE(h.WriteTo(dir.path()).ok());
  EXPECT_FALSE(fs::exists(dir.File("history.jsonl.tmp")));

  auto read = History::ReadFrom(dir.path());
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  const auto ops = read->ops();
  ASSERT_EQ(ops.size(), 4u);
  const auto want = h.ops();
  for (size_t i = 0; i < ops.size(); ++i) {
    EXPECT_EQ(ops[i].t, want[i].t);
    EXPECT_EQ(ops[i].client, want[i].client);
    EXPECT_EQ(ops[i].op, want[i].op);
    EXPECT_EQ(ops[i].type, want[i].type);
    EXPECT_EQ(ops[i].node, want[i].node);
    EXPECT_EQ(ops[i].code, want[i].code);
    EXPECT_EQ(ops[i].request_id, want[i].request_id);
    EXPECT_EQ(ops[i].key, want[i].key);
    EXPECT_EQ(ops[i].latency_ms, want[i].latency_ms);
  }
  const auto faults = read->faults();
  ASSERT_EQ(faults.size(), 3u);
  EXPECT_EQ(faults[0].start, 1.0);
  EXPECT_EQ(faults[0].end, 4.5);
  EXPECT_EQ(faults[0].scenario, "R1");
  EXPECT_EQ(faults[0].fault, "cut node1<->node2");
  EXPECT_EQ(faults[0].nodes, (std::vector<std::string>{"node1", "node2"}));
  EXPECT_TRUE(faults[1].nodes.empty());
  EXPECT_EQ(faults[2].end, -1);
  const auto samples = read->samples();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[1].node, "node2");
  EXPECT_EQ(samples[1].state, "DISABLED");
  EXPECT_EQ(samples[1].mode, "");
  EXPECT_EQ(samples[0].mode, "read-write");

  // One JSON object per line.
  std::ifstream in(dir.File(kHistoryFile));
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_EQ(line.front(), '{');
    EXPECT_NE(line.find("\"type\":"), std::string::npos);
  }
  EXPECT_EQ(lines, 4);
}

TEST(HistoryTest, EmptyHistoryRoundTrips) {
  TempDir dir;
  ASSERT_TRUE(History().WriteTo(dir.path()).ok());
  auto read = History::ReadFrom(dir.path());
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(read->ops().empty());
  EXPECT_TRUE(read->faults().empty());
  EXPECT_TRUE(read->samples().empty());
}

TEST(HistoryTest, NonFiniteAndInvalidUtf8AreWrittenReadably) {
  TempDir dir;
  History h;
  h.Add({std::nan(""), 0, "read", EventType::kOk, "n", "OK", "r", "bad \xff utf8", INFINITY});
  ASSERT_TRUE(h.WriteTo(dir.path()).ok());
  auto read = History::ReadFrom(dir.path());
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->ops()[0].t, 0);
  EXPECT_EQ(read->ops()[0].latency_ms, 0);
  EXPECT_EQ(read->ops()[0].key, "bad \xef\xbf\xbd utf8");
}

TEST(HistoryTest, WriteToAMissingDirectoryFails) {
  TempDir dir;
  EXPECT_FALSE(History().WriteTo(dir.File("no-such-dir")).ok());
}

TEST(HistoryTest, MissingFileNamesTheFile) {
  TempDir dir;
  WriteValidFolder(dir);
  ASSERT_TRUE(History::ReadFrom(dir.path()).ok());
  fs::remove(dir.File(kFaultsFile));
  auto read = History::ReadFrom(dir.path());
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Code::kNotFound);
  EXPECT_NE(read.status().message().find("faults.jsonl"), std::string::npos)
      << read.status().ToString();
}

// Each bad line (written as line 3 of history.jsonl after two good lines, or
// of the named file) is refused with the file, the line and the cause.
struct BadLine {
  const char* file;
  std::string line;
  const char* cause;
};

TEST(HistoryTest, MalformedLinesNameFileAndLine) {
  const std::string good_fault =
      R"({"start":1,"end":2,"scenario":"R1","fault":"kill","nodes":["node1"]})";
  const std::string good_sample = R"({"t":0.5,"node":"node1","state":"ACTIVE","mode":""})";
  const std::vector<BadLine> cases = {
      {kHistoryFile, "{not json", "malformed JSON"},
      {kHistoryFile, R"({"t":1)", "malformed JSON"},
      {kHistoryFile, "[1,2,3]", "not a JSON object"},
      {kHistoryFile, "42", "not a JSON object"},
      {kHistoryFile,
       R"({"client":2,"op":"x","type":"ok","node":"","code":"OK","request_id":"",)"
       R"("key":"","latency_ms":1})",
       "key \"t\" is missing"},
      {kHistoryFile,
       R"({"t":"1.5","client":2,"op":"x","type":"ok","node":"","code":"OK",)"
       R"("request_id":"","key":"","latency_ms":1})",
       "key \"t\" is not a number"},
      {kHistoryFile,
       R"({"t":1,"client":2.5,"op":"x","type":"ok","node":"","code":"OK",)"
       R"("request_id":"","key":"","latency_ms":1})",
       "key \"client\" is not an integer"},
      {kHistoryFile,
       R"({"t":1,"client":99999999999,"op":"x","type":"ok","node":"","code":"OK",)"
       R"("request_id":"","key":"","latency_ms":1})",
       "key \"client\" is out of range"},
      {kHistoryFile,
       R"({"t":1,"client":2,"op":"x","type":"done","node":"","code":"OK",)"
       R"("request_id":"","key":"","latency_ms":1})",
       "unknown event type \"done\""},
      {kHistoryFile,
       R"({"t":1,"client":2,"op":"x","type":"ok","node":null,"code":"OK",)"
       R"("request_id":"","key":"","latency_ms":1})",
       "key \"node\" is not a string"},
      {kFaultsFile, R"({"start":1,"end":2,"scenario":"R1","fault":"kill","nodes":"node1"})",
       "key \"nodes\" is not an array"},
      {kFaultsFile, R"({"start":1,"end":2,"scenario":"R1","fault":"kill","nodes":[1]})",
       "not a string"},
      {kFaultsFile, R"({"start":1,"scenario":"R1","fault":"kill","nodes":[]})",
       "key \"end\" is missing"},
      {kNodesFile, R"({"t":1,"node":"node1","state":7,"mode":""})",
       "key \"state\" is not a string"},
      {kNodesFile, R"({"t":1,"node":"node1","state":"ACTIVE"})", "key \"mode\" is missing"},
  };
  for (const BadLine& c : cases) {
    SCOPED_TRACE(std::string(c.file) + ": " + c.line);
    TempDir dir;
    WriteValidFolder(dir);
    std::string first_two;
    if (std::string(c.file) == kHistoryFile) first_two = std::string(kGoodOp) + "\n\n";
    if (std::string(c.file) == kFaultsFile) first_two = good_fault + "\n" + good_fault + "\n";
    if (std::string(c.file) == kNodesFile) first_two = good_sample + "\n" + good_sample + "\n";
    WriteFile(dir.File(c.file), first_two + c.line + "\n" + good_sample + "\n");
    auto read = History::ReadFrom(dir.path());
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), Code::kInvalidArgument);
    const std::string message = read.status().message();
    EXPECT_NE(message.find(dir.File(c.file) + ":3: "), std::string::npos) << message;
    EXPECT_NE(message.find(c.cause), std::string::npos) << message;
  }
}

TEST(HistoryTest, BlankLinesCrlfAndUnknownKeysAreAccepted) {
  TempDir dir;
  WriteValidFolder(dir);
  WriteFile(dir.File(kHistoryFile),
            "\n  \n" + std::string(kGoodOp).insert(1, "\"extra\":[1],") + "\r\n" + kGoodOp + "\n");
  auto read = History::ReadFrom(dir.path());
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->ops().size(), 2u);
  EXPECT_EQ(read->ops()[0].latency_ms, 3.25);
  EXPECT_EQ(read->ops()[1].key, "k1");
}

TEST(HistoryTest, OverlongLineIsRefused) {
  TempDir dir;
  WriteValidFolder(dir);
  std::string big = kGoodOp;
  big.insert(1, "\"pad\":\"" + std::string(kMaxHistoryLineBytes, 'x') + "\",");
  WriteFile(dir.File(kHistoryFile), std::string(kGoodOp) + "\n" + big + "\n");
  auto read = History::ReadFrom(dir.path());
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Code::kResourceExhausted);
  EXPECT_NE(read.status().message().find("history.jsonl:2: "), std::string::npos)
      << read.status().ToString();

  // WriteTo refuses to write what ReadFrom would refuse.
  History h;
  h.Add({0, 0, "read", EventType::kOk, "", "OK", "", std::string(kMaxHistoryLineBytes, 'k'), 0});
  const Status written = h.WriteTo(dir.path());
  EXPECT_EQ(written.code(), Code::kInvalidArgument);
  EXPECT_NE(written.message().find("history.jsonl"), std::string::npos);
}

TEST(HistoryTest, OversizedFileIsRefused) {
  TempDir dir;
  WriteValidFolder(dir);
  {
    std::ofstream out(dir.File(kNodesFile), std::ios::binary | std::ios::trunc);
    out.close();
    fs::resize_file(dir.File(kNodesFile), kMaxHistoryFileBytes + 1);  // sparse
  }
  auto read = History::ReadFrom(dir.path());
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Code::kResourceExhausted);
  EXPECT_NE(read.status().message().find("nodes.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace coffer::chaos
