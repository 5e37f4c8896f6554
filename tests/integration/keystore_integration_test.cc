// Keystore upload and download (issue 16 item 3, docs/keystores.md) with
// the real `coffer` and `openssl` binaries against a real node: a PKCS#12
// made by `openssl pkcs12 -export` uploads into a wallet (a second upload
// skips what exists); the download opens with `openssl pkcs12 -info` and
// holds the same key and certificate, without the non-extractable key,
// which it names; a wrong password and a damaged file are clear errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "common/ids.h"
#include "tests/harness/coffer_cli.h"
#include "tests/harness/node_process.h"

namespace coffer::integration {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The base64 lines of a PEM block, joined ("" if none).
std::string PemBody(const std::string& pem) {
  std::string body;
  size_t begin = pem.find("-----\n");
  size_t end = pem.find("-----END");
  if (begin == std::string::npos || end == std::string::npos) return "";
  for (char c : pem.substr(begin + 6, end - begin - 6)) {
    if (c != '\n') body += c;
  }
  return body;
}

class KeystoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(node_.Start());
    dir_ = node_.dir();
    std::ofstream(dir_ + "/pw.txt") << "upload password\n";
    std::ofstream(dir_ + "/pw2.txt") << "download password\n";
    std::ofstream(dir_ + "/wrong.txt") << "not the password\n";
    std::string out;
    ASSERT_EQ(RunShell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                       "-keyout " +
                           dir_ + "/web.key -out " + dir_ +
                           "/web.pem -subj /CN=web "
                           "-days 2 2>&1",
                       &out),
              0)
        << out;
    ASSERT_EQ(RunShell("openssl pkcs12 -export -inkey " + dir_ + "/web.key -in " + dir_ +
                           "/web.pem -name web -out " + dir_ + "/in.p12 -passout file:" + dir_ +
                           "/pw.txt 2>&1",
                       &out),
              0)
        << out;
  }
  int Cli(const std::string& args, std::string* out) {
    return Coffer(args + CofferFlags(node_), out);
  }

  NodeProcess node_;
  std::string dir_;
};

TEST_F(KeystoreTest, UploadThenDownloadKeepsKeyAndCertificateAndNamesWhatIsLeftOut) {
  std::string out;
  ASSERT_EQ(Cli("wallet create tls", &out), 0) << out;
  ASSERT_EQ(
      Cli("wallet upload tls --file " + dir_ + "/in.p12 --password-file " + dir_ + "/pw.txt", &out),
      0)
      << out;
  EXPECT_THAT(out, HasSubstr("private-key: 1 added, 0 skipped"));
  EXPECT_THAT(out, HasSubstr("certificate: 1 added, 0 skipped"));
  // Again: both names exist now, so both are skipped, and counted.
  ASSERT_EQ(
      Cli("wallet upload tls --file " + dir_ + "/in.p12 --password-file " + dir_ + "/pw.txt", &out),
      0)
      << out;
  EXPECT_THAT(out, HasSubstr("private-key: 0 added, 1 skipped"));
  EXPECT_THAT(out, HasSubstr("certificate: 0 added, 1 skipped"));
  // --overwrite: the entries take the names; the objects that held them are
  // renamed aside and leave the wallet (nothing is destroyed).
  ASSERT_EQ(Coffer("object get web -o json" + CofferFlags(node_), &out, true), 0) << out;
  const std::string old_key = out.substr(out.find("\"uuid\": \"") + 9, 36);
  ASSERT_TRUE(Uuid::IsValid(old_key)) << out;
  ASSERT_EQ(Cli("wallet upload tls --overwrite --file " + dir_ + "/in.p12 --password-file " + dir_ +
                    "/pw.txt",
                &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("private-key: 1 added, 0 skipped"));
  ASSERT_EQ(Cli("object get " + old_key, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("web.replaced." + old_key.substr(0, 8)));
  ASSERT_EQ(Cli("wallet show tls -o json", &out), 0) << out;
  EXPECT_THAT(out, Not(HasSubstr(old_key)));

  ASSERT_EQ(Cli("secret register --name db-password --value hunter2 --wallet tls", &out), 0) << out;
  ASSERT_EQ(Cli("key create --name sealed --attr extractable=false --wallet tls", &out), 0) << out;
  const std::string sealed = out.substr(0, 36);
  ASSERT_EQ(
      Cli("wallet download tls --file " + dir_ + "/out.p12 --password-file " + dir_ + "/pw2.txt",
          &out),
      0)
      << out;
  EXPECT_THAT(out, HasSubstr("left out " + sealed + " (not extractable)"));
  EXPECT_THAT(out, HasSubstr("3 objects, 1 left out"));  // key, certificate, secret

  ASSERT_EQ(RunShell("openssl pkcs12 -info -nodes -in " + dir_ + "/out.p12 -passin file:" + dir_ +
                         "/pw2.txt 2>&1",
                     &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("friendlyName: web"));
  // The key kept the name; its certificate, named alike in the file, got its type.
  EXPECT_THAT(out, HasSubstr("friendlyName: web.certificate"));
  std::string key_pem, cert_pem;
  RunShell("cat " + dir_ + "/web.key", &key_pem);
  RunShell("cat " + dir_ + "/web.pem", &cert_pem);
  ASSERT_FALSE(PemBody(key_pem).empty());
  std::string flat;
  for (char c : out) {
    if (c != '\n') flat += c;
  }
  EXPECT_THAT(flat, HasSubstr(PemBody(key_pem))) << "the same private key";
  EXPECT_THAT(flat, HasSubstr(PemBody(cert_pem))) << "the same certificate";
}

TEST_F(KeystoreTest, AWrongPasswordAndADamagedFileAreClearErrorsAndUploadNothing) {
  std::string out;
  ASSERT_EQ(Cli("wallet create tls", &out), 0) << out;
  EXPECT_EQ(
      Cli("wallet upload tls --file " + dir_ + "/in.p12 --password-file " + dir_ + "/wrong.txt",
          &out),
      1)
      << out;
  EXPECT_THAT(out, HasSubstr("the password does not open this keystore"));
  ASSERT_EQ(RunShell("head -c 200 " + dir_ + "/in.p12 > " + dir_ + "/cut.p12", &out), 0);
  EXPECT_EQ(Cli("wallet upload tls --file " + dir_ + "/cut.p12 --password-file " + dir_ + "/pw.txt",
                &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("DATA_LOSS"));
  ASSERT_EQ(Cli("wallet show tls -o json", &out), 0) << out;
  EXPECT_THAT(out, Not(HasSubstr("members\": [\"")));  // still empty
  // A download never overwrites a file.
  EXPECT_EQ(
      Cli("wallet download tls --file " + dir_ + "/in.p12 --password-file " + dir_ + "/pw.txt",
          &out),
      1)
      << out;
  EXPECT_THAT(out, HasSubstr("exists"));
}

}  // namespace
}  // namespace coffer::integration
