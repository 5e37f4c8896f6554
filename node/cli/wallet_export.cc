#include "node/cli/wallet_export.h"

#include <string_view>

namespace coffer::node::cli {
namespace {

constexpr std::string_view kMagic = "COFFER-WALLET-EXPORT\n";
constexpr size_t kSaltBytes = 16;
constexpr size_t kHeaderBytes = kMagic.size() + 1 + 8 + 4 + 4 + kSaltBytes;

void PutBe(std::string* out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t GetBe(std::string_view in, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(in[at + i]);
  return value;
}

}  // namespace

StatusOr<std::string> SealWalletExport(const pb::WalletExport& contents, const SecretBytes& secret,
                                       const storage::ScryptParams& params) {
  if (secret.size() == 0) return InvalidArgument("the export secret is empty");
  COFFER_ASSIGN_OR_RETURN(SecretBytes salt, storage::RandomSecret(kSaltBytes));
  std::string header(kMagic);
  header.push_back(static_cast<char>(kWalletExportFormat));
  PutBe(&header, params.n, 8);
  PutBe(&header, params.r, 4);
  PutBe(&header, params.p, 4);
  header += salt.reveal();
  COFFER_ASSIGN_OR_RETURN(SecretBytes key, storage::DeriveScryptKey(secret, salt.reveal(), params));
  COFFER_ASSIGN_OR_RETURN(auto sealer, storage::Sealer::Create(key));
  SecretBytes plain(contents.SerializeAsString());
  COFFER_ASSIGN_OR_RETURN(std::string sealed, sealer->Seal(plain.reveal(), header));
  return header + sealed;
}

StatusOr<pb::WalletExport> OpenWalletExport(const std::string& sealed, const SecretBytes& secret) {
  if (sealed.size() < kHeaderBytes || std::string_view(sealed).substr(0, kMagic.size()) != kMagic) {
    return DataLoss("not a Coffer wallet export (coffer wallet export writes one)");
  }
  const std::string_view header = std::string_view(sealed).substr(0, kHeaderBytes);
  const uint8_t format = static_cast<uint8_t>(header[kMagic.size()]);
  if (format != kWalletExportFormat) {
    return DataLoss("wallet export format " + std::to_string(format) + "; this binary reads " +
                    std::to_string(kWalletExportFormat) + " (or the file was altered)");
  }
  size_t at = kMagic.size() + 1;
  storage::ScryptParams params;
  params.n = GetBe(header, at, 8);
  params.r = static_cast<uint32_t>(GetBe(header, at + 8, 4));
  params.p = static_cast<uint32_t>(GetBe(header, at + 12, 4));
  const std::string salt(header.substr(at + 16, kSaltBytes));
  // Bounds on what a file may ask scrypt to do, before it runs: an altered
  // header must not cost minutes (or a gigabyte) to refuse.
  if (params.n > (uint64_t{1} << 20) || params.r > 32 || params.p > 16) {
    return DataLoss("the export's header is damaged (scrypt parameters beyond any export's)");
  }
  auto key = storage::DeriveScryptKey(secret, salt, params);
  if (!key.ok()) {
    if (key.status().code() == Code::kInternal) return key.status();
    if (secret.size() == 0) return InvalidArgument("the export secret is empty");
    return DataLoss("the export's header is damaged (" + key.status().message() + ")");
  }
  COFFER_ASSIGN_OR_RETURN(auto sealer, storage::Sealer::Create(*key));
  auto plain = sealer->Open(std::string_view(sealed).substr(kHeaderBytes), header);
  if (!plain.ok()) {
    return DataLoss(
        "the export does not open: a wrong secret, or the file was altered (it authenticates "
        "as a whole; nothing was imported)");
  }
  pb::WalletExport contents;
  if (!contents.ParseFromString(plain->reveal())) {
    return DataLoss("the export's contents do not parse");
  }
  return contents;
}

}  // namespace coffer::node::cli
