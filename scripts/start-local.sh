#!/usr/bin/env bash
# Installs dependencies, builds, and starts a local Coffer cluster on loopback
# with embedded defaults, then prints `coffer cluster status`. Default: two
# read-write pairs and one read-only node, node N on 127.0.0.N (client API on
# port 7400, peer links on 7500). Everything it makes lives under .cluster/
# (CA and certificates, configs, passphrase, data, logs, pids). Run again, it
# restarts stopped nodes and keeps the data.
#   scripts/start-local.sh [--pairs P] [--read-only R]   # P in 1..4, R in 0..8
#   scripts/stop-local.sh                                # stop every node
#
# How the cluster forms (what an operator would type):
#   node1: coffer cluster init; node2 joins through node1 with a read-write
#   token (node1's peer); for each further pair, its first node joins through
#   node1 as read-only, and its second node joins through it with a read-write
#   token (the pair forms); read-only nodes join through node1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CLUSTER="$ROOT/.cluster"
BUILD="$ROOT/build/dev"
COFFER="$BUILD/bin/coffer"

PAIRS=2
READ_ONLY=1
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) PAIRS="$2"; shift 2 ;;
    --read-only) READ_ONLY="$2"; shift 2 ;;
    *) echo "usage: $0 [--pairs 1..4] [--read-only 0..8]" >&2; exit 1 ;;
  esac
done
if ! [[ "$PAIRS" =~ ^[1-4]$ && "$READ_ONLY" =~ ^[0-8]$ ]]; then
  echo "usage: $0 [--pairs 1..4] [--read-only 0..8]" >&2
  exit 1
fi
NODES=$((PAIRS * 2 + READ_ONLY))

scripts/install-deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev --target coffer

mkdir -p "$CLUSTER/certs"
if [ ! -f "$CLUSTER/certs/ca.pem" ]; then
  "$COFFER" cert ca --dir "$CLUSTER/certs" >/dev/null
  "$COFFER" cert issue --dir "$CLUSTER/certs" --name admin --role admin >/dev/null
fi
if [ ! -f "$CLUSTER/passphrase" ]; then
  # Development only: a real deployment keeps the passphrase off the node's disk.
  (umask 077 && head -c 24 /dev/urandom | base64 > "$CLUSTER/passphrase")
fi

export COFFER_CA="$CLUSTER/certs/ca.pem" COFFER_CERT="$CLUSTER/certs/admin.pem" \
       COFFER_KEY="$CLUSTER/certs/admin.key"

# Writes the certificate and config of node N (once).
prepare_node() {
  local n=$1
  if [ ! -f "$CLUSTER/certs/node$n.pem" ]; then
    "$COFFER" cert issue --dir "$CLUSTER/certs" --name "node$n" --role node \
      --ip "127.0.0.$n" --dns localhost >/dev/null
  fi
  if [ ! -f "$CLUSTER/node$n.toml" ]; then
    cat > "$CLUSTER/node$n.toml" <<TOML
# Made by scripts/start-local.sh; every other setting keeps its embedded default
# (coffer config print-default shows them all). Paths are relative to this file.
[node]
name = "node$n"
data_dir = "data/node$n"
listen = "127.0.0.$n:7400"
peer_listen = "127.0.0.$n:7500"
http_listen = "127.0.0.$n:7600"

[tls]
ca_file = "certs/ca.pem"
cert_file = "certs/node$n.pem"
key_file = "certs/node$n.key"

[root_of_trust]
passphrase_file = "passphrase"

[log]
file = "node$n.log"
TOML
  fi
  "$COFFER" config check "$CLUSTER/node$n.toml" >/dev/null
  # The binary node N runs: `coffer upgrade` (its local supervisor) swaps it
  # and keeps the previous one in node$n.binary.previous.
  [ -f "$CLUSTER/node$n.binary" ] || echo "$COFFER" > "$CLUSTER/node$n.binary"
}

# Starts node N in the background (extra arguments: --join ADDR --token T).
start_node() {
  local n=$1
  shift
  local pidfile="$CLUSTER/node$n.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "node$n already running (pid $(cat "$pidfile"))"
    return
  fi
  local binary
  binary=$(cat "$CLUSTER/node$n.binary")
  nohup "$binary" node start --config "$CLUSTER/node$n.toml" "$@" >>"$CLUSTER/node$n.out" 2>&1 &
  echo $! > "$pidfile"
}

# Waits (at most 60 s) until node N answers on its client API.
wait_ready() {
  local n=$1
  for _ in $(seq 1 600); do
    if "$COFFER" node status --address "127.0.0.$n:7400" >/dev/null 2>&1 ||
       [ $? -eq 2 ]; then
      return 0
    fi
    if ! kill -0 "$(cat "$CLUSTER/node$n.pid")" 2>/dev/null; then
      echo "node$n exited; see $CLUSTER/node$n.out and $CLUSTER/node$n.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "node$n did not answer within 60 s; see $CLUSTER/node$n.log" >&2
  exit 1
}

# Starts node N; the first time, inducts it through node CONTROLLER with a
# token of ROLE.
join_node() {
  local n=$1 controller=$2 role=$3
  prepare_node "$n"
  if [ -f "$CLUSTER/data/node$n/identity" ]; then
    start_node "$n"
  else
    local token
    token=$("$COFFER" cluster join-token --role "$role" --address "127.0.0.$controller:7400")
    echo "inducting node$n through node$controller as $role"
    start_node "$n" --join "127.0.0.$controller:7400" --token "$token"
  fi
  wait_ready "$n"
}

prepare_node 1
start_node 1
wait_ready 1
if [ ! -f "$CLUSTER/data/node1/identity" ]; then
  "$COFFER" cluster init --name local --address 127.0.0.1:7400 >/dev/null
  echo "node1: cluster 'local' created"
fi
join_node 2 1 read-write
for ((pair = 2; pair <= PAIRS; pair++)); do
  first=$((pair * 2 - 1))
  join_node "$first" 1 read-only
  join_node $((first + 1)) "$first" read-write
done
for ((n = PAIRS * 2 + 1; n <= NODES; n++)); do
  join_node "$n" 1 read-only
done

export COFFER_ADDRESS=127.0.0.1:7400
# The pairs become read-write once each peer has caught up, inducted nodes
# turn ACTIVE once they have, and links redial with a backoff after a
# restart: wait (at most 10 s) for every link to be up and no node PENDING.
for _ in $(seq 1 100); do
  if out=$("$COFFER" cluster status 2>&1) && ! grep -qE 'DOWN|PENDING' <<<"$out"; then break; fi
  sleep 0.1
done
"$COFFER" cluster status || true
echo
echo "Client settings for this shell:"
echo "  export COFFER_ADDRESS=$COFFER_ADDRESS COFFER_CA=$COFFER_CA COFFER_CERT=$COFFER_CERT COFFER_KEY=$COFFER_KEY"
