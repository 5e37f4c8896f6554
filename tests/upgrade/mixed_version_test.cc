// A rolling restart onto the next release, with real processes of two
// releases in one cluster (issue 13, "What it must show"): two read-write
// pairs and a read-only node on this release (`coffer`), restarted one at a
// time on `coffer-next` (disable, stop, swap, start, enable). At every mixed
// step the gated operation (a register with a comment, feature
// object-comment) fails on every node with FEATURE_NOT_ACTIVE naming exactly
// the members still on this release, while other writes go on and digests
// converge. A hold keeps the version after the last node; its release lets
// it rise on every node within seconds, and the gated operation then works.
// After the bump an old binary refuses the store (files unchanged) and an
// old node's links are refused with INCOMPATIBLE_VERSION.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/wait_for.h"
#include "tests/harness/cluster_fixture.h"
#include "tests/harness/coffer_cli.h"
#include "upgrade/binary_profile.h"

namespace coffer::integration {
namespace {

using storage::testing::FilesUnder;

using ::testing::HasSubstr;

const std::string kOldText = upgrade::CurrentRelease().versions.release.ToString();
const std::string kNewMinor = upgrade::NextRelease().versions.release.MinorString();
const std::string kOldMinor = upgrade::CurrentRelease().versions.release.MinorString();

StatusOr<pb::ClusterStatus> ClusterStatusOf(NodeProcess& node) {
  pb::Request request;
  request.mutable_cluster_status();
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(node, request));
  return response.cluster_status();
}

std::string ClusterVersionOn(NodeProcess& node) {
  auto status = ClusterStatusOf(node);
  return status.ok() ? status->versions().cluster_version() : "?";
}

pb::Op RegisterWithComment(const std::string& name) {
  pb::Op op = RegisterSecret(name, "s3cr3t-" + name);
  op.mutable_register_object()->set_comment("rotate yearly");
  return op;
}

class MixedVersionTest : public ClusterTest {
 protected:
  // Whether `node` refuses the gated write with FEATURE_NOT_ACTIVE naming
  // exactly `below` among `members` (every member is named by "node NAME (").
  ::testing::AssertionResult RefusesNaming(NodeProcess& node,
                                           const std::vector<NodeProcess*>& members,
                                           const std::set<NodeProcess*>& below) {
    auto written = Write(node, RegisterWithComment("gated-" + NewRequestId()));
    if (written.ok()) return ::testing::AssertionFailure() << node.name() << " accepted it";
    const Status& s = written.status();
    if (s.code() != Code::kFeatureNotActive) {
      return ::testing::AssertionFailure() << node.name() << ": " << s.ToString();
    }
    for (NodeProcess* m : members) {
      const std::string named = "node " + m->name() + " (";
      const bool names = s.message().find(named) != std::string::npos;
      if (names != below.contains(m)) {
        return ::testing::AssertionFailure()
               << node.name() << (names ? " names " : " does not name ") << m->name() << ": "
               << s.message();
      }
    }
    if (s.message().find("object-comment") == std::string::npos) {
      return ::testing::AssertionFailure() << "no feature name: " << s.message();
    }
    return ::testing::AssertionSuccess();
  }

  // Disables `node`, waits DISABLED, stops it, starts it on `binary`,
  // enables it and waits ACTIVE.
  void RestartOn(NodeProcess& node, const std::string& binary) {
    const uint32_t id = NodeIdOf(node);
    ASSERT_NE(id, 0u);
    auto disabled = Write(node, SetNodeState(id, pb::NODE_DISABLING));
    ASSERT_TRUE(disabled.ok()) << disabled.status().ToString();
    ASSERT_TRUE(WaitFor([&] { return InState(node, "DISABLED"); }, std::chrono::seconds(30)));
    node.Kill(SIGKILL);  // DISABLED: its records are on the others
    node.set_binary(binary);
    ASSERT_TRUE(node.Start());
    auto enabled = Write(node, SetNodeState(id, pb::NODE_ENABLING));
    ASSERT_TRUE(enabled.ok()) << enabled.status().ToString();
    ASSERT_TRUE(WaitFor([&] { return InState(node, "ACTIVE"); }, std::chrono::seconds(30)));
  }

