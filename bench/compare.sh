#!/usr/bin/env bash
# blast against wrk and oha, in one run, every client on the same core (CLIENT_CPU), against
# two targets on another core (TARGET_CPU): nginx (1 worker; installed with apt when missing,
# started and stopped here) and `blast serve --threads 1`. For each target:
# - wrk -t1 closed loop at its maximum;
# - blast open loop at its maximum, for each --io of BACKENDS (epoll uring ring): the highest rate that
#   achieves >= 99% of the schedule with p99 <= P99_OK_MS (bisection from wrk's maximum);
#   and blast at wrk's maximum rate (the CPU comparison at the same rate);
# - oha -q RATE --latency-correction against blast at the same RATEs (default 20000 50000).
# Client CPU per request = user + sys of the client process (/usr/bin/time) / requests.
# Prints a markdown table per target, then the ratios (blast/wrk max, blast CPU/wrk CPU,
# blast CPU/oha CPU) for each backend.
#
# Usage: bench/compare.sh [seconds per run] [oha rates...]      (defaults: 8, 20000 50000)
# Env: CLIENT_CPU=0 TARGET_CPU=1 CONNS=64 P99_OK_MS=10 SEARCH_STEPS=5 TARGETS="nginx blast"
#      BACKENDS="epoll uring ring" (ring-nostamp: the ring with BLAST_RING_RECV=multishot, which
#      wakes for each response instead of timing it by the kernel's receive time)
#      OHA=path (else oha on PATH, else /work/tools/bin/oha; none: its rows are left out),
#      WRK=path (else wrk on PATH), BLAST=path (default target/release/blast).
# Needs: cargo build --release; wrk and nginx (apt), oha (crates.io: cargo install oha).
# Run it on a quiet machine: numbers taken while something else runs mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
shift || true
[ $# -gt 0 ] && oha_rates=("$@") || oha_rates=(20000 50000)
client_cpu=${CLIENT_CPU:-0}
target_cpu=${TARGET_CPU:-1}
conns=${CONNS:-64}
p99_ok=${P99_OK_MS:-10}
steps=${SEARCH_STEPS:-5}
targets=${TARGETS:-nginx blast}
backends=${BACKENDS:-epoll uring ring}
blast=${BLAST:-$PWD/target/release/blast}
[ -x "$blast" ] || { echo "build first: cargo build --release" >&2; exit 2; }
wrk=${WRK:-$(command -v wrk || echo /usr/bin/wrk)}
oha=${OHA:-$(command -v oha || echo /work/tools/bin/oha)}
[ -x "$wrk" ] || { echo "wrk not found (apt-get install wrk, or WRK=path)" >&2; exit 2; }
[ -x "$oha" ] || { echo "oha not found (cargo install oha, or OHA=path): the oha rows and ratios are left out" >&2; oha=; }
if [[ " $targets " == *" nginx "* ]] && ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx-light (apt)" >&2
  apt-get install -y --no-install-recommends nginx-light >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends nginx-light >/dev/null; }
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
server=
stop_server() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
  fi
}
trap 'stop_server; rm -rf "$work"' EXIT
on_client() { taskset -c "$client_cpu" "$@"; }

body='{"conversation_id":"conv-1","sender_id":"bench","content":"load test message"}'
printf 'wrk.method="POST"\nwrk.body=%s\nwrk.headers["Content-Type"]="application/json"\n' "'$body'" >"$work/post.lua"

