// Issue 11 item 6 against a real node process and the real `coffer` binary:
// the audit log is its own JSON-lines file that `coffer audit tail|search`
// reads back, a forged line in a request id stays inside one line, the node
// log has no audit lines, material is never audited, and the table output
// prints control characters as visible escapes (-o json exact).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "common/wait_for.h"
#include "tests/harness/coffer_cli.h"
#include "tests/harness/node_process.h"

namespace coffer::integration {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// `text` as one /bin/sh word (single quotes hold newlines and ESC as they are).
std::string Quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> LinesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(node_.Start());
    auto endpoint = *node::IssueCertificate(node_.ca(), {"db01", "endpoint", {}, {}, 30});
    ASSERT_TRUE(
        node::WritePemPair(endpoint, node_.dir() + "/db01.pem", node_.dir() + "/db01.key").ok());
  }
  std::string Admin() { return CofferFlags(node_); }
  std::string Endpoint() {
    return " --address " + node_.address() + " --ca " + node_.dir() + "/ca.pem --cert " +
           node_.dir() + "/db01.pem --key " + node_.dir() + "/db01.key";
  }
  std::string Source() { return " --config " + node_.dir() + "/node.toml"; }
  std::string AuditFile() { return node_.data_dir() + "/audit/audit.log"; }

  // `coffer audit search ARGS -o json`, waited for (a line is on disk
  // within [audit] sync_interval_ms) until it finds `count` lines.
  nlohmann::json SearchUntil(const std::string& args, size_t count) {
    nlohmann::json found = nlohmann::json::array();
    coffer::WaitFor(
        [&] {
          std::string out;
          if (Coffer("audit search -o json" + Source() + args, &out, true) != 0) return false;
          found = nlohmann::json::parse(out, nullptr, false);
          return found.is_array() && found.size() >= count;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(50));
    return found;
  }

  NodeProcess node_;
};

TEST_F(AuditTest, AForgedAdminLineInARequestIdStaysInsideTheEndpointsOwnLine) {
  std::string out;
  ASSERT_EQ(Coffer("key create --name target" + Admin(), &out, true), 0) << out;
  const std::string uuid = LinesOf(out).at(0);
  // What an endpoint certificate did on main: its request id carried a
  // newline and a whole audit line of an admin destroying the key.
  const std::string forged = "x uuid=" + uuid +
                             " code=OK\naudit client=admin role=admin op=destroy request_id=y "
                             "uuid=" +
                             uuid + " code=OK\x1b[2K";
  // Refused (PERMISSION_DENIED; or INVALID_ARGUMENT if the API boundary
  // refuses such an id first): audited either way, with the id exact.
  EXPECT_NE(Coffer("object destroy " + uuid + " --request-id " + Quoted(forged) + Endpoint(), &out),
            0);

  nlohmann::json found = SearchUntil(" --client db01 --op destroy", 1);
  ASSERT_TRUE(found.is_array()) << found;
  ASSERT_EQ(found.size(), 1u) << found;
  EXPECT_EQ(found[0]["request_id"], forged);  // exact, whatever the API boundary decides
  EXPECT_EQ(found[0]["role"], "endpoint");
  EXPECT_EQ(found[0]["op"], "destroy");
  EXPECT_NE(found[0]["code"], "OK");
  EXPECT_EQ(found[0]["node"], node_.name());

  // The file: every line one JSON object, none an admin's destroy.
  std::string text = ReadWholeFile(AuditFile());
  for (const std::string& line : LinesOf(text)) {
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(parsed.is_object()) << line;
    EXPECT_FALSE(parsed["role"] == "admin" && parsed["op"] == "destroy") << line;
    EXPECT_TRUE(std::all_of(line.begin(), line.end(), [](char c) { return c >= 0x20 && c < 0x7f; }))
        << line;
  }
  // The node log keeps no audit lines.
  EXPECT_THAT(ReadWholeFile(node_.log_file()), Not(HasSubstr("op=destroy")));
  EXPECT_THAT(ReadWholeFile(node_.log_file()), Not(HasSubstr("audit client=")));

  // The table output of tail shows the id escaped, on one row.
  ASSERT_EQ(Coffer("audit tail -n 1" + Source(), &out, true), 0) << out;
  EXPECT_EQ(LinesOf(out).size(), 2u) << out;  // header and one row
  EXPECT_THAT(out, HasSubstr("code=OK\\naudit client=admin"));
  EXPECT_THAT(out, HasSubstr("\\x1b[2K"));
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
}