  // Every node in `all` lists `node` with release `release`.
  static bool EveryoneSees(const std::vector<NodeProcess*>& all, NodeProcess& node,
                           const std::string& release) {
    for (NodeProcess* n : all) {
      auto status = ClusterStatusOf(*n);
      if (!status.ok()) return false;
      bool seen = false;
      for (const auto& m : status->members()) {
        if (m.name() == node.name() && m.version() == release) seen = true;
      }
      if (!seen) return false;
    }
    return true;
  }
};

TEST_F(MixedVersionTest, ARollingRestartOntoTheNextReleaseRaisesTheVersionOnlyAtTheEnd) {
  auto& a = Add("a");
  auto& b = Add("b");
  auto& c = Add("c");
  auto& d = Add("d");
  auto& e = Add("e");
  FormTwoPairs(a, b, c, d);
  Join(e, a, pb::NODE_READ_ONLY);
  const std::vector<NodeProcess*> all = {&a, &b, &c, &d, &e};
  ASSERT_TRUE(WaitFor([&] { return InState(e, "ACTIVE"); }, std::chrono::seconds(30)));
  for (NodeProcess* n : all) EXPECT_EQ(ClusterVersionOn(*n), kOldMinor) << n->name();
  for (NodeProcess* n : all) {
    auto refused = Write(*n, RegisterWithComment("before-" + n->name()));
    EXPECT_EQ(refused.status().code(), Code::kFeatureNotActive) << n->name();
  }

  const std::string next_release = upgrade::NextRelease().versions.release.ToString();
  const std::string backup = e.dir() + "/data-before-upgrade";
  std::set<NodeProcess*> below(all.begin(), all.end());
  int written = 0;
  // Read-only node first, then one node of a pair at a time.
  for (NodeProcess* n : {&e, &a, &b, &c, &d}) {
    if (n == &e) {
      // Keep e's store as this release left it (for the link refusal below).
      const uint32_t id = NodeIdOf(e);
      ASSERT_TRUE(Write(e, SetNodeState(id, pb::NODE_DISABLING)).ok());
      ASSERT_TRUE(WaitFor([&] { return InState(e, "DISABLED"); }, std::chrono::seconds(30)));
      e.Kill(SIGKILL);
      std::filesystem::copy(e.data_dir(), backup, std::filesystem::copy_options::recursive);
      e.set_binary(COFFER_NEXT_BIN);
      ASSERT_TRUE(e.Start());
      ASSERT_TRUE(Write(e, SetNodeState(id, pb::NODE_ENABLING)).ok());
      ASSERT_TRUE(WaitFor([&] { return InState(e, "ACTIVE"); }, std::chrono::seconds(30)));
    } else {
      if (n == &d) {
        // Hold the version before the last node: it must not rise.
        pb::Op hold;
        hold.mutable_cluster_set()->set_version_hold(pb::VERSION_HOLD_HOLD);
        ASSERT_TRUE(Write(a, hold).ok());
      }
      RestartOn(*n, COFFER_NEXT_BIN);
    }
    below.erase(n);
    ASSERT_TRUE(
        WaitFor([&] { return EveryoneSees(all, *n, next_release); }, std::chrono::seconds(30)))
        << n->name() << "'s release did not reach every node";
    // A write of another kind goes on, on a pair whose nodes are both up.
    NodeProcess& writer = (n == &a || n == &b) ? c : a;
    ASSERT_TRUE(WaitFor(
        [&] { return Write(writer, RegisterSecret("w" + std::to_string(written), "v")).ok(); },
        std::chrono::seconds(30)));
    ++written;
    if (below.empty()) break;
    for (NodeProcess* asked : all) {
      ASSERT_TRUE(WaitFor([&] { return bool(RefusesNaming(*asked, all, below)); },
                          std::chrono::seconds(10)))
          << RefusesNaming(*asked, all, below).message();
      EXPECT_EQ(ClusterVersionOn(*asked), kOldMinor);
    }
    ASSERT_TRUE(WaitFor([&] { return Converged(all); }, std::chrono::seconds(30)));
  }

  // Every node runs the next release, but the hold keeps the version, and
  // the status says so.
  ASSERT_TRUE(WaitFor([&] { return Converged(all); }, std::chrono::seconds(30)));
  for (NodeProcess* n : all) {
    auto status = ClusterStatusOf(*n);
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(status->versions().cluster_version(), kOldMinor) << n->name();
    EXPECT_TRUE(status->versions().held()) << n->name();
    ASSERT_GE(status->versions().holders_size(), 1);
    EXPECT_THAT(status->versions().holders(0), HasSubstr("hold")) << n->name();
  }
  pb::Op release;
  release.mutable_cluster_set()->set_version_hold(pb::VERSION_HOLD_RELEASE);
  ASSERT_TRUE(Write(c, release).ok());
  for (NodeProcess* n : all) {
    ASSERT_TRUE(
        WaitFor([&] { return ClusterVersionOn(*n) == kNewMinor; }, std::chrono::seconds(20)))
        << n->name() << " is at " << ClusterVersionOn(*n);
  }
  // The gated write works everywhere (read-write nodes; e is read-only).
  for (NodeProcess* n : {&a, &b, &c, &d}) {
    ASSERT_TRUE(WaitFor([&] { return Write(*n, RegisterWithComment("after-" + n->name())).ok(); },
                        std::chrono::seconds(10)))
        << Write(*n, RegisterWithComment("again-" + n->name())).status().ToString();
  }
  ASSERT_TRUE(WaitFor([&] { return Converged(all); }, std::chrono::seconds(30)));

  // A node of this release may no longer join.
  auto& f = Add("f");
  auto token = Token(a, pb::NODE_READ_ONLY);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  f.Launch({"--join", a.address(), "--token", *token, "--join-retry-for", "2"});
  int join_exit = 0;
  ASSERT_TRUE(f.WaitExited(std::chrono::seconds(30), &join_exit));
  EXPECT_TRUE(WIFEXITED(join_exit) && WEXITSTATUS(join_exit) != 0);
  EXPECT_THAT(ReadWholeFile(f.output_file()), HasSubstr("INCOMPATIBLE_VERSION"));
  EXPECT_EQ(ClusterStatusOf(a)->members_size(), 5) << "the refused join added no member";

  // This release's binary refuses e's store now, and changes none of its files.
  const uint32_t e_id = NodeIdOf(e);
  ASSERT_TRUE(Write(e, SetNodeState(e_id, pb::NODE_DISABLING)).ok());
  ASSERT_TRUE(WaitFor([&] { return InState(e, "DISABLED"); }, std::chrono::seconds(30)));
  e.Kill(SIGKILL);
  const auto files_before = FilesUnder(e.data_dir());
  std::string out;
  EXPECT_EQ(Coffer("node check-store --data-dir " + e.data_dir(), &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("INCOMPATIBLE_VERSION"));
  EXPECT_EQ(RunShell(std::string(COFFER_NEXT_BIN) + " node check-store --data-dir " + e.data_dir() +
                         " 2>&1",
                     &out),
            0)
      << out;
  e.set_binary(COFFER_BIN);
  e.Launch();
  int exit_status = 0;
  ASSERT_TRUE(e.WaitExited(std::chrono::seconds(30), &exit_status));
  EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) != 0);
  EXPECT_THAT(ReadWholeFile(e.output_file()), HasSubstr("INCOMPATIBLE_VERSION"));
  EXPECT_EQ(FilesUnder(e.data_dir()), files_before) << "the refused start changed the store";

