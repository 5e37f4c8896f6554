// What an interrupted coffer-chaos run would leave behind, and the signal
// handler that removes it. On SIGINT or SIGTERM (Ctrl-C, ctest's timeout)
// the handler kills every node process registered here (children, and R9's
// daemons, which are not children and would outlive coffer-chaos), continues
// every frozen node of an attached cluster (`run --local`), unmounts
// every registered tmpfs (R7), then lets the signal end the process. The
// temp directories stay (their names start with coffer-chaos-).
//
// Async-signal-safe: the handler reads fixed arrays (atomics, and paths
// written before they are published) and calls only kill, open, read,
// close, umount2, signal and raise. One cluster at a time registers (slots
// are node indexes).
#pragma once

#include <sys/types.h>

#include <string>

namespace coffer::chaos::reaper {

inline constexpr int kSlots = 16;

// Installs the handler for SIGINT and SIGTERM (once, from main).
void Install();
// The current process of node slot `slot` (0: none).
void SetPid(int slot, pid_t pid);
// The pid file of a daemon node in slot `slot` ("" : none); read at signal time.
void SetPidFile(int slot, const std::string& path);
// A node of a cluster the harness attached to (not its own), SIGSTOPped:
// continued (SIGCONT), never killed (0: none).
void SetThawPid(int slot, pid_t pid);
// A tmpfs mounted for slot `slot` ("" : none).
void SetMount(int slot, const std::string& path);

}  // namespace coffer::chaos::reaper
