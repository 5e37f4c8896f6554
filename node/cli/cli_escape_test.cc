// Output that cannot lie (issue 11 item 6): table and plain output escape
// control characters, so a stored string cannot print a row of its own or
// move the cursor; -o json keeps the exact string.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "node/cli/cli_output.h"

namespace coffer::node {
namespace {

constexpr char kFakeRow[] = "payments\nstate     DESTROYED";

size_t LineCount(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

bool HasRawControl(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\n') || u == 0x7f;
  });
}

pb::ObjectView ObjectWithFakeRows() {
  pb::ObjectView o;
  o.set_uuid("0b6f1c9e-3a54-4f6e-9d1c-2b7f0c8e4a11");
  o.set_type(pb::SYMMETRIC_KEY);
  o.set_name("orders\r\x1b[2Kmaster");
  o.set_state(pb::ACTIVE);
  (*o.mutable_attributes())["x-owner"].set_text(kFakeRow);
  (*o.mutable_attributes())[std::string("tag:") + kFakeRow].set_boolean(true);
  (*o.mutable_attributes())["description"].set_text("ok\x1b]0;title\x07\x9b");
  return o;
}

TEST(CliEscapeTest, ObjectGetPrintsOneRowPerFieldWithVisibleEscapes) {
  pb::ObjectView o = ObjectWithFakeRows();
  std::string table = RenderObject(o, OutputFormat::kTable);
  // uuid, type, name, state, created, material and three attributes.
  EXPECT_EQ(LineCount(table), 9u) << table;
  EXPECT_FALSE(HasRawControl(table)) << table;
  EXPECT_NE(table.find("payments\\nstate     DESTROYED"), std::string::npos) << table;
  EXPECT_NE(table.find("orders\\r\\x1b[2Kmaster"), std::string::npos) << table;
  EXPECT_NE(table.find("ok\\x1b]0;title\\x07\\x9b"), std::string::npos) << table;
  // The one real state row.
  size_t state_rows = 0;
  for (size_t at = table.find("\nstate"); at != std::string::npos;
       at = table.find("\nstate", at + 1))
    ++state_rows;
  EXPECT_EQ(state_rows, 1u) << table;

  // -o json: the exact strings, JSON-escaped.
  pb::ObjectView parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(RenderObject(o, OutputFormat::kJson), &parsed)
          .ok());
  EXPECT_EQ(parsed.attributes().at("x-owner").text(), kFakeRow);
  EXPECT_EQ(parsed.name(), "orders\r\x1b[2Kmaster");
  EXPECT_TRUE(parsed.attributes().contains(std::string("tag:") + kFakeRow));
}

TEST(CliEscapeTest, ListsAndEndpointSubjectsStayOneRowEach) {
  pb::WalletList wallets;
  auto* w = wallets.add_wallets();
  w->set_name("payroll");
  w->set_description("keys\nfake-wallet  uuid  ACTIVE  0");
  EXPECT_EQ(LineCount(RenderWallets(wallets, OutputFormat::kTable)), 2u);
  pb::EndpointList endpoints;
  auto* e = endpoints.add_endpoints();
  e->set_name("db01");
  e->set_certificate_subject("db01\r\nadmin  uuid  admin  -");
  std::string table = RenderEndpoints(endpoints, OutputFormat::kTable);
  EXPECT_EQ(LineCount(table), 2u) << table;
  EXPECT_NE(table.find("db01\\r\\nadmin"), std::string::npos) << table;
}

TEST(CliEscapeTest, EscapeForTerminal) {
  EXPECT_EQ(EscapeForTerminal("plain text, é and 日本"), "plain text, é and 日本");
  EXPECT_EQ(EscapeForTerminal("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(EscapeForTerminal(std::string("\x00\x01\x1b\x7f", 4)), "\\x00\\x01\\x1b\\x7f");
  EXPECT_EQ(EscapeForTerminal("back\\nslash"), "back\\\\nslash");  // a literal \n is not a newline
  EXPECT_EQ(EscapeForTerminal("\xc2\x9b"
                              "31m"),
            "\\u009b31m");  // C1 CSI
  EXPECT_EQ(EscapeForTerminal("\xe2\x80\xae"
                              "evil"),
            "\\u202eevil");                                 // right-to-left override
  EXPECT_EQ(EscapeForTerminal("\xe2\x80\xa8"), "\\u2028");  // line separator
  EXPECT_EQ(EscapeForTerminal("\x9b"
                              "a\xff"),
            "\\x9ba\\xff");                                         // not UTF-8
  EXPECT_EQ(EscapeForTerminal("\xc0\x8a"), "\\xc0\\x8a");           // overlong newline
  EXPECT_EQ(EscapeForTerminal("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
}

}  // namespace
}  // namespace coffer::node
