#!/usr/bin/env bash
# Runs N shards of one `blast api` run as separate processes on this machine, started together
# (--start-at), then merges their reports exactly with `blast merge`: the local rehearsal of a
# multi-machine run (see scripts/k8s/ for the Kubernetes version).
#
#   scripts/shards.sh N [blast api flags...]
#   e.g. scripts/shards.sh 2 --rate 20000 --duration 10s --cores 1
#
# Without --target, blast's embedded target is started on a free 127.0.0.1 port. Shard reports
# and the merged one (total.json, total.txt) go to $OUT (default results/shards-<timestamp>).
# Exit code: the merged run's (0 clean, 1 failures, 2 configuration error).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/shards.sh N [blast api flags...]" >&2; exit 2; }
n=$1; shift
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "shards.sh: N must be a positive number" >&2; exit 2; }
blast="${BLAST:-target/release/blast}"
[ -x "$blast" ] || cargo build --release --quiet
out="${OUT:-results/shards-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"

args=("$@")
if [[ " ${args[*]} " != *" --target "* ]]; then
  "$blast" serve --listen 127.0.0.1:0 --exit-after 1h > "$out/serve.log" 2>&1 &
  serve_pid=$!
  trap 'kill $serve_pid 2>/dev/null || true' EXIT
  for _ in $(seq 50); do grep -q 'http://' "$out/serve.log" 2>/dev/null && break; sleep 0.1; done
  addr=$(grep -m1 'listening on' "$out/serve.log" | sed 's#.*http://##')
  args+=(--target "http://$addr/v1/messages")
fi

# Every shard connects first, then all start on the same wall-clock second.
start_at=$(( $(date +%s) + 2 ))
pids=()
for i in $(seq 0 $((n - 1))); do
  "$blast" api "${args[@]}" --shard "$i/$n" --start-at "$start_at" --quiet --json "$out/shard-$i.json" \
    > "$out/shard-$i.txt" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || true
done
"$blast" merge "$out"/shard-*.json --json "$out/total.json" | tee "$out/total.txt"
