#!/usr/bin/env bash
# Runs the three workloads one after another with cooldowns, like the seeds' run_all_tests.sh:
# api, ws, upload, each from its profile in profiles/, against blast's embedded target (started
# here on free 127.0.0.1 ports and stopped at the end). Every run writes JSON, Locust CSV and
# HTML into one timestamped folder; a summary follows: each run's exit code, verdict and warnings
# (generator-bound, rate shortfall, dropped requests, ...).
#
#   scripts/run-all.sh            scaled down (about 30 s in all) so that it fits any machine
#   scripts/run-all.sh --full     the chat4all profiles at full scale (minutes; see bench/RESULTS.md)
#   options: --cooldown SECONDS (default 10), --out DIR (default results/<timestamp>),
#            --duration D (the scaled-down api and ws runs' length, default 5s)
#
# Exit code: 0 when every workload met its SLA, 1 when one missed, 2 on a configuration error
# (the highest of the runs').
set -euo pipefail
cd "$(dirname "$0")/.."

full=false
cooldown=10
duration=5s
out="results/$(date +%Y%m%d-%H%M%S)"
while [ $# -gt 0 ]; do
  case "$1" in
    --full) full=true ;;
    --cooldown) cooldown="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "run-all.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

blast="${BLAST:-target/release/blast}"
if [ ! -x "$blast" ]; then
  cargo build --release --quiet
fi
mkdir -p "$out"

# The embedded target, HTTP/WebSocket and S3, on ports the kernel picks.
"$blast" serve --listen 127.0.0.1:0 --s3-listen 127.0.0.1:0 --exit-after 2h > "$out/serve.log" 2>&1 &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  [ "$(grep -c 'http://' "$out/serve.log" 2>/dev/null || true)" -ge 2 ] && break
  sleep 0.1
done
http=$(grep -m1 'listening on' "$out/serve.log" | sed 's#.*http://##')
s3=$(grep -m1 'S3 endpoint' "$out/serve.log" | sed 's#.*http://##')
[ -n "$http" ] && [ -n "$s3" ] || { echo "run-all.sh: blast serve did not start" >&2; exit 2; }

if $full; then
  api_scale=(); ws_scale=(); upload_scale=()
else
  api_scale=(--rate 5000 --duration "$duration" --warmup 0s --conns 50)
  ws_scale=(--conns 500 --connect-rate 2000/s --duration "$duration" --probe-rate 10/s --rooms 5)
  upload_scale=(--size 64M --parallel 8)
fi

status=0
declare -A codes
run() {
  local name=$1; shift
  echo "== $name: $*"
  set +e
  "$blast" run "$@" --quiet --json "$out/$name.json" --csv "$out/$name" --html "$out/$name.html" \
    > "$out/$name.txt" 2> "$out/$name.err"
  local code=$?
  set -e
  codes[$name]=$code
  [ $code -gt $status ] && status=$code
  grep -E '^\s+\[(PASS|FAIL)\]' "$out/$name.txt" || true
  [ -s "$out/$name.err" ] && head -3 "$out/$name.err"
  # The run's warnings (generator-bound, rate shortfall, dropped requests, ...) for the summary.
  grep -hE '^\s*warning: ' "$out/$name.txt" "$out/$name.err" 2>/dev/null | sed 's/^ *//' > "$out/$name.warnings" || true
  return 0
}

run api profiles/chat4all-api.toml --target "http://$http/v1/messages" "${api_scale[@]}"
sleep "$cooldown"
run ws profiles/chat4all-ws.toml --target "ws://$http/ws" "${ws_scale[@]}"
sleep "$cooldown"
run upload profiles/chat4all-upload.toml --target "http://$s3" "${upload_scale[@]}"

echo
echo "== summary ($out)"
for name in api ws upload; do
  case ${codes[$name]} in
    0) verdict="targets met" ;;
    1) verdict="targets missed" ;;
    *) verdict="configuration error" ;;
  esac
  nwarn=$(grep -c . "$out/$name.warnings" 2>/dev/null || true)
  [ "${nwarn:-0}" -gt 0 ] && verdict="$verdict, ${nwarn} warning(s)"
  printf '  %-8s exit %s  %s\n' "$name" "${codes[$name]}" "$verdict"
  while IFS= read -r w; do
    printf '           %s\n' "$w"
  done < "$out/$name.warnings"
done
exit $status
