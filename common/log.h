// Structured logging on spdlog. One process-wide configuration made by main()
// (InitLogging); libraries log through spdlog's default logger. Never pass key
// material or secret data to a log call except as SecretBytes, which prints
// only its length.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

#include "common/status.h"

namespace coffer {

struct LogOptions {
  // "trace", "debug", "info", "warn", "error", "off". Default: info.
  std::string level = "info";
  // "human" or "json" (one JSON object per line). Default: human.
  std::string format = "human";
  // Log file; empty means stderr. Default: empty.
  std::string file;
};

// Installs the default logger. Returns INVALID_ARGUMENT for an unknown level
// or format, UNAVAILABLE if the file cannot be opened.
Status InitLogging(const LogOptions& options);

}  // namespace coffer