# start_nginx PORT: 1 worker on the target core, keep-alive without a request limit.
. bench/nginx-target.sh
start_blast_serve() {
  taskset -c "$target_cpu" "$blast" serve --listen "127.0.0.1:$1" --threads 1 --exit-after 7200s >/dev/null &
  server=$!
}
wait_port() { for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

cpu() { awk '/User time/{u=$4} /System time/{s=$4} END{printf "%.3f", u+s}' "$1"; }
us_per() { python3 -c "import sys;c,n=float(sys.argv[1]),float(sys.argv[2]);print(f'{c*1e6/n:.2f}' if n>0 else 'nan')" "$1" "$2"; }
ratio() { python3 -c "import sys;a,b=float(sys.argv[1]),float(sys.argv[2]);print(f'{a/b:.3f}' if b>0 else 'nan')" "$1" "$2"; }
row() { printf "| %s | %s | %s | %s | %s | %s |\n" "$@"; }

wrk_max() { # sets wrk_rps wrk_us
  on_client /usr/bin/time -v "$wrk" -t1 -c"$conns" -d"${secs}s" -s "$work/post.lua" --latency "$url" \
    >"$work/wrk.out" 2>"$work/wrk.time"
  wrk_rps=$(awk '/Requests\/sec/{printf "%.0f", $2}' "$work/wrk.out")
  local n; n=$(awk '/requests in/{print $1}' "$work/wrk.out")
  local c; c=$(cpu "$work/wrk.time")
  wrk_us=$(us_per "$c" "$n")
  row "wrk -t1 -c$conns" "closed loop max" "$wrk_rps" "$(awk '$1=="99%"{print $2}' "$work/wrk.out")" "$c" "$wrk_us"
}

oha_at() { # $1 rate; sets oha_us
  on_client /usr/bin/time -v "$oha" -z "${secs}s" -c "$conns" -q "$1" --latency-correction --no-tui -m POST \
    -d "$body" -T application/json --output-format json "$url" >"$work/oha.json" 2>"$work/oha.time"
  local rps p99 n
  read -r rps p99 n < <(python3 -c "import json,sys;j=json.load(open(sys.argv[1]));s=j['summary'];print(round(s['requestsPerSec']),round(j['latencyPercentiles']['p99']*1000,3),round(s['requestsPerSec']*s['total']))" "$work/oha.json")
  local c; c=$(cpu "$work/oha.time")
  oha_us=$(us_per "$c" "$n")
  row "oha $("$oha" --version | awk '{print $2}') -c$conns" "open loop $1/s" "$rps" "$p99" "$c" "$oha_us"
}

blast_at() { # $1 io (ring-nostamp: the ring without the kernel's receive times), $2 rate, $3 label; sets b_ok b_ach b_us
  rm -f "$work/blast.json"
  local io_arg=$1 how=()
  [ "$1" = ring-nostamp ] && io_arg=ring how=(env BLAST_RING_RECV=multishot)
  on_client "${how[@]}" /usr/bin/time -v "$blast" api --io "$io_arg" --cores 1 --conns "$conns" --rate "$2" --duration "${secs}s" \
    --warmup 1s --target "$url" --quiet --json "$work/blast.json" >"$work/blast.out" 2>"$work/blast.time" || true
  if [ ! -s "$work/blast.json" ]; then # say why, and go on with the other runs
    echo "blast --io $1 at $2/s wrote no report: $(grep -v '^\s' "$work/blast.time" | tail -3 | tr '\n' ' ')" >&2
    b_ok=0 b_ach=0 b_us=nan
    [ "$3" = "" ] || row "blast --io $1" "$3" "no report (see stderr)" "-" "-" "-"
    return
  fi
  local ratio_ p99 sent io
  read -r b_ach ratio_ p99 sent < <(python3 -c "import json,sys;j=json.load(open(sys.argv[1]));print(round(j['achieved_rate']),j['rate_ratio'],j['latency_ms']['p99'],j['requests']['sent'])" "$work/blast.json")
  io=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['plan']['io'])" "$work/blast.json")
  local c; c=$(cpu "$work/blast.time")
  # The whole process's CPU over the measured requests: the warm-up second's share is taken out.
  b_us=$(python3 -c "import sys;c,n,s=float(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]);print(f'{c*1e6/(n*(s+1)/s):.2f}' if n>0 else 'nan')" "$c" "$sent" "$secs")
  b_ok=$(python3 -c "import sys;print(1 if float(sys.argv[1])>=0.99 and float(sys.argv[2])<=float(sys.argv[3]) else 0)" "$ratio_" "$p99" "$p99_ok")
  [ "$3" = "" ] || row "blast --io $io" "$3" "$b_ach" "$p99" "$c" "$b_us"
}

