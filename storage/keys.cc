#include "storage/keys.h"

namespace coffer::storage::keys {

void AppendBe32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void AppendBe64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t ReadBe32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}
uint64_t ReadBe64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::string LogOrigin(uint32_t origin) {
  std::string k(kLogPrefix);
  AppendBe32(&k, origin);
  return k;
}
std::string Log(uint32_t origin, uint64_t seq) {
  std::string k = LogOrigin(origin);
  AppendBe64(&k, seq);
  return k;
}
std::string Applied(uint32_t origin) {
  std::string k(kAppliedPrefix);
  AppendBe32(&k, origin);
  return k;
}
std::string Request(std::string_view id) { return std::string(kRequestPrefix).append(id); }
std::string Object(std::string_view uuid) { return std::string(kObjectPrefix).append(uuid); }
std::string Wallet(std::string_view uuid) { return std::string(kWalletPrefix).append(uuid); }
std::string Endpoint(std::string_view uuid) { return std::string(kEndpointPrefix).append(uuid); }
std::string Node(uint32_t node_id) {
  std::string k(kNodePrefix);
  AppendBe32(&k, node_id);
  return k;
}
std::string MemberPrefix(std::string_view wallet) {
  return std::string(kMemberPrefix).append(wallet).append("/");
}
std::string Member(std::string_view wallet, std::string_view object) {
  return MemberPrefix(wallet).append(object);
}
std::string GrantPrefix(std::string_view endpoint) {
  return std::string(kGrantPrefix).append(endpoint).append("/");
}
std::string Grant(std::string_view endpoint, std::string_view wallet) {
  return GrantPrefix(endpoint).append(wallet);
}
std::string NameGroup(pb::EntityKind kind, std::string_view name) {
  std::string k(kNamePrefix);
  k.push_back(static_cast<char>('0' + static_cast<int>(kind)));
  k.push_back('/');
  k.append(name);
  k.push_back('\0');
  return k;
}
std::string NameClaim(pb::EntityKind kind, std::string_view name, const pb::Stamp& created,
                      std::string_view uuid) {
  std::string k = NameGroup(kind, name);
  AppendBe64(&k, static_cast<uint64_t>(created.hlc().wall_micros()));
  AppendBe32(&k, created.hlc().logical());
  AppendBe32(&k, created.origin());
  k.append(uuid);
  return k;
}

}  // namespace coffer::storage::keys