TEST_F(AuditTest, TailAndSearchFindAMaterialReadWithoutItsMaterial) {
  std::string out;
  ASSERT_EQ(
      Coffer("key create --name audited-key --request-id create-audited-key" + Admin(), &out, true),
      0)
      << out;
  const std::string uuid = LinesOf(out).at(0);
  ASSERT_EQ(Coffer("object get " + uuid + " --material -o json" + Admin(), &out, true), 0) << out;
  const std::string material = nlohmann::json::parse(out)["material"];
  ASSERT_FALSE(material.empty());

  nlohmann::json reads = SearchUntil(" --uuid " + uuid + " --op get", 1);
  ASSERT_EQ(reads.size(), 1u) << reads;
  EXPECT_EQ(reads[0]["op"], "get+material");
  EXPECT_EQ(reads[0]["client"], "cli");
  EXPECT_EQ(reads[0]["role"], "admin");
  EXPECT_EQ(reads[0]["code"], "OK");
  EXPECT_EQ(reads[0]["objects"], nlohmann::json::array({uuid}));
  EXPECT_THAT(ReadWholeFile(AuditFile()), Not(HasSubstr(material)));

  nlohmann::json created = SearchUntil(" --request-id create-audited-key --code ok", 1);
  ASSERT_EQ(created.size(), 1u) << created;
  EXPECT_EQ(created[0]["op"], "create_key");
  EXPECT_EQ(created[0]["objects"], nlohmann::json::array({"audited-key", uuid}));

  // tail: the last two lines, in order; by the data directory as well.
  ASSERT_EQ(Coffer("audit tail -n 2 -o json --data-dir " + node_.data_dir(), &out, true), 0);
  nlohmann::json tail = nlohmann::json::parse(out);
  ASSERT_EQ(tail.size(), 2u) << out;
  EXPECT_EQ(tail[0]["op"], "create_key");
  EXPECT_EQ(tail[1]["op"], "get+material");
  ASSERT_EQ(Coffer("audit tail -n 2" + Source(), &out, true), 0);
  EXPECT_THAT(out, HasSubstr("get+material"));
  EXPECT_THAT(out, HasSubstr("TIME"));

  // --follow prints what is appended (and stops after --follow-for).
  std::string followed;
  std::thread follow([&] {
    Coffer("audit tail -n 1 --follow --follow-for 8 -o json" + Source(), &followed, true);
  });
  ASSERT_EQ(Coffer("key create --name followed --request-id followed-1" + Admin(), &out, true), 0);
  follow.join();
  size_t seen = 0;
  for (const std::string& line : LinesOf(followed)) {
    if (nlohmann::json::parse(line, nullptr, false).value("request_id", "") == "followed-1") ++seen;
  }
  EXPECT_EQ(seen, 1u) << followed;

  // No source named: a clear error.
  EXPECT_EQ(Coffer("audit tail", &out), 1);
  EXPECT_THAT(out, HasSubstr("--config NODE.toml, --data-dir DIR or --file FILE"));
}

TEST_F(AuditTest, ObjectGetPrintsAFakeStateRowEscapedAndJsonExact) {
  const std::string fake = "payments\nstate              DESTROYED\x1b[0m";
  std::string out;
  ASSERT_EQ(Coffer("key create --name escaped --tag " + Quoted(fake) + " --attr " +
                       Quoted("x-owner=" + fake) + Admin(),
                   &out, true),
            0)
      << out;
  const std::string uuid = LinesOf(out).at(0);

  ASSERT_EQ(Coffer("object get " + uuid + Admin(), &out, true), 0) << out;
  size_t state_rows = 0;
  for (const std::string& line : LinesOf(out)) {
    if (line.rfind("state", 0) == 0) ++state_rows;
  }
  EXPECT_EQ(state_rows, 1u) << out;
  for (const std::string& line : LinesOf(out)) {
    if (line.rfind("state", 0) == 0) {
      EXPECT_THAT(line, HasSubstr("PRE_ACTIVE"));  // the real row
    }
  }
  EXPECT_THAT(out, HasSubstr("payments\\nstate              DESTROYED\\x1b[0m"));
  EXPECT_EQ(out.find('\x1b'), std::string::npos);

  ASSERT_EQ(Coffer("object get " + uuid + " -o json" + Admin(), &out, true), 0) << out;
  nlohmann::json json = nlohmann::json::parse(out);
  EXPECT_EQ(json["attributes"]["x-owner"]["text"], fake);
  EXPECT_TRUE(json["attributes"].contains("tag:" + fake)) << out;

  ASSERT_EQ(Coffer("object locate --name escaped" + Admin(), &out, true), 0) << out;
  EXPECT_EQ(LinesOf(out).size(), 2u) << out;
}

}  // namespace
}  // namespace coffer::integration
