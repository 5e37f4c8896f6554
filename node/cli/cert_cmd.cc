// coffer cert ca|issue: a development CA and certificates.
#include <filesystem>
#include <iostream>

#include "node/cli/commands.h"
#include "node/net/certs.h"

namespace coffer::node::cli {
namespace {

struct CaFlags {
  std::string dir = "certs";
  std::string name;  // "" = "Coffer cluster CA"
};

struct IssueFlags {
  std::string dir = "certs";
  std::string name;
  std::string role = "node";
  std::vector<std::string> ips;
  std::vector<std::string> dns;
  int days = 825;
};

}  // namespace

void AddCertCommands(CLI::App& app) {
  auto* cert = app.add_subcommand("cert", "make a development CA and certificates");
  cert->require_subcommand(1);

  auto ca_flags = std::make_shared<CaFlags>();
  auto* ca = cert->add_subcommand("ca", "create a cluster CA (DIR/ca.pem, DIR/ca.key)");
  ca->add_option("--dir", ca_flags->dir, "output directory")->capture_default_str();
  ca->add_option("--name", ca_flags->name, "CA common name")->default_str("Coffer cluster CA");
  ca->final_callback([ca_flags] {
    const CaFlags& f = *ca_flags;
    auto pair = CreateCertificateAuthority(f.name.empty() ? "Coffer cluster CA" : f.name);
    std::error_code ec;
    std::filesystem::create_directories(f.dir, ec);
    Status s =
        pair.ok() ? WritePemPair(*pair, f.dir + "/ca.pem", f.dir + "/ca.key") : pair.status();
    if (!s.ok()) throw CLI::RuntimeError(Fail(s));
    std::cout << f.dir << "/ca.pem\n";
  });

  auto issue_flags = std::make_shared<IssueFlags>();
  IssueFlags& i = *issue_flags;
  auto* issue = cert->add_subcommand("issue", "issue a node or client certificate (DIR/NAME.pem)");
  issue->add_option("--dir", i.dir, "directory holding ca.pem/ca.key and receiving the files")
      ->capture_default_str();
  issue->add_option("--name", i.name, "common name: node name or client name")->required();
  issue->add_option("--role", i.role, "node, admin or endpoint")
      ->check(CLI::IsMember({"node", "admin", "endpoint"}))
      ->capture_default_str();
  issue->add_option("--ip", i.ips, "IP subjectAltName (repeatable)");
  issue->add_option("--dns", i.dns, "DNS subjectAltName (repeatable)");
  issue->add_option("--days", i.days, "validity in days")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  issue->final_callback([issue_flags] {
    const IssueFlags& f = *issue_flags;
    auto ca_pair = ReadPemPair(f.dir + "/ca.pem", f.dir + "/ca.key");
    if (!ca_pair.ok()) throw CLI::RuntimeError(Fail(ca_pair.status()));
    CertificateRequest request{f.name, f.role, f.ips, f.dns, f.days};
    auto leaf = IssueCertificate(*ca_pair, request);
    Status s = leaf.ok() ? WritePemPair(*leaf, f.dir + "/" + f.name + ".pem",
                                        f.dir + "/" + f.name + ".key")
                         : leaf.status();
    if (!s.ok()) throw CLI::RuntimeError(Fail(s));
    std::cout << f.dir << "/" << f.name << ".pem\n";
  });
}

}  // namespace coffer::node::cli
