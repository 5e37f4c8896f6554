// Ctrl-C and SIGTERM for coffer-bench: the handler only sets a flag; every
// wait and load loop checks it, so the run ends early and the node processes
// it started are still stopped by PID (LocalCluster's destructor).
#pragma once

namespace coffer::bench {

// Installs the SIGINT and SIGTERM handlers (idempotent).
void InstallInterruptHandlers();
// Whether SIGINT or SIGTERM arrived.
bool Interrupted();

}  // namespace coffer::bench
