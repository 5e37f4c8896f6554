#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: unit tests of each
# folder and the integration tests that drive real node processes.
#   scripts/test.sh           # RelWithDebInfo build in build/dev
#   scripts/test.sh --asan    # the same under AddressSanitizer + UBSan (build/asan)
# Builds as a unity build (CMAKE_UNITY_BUILD: the sources of a target
# compiled 8 to a batch), about 2.2x less compile time from cold, which is
# what CI always is. For quick incremental edits configure the build once without it:
#   COFFER_UNITY_BUILD=OFF scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
preset=dev
if [ "${1:-}" = "--asan" ]; then preset=asan; fi
scripts/install-deps.sh
# The previous release's `coffer`, built once from its own commit, for the
# real rolling-upgrade test (tests/upgrade/real_upgrade_test.cc).
# Without the commit in this checkout's history (a shallow clone, exit 3)
# that test is skipped, saying why; any other failure stops here.
built=0
scripts/build-previous-release.sh || built=$?
if [ "$built" = 3 ]; then
  echo "WARNING: the previous release cannot be built here; the real-upgrade test is skipped"
elif [ "$built" != 0 ]; then
  exit "$built"
fi
cmake --preset "$preset" -DCMAKE_UNITY_BUILD="${COFFER_UNITY_BUILD:-ON}" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset"
