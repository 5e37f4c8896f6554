#!/usr/bin/env bash
# Upgrades the local cluster of scripts/start-local.sh to the next-release
# build (`coffer-next`: this source run as the next minor release) under a
# running writer, with the rolling-upgrade orchestrator: prints the plan and
# its pre-checks, the progress node by node, finalizes, and prints the final
# versions and what the writer saw. Run scripts/start-local.sh first.
#   scripts/upgrade-local.sh            # upgrade, then finalize
#   scripts/upgrade-local.sh --no-finalize   # stop in the rollback window
#                                           # (then: coffer upgrade rollback|finalize)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CLUSTER="$ROOT/.cluster"
COFFER="$ROOT/build/dev/bin/coffer"
NEXT_BIN="$ROOT/build/dev/bin/coffer-next"
FINALIZE=1
[ "${1:-}" = "--no-finalize" ] && FINALIZE=0
if [ ! -f "$CLUSTER/node1.toml" ]; then
  echo "no local cluster: run scripts/start-local.sh first" >&2
  exit 1
fi
cmake --build --preset dev --target coffer coffer-next >/dev/null
export COFFER_CA="$CLUSTER/certs/ca.pem" COFFER_CERT="$CLUSTER/certs/admin.pem" \
       COFFER_KEY="$CLUSTER/certs/admin.key" COFFER_ADDRESS=127.0.0.1:7400
TARGET=$("$NEXT_BIN" --version)
ADDRESSES=$(ls "$CLUSTER"/node*.toml | sed -E 's|.*/node([0-9]+)\.toml|127.0.0.\1:7400|' | paste -sd,)

# The writer: registers a secret every 50 ms through any node (failing over),
# and counts what was acknowledged and what was refused, until told to stop.
WRITER_LOG="$CLUSTER/upgrade-writer.log"
: > "$WRITER_LOG"
touch "$CLUSTER/upgrade-writer.run"
(
  i=0
  while [ -f "$CLUSTER/upgrade-writer.run" ] && [ $i -lt 100000 ]; do
    i=$((i + 1))
    if "$COFFER" object register --address "$ADDRESSES" --name "upgrade-demo-$$-$i" \
         --value "v$i" --timeout-ms 5000 >/dev/null 2>>"$WRITER_LOG.err"; then
      echo ok >> "$WRITER_LOG"
    else
      echo failed >> "$WRITER_LOG"
    fi
    sleep 0.05
  done
) &
WRITER_PID=$!
stop_writer() {
  rm -f "$CLUSTER/upgrade-writer.run"
  wait "$WRITER_PID" 2>/dev/null || true
}
trap stop_writer EXIT

echo "== plan to $TARGET (the backup check is overridden: this release has no backup command)"
"$COFFER" upgrade plan --to "$TARGET" --binary "$NEXT_BIN" --override backup --local "$CLUSTER"
echo
echo "== upgrade (one node at a time; progress below)"
"$COFFER" upgrade start --to "$TARGET" --binary "$NEXT_BIN" --override backup --local "$CLUSTER" \
  -o json > "$CLUSTER/upgrade-plan.json"
if [ "$FINALIZE" = 1 ]; then
  echo
  echo "== finalize"
  "$COFFER" upgrade finalize --local "$CLUSTER"
fi
stop_writer
trap - EXIT
echo
echo "== versions"
"$COFFER" cluster version
echo
echo "writer: $(grep -c ok "$WRITER_LOG" || true) writes acknowledged, $(grep -c failed "$WRITER_LOG" || true) refused (see $WRITER_LOG.err)"
"$COFFER" cluster verify --wait 30
