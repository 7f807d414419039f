#!/usr/bin/env bash
# The figures of kv-core/node/README.md, on this machine: throughput and latency with
# 16 clients (fsync on and off), fail-over after a leader SIGKILL, and recovery from a
# 100 MB log. Everything runs on 127.0.0.1 in a temporary directory and is stopped at
# the end.
#
#   bash kv-core/node/scripts/measure.sh [SECONDS]     # SECONDS of load per figure (20)
set -euo pipefail

seconds=${1:-20}
root=$(cd "$(dirname "$0")/../../.." && pwd)
cargo build --release -q -p kv-node --manifest-path "$root/Cargo.toml"
bin=$root/target/release
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

peers="1=127.0.0.1:27001,2=127.0.0.1:27002,3=127.0.0.1:27003"
servers="1=127.0.0.1:28001,2=127.0.0.1:28002,3=127.0.0.1:28003"
declare -A pid_of

now_ms() { echo $(($(date +%s%N) / 1000000)); }

start_node() { # id data-root [flags...]
    local id=$1 data=$2
    shift 2
    "$bin/kv-node" --id "$id" --peers "$peers" --client-addr "127.0.0.1:2800$id" \
        --data-dir "$data/n$id" "$@" 2>>"$data/n$id.log" &
    pid_of[$id]=$!
    pids+=($!)
    disown $!
}

leader() { # prints the id of the node that says it leads, if any
    "$bin/kv-client" --servers "$servers" status 2>/dev/null |
        awk '$2 == "leader" { sub("n", "", $1); print $1; exit }' || true
}

wait_leader() {
    local id=""
    while [ -z "$id" ]; do
        sleep 0.01
        id=$(leader)
    done
    echo "$id"
}

stop_all() {
    for id in 1 2 3; do kill -9 "${pid_of[$id]}" 2>/dev/null || true; done
    sleep 0.5
}

load() { # seconds [flags...]
    local for_seconds=$1
    shift
    "$bin/kv-client" --servers "$servers" load --clients 16 --seconds "$for_seconds" "$@"
}

echo "== 16 clients, fsync on, ${seconds} s"
mkdir -p "$work/on"
for id in 1 2 3; do start_node $id "$work/on"; done
wait_leader >/dev/null
load "$seconds"

echo "== fail-over after SIGKILL of the leader (5 times)"
for round in 1 2 3 4 5; do
    old=$(wait_leader)
    "$bin/kv-client" --servers "$servers" put warm up >/dev/null
    t0=$(now_ms)
    kill -9 "${pid_of[$old]}"
    new=""
    while [ -z "$new" ] || [ "$new" = "$old" ]; do new=$(leader); done
    t1=$(now_ms)
    "$bin/kv-client" --servers "$servers" --timeout-secs 30 put after "$round" >/dev/null
    t2=$(now_ms)
    echo "round $round: n$old killed; n$new leads after $((t1 - t0)) ms; a put succeeds after $((t2 - t0)) ms"
    start_node "$old" "$work/on"
    sleep 2
done
stop_all

echo "== 16 clients, fsync off, ${seconds} s"
mkdir -p "$work/off"
for id in 1 2 3; do start_node $id "$work/off" --no-fsync; done
wait_leader >/dev/null
load "$seconds"

echo "== recovery from a 100 MB log"
until [ "$(stat -c %s "$work/off/n1/wal-00000001.log")" -gt 100000000 ]; do
    "$bin/kv-client" --servers "$servers" load --clients 4 --seconds 0.5 --value-bytes 1000 \
        --mix 0:100:0 >/dev/null
done
l=$(wait_leader)
f=$((l % 3 + 1))
kill -9 "${pid_of[$f]}"
ls -l "$work/off/n$f"
t0=$(now_ms)
"$bin/kv-node" --id "$f" --peers "$peers" --client-addr "127.0.0.1:2800$f" \
    --data-dir "$work/off/n$f" --recover-only
t1=$(now_ms)
echo "recover-only (read, check, rebuild the persisted state): $((t1 - t0)) ms"
commit=$("$bin/kv-client" --servers "$l=127.0.0.1:2800$l" status | awk '{print $8}')
t0=$(now_ms)
start_node "$f" "$work/off" --no-fsync
until "$bin/kv-client" --servers "$f=127.0.0.1:2800$f" status >/dev/null 2>&1; do sleep 0.01; done
t1=$(now_ms)
applied() {
    "$bin/kv-client" --servers "$f=127.0.0.1:2800$f" status | awk '$2 != "unreachable" { print $10 }'
}
until [ "$(applied)" -ge "$commit" ] 2>/dev/null; do sleep 0.01; done
t2=$(now_ms)
echo "restart: serving after $((t1 - t0)) ms; state machine at the leader's commit $commit after $((t2 - t0)) ms"
stop_all
