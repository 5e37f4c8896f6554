#include "node/cli/list_pages.h"

#include <iostream>

#include "node/client/client.h"
#include "storage/object_store.h"

namespace coffer::node::cli {
namespace {

// The cursor field of list request `r`, or nullptr for another request.
std::string* AfterOf(pb::Request& r) {
  switch (r.kind_case()) {
    case pb::Request::kLocate:
      return r.mutable_locate()->mutable_after();
    case pb::Request::kWalletList:
      return r.mutable_wallet_list()->mutable_after();
    case pb::Request::kEndpointList:
      return r.mutable_endpoint_list()->mutable_after();
    case pb::Request::kConflictList:
      return r.mutable_conflict_list()->mutable_after();
    default:
      return nullptr;
  }
}

}  // namespace

std::string MergePage(pb::Response& into, const pb::Response& next) {
  if (next.has_located()) {
    for (const auto& o : next.located().objects()) *into.mutable_located()->add_objects() = o;
    into.mutable_located()->clear_next_after();
    return next.located().next_after();
  }
  if (next.has_wallets()) {
    for (const auto& w : next.wallets().wallets()) *into.mutable_wallets()->add_wallets() = w;
    into.mutable_wallets()->clear_next_after();
    return next.wallets().next_after();
  }
  if (next.has_endpoints()) {
    for (const auto& e : next.endpoints().endpoints()) {
      *into.mutable_endpoints()->add_endpoints() = e;
    }
    into.mutable_endpoints()->clear_next_after();
    return next.endpoints().next_after();
  }
  if (next.has_conflicts()) {
    for (const auto& c : next.conflicts().conflicts()) {
      *into.mutable_conflicts()->add_conflicts() = c;
    }
    into.mutable_conflicts()->clear_next_after();
    return next.conflicts().next_after();
  }
  return "";
}

StatusOr<pb::Response> CallAllPages(const ClientFlags& flags, pb::Request request) {
  std::string* after = AfterOf(request);
  if (after == nullptr) return Call(flags, request);
  // A locate's limit holds for all pages together.
  uint32_t limit = 0;
  if (request.has_locate()) {
    limit = request.locate().limit() != 0 ? request.locate().limit()
                                          : storage::ObjectStoreOptions{}.default_locate_limit;
  }
  pb::Response merged;
  uint32_t got = 0;
  for (int page = 0; page < kMaxListPages; ++page) {
    if (request.has_locate()) request.mutable_locate()->set_limit(limit - got);
    COFFER_ASSIGN_OR_RETURN(pb::Response response, Call(flags, request));
    COFFER_RETURN_IF_ERROR(StatusFromResponse(response));
    if (page == 0) {
      merged = response;
      merged.clear_result();
    }
    std::string next = MergePage(merged, response);
    if (request.has_locate()) got = static_cast<uint32_t>(merged.located().objects_size());
    if (next.empty() || (request.has_locate() && got >= limit)) return merged;
    if (next <= *after) return DataLoss("the node sent a list page that does not advance");
    *after = next;
  }
  return ResourceExhausted("the list has more than " + std::to_string(kMaxListPages) + " pages");
}

int RunList(const ClientFlags& flags, const pb::Request& request,
            const std::function<std::string(const pb::Response&)>& render) {
  auto response = CallAllPages(flags, request);
  if (!response.ok()) return Fail(response.status());
  std::cout << render(*response);
  return kExitOk;
}

}  // namespace coffer::node::cli
