#!/usr/bin/env bash
# blast's maximum against `blast serve` as client cores are added (issue 17, item 6): for each
# client core count N (default 1 2 4 8, those that leave at least one core for the target),
# blast runs pinned to cores 0..N-1 and `blast serve` to the remaining cores, and blast is asked
# for far more than it can send (RATE_PER_CORE x N); what it achieves is its maximum, reported
# with its CPU per request (user + sys of the blast process / requests sent). When wrk is on
# PATH, wrk -tN on the same cores gives the closed-loop peer figure in the same sitting.
#
# Usage: bench/scaling.sh [seconds per run] [client core counts...]   (defaults: 8, 1 2 4 8)
# Env: CONNS_PER_CORE=100 RATE_PER_CORE=400000 BLAST=target/release/blast
# Needs only the release binary (and /usr/bin/time, taskset, python3): it runs on a machine
# where nothing can be installed. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
shift || true
[ $# -gt 0 ] && counts=("$@") || counts=(1 2 4 8)
blast=${BLAST:-$PWD/target/release/blast}
conns_per=${CONNS_PER_CORE:-100}
rate_per=${RATE_PER_CORE:-400000}
[ -x "$blast" ] || { echo "build first: cargo build --release (or BLAST=path)" >&2; exit 2; }
total=$(nproc --all)
work=$(mktemp -d)
server=
stop_server() { [ -z "$server" ] || { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=; }; }
trap 'stop_server; rm -rf "$work"' EXIT
cpu() { awk '/User time/{u=$4} /System time/{s=$4} END{printf "%.3f", u+s}' "$1"; }
body='{"conversation_id":"conv-1","sender_id":"bench","content":"load test message"}'
printf 'wrk.method="POST"\nwrk.body=%s\nwrk.headers["Content-Type"]="application/json"\n' "'$body'" >"$work/post.lua"
wait_port() { for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

echo "## bench/scaling.sh, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $total cores online, Linux $(uname -r)"
echo "- command: CONNS_PER_CORE=$conns_per RATE_PER_CORE=$rate_per bench/scaling.sh $secs ${counts[*]}"
echo "- blast $("$blast" --version 2>/dev/null | awk '{print $2}') ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo
echo "| client cores | target cores | client | asked req/s | achieved req/s | p99 ms | CPU µs/request |"
echo "|---|---|---|---|---|---|---|"
port=18400
for n in "${counts[@]}"; do
  if [ "$n" -ge "$total" ]; then echo "| $n | - | skipped: only $total cores | | | | |"; continue; fi
  port=$((port + 1))
  clients="0-$((n - 1))"
  targets="$n-$((total - 1))"
  taskset -c "$targets" "$blast" serve --listen "127.0.0.1:$port" --threads $((total - n)) --exit-after 3600s >/dev/null &
  server=$!
  wait_port "$port"
  url=http://127.0.0.1:$port/v1/messages
  rate=$((rate_per * n))
  conns=$((conns_per * n))
  rm -f "$work/b.json"
  taskset -c "$clients" /usr/bin/time -v "$blast" api --cores "$n" --conns "$conns" --rate "$rate" \
    --duration "${secs}s" --target "$url" --quiet --json "$work/b.json" >/dev/null 2>"$work/b.time" || true
  if [ ! -s "$work/b.json" ]; then
    echo "| $n | $((total - n)) | blast: no report ($(grep -v '^\s' "$work/b.time" | tail -1)) | $rate | - | - | - |"
  else
  python3 - "$work/b.json" "$(cpu "$work/b.time")" "$n" "$((total - n))" "$rate" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
sent = j["requests"]["sent"]
us = float(sys.argv[2]) * 1e6 / sent if sent else float("nan")
print(f"| {sys.argv[3]} | {sys.argv[4]} | blast (--io {j['plan']['io'].split(' ')[0]}) | {sys.argv[5]} | {round(j['achieved_rate'])} | {j['latency_ms']['p99']} | {us:.2f} |")
EOF
  fi
  if command -v wrk >/dev/null; then
    taskset -c "$clients" /usr/bin/time -v wrk -t"$n" -c"$conns" -d"${secs}s" -s "$work/post.lua" --latency "$url" >"$work/w.out" 2>"$work/w.time"
    req=$(awk '/requests in/{print $1}' "$work/w.out")
    rps=$(awk '/Requests\/sec/{printf "%.0f", $2}' "$work/w.out")
    p99=$(awk '$1=="99%"{print $2}' "$work/w.out")
    us=$(python3 -c "import sys;print(f'{float(sys.argv[1])*1e6/float(sys.argv[2]):.2f}')" "$(cpu "$work/w.time")" "$req")
    echo "| $n | $((total - n)) | wrk -t$n (closed loop) | max | $rps | $p99 (wrk's unit) | $us |"
  fi
  stop_server
  sleep 1
done
