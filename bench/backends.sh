#!/usr/bin/env bash
# blast's I/O backends side by side (no other client needed): `blast api --io epoll|uring|ring`
# pinned to CLIENT_CPU against nginx (1 worker, keep-alive without a request limit) on
# TARGET_CPU, one sitting. For each backend: client CPU per request (user + sys of the whole
# process, /usr/bin/time, the warm-up second's share taken out) at each RATE, and the open-loop
# maximum on one core (the highest rate achieving >= 99% of the schedule with p99 <= P99_OK_MS,
# by bisection between LO and HI). Prints a markdown table and each backend's ratios to the
# first one (epoll).
#
# Usage: bench/backends.sh [seconds per run] [rates...]          (defaults: 5, 20000 50000)
# Env: CLIENT_CPU=0 TARGET_CPU=1 CONNS=64 P99_OK_MS=10 SEARCH_STEPS=5 LO=40000 HI=200000
#      BACKENDS="epoll ring uring" BLAST=path (default target/release/blast)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
shift || true
[ $# -gt 0 ] && rates=("$@") || rates=(20000 50000)
client_cpu=${CLIENT_CPU:-0}
target_cpu=${TARGET_CPU:-1}
conns=${CONNS:-64}
p99_ok=${P99_OK_MS:-10}
steps=${SEARCH_STEPS:-5}
backends=${BACKENDS:-epoll ring uring}
blast=${BLAST:-$PWD/target/release/blast}
[ -x "$blast" ] || { echo "build first: cargo build --release (or BLAST=path)" >&2; exit 2; }
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || { echo "nginx not found (apt-get install nginx-light)" >&2; exit 2; }

work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
port=18197
. bench/nginx-target.sh
start_nginx "$port"
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
url=http://127.0.0.1:$port/v1/messages

run() { # $1 io, $2 rate; sets ok ach p99 us user_us sys_us io_words
  rm -f "$work/b.json"
  taskset -c "$client_cpu" /usr/bin/time -v "$blast" api --io "$1" --cores 1 --conns "$conns" --rate "$2" \
    --duration "${secs}s" --warmup 1s --target "$url" --quiet --json "$work/b.json" >/dev/null 2>"$work/b.time" || true
  if [ ! -s "$work/b.json" ]; then ok=0 ach=0 p99=- us=nan user_us=nan sys_us=nan io_words="no report"; return; fi
  read -r ach ratio p99 sent io_words < <(python3 -c "import json,sys;j=json.load(open(sys.argv[1]));print(round(j['achieved_rate']),j['rate_ratio'],j['latency_ms']['p99'],j['requests']['sent'],j['plan']['io'])" "$work/b.json")
  read -r us user_us sys_us < <(python3 - "$work/b.time" "$sent" "$secs" <<'PY'
import sys, re
t = open(sys.argv[1]).read()
u = float(re.search(r"User time \(seconds\): ([\d.]+)", t).group(1))
s = float(re.search(r"System time \(seconds\): ([\d.]+)", t).group(1))
n, secs = float(sys.argv[2]), float(sys.argv[3])
n = n * (secs + 1) / secs  # the warm-up second's requests too
f = lambda c: f"{c * 1e6 / n:.2f}" if n > 0 else "nan"
print(f(u + s), f(u), f(s))
PY
)
  ok=$(python3 -c "import sys;print(1 if float(sys.argv[1])>=0.99 and float(sys.argv[2])<=float(sys.argv[3]) else 0)" "$ratio" "$p99" "$p99_ok")
}

echo "## bench/backends.sh, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc --all) cores online, Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- command: CLIENT_CPU=$client_cpu TARGET_CPU=$target_cpu CONNS=$conns P99_OK_MS=$p99_ok SEARCH_STEPS=$steps BACKENDS=\"$backends\" bench/backends.sh $secs ${rates[*]}"
echo "- blast $(git rev-parse --short HEAD 2>/dev/null || echo '?') ($blast); target nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///'), 1 worker on CPU $target_cpu"
echo
echo "| --io | rate | achieved req/s | p99 ms | CPU µs/request (user + sys) | plan line's io |"
echo "|---|---|---|---|---|---|"
declare -A at=() max=()
for io in $backends; do
  for rate in "${rates[@]}"; do
    run "$io" "$rate"
    at[$io,$rate]=$us
    echo "| $io | $rate/s | $ach | $p99 | $us ($user_us + $sys_us) | $io_words |"
  done
  lo=${LO:-40000} hi=${HI:-200000} best=0 best_us=nan
  run "$io" "$lo"
  if [ "$ok" = 1 ]; then
    best=$lo best_us=$us
    for _ in $(seq "$steps"); do
      mid=$(((lo + hi) / 2))
      run "$io" "$mid"
      if [ "$ok" = 1 ]; then lo=$mid best=$mid best_us=$us; else hi=$mid; fi
    done
  fi
  max[$io]=$best
  echo "| $io | max (>=99%, p99 <= $p99_ok ms) | $best | - | $best_us | |"
done
echo
first=${backends%% *}
for io in $backends; do
  [ "$io" = "$first" ] && continue
  line="- $io / $first:"
  for rate in "${rates[@]}"; do
    line+=" CPU/request at $rate/s $(python3 -c "import sys;a,b=sys.argv[1],sys.argv[2];print(f'{float(a)/float(b):.3f}' if 'nan' not in (a,b) else 'nan')" "${at[$io,$rate]}" "${at[$first,$rate]}");"
  done
  line+=" max on one core $(python3 -c "import sys;a,b=float(sys.argv[1]),float(sys.argv[2]);print(f'{a/b:.3f}' if b>0 else 'nan')" "${max[$io]}" "${max[$first]}") (${max[$io]} vs ${max[$first]}/s)"
  echo "$line"
done
