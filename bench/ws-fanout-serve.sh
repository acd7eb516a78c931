#!/usr/bin/env bash
# Two `blast serve` binaries, one sitting: the embedded target's cost of WebSocket fan-out (its
# CPU per delivery written, and its own arrival-to-written time from /stats/broadcasts), runs
# alternating A, B, A, B, ... with one `blast ws` client (CLIENT, default B) broadcasting to a
# single room. Prints every run, the median per binary, then B/A.
# Usage: bench/ws-fanout-serve.sh A_BINARY B_BINARY [conns] [seconds] [repetitions] [probe-rate]
#   e.g. bench/ws-fanout-serve.sh /work/target-main/test-ci/blast target/test-ci/blast 2000 8 3 20
set -euo pipefail
a=${1:?usage: bench/ws-fanout-serve.sh A B [conns] [seconds] [repetitions] [probe-rate]}
b=${2:?usage: bench/ws-fanout-serve.sh A B [conns] [seconds] [repetitions] [probe-rate]}
conns=${3:-2000}
secs=${4:-8}
reps=${5:-3}
rate=${6:-20}
client=${CLIENT:-$b}
port=18311
cpu() { awk '/User time/{u=$4} /System time/{s=$4} END{printf "%.3f", u+s}' "$1"; }
median() { sort -n | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
echo "| binary | run | deliveries | serve CPU µs/delivery | serve p50 ms | serve p99 ms |"
echo "|---|---|---|---|---|---|"
declare -A runs
for rep in $(seq 1 "$reps"); do
  for which in A B; do
    bin=$a; [ $which = B ] && bin=$b
    life=$(( secs + conns / 1000 + 6 ))
    /usr/bin/time -v "$bin" serve --listen 127.0.0.1:$port --exit-after "${life}s" >/dev/null 2>/tmp/wsf.time &
    server=$!
    sleep 0.5
    "$client" ws --target ws://127.0.0.1:$port/ws --conns "$conns" --connect-rate 2000/s --rooms 1 \
      --duration "${secs}s" --probe-rate "$rate/s" --heartbeat 0s -q --json /tmp/wsf.json >/dev/null || true
    stats=$(curl -s http://127.0.0.1:$port/stats/broadcasts)
    wait $server || true
    read -r n p50 p99 < <(python3 -c "import json,sys;j=json.loads(sys.argv[1]);print(j['deliveries'],j['server_ms']['p50'],j['server_ms']['p99'])" "$stats")
    us=$(echo "$(cpu /tmp/wsf.time) * 1000000 / $n" | bc -l)
    printf "| %s | %s | %s | %.3f | %s | %s |\n" "$which" "$rep" "$n" "$us" "$p50" "$p99"
    runs[$which]+="$us "
    sleep 1
  done
done
ma=$(echo "${runs[A]}" | tr ' ' '\n' | grep . | median)
mb=$(echo "${runs[B]}" | tr ' ' '\n' | grep . | median)
printf "\nmedian serve CPU µs/delivery: A %.3f, B %.3f, B/A %.3f\n" "$ma" "$mb" "$(echo "$mb / $ma" | bc -l)"
