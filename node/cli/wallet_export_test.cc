// The sealed wallet export (wallet_export.h): contents round-trip under the
// right secret; a wrong secret, a flipped byte anywhere (header or body), a
// cut file and another format are DATA_LOSS with nothing returned.
#include "node/cli/wallet_export.h"

#include <gtest/gtest.h>

namespace coffer::node::cli {
namespace {

const storage::ScryptParams kFast{1024, 8, 1};  // tests only
const SecretBytes kSecret("correct horse battery staple");

pb::WalletExport Contents() {
  pb::WalletExport contents;
  contents.set_wallet_name("payroll");
  contents.set_wallet_description("payroll keys");
  auto* o = contents.add_objects();
  o->set_uuid("6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f");
  o->set_type(pb::SYMMETRIC_KEY);
  o->set_name("tde-master");
  o->set_material(std::string(32, '\x5a'));
  return contents;
}

TEST(WalletExportTest, TheRightSecretOpensWhatWasSealed) {
  auto sealed = SealWalletExport(Contents(), kSecret, kFast);
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  EXPECT_EQ(sealed->rfind("COFFER-WALLET-EXPORT\n", 0), 0u);
  EXPECT_EQ(sealed->find(std::string(32, '\x5a')), std::string::npos) << "material in the clear";
  auto opened = OpenWalletExport(*sealed, kSecret);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->SerializeAsString(), Contents().SerializeAsString());
  // Sealed twice: a fresh salt and nonce each time.
  EXPECT_NE(*SealWalletExport(Contents(), kSecret, kFast), *sealed);
}

TEST(WalletExportTest, AWrongSecretAnyFlippedByteACutFileOrAnotherFormatIsDataLoss) {
  auto sealed = SealWalletExport(Contents(), kSecret, kFast);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(OpenWalletExport(*sealed, SecretBytes("wrong")).status().code(), Code::kDataLoss);
  // Every byte: the magic, version, scrypt parameters, salt, nonce, body, tag.
  for (size_t i = 0; i < sealed->size(); i += 7) {
    std::string flipped = *sealed;
    flipped[i] ^= 0x01;
    auto opened = OpenWalletExport(flipped, kSecret);
    EXPECT_EQ(opened.status().code(), Code::kDataLoss) << "byte " << i;
  }
  EXPECT_EQ(OpenWalletExport(sealed->substr(0, sealed->size() - 1), kSecret).status().code(),
            Code::kDataLoss);
  EXPECT_EQ(OpenWalletExport("short", kSecret).status().code(), Code::kDataLoss);
  std::string newer = *sealed;
  newer[21] = 2;  // the format version byte
  auto refused = OpenWalletExport(newer, kSecret);
  EXPECT_EQ(refused.status().code(), Code::kDataLoss);
  EXPECT_NE(refused.status().message().find("format 2"), std::string::npos);
  EXPECT_EQ(SealWalletExport(Contents(), SecretBytes(""), kFast).status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::node::cli
