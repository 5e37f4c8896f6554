#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: unit tests of each
# folder and the integration tests that drive real node processes.
#   scripts/test.sh           # RelWithDebInfo build in build/dev
#   scripts/test.sh --asan    # the same under AddressSanitizer + UBSan (build/asan)
set -euo pipefail
cd "$(dirname "$0")/.."
preset=dev
if [ "${1:-}" = "--asan" ]; then preset=asan; fi
scripts/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset"