blast_max() { # $1 io; bisection between half and 1.25x wrk's maximum; sets max_rate max_us
  local lo hi mid
  lo=$((wrk_rps / 2)); hi=$((wrk_rps * 5 / 4))
  blast_at "$1" "$lo" ""
  if [ "$b_ok" != 1 ]; then # far below wrk: search lower
    hi=$lo; lo=$((wrk_rps / 8))
    blast_at "$1" "$lo" ""
  fi
  if [ "$b_ok" != 1 ]; then max_rate=0; max_us=nan; row "blast --io $1" "open loop max: not even $lo/s" "-" "-" "-" "-"; return; fi
  max_rate=$lo; max_us=$b_us
  for _ in $(seq "$steps"); do
    mid=$(((lo + hi) / 2))
    blast_at "$1" "$mid" ""
    if [ "$b_ok" = 1 ]; then lo=$mid; max_rate=$mid; max_us=$b_us; else hi=$mid; fi
  done
  blast_at "$1" "$max_rate" "open loop max (>=99%, p99 <= ${p99_ok} ms)"
  if [ "$b_ok" = 1 ]; then max_us=$b_us; fi # (a bare `[ ] &&` would end the script under set -e)
}

echo "## bench/compare.sh, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc --all) cores online, Linux $(uname -r)"
echo "- command: CLIENT_CPU=$client_cpu TARGET_CPU=$target_cpu CONNS=$conns P99_OK_MS=$p99_ok SEARCH_STEPS=$steps bench/compare.sh $secs ${oha_rates[*]}"
echo "- blast $("$blast" --version 2>/dev/null | awk '{print $2}') ($(git rev-parse --short HEAD 2>/dev/null || echo '?')), $("$wrk" -v 2>&1 | head -1 | awk '{print $1, $2}')${oha:+, oha $("$oha" --version | awk '{print $2}')}"
summary=()
port=18097
for target in $targets; do
  port=$((port + 1))
  url=http://127.0.0.1:$port/v1/messages
  case $target in
    nginx) start_nginx "$port"; label="nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///'), 1 worker" ;;
    blast) start_blast_serve "$port"; label="blast serve --threads 1" ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
  esac
  wait_port "$port"
  echo
  echo "### target: $label on CPU $target_cpu; clients on CPU $client_cpu, ${secs} s per run, $conns connections"
  echo
  row "client" "mode" "achieved req/s" "p99 ms" "client CPU s" "CPU µs/request"
  row "---" "---" "---" "---" "---" "---"
  wrk_max
  declare -A oha_cpu=()
  for rate in "${oha_rates[@]}"; do
    [ -n "$oha" ] || break
    oha_at "$rate"
    oha_cpu[$rate]=$oha_us
  done
  for io in $backends; do
    blast_max "$io"
    summary+=("$target, --io $io: blast max / wrk max = $(ratio "$max_rate" "$wrk_rps") ($max_rate vs $wrk_rps/s); CPU/request at its max / wrk's = $(ratio "$max_us" "$wrk_us")")
    blast_at "$io" "$wrk_rps" "open loop at wrk's max"
    summary+=("$target, --io $io: at wrk's max rate: achieved $b_ach/s, CPU/request blast / wrk = $(ratio "$b_us" "$wrk_us")")
    for rate in "${oha_rates[@]}"; do
      blast_at "$io" "$rate" "open loop $rate/s"
      [ -z "$oha" ] || summary+=("$target, --io $io: at $rate/s CPU/request blast / oha = $(ratio "$b_us" "${oha_cpu[$rate]}")")
    done
  done
  blast_at auto "$wrk_rps" "default (--io auto) at wrk's max"
  stop_server
  sleep 1
done
echo
echo "### ratios"
echo
for s in "${summary[@]}"; do echo "- $s"; done
