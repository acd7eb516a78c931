#!/usr/bin/env bash
# Side-by-side: blast, wrk and oha against the same `blast serve`, in one run on this machine.
# - wrk (Debian) and oha (crates.io) closed-loop at their maximum: as fast as the target answers.
# - blast and oha open-loop at the same fixed rates (oha -q with --latency-correction, so both
#   count latency from the intended send time); blast also at oha's maximum rate.
# Client CPU per request comes from the OS accounting of each client process (user + sys,
# /usr/bin/time). Prints a markdown table, then blast/wrk and blast/oha ratios.
# Usage: bench/compare.sh [seconds per run] [fixed rates...]
#   needs: cargo build --release; apt-get install wrk; cargo install oha
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
shift || true
[ $# -gt 0 ] && rates=("$@") || rates=(20000 50000)
blast=./target/release/blast
port=18099
$blast serve --listen 127.0.0.1:$port --exit-after $((secs * 20 + 120))s >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 0.5
url=http://127.0.0.1:$port/v1/messages
body='{"conversation_id":"conv-1","sender_id":"bench","content":"load test message"}'
lua=$(mktemp)
printf 'wrk.method="POST"\nwrk.body=%s\nwrk.headers["Content-Type"]="application/json"\n' "'$body'" > "$lua"

cpu() { awk '/User time/{u=$4} /System time/{s=$4} END{printf "%.3f", u+s}' "$1"; }
per_req() { echo "$1 * 1000000 / $2" | bc -l; }
declare -A cpu_at rps_at

row() { printf "| %s | %s | %.0f | %s | %s | %.2f |\n" "$1" "$2" "$3" "$4" "$5" "$6"; }
printf "| client | mode | achieved req/s | p99 ms | client CPU s | CPU µs/request |\n|---|---|---|---|---|---|\n"

# wrk, closed loop at its maximum.
/usr/bin/time -v wrk -t2 -c100 -d"${secs}s" -s "$lua" --latency "$url" >/tmp/wrk.out 2>/tmp/wrk.time
wrk_rps=$(awk '/Requests\/sec/{print $2}' /tmp/wrk.out)
wrk_req=$(awk '/requests in/{print $1}' /tmp/wrk.out)
wrk_cpu=$(cpu /tmp/wrk.time)
wrk_us=$(per_req "$wrk_cpu" "$wrk_req")
row "wrk 4.1" "closed loop max, 100 conns, 2 threads" "$wrk_rps" "$(awk '$1=="99%"{print $2}' /tmp/wrk.out)" "$wrk_cpu" "$wrk_us"
sleep 2

oha_run() { # $1: extra flags, $2: label
  /usr/bin/time -v oha -z "${secs}s" -c 100 $1 --no-tui -m POST -d "$body" -T application/json \
    --output-format json "$url" >/tmp/oha.json 2>/tmp/oha.time
  read -r rps p99 n < <(python3 -c "import json;j=json.load(open('/tmp/oha.json'));s=j['summary'];print(s['requestsPerSec'],j['latencyPercentiles']['p99']*1000,round(s['requestsPerSec']*s['total']))")
  local c; c=$(cpu /tmp/oha.time)
  row "oha $(oha --version | awk '{print $2}')" "$2" "$rps" "$(printf %.3f "$p99")" "$c" "$(per_req "$c" "$n")"
  oha_rps=$rps; oha_us=$(per_req "$c" "$n")
}
blast_run() { # $1: rate
  /usr/bin/time -v $blast api --rate "$1" --duration "${secs}s" --conns 100 --target "$url" -q \
    --json /tmp/blast.json >/dev/null 2>/tmp/blast.time || true
  read -r ach p99 sent < <(python3 -c "import json;j=json.load(open('/tmp/blast.json'));print(j['achieved_rate'],j['latency_ms']['p99'],j['requests']['sent'])")
  local c; c=$(cpu /tmp/blast.time)
  row "blast" "open loop at $1/s, 100 conns, 2 cores" "$ach" "$p99 (corrected)" "$c" "$(per_req "$c" "$sent")"
  blast_us=$(per_req "$c" "$sent"); blast_rps=$ach
}

oha_run "" "closed loop max, 100 conns"
oha_max=$oha_rps; oha_max_us=$oha_us
sleep 2
ratios=()
for rate in "${rates[@]}"; do
  oha_run "-q $rate --latency-correction" "open loop at $rate/s (-q, latency correction), 100 conns"
  o_us=$oha_us; sleep 2
  blast_run "$rate"; sleep 2
  ratios+=("at $rate/s: CPU per request blast/oha = $(printf %.2f "$(echo "$blast_us / $o_us" | bc -l)")")
done
blast_run "$(printf %.0f "$oha_max")"
ratios+=("at oha's max ($(printf %.0f "$oha_max")/s): blast achieved $(printf %.0f "$blast_rps")/s; CPU per request blast/oha = $(printf %.2f "$(echo "$blast_us / $oha_max_us" | bc -l)")")
blast_run "$(printf %.0f "$wrk_rps")"
ratios+=("at wrk's max ($(printf %.0f "$wrk_rps")/s): blast achieved $(printf %.0f "$blast_rps")/s; CPU per request blast/wrk = $(printf %.2f "$(echo "$blast_us / $wrk_us" | bc -l)")")
echo
for r in "${ratios[@]}"; do echo "- $r"; done
rm -f "$lua"
