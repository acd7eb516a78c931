#!/usr/bin/env bash
# Two blast binaries, one sitting: CPU per request of `blast api` at fixed rates, runs
# alternating A, B, A, B, ... against one `blast serve`, with wrk's closed-loop maximum measured
# in the same sitting as the peer. Prints every run and the median per binary and rate, then
# B/A (a refactor must not make B cost more than 3% above A).
# Client CPU = user + sys of the blast process (/usr/bin/time -v).
# Usage: bench/before-after.sh A_BINARY B_BINARY [seconds] [repetitions] [rates...]
#   e.g. git worktree add /tmp/old 2939e74 && (cd /tmp/old && cargo build --release)
#        bench/before-after.sh /tmp/old/target/release/blast target/release/blast 5 3 20000 50000
# Pinned (optional): SERVE_CPUS=1 CLIENT_CPUS=0 CLIENT_ARGS="--cores 1" run the target and blast
# under `taskset -c` on CPUs of their own, blast with the extra flags.
set -euo pipefail
pin_serve=(); [ -n "${SERVE_CPUS:-}" ] && pin_serve=(taskset -c "$SERVE_CPUS")
pin_client=(); [ -n "${CLIENT_CPUS:-}" ] && pin_client=(taskset -c "$CLIENT_CPUS")
read -r -a client_args <<<"${CLIENT_ARGS:-}"

a=${1:?usage: bench/before-after.sh A B [seconds] [repetitions] [rates...]}
b=${2:?usage: bench/before-after.sh A B [seconds] [repetitions] [rates...]}
secs=${3:-5}
reps=${4:-3}
shift 4 || shift $#
[ $# -gt 0 ] && rates=("$@") || rates=(20000 50000)
port=18299
"${pin_serve[@]}" "$b" serve --listen 127.0.0.1:$port --exit-after $(( (secs + 3) * reps * 2 * ${#rates[@]} + secs + 120 ))s >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 0.5
url=http://127.0.0.1:$port/v1/messages
cpu() { awk '/User time/{u=$4} /System time/{s=$4} END{printf "%.3f", u+s}' "$1"; }
median() { sort -n | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
if command -v wrk >/dev/null; then
  lua=$(mktemp)
  printf 'wrk.method="POST"\nwrk.body=%s\nwrk.headers["Content-Type"]="application/json"\n' \
    "'{\"conversation_id\":\"conv-1\",\"sender_id\":\"bench\",\"content\":\"load test message\"}'" >"$lua"
  /usr/bin/time -v wrk -t2 -c100 -d"${secs}s" -s "$lua" "$url" >/tmp/ba-wrk.out 2>/tmp/ba-wrk.time
  req=$(awk '/requests in/{print $1}' /tmp/ba-wrk.out)
  echo "wrk 4.1 closed loop max (2 threads, 100 conns): $(awk '/Requests\/sec/{print $2}' /tmp/ba-wrk.out) req/s, $(echo "$(cpu /tmp/ba-wrk.time) * 1000000 / $req" | bc -l | xargs printf %.2f) µs/request"
  rm -f "$lua"
  sleep 2
fi
echo "| binary | rate | run | achieved req/s | corrected p99 ms | CPU µs/request |"
echo "|---|---|---|---|---|---|"
declare -A runs
for rate in "${rates[@]}"; do
  for rep in $(seq 1 "$reps"); do
    for which in A B; do
      bin=$a; [ $which = B ] && bin=$b
      /usr/bin/time -v "${pin_client[@]}" "$bin" api --rate "$rate" --duration "${secs}s" --conns 100 --target "$url" -q \
        "${client_args[@]}" --json /tmp/ba.json >/dev/null 2>/tmp/ba.time || true
      read -r ach p99 sent < <(python3 -c "import json;j=json.load(open('/tmp/ba.json'));print(j['achieved_rate'],j['latency_ms']['p99'],j['requests']['sent'])")
      us=$(echo "$(cpu /tmp/ba.time) * 1000000 / $sent" | bc -l)
      printf "| %s | %s | %s | %.0f | %s | %.2f |\n" "$which" "$rate" "$rep" "$ach" "$p99" "$us"
      runs[$which,$rate]+="$us "
      sleep 1
    done
  done
done
echo
for rate in "${rates[@]}"; do
  ma=$(echo "${runs[A,$rate]}" | tr ' ' '\n' | grep . | median)
  mb=$(echo "${runs[B,$rate]}" | tr ' ' '\n' | grep . | median)
  printf -- "- %s/s: median CPU µs/request A %.2f, B %.2f, B/A %.3f\n" "$rate" "$ma" "$mb" "$(echo "$mb / $ma" | bc -l)"
done
