#!/usr/bin/env bash
# Runs N shards of one blast run (api, ws or upload) as separate processes on this machine,
# started together (--start-at), then merges their reports exactly with `blast merge`: the local
# rehearsal of a multi-machine run (see scripts/k8s/ for the Kubernetes version).
#
#   scripts/shards.sh N [api|ws|upload] [blast flags...]      (workload defaults to api)
#   e.g. scripts/shards.sh 2 --rate 20000 --duration 10s --cores 1
#        scripts/shards.sh 2 ws --conns 2000 --rooms 20 --duration 10s
#        scripts/shards.sh 2 upload --size 64M --parallel 8
#
# Without --target, blast's embedded target is started on free 127.0.0.1 ports (HTTP, WebSocket
# and S3). Shard reports and the merged one (total.json, total.txt) go to $OUT (default
# results/shards-<timestamp>). Exit code: the merged run's (0 clean, 1 failures, 2 bad input).
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/shards.sh N [api|ws|upload] [blast flags...]"
[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }
n=$1; shift
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "shards.sh: N must be a positive number; $usage" >&2; exit 2; }
workload=api
case "${1:-}" in api|ws|upload) workload=$1; shift ;; esac
blast="${BLAST:-target/release/blast}"
[ -x "$blast" ] || cargo build --release --quiet
out="${OUT:-results/shards-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"

args=("$@")
if [[ " ${args[*]} " != *" --target "* ]]; then
  "$blast" serve --listen 127.0.0.1:0 --s3-listen 127.0.0.1:0 --exit-after 1h > "$out/serve.log" 2>&1 &
  serve_pid=$!
  trap 'kill $serve_pid 2>/dev/null || true' EXIT
  for _ in $(seq 50); do grep -q 'S3 endpoint' "$out/serve.log" 2>/dev/null && break; sleep 0.1; done
  http=$(grep -m1 'listening on' "$out/serve.log" | sed 's#.*http://##')
  s3=$(grep -m1 'S3 endpoint on' "$out/serve.log" | sed 's#.*http://##')
  case "$workload" in
    api) args+=(--target "http://$http/v1/messages") ;;
    ws) args+=(--target "ws://$http/ws") ;;
    upload) args+=(--target "http://$s3") ;;
  esac
fi

# Every shard sets up first (connections, bucket), then all start on the same wall-clock second.
start_at=$(( $(date +%s) + 2 ))
pids=()
for i in $(seq 0 $((n - 1))); do
  "$blast" "$workload" "${args[@]}" --shard "$i/$n" --start-at "$start_at" --quiet --json "$out/shard-$i.json" \
    > "$out/shard-$i.txt" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || true
done
"$blast" merge "$out"/shard-*.json --json "$out/total.json" | tee "$out/total.txt"
