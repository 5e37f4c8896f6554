// Reading a file the user names (a CLI input, a certificate, a config or
// passphrase file) with a size limit that holds whatever the path is:
// regular file, pipe, FIFO or device (issue 11, item 8: `--file /dev/zero`
// grew the CLI to 6 GB and a FIFO hung it).
//
// Contract:
//  - at most `max_bytes + 1` bytes are ever read: more is INVALID_ARGUMENT
//    naming the file and the limit (a regular file larger than the limit is
//    refused from its size, without reading it);
//  - the file is opened non-blocking, so opening a FIFO without a writer does
//    not block; then every read waits at most until `wait` has passed since
//    the open: a FIFO nobody writes to, or a terminal nobody types into, is
//    UNAVAILABLE after `wait`, never a hang;
//  - a directory is INVALID_ARGUMENT; a missing file NOT_FOUND; no access
//    PERMISSION_DENIED.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace coffer {

// How long a read of a pipe, FIFO or device waits for its data by default.
inline constexpr std::chrono::milliseconds kDefaultInputWait{10'000};

// The contents of `path` (`what` names it in errors, e.g. "certificate file").
StatusOr<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes,
                                      std::string_view what,
                                      std::chrono::milliseconds wait = kDefaultInputWait);

}  // namespace coffer
