#!/usr/bin/env bash
# Stops the node started by scripts/start-local.sh (by its recorded PID).
set -euo pipefail
cd "$(dirname "$0")/.."
PIDFILE=.cluster/node1.pid
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  pid=$(cat "$PIDFILE")
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  echo "node1 stopped"
else
  echo "node1 is not running"
fi
rm -f "$PIDFILE"
