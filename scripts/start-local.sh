#!/usr/bin/env bash
# Installs dependencies, builds, and starts a local Coffer node on loopback
# with embedded defaults, then prints its status. Everything it makes lives
# under .cluster/ (certificates, config, passphrase, data, log, pid).
#   scripts/start-local.sh          # build (if needed) and start
#   scripts/stop-local.sh           # stop it
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CLUSTER="$ROOT/.cluster"
BUILD="$ROOT/build/dev"
COFFER="$BUILD/bin/coffer"

scripts/install-deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev --target coffer

mkdir -p "$CLUSTER/certs"
if [ ! -f "$CLUSTER/certs/ca.pem" ]; then
  "$COFFER" cert ca --dir "$CLUSTER/certs" >/dev/null
  "$COFFER" cert issue --dir "$CLUSTER/certs" --name node1 --role node --ip 127.0.0.1 --dns localhost >/dev/null
  "$COFFER" cert issue --dir "$CLUSTER/certs" --name admin --role admin >/dev/null
fi
if [ ! -f "$CLUSTER/passphrase" ]; then
  # Development only: a real deployment keeps the passphrase off the node's disk.
  (umask 077 && head -c 24 /dev/urandom | base64 > "$CLUSTER/passphrase")
fi
if [ ! -f "$CLUSTER/node1.toml" ]; then
  cat > "$CLUSTER/node1.toml" <<TOML
# Made by scripts/start-local.sh; every other setting keeps its embedded default
# (coffer config print-default shows them all). Paths are relative to this file.
[node]
name = "node1"
data_dir = "data/node1"
listen = "127.0.0.1:7400"

[tls]
ca_file = "certs/ca.pem"
cert_file = "certs/node1.pem"
key_file = "certs/node1.key"

[root_of_trust]
passphrase_file = "passphrase"

[log]
file = "node1.log"
TOML
fi
"$COFFER" config check "$CLUSTER/node1.toml" >/dev/null

PIDFILE="$CLUSTER/node1.pid"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "node1 already running (pid $(cat "$PIDFILE"))"
else
  nohup "$COFFER" node start --config "$CLUSTER/node1.toml" >"$CLUSTER/node1.out" 2>&1 &
  echo $! > "$PIDFILE"
fi

export COFFER_ADDRESS=127.0.0.1:7400 COFFER_CA="$CLUSTER/certs/ca.pem" \
       COFFER_CERT="$CLUSTER/certs/admin.pem" COFFER_KEY="$CLUSTER/certs/admin.key"
for _ in $(seq 1 100); do
  if "$COFFER" node status >/dev/null 2>&1; then break; fi
  if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "node1 exited; see $CLUSTER/node1.out and $CLUSTER/node1.log" >&2
    exit 1
  fi
  sleep 0.1
done
"$COFFER" node status
echo
echo "Client settings for this shell:"
echo "  export COFFER_ADDRESS=$COFFER_ADDRESS COFFER_CA=$COFFER_CA COFFER_CERT=$COFFER_CERT COFFER_KEY=$COFFER_KEY"
