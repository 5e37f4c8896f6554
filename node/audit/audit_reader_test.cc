// Reading audit files back (audit_reader.h): across rotated files, filters,
// following across a rotation, and bad lines skipped, not fatal.
#include "node/audit/audit_reader.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/limits.h"
#include "node/audit/audit_log.h"
#include "storage/test_util.h"

namespace coffer::node::audit {
namespace {

using storage::testing::TempDir;

AuditEvent Event(int i) {
  AuditEvent event;
  event.client = i % 2 == 0 ? "admin" : "db01";
  event.role = i % 2 == 0 ? "admin" : "endpoint";
  event.op = i % 3 == 0 ? "get+material" : "destroy";
  event.objects = {"uuid-" + std::to_string(i)};
  event.code = i % 2 == 0 ? "OK" : "PERMISSION_DENIED";
  event.request_id = "req-" + std::to_string(i) + "-" + std::string(500, 'x');
  return event;
}

std::vector<int> Ids(const std::vector<AuditJson>& lines) {
  std::vector<int> ids;
  for (const auto& line : lines) {
    std::string id = line["request_id"];
    ids.push_back(std::stoi(id.substr(4)));
  }
  return ids;
}

struct RotatedLog {
  TempDir dir;
  AuditOptions options;
  std::unique_ptr<AuditLog> log;
  std::vector<std::string> bad;
  BadLineFn on_bad = [this](const std::string& file, uint64_t line, const std::string& why) {
    bad.push_back(file + ":" + std::to_string(line) + ": " + why);
  };

  explicit RotatedLog(int lines) {
    options.file = dir.path() + "/audit.log";
    options.node = "node1";
    options.max_file_bytes = limits::kMinAuditFileBytes;
    options.keep_files = 4;
    log = std::move(AuditLog::Open(options)).value();
    for (int i = 0; i < lines; ++i) log->Append(Event(i));
    EXPECT_TRUE(log->Flush().ok());
  }
};

TEST(AuditReaderTest, TailReadsBackAcrossRotatedFilesInOrder) {
  RotatedLog r(300);  // ~600 bytes a line: three files
  ASSERT_GE(AuditFiles(r.options.file).size(), 3u);
  auto tail = TailAuditLog(r.options.file, 150, r.on_bad);
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  std::vector<int> ids = Ids(*tail);
  ASSERT_EQ(ids.size(), 150u);
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], 150 + static_cast<int>(i));
  EXPECT_TRUE(r.bad.empty());
}

TEST(AuditReaderTest, SearchFiltersByOpClientCodeUuidAndTime) {
  RotatedLog r(60);
  auto search = [&](const AuditFilter& filter) {
    std::vector<AuditJson> found;
    EXPECT_TRUE(ScanAuditLog(
                    r.options.file,
                    [&](const AuditJson& l) {
                      if (Matches(l, filter)) found.push_back(l);
                    },
                    r.on_bad)
                    .ok());
    return Ids(found);
  };
  auto with = [](void (*set)(AuditFilter&)) {
    AuditFilter filter;
    set(filter);
    return filter;
  };
  EXPECT_EQ(search(AuditFilter()).size(), 60u);
  EXPECT_EQ(search(with([](AuditFilter& f) { f.uuid = "uuid-42"; })), std::vector<int>{42});
  EXPECT_EQ(search(with([](AuditFilter& f) { f.op = "get"; })).size(), 20u);  // get+material
  EXPECT_EQ(search(with([](AuditFilter& f) {
              f.op = "get+material";
              f.client = "db01";
            })).size(),
            10u);
  EXPECT_EQ(search(with([](AuditFilter& f) { f.code = "permission_denied"; })).size(), 30u);
  EXPECT_EQ(search(with([](AuditFilter& f) { f.request_id = "req-7-" + std::string(500, 'x'); })),
            std::vector<int>{7});
  EXPECT_EQ(search(with([](AuditFilter& f) { f.since = "2100"; })).size(), 0u);
  EXPECT_EQ(search(with([](AuditFilter& f) { f.since = "2000-01-01T00:00"; })).size(), 60u);
  EXPECT_EQ(search(with([](AuditFilter& f) { f.until = "2000"; })).size(), 0u);
}

TEST(AuditReaderTest, ABadLineIsReportedAndSkipped) {
  TempDir dir;
  std::string file = dir.path() + "/audit.log";
  {
    std::ofstream out(file);
    out << AuditLine(Event(1), "n", 0) << "not json\n"
        << std::string(limits::kMaxAuditReadLineBytes + 10, 'x') << "\n"
        << AuditLine(Event(2), "n", 0) << "{\"partial\":";  // one being written
  }
  std::vector<std::string> bad;
  auto tail =
      TailAuditLog(file, 10, [&](const std::string&, uint64_t line, const std::string& why) {
        bad.push_back(std::to_string(line) + ": " + why);
      });
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(Ids(*tail), (std::vector<int>{1, 2}));
  EXPECT_EQ(bad,
            (std::vector<std::string>{
                "2: not a JSON object",
                "3: longer than " + std::to_string(limits::kMaxAuditReadLineBytes) + " bytes"}));
  EXPECT_EQ(TailAuditLog(dir.path() + "/none", 10, nullptr).status().code(), Code::kNotFound);
}

TEST(AuditReaderTest, AFollowerSeesNewLinesAcrossARotation) {
  RotatedLog r(10);
  AuditFollower follower(r.options.file);
  ASSERT_TRUE(follower.Start().ok());
  std::vector<AuditJson> seen;
  auto poll = [&] {
    ASSERT_TRUE(follower.Poll([&](const AuditJson& l) { seen.push_back(l); }, r.on_bad).ok());
  };
  poll();
  EXPECT_TRUE(seen.empty());  // nothing appended yet
  // Enough lines to rotate at least once between two polls.
  for (int i = 10; i < 250; ++i) r.log->Append(Event(i));
  ASSERT_TRUE(r.log->Flush().ok());
  poll();
  poll();
  std::vector<int> ids = Ids(seen);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 10);
  // After one rotation the follower has the rest of the old file and the
  // whole new one; with several rotations between polls it skips the middle
  // files (like tail -F), but never reorders.
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_GT(ids[i], ids[i - 1]);
  EXPECT_EQ(ids.back(), 249);
}

TEST(AuditReaderTest, SinceTakesATimePrefixOrADurationAgo) {
  const int64_t now = 1'764'465'723'000'000;  // 2025-11-30T01:22:03Z
  EXPECT_EQ(ParseAuditSince("2025-11-30", now).value(), "2025-11-30");
  EXPECT_EQ(ParseAuditSince("2025-11-30T01:02", now).value(), "2025-11-30T01:02");
  EXPECT_EQ(ParseAuditSince("15m", now).value(), "2025-11-30T01:07:03.000000Z");
  EXPECT_EQ(ParseAuditSince("2h", now).value(), "2025-11-29T23:22:03.000000Z");
  EXPECT_EQ(ParseAuditSince("yesterday", now).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseAuditSince("2025-13", now).ok(), true);  // shape only; compares as text
  EXPECT_EQ(ParseAuditSince("20251130", now).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::node::audit
