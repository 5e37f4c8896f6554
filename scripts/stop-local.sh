#!/usr/bin/env bash
# Stops the nodes started by scripts/start-local.sh (by their recorded PIDs).
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
stopped=0
for pidfile in .cluster/node*.pid; do
  name=$(basename "$pidfile" .pid)
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "$name stopped"
    stopped=$((stopped + 1))
  fi
  rm -f "$pidfile"
done
[ "$stopped" -gt 0 ] || echo "no node was running"
