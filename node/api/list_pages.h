// List responses cut by bytes (issue 11, "byte budgets everywhere a stream is
// cut"): locate, wallet, endpoint and conflict lists answer at most
// limits::kListResponseBytes of items, in uuid order, and a continuation
// cursor (`next_after`, the uuid of the last item sent) when there is more.
// The client asks again with `after` = that cursor (the CLI follows it:
// node/cli/list_pages.h). An item larger than the budget comes alone.
#pragma once

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/repeated_ptr_field.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/limits.h"

namespace coffer::node {

// Moves the items of `items` whose uuid sorts after `after` ("" = all) into
// `out`, in uuid order, while their encoded size stays within `budget_bytes`
// (the first always goes). Returns the cursor of the next page: the uuid of
// the last item moved if some were left out, else "".
template <typename View>
std::string FillPage(std::vector<View> items, const std::string& after,
                     google::protobuf::RepeatedPtrField<View>* out,
                     size_t budget_bytes = limits::kListResponseBytes) {
  std::stable_sort(items.begin(), items.end(),
                   [](const View& a, const View& b) { return a.uuid() < b.uuid(); });
  size_t used = 0;
  for (auto& item : items) {
    if (!after.empty() && item.uuid() <= after) continue;
    const size_t payload = item.ByteSizeLong();
    const size_t bytes =
        1 + google::protobuf::io::CodedOutputStream::VarintSize64(payload) + payload;
    if (!out->empty() && used + bytes > budget_bytes) return out->rbegin()->uuid();
    used += bytes;
    *out->Add() = std::move(item);
  }
  return "";
}

}  // namespace coffer::node
