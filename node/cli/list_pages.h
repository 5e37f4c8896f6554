// The CLI side of list responses cut by bytes (node/api/list_pages.h): a
// list request (object locate, wallet list, endpoint list, conflict list) is
// sent again with `after` = the answer's `next_after` until the list is
// complete, and the pages are merged into one response, so the commands show
// the whole list as before.
#pragma once

#include "common/status.h"
#include "node/cli/cli_common.h"
#include "proto/api.pb.h"

namespace coffer::node::cli {

// At most this many pages per command (a bound on the loop; at 1 MiB a page,
// far more than any store lists).
inline constexpr int kMaxListPages = 100'000;

// Calls list `request` page after page and returns the pages merged (the
// first error otherwise). A locate with a limit gets at most that many
// objects in all (0: the server default, 1000).
StatusOr<pb::Response> CallAllPages(const ClientFlags& flags, pb::Request request);

// The pages of `next` appended to `into` (same list kind); returns the
// cursor of the page after `next` ("" when complete).
std::string MergePage(pb::Response& into, const pb::Response& next);

// Calls and prints like Run (cli_common.h), following every page.
int RunList(const ClientFlags& flags, const pb::Request& request,
            const std::function<std::string(const pb::Response&)>& render);

}  // namespace coffer::node::cli
