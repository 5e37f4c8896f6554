// The audit log (audit_log.h): one JSON line per event whatever a client
// sent, bounded lines, rotation by size, the durability bound.
#include "node/audit/audit_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/limits.h"
#include "common/wait_for.h"
#include "storage/test_util.h"

namespace coffer::node::audit {
namespace {

using storage::testing::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every byte printable ASCII: nothing a terminal or a log reader could take
// for a line break or a control sequence.
bool PrintableAscii(const std::string& line) {
  for (unsigned char c : line) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

AuditEvent Event(std::string request_id) {
  AuditEvent event;
  event.client = "db01";
  event.role = "endpoint";
  event.op = "get";
  event.objects = {"0b6f1c9e-3a54-4f6e-9d1c-2b7f0c8e4a11"};
  event.code = "PERMISSION_DENIED";
  event.request_id = std::move(request_id);
  return event;
}

AuditOptions OptionsIn(const TempDir& dir) {
  AuditOptions options;
  options.file = dir.path() + "/audit/audit.log";
  options.node = "node1";
  options.sync_interval = std::chrono::milliseconds(20);
  return options;
}

// Issue 11 item 6: an endpoint certificate wrote a line reading "client=admin
// role=admin op=destroy" through a request id with a newline.
TEST(AuditLogTest, NewlineAndEscInTheRequestIdStayOneLineThatParsesBackExactly) {
  const std::string forged =
      "r1 code=OK\naudit client=admin role=admin op=destroy uuid=x\r\x1b[2J\x7f\xc2\x9b"
      "31m";
  TempDir dir;
  auto log = AuditLog::Open(OptionsIn(dir));
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  (*log)->Append(Event(forged));
  ASSERT_TRUE((*log)->Flush().ok());
  std::string text = ReadAll(dir.path() + "/audit/audit.log");
  std::vector<std::string> lines = Lines(text);
  ASSERT_EQ(lines.size(), 1u) << text;
  EXPECT_EQ(text.back(), '\n');
  EXPECT_TRUE(PrintableAscii(lines[0])) << lines[0];
  nlohmann::json parsed = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(parsed["request_id"], forged);
  EXPECT_EQ(parsed["client"], "db01");
  EXPECT_EQ(parsed["role"], "endpoint");
  EXPECT_EQ(parsed["op"], "get");
  EXPECT_EQ(parsed["code"], "PERMISSION_DENIED");
  EXPECT_EQ(parsed["node"], "node1");
  EXPECT_EQ(parsed["objects"][0], "0b6f1c9e-3a54-4f6e-9d1c-2b7f0c8e4a11");
  EXPECT_FALSE(parsed.contains("truncated"));
  // The file is the node's alone.
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/audit/audit.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AuditLogTest, AOneMebibyteRequestIdGivesABoundedLineThatSaysItWasCut) {
  std::string huge(1 << 20, '\n');  // each byte escapes to two characters
  std::string line = AuditLine(Event(huge), "node1", 0);
  EXPECT_LE(line.size(), limits::kMaxAuditLineBytes);
  EXPECT_EQ(Lines(line).size(), 1u);
  nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["request_id"].get<std::string>(),
            std::string(limits::kMaxAuditFieldBytes, '\n'));
  EXPECT_EQ(parsed["truncated"]["request_id"], 1u << 20);

  // Every field at once, each of control characters (6 escaped characters a byte).
  AuditEvent all;
  std::string worst(1 << 20, '\x01');
  all.client = all.role = all.op = all.code = all.request_id = worst;
  all.objects.assign(100, worst);
  std::string longest = AuditLine(all, worst, 0);
  EXPECT_LE(longest.size(), limits::kMaxAuditLineBytes);
  nlohmann::json cut = nlohmann::json::parse(longest);
  EXPECT_EQ(cut["objects"].size(), limits::kMaxAuditObjects);
  EXPECT_EQ(cut["truncated"]["objects"], 100);
  EXPECT_EQ(cut["truncated"]["client"], 1u << 20);
}

TEST(AuditLogTest, ACutNeverSplitsAUtf8CharacterAndBadUtf8IsReplaced) {
  std::string accents;
  while (accents.size() < 2 * limits::kMaxAuditFieldBytes) accents += "\xc3\xa9";  // é
  nlohmann::json parsed = nlohmann::json::parse(AuditLine(Event("x" + accents), "n", 0));
  std::string kept = parsed["request_id"];
  EXPECT_EQ(kept.size(), limits::kMaxAuditFieldBytes - 1);  // "x" and 255 whole é
  EXPECT_EQ(kept.find("\xef\xbf\xbd"), std::string::npos);

  nlohmann::json invalid = nlohmann::json::parse(AuditLine(Event("a\xff"
                                                                 "b"),
                                                           "n", 0));
  EXPECT_EQ(invalid["request_id"],
            "a\xef\xbf\xbd"
            "b");
}

TEST(AuditLogTest, RotationBySizeKeepsTheConfiguredNumberOfFiles) {
  TempDir dir;
  AuditOptions options = OptionsIn(dir);
  options.max_file_bytes = limits::kMinAuditFileBytes;
  options.keep_files = 3;
  auto log = AuditLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  // ~600-byte lines: about 110 per file, so 1,000 lines rotate 8 times.
  const int kLines = 1000;
  for (int i = 0; i < kLines; ++i) {
    (*log)->Append(Event(std::to_string(i) + "-" + std::string(400, 'r')));
  }
  ASSERT_TRUE((*log)->Flush().ok());
  const std::string file = options.file;
  std::vector<int> ids;
  for (const std::string& path : {file + ".3", file + ".2", file + ".1", file}) {
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    EXPECT_LE(std::filesystem::file_size(path), options.max_file_bytes) << path;
    for (const std::string& line : Lines(ReadAll(path))) {
      std::string id = nlohmann::json::parse(line)["request_id"];
      ids.push_back(std::stoi(id.substr(0, id.find('-'))));
    }
  }
  EXPECT_FALSE(std::filesystem::exists(file + ".4"));
  // The kept files hold the newest lines, in order, without a gap.
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.back(), kLines - 1);
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_EQ(ids[i], ids[i - 1] + 1);
  EXPECT_GT(ids.size(), 300u);  // three full files and the current one
  EXPECT_EQ((*log)->lost_lines(), 0u);
}

TEST(AuditLogTest, ALineIsOnDiskWithinTheSyncIntervalWithoutAFlush) {
  TempDir dir;
  AuditOptions options = OptionsIn(dir);
  options.sync_interval = std::chrono::milliseconds(50);
  auto log = AuditLog::Open(options);
  ASSERT_TRUE(log.ok());
  (*log)->Append(Event("on-disk-soon"));
  // The bound is 50 ms plus one write and fsync; 5 s leaves room for a slow disk.
  EXPECT_TRUE(
      WaitFor([&] { return ReadAll(options.file).find("on-disk-soon") != std::string::npos; },
              std::chrono::seconds(5)));
}

TEST(AuditLogTest, ReopeningAppendsToTheSameFile) {
  TempDir dir;
  AuditOptions options = OptionsIn(dir);
  for (const char* id : {"first", "second"}) {
    auto log = AuditLog::Open(options);
    ASSERT_TRUE(log.ok());
    (*log)->Append(Event(id));
  }  // the destructor flushes
  std::vector<std::string> lines = Lines(ReadAll(options.file));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[1])["request_id"], "second");
}

TEST(AuditLogTest, BadOptionsAreRefused) {
  TempDir dir;
  AuditOptions options = OptionsIn(dir);
  options.max_file_bytes = 10;
  EXPECT_EQ(AuditLog::Open(options).status().code(), Code::kInvalidArgument);
  options = OptionsIn(dir);
  options.keep_files = 0;
  EXPECT_EQ(AuditLog::Open(options).status().code(), Code::kInvalidArgument);
  options = OptionsIn(dir);
  options.file = dir.path() + "/not-a-dir";
  std::ofstream(options.file) << "x";
  options.file += "/audit.log";
  EXPECT_EQ(AuditLog::Open(options).status().code(), Code::kUnavailable);
}

TEST(AuditLogTest, TimeIsFixedWidthUtcWithMicroseconds) {
  EXPECT_EQ(AuditTime(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(AuditTime(1'764'465'723'123'456), "2025-11-30T01:22:03.123456Z");
}

}  // namespace
}  // namespace coffer::node::audit
