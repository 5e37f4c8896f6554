#!/usr/bin/env bash
# Builds the previous release's `coffer` binary from its own commit
# (upgrade/previous-release) into build/releases/RELEASE/bin/coffer, for the
# real rolling-upgrade test (tests/upgrade/real_upgrade_test.cc). The source
# comes from this repository's history (`git archive`), never from outside.
# Cached: a second run with the binary present and built from the same
# commit does nothing. Uses ccache like the main build.
#   scripts/build-previous-release.sh          # build (or reuse) it
#   scripts/build-previous-release.sh --path   # print the binary's path only
# Exit codes: 0 built or cached; 3 the commit is not in this checkout's
# history (a shallow clone); anything else, the build failed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
source upgrade/previous-release
out="build/releases/$release"
binary="$out/bin/coffer"
if [ "${1:-}" = "--path" ]; then
  echo "$PWD/$binary"
  exit 0
fi
if [ -x "$binary" ] && [ "$(cat "$out/commit" 2>/dev/null)" = "$commit" ]; then
  echo "previous release $release: $binary (built from $commit, cached)"
  exit 0
fi
if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
  echo "error: commit $commit of release $release is not in this checkout's history" >&2
  echo "(a shallow clone? fetch the full history: git fetch --unshallow)" >&2
  exit 3
fi
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/coffer-ccache}"
rm -rf "$out"
mkdir -p "$out/src"
git archive "$commit" | tar -x -C "$out/src"
echo "previous release $release: building coffer from $commit in $out"
# A Release build, as the release shipped: optimised, fault points compiled
# out, no debug info (about a third faster to build cold, as on CI).
cmake -S "$out/src" -B "$out/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCOFFER_BUILD_NEXT_RELEASE=OFF >/dev/null
cmake --build "$out/build" --target coffer -- -j2
mkdir -p "$out/bin"
cp "$out/build/bin/coffer" "$binary"
"$binary" --version >/dev/null 2>&1 || "$binary" --help >/dev/null
echo "$commit" >"$out/commit"
rm -rf "$out/build" "$out/src"
echo "previous release $release: $binary"