  // An old node (e's store from before its upgrade) is refused on its links.
  const std::string current = e.dir() + "/data-current";
  std::filesystem::rename(e.data_dir(), current);
  std::filesystem::rename(backup, e.data_dir());
  ASSERT_TRUE(e.Start());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto status = StatusOf(e);
        if (!status.ok()) return false;
        for (const auto& link : status->links()) {
          if (link.last_error().find("INCOMPATIBLE_VERSION") == std::string::npos) return false;
        }
        return status->links_size() > 0;
      },
      std::chrono::seconds(30)))
      << StatusOf(e)->DebugString();
  e.Kill(SIGKILL);
  std::filesystem::remove_all(e.data_dir());
  std::filesystem::rename(current, e.data_dir());
  e.set_binary(COFFER_NEXT_BIN);
  ASSERT_TRUE(e.Start());
  ASSERT_TRUE(Write(e, SetNodeState(e_id, pb::NODE_ENABLING)).ok());
  ASSERT_TRUE(WaitFor([&] { return InState(e, "ACTIVE"); }, std::chrono::seconds(30)));
  ASSERT_TRUE(WaitFor([&] { return Converged(all); }, std::chrono::seconds(30)));
}

// A member that cannot take its step holds the version, and the status
// names it: here a stopped member on the next release, which cannot fence
// (members still on this release: the test above).
TEST_F(MixedVersionTest, AStoppedOrOldMemberHoldsTheVersionAndIsNamed) {
  auto& a = Add("a");
  auto& b = Add("b");
  auto& c = Add("c");
  FormPairAndReadOnly(a, b, c);
  const std::vector<NodeProcess*> all = {&a, &b, &c};
  pb::Op hold;
  hold.mutable_cluster_set()->set_version_hold(pb::VERSION_HOLD_HOLD);
  ASSERT_TRUE(Write(a, hold).ok());
  for (NodeProcess* n : {&c, &a, &b}) RestartOn(*n, COFFER_NEXT_BIN);
  const std::string next_release = upgrade::NextRelease().versions.release.ToString();
  for (NodeProcess* n : all) {
    ASSERT_TRUE(
        WaitFor([&] { return EveryoneSees(all, *n, next_release); }, std::chrono::seconds(30)));
  }
  // c stops before it could fence; the hold is released: a and b fence, no
  // bump, and their status names c.
  c.Kill(SIGKILL);
  pb::Op release;
  release.mutable_cluster_set()->set_version_hold(pb::VERSION_HOLD_RELEASE);
  ASSERT_TRUE(Write(a, release).ok());
  auto names_c = [&](NodeProcess& asked) {
    auto status = ClusterStatusOf(asked);
    if (!status.ok() || status->versions().held()) return false;
    for (const auto& m : status->members()) {
      if ((m.name() == "a" || m.name() == "b") && m.fence_version() != kNewMinor) return false;
    }
    return status->versions().holders_size() == 1 &&
           status->versions().holders(0).find("node c (") != std::string::npos &&
           status->versions().holders(0).find("not fenced") != std::string::npos;
  };
  for (NodeProcess* n : {&a, &b}) {
    ASSERT_TRUE(WaitFor([&] { return names_c(*n); }, std::chrono::seconds(20)))
        << ClusterStatusOf(*n)->versions().DebugString();
  }
  std::string out;
  ASSERT_EQ(
      RunShell(std::string(COFFER_NEXT_BIN) + " cluster version" + CofferFlags(a) + " 2>&1", &out),
      0)
      << out;
  EXPECT_THAT(out, HasSubstr("held back by:\n  node c ("));
  for (NodeProcess* n : {&a, &b}) EXPECT_EQ(ClusterVersionOn(*n), kOldMinor);
  // c back: it fences, then the version rises everywhere.
  ASSERT_TRUE(c.Start());
  for (NodeProcess* n : all) {
    ASSERT_TRUE(
        WaitFor([&] { return ClusterVersionOn(*n) == kNewMinor; }, std::chrono::seconds(20)))
        << n->name();
  }
}

}  // namespace
}  // namespace coffer::integration
