#!/usr/bin/env bash
# Side-by-side: blast and wrk against the same `blast serve`, in one run on this machine.
# wrk is closed-loop (as fast as the target answers), so it is measured at its maximum; blast is
# then run open-loop at the rate wrk reached, and at fixed rates. Client CPU per request comes
# from the OS accounting of each client process (user + sys, via /usr/bin/time).
# Usage: bench/compare.sh [seconds]   (needs: cargo build --release; wrk from Debian)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
blast=./target/release/blast
port=18099
$blast serve --listen 127.0.0.1:$port --exit-after $((secs * 10 + 60))s >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 0.5
url=http://127.0.0.1:$port/v1/messages
body='{"conversation_id":"conv-1","sender_id":"wrk","content":"load test message"}'
lua=$(mktemp); printf 'wrk.method="POST"\nwrk.body=%s\nwrk.headers["Content-Type"]="application/json"\n' "'$body'" > "$lua"

cpu() { awk '/User time/{u=$4} /System time/{s=$4} END{printf "%.3f", u+s}' "$1"; }

printf "| client | mode | achieved req/s | p99 ms | client CPU s | CPU µs/request |\n|---|---|---|---|---|---|\n"
/usr/bin/time -v wrk -t2 -c100 -d${secs}s -s "$lua" --latency "$url" >/tmp/wrk.out 2>/tmp/wrk.time
wrk_rps=$(awk '/Requests\/sec/{print $2}' /tmp/wrk.out)
wrk_p99=$(awk '$1=="99%"{print $2}' /tmp/wrk.out)
wrk_req=$(awk '/requests in/{print $1}' /tmp/wrk.out)
wrk_cpu=$(cpu /tmp/wrk.time)
printf "| wrk 4.1 | closed loop, 100 conns, 2 threads | %.0f | %s | %s | %.2f |\n" "$wrk_rps" "$wrk_p99" "$wrk_cpu" "$(echo "$wrk_cpu * 1000000 / $wrk_req" | bc -l)"
sleep 2
for rate in 20000 "$(printf %.0f "$wrk_rps")"; do
  /usr/bin/time -v $blast api --rate "$rate" --duration ${secs}s --conns 100 --target "$url" -q --json /tmp/blast.json >/dev/null 2>/tmp/blast.time || true
  read -r ach p99 sent < <(python3 -c "import json;j=json.load(open('/tmp/blast.json'));print(j['achieved_rate'],j['latency_ms']['p99'],j['requests']['sent'])")
  b_cpu=$(cpu /tmp/blast.time)
  printf "| blast | open loop at %s/s, 100 conns, 2 cores | %.0f | %s (corrected) | %s | %.2f |\n" "$rate" "$ach" "$p99" "$b_cpu" "$(echo "$b_cpu * 1000000 / $sent" | bc -l)"
  sleep 2
done
rm -f "$lua"
