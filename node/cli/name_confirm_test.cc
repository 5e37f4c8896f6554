// The decision and the report of a created name: confirmed, pending or lost
// to a concurrent creation, in text and JSON, and --wait's polling.
#include "node/cli/name_confirm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "node/cli/cli_common.h"

namespace coffer::node::cli {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kUuid = "00000000-0000-4000-8000-000000000007";
const std::string kGenerated = "payroll~" + kUuid;

TEST(NameConfirmTest, DecidesFromTheEffectiveNameThenTheState) {
  EXPECT_EQ(DecideName("payroll", {"payroll", false}), NameState::kPending);
  EXPECT_EQ(DecideName("payroll", {"payroll", true}), NameState::kActive);
  EXPECT_EQ(DecideName("payroll", {kGenerated, false}), NameState::kLost);
  EXPECT_EQ(DecideName("payroll", {kGenerated, true}), NameState::kLost)
      << "a loser is confirmed too once replication covers it";
}

TEST(NameConfirmTest, ConfirmedExitsZeroAndSaysSo) {
  NameReport r = RenderNameReport("wallet", kUuid, "payroll", NameState::kActive, "payroll", 10s,
                                  OutputFormat::kTable);
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_EQ(r.out, kUuid + "\nname 'payroll' confirmed\n");
  EXPECT_THAT(r.err, IsEmpty());
}

TEST(NameConfirmTest, PendingWithoutWaitExitsZeroAndSaysHowToCheck) {
  NameReport r = RenderNameReport("wallet", kUuid, "payroll", NameState::kPending, "payroll", 0ms,
                                  OutputFormat::kTable);
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_EQ(r.out.substr(0, 37), kUuid + "\n");
  EXPECT_THAT(r.out, HasSubstr("name 'payroll' is PENDING"));
  EXPECT_THAT(r.out, HasSubstr("coffer wallet show " + kUuid));
  EXPECT_THAT(r.out, HasSubstr("coffer conflict list"));
  EXPECT_THAT(r.out, HasSubstr("--wait"));
}

TEST(NameConfirmTest, StillPendingAtTheDeadlineIsDegraded) {
  NameReport r = RenderNameReport("wallet", kUuid, "payroll", NameState::kPending, "payroll", 10s,
                                  OutputFormat::kTable);
  EXPECT_EQ(r.exit_code, kExitDegraded);
  EXPECT_THAT(r.out, HasSubstr("PENDING still, after 10s"));
}

TEST(NameConfirmTest, LostNamesTheGeneratedNameAndTheConflictCommands) {
  NameReport r = RenderNameReport("wallet", kUuid, "payroll", NameState::kLost, kGenerated, 10s,
                                  OutputFormat::kTable);
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_EQ(r.out.substr(0, 37), kUuid + "\n") << "the wallet exists: its uuid is printed";
  EXPECT_THAT(r.err, HasSubstr("error: ALREADY_EXISTS: name 'payroll'"));
  EXPECT_THAT(r.err, HasSubstr("'" + kGenerated + "'"));
  EXPECT_THAT(r.err, HasSubstr("coffer conflict list"));
  EXPECT_THAT(r.err, HasSubstr("coffer conflict rename wallet " + kUuid));
  EXPECT_THAT(r.err, HasSubstr("coffer conflict accept wallet " + kUuid));
}

TEST(NameConfirmTest, JsonCarriesTheStateAndTheGeneratedName) {
  struct Case {
    NameState state;
    std::string name;
    int exit_code;
    std::string state_name;
    std::string generated;
  };
  for (const Case& c : {Case{NameState::kActive, "payroll", kExitOk, "ACTIVE", ""},
                        Case{NameState::kPending, "payroll", kExitDegraded, "PENDING", ""},
                        Case{NameState::kLost, kGenerated, kExitError, "LOST", kGenerated}}) {
    NameReport r =
        RenderNameReport("wallet", kUuid, "payroll", c.state, c.name, 5s, OutputFormat::kJson);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.state_name;
    auto doc = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(doc.is_discarded()) << r.out;
    EXPECT_EQ(doc.value("uuid", ""), kUuid);
    EXPECT_EQ(doc.value("name_state", ""), c.state_name);
    EXPECT_EQ(doc.value("name", ""), "payroll");
    EXPECT_EQ(doc.value("generated_name", "?"), c.generated);
  }
}

TEST(NameConfirmTest, ParsesWaitDurations) {
  EXPECT_EQ(*ParseWait("0"), 0ms);
  EXPECT_EQ(*ParseWait("500ms"), 500ms);
  EXPECT_EQ(*ParseWait("10s"), 10s);
  EXPECT_EQ(*ParseWait("2m"), 120s);
  for (const char* bad : {"", "10", "-1s", "10h", "s", "1.5s"}) {
    EXPECT_EQ(ParseWait(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(NameConfirmTest, WaitPollsThroughNotFoundUntilDecided) {
  int calls = 0;
  NameProbe probe = [&]() -> StatusOr<NameView> {
    ++calls;
    if (calls == 1) return NotFound("not applied here yet");
    if (calls == 2) return NameView{"payroll", false};
    return NameView{kGenerated, true};
  };
  auto seen = WaitForName("payroll", probe, 10s, 1ms);
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(seen->state, NameState::kLost);
  EXPECT_EQ(seen->name, kGenerated);
  EXPECT_EQ(calls, 3);
}

TEST(NameConfirmTest, WithoutWaitProbesOnceAndOtherErrorsEndTheWait) {
  int calls = 0;
  NameProbe pending = [&]() -> StatusOr<NameView> {
    ++calls;
    return NameView{"payroll", false};
  };
  auto once = WaitForName("payroll", pending, 0ms, 1ms);
  ASSERT_TRUE(once.ok());
  EXPECT_EQ(once->state, NameState::kPending);
  EXPECT_EQ(calls, 1);
  NameProbe denied = []() -> StatusOr<NameView> { return PermissionDenied("no"); };
  EXPECT_EQ(WaitForName("payroll", denied, 10s, 1ms).status().code(), Code::kPermissionDenied);
}

}  // namespace
}  // namespace coffer::node::cli
