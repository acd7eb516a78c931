#!/usr/bin/env bash
# Uploads through an application's API as multipart chunks (the scenario flow of the README:
# initiate, `split` chunks as the multipart part `chunk` with a `chunk_index` field, complete
# checked against `{{sent_sha256}}`) vs `blast upload` (S3 multipart, SigV4) to `blast serve`'s
# S3 endpoint, the reference. Like with like: the same server process, the same number of
# uploads in flight (one connection each, parts/chunks one after the other), 10 MiB parts, all
# uploads started at once.
#
# Runs alternate (upload, flow, upload, flow, ...) so both see the same machine; each run's
# MB/s = the objects' bytes (10^6) / wall time of the blast process (start-up included, the
# same for both); client CPU and peak RSS from /usr/bin/time; server CPU from /proc (the
# server's utime + stime over the run: blast serve's, or uvicorn's for the FastAPI run). Prints every run, then the medians and their ratio.
# Every flow upload must pass its SHA-256 check (failed steps are printed).
#
# Optionally (app MiB > 0) the flow also goes to a FastAPI app under uvicorn
# (bench/upload_app.py: UploadFile, python-multipart parses each chunk), once.
#
# Usage: bench/upload-api.sh [uploads] [object MiB] [rounds] [FastAPI object MiB, 0: skip]
#   BLAST=path/to/blast (default ./target/release/blast), PYTHON=venv python with fastapi,
#   uvicorn and python-multipart (default ~/.cache/blast-ci/venv/bin/python, as .ci/run makes it).
#   NOHASH=1 adds a third run per round: the flow without the `{{sent_sha256}}` check (the
#   client hashes nothing; the server still does), to show what the client's hashing costs.
set -euo pipefail
cd "$(dirname "$0")/.."
uploads=${1:-8}
mib=${2:-1024}
rounds=${3:-3}
app_mib=${4:-0}
blast=${BLAST:-./target/release/blast}
python=${PYTHON:-$HOME/.cache/blast-ci/venv/bin/python}
port=18189
s3port=18188
appport=18187
dir=$(mktemp -d)
$blast serve --listen 127.0.0.1:$port --s3-listen 127.0.0.1:$s3port --exit-after 3600s >/dev/null &
server=$!
app=
if [ "$app_mib" -gt 0 ]; then
  (cd bench && exec "$python" -m uvicorn upload_app:app --host 127.0.0.1 --port $appport --log-level warning) &
  app=$!
fi
trap 'kill $server $app 2>/dev/null || true; rm -rf "$dir"' EXIT
sleep 2

tck=$(getconf CLK_TCK)
srv=$server # the process whose CPU is the "server CPU" of a run
server_ticks() { awk '{print $14 + $15}' "/proc/$srv/stat"; }
cpu() { awk '/User time/{u=$4} /System time/{s=$4} END{printf "%.2f", u+s}' "$1"; }
rss() { awk '/Maximum resident/{printf "%.0f", $6/1024}' "$1"; }
json() { python3 -c "import json,sys;j=json.load(open('$1'));print($2)"; }
median() { sort -g | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# flow FILE TARGET N MIB CHECK: the multipart upload flow, N uploads of MIB MiB in 10 MiB
# chunks (the last one the remainder), all started within the first 10 ms, as blast upload's
# are; CHECK=1: complete is checked against {{sent_sha256}}.
flow() {
  local expect='expect = { status = [200, 201], json = { "/sha256" = "{{sent_sha256}}" } }'
  [ "$5" = 1 ] || expect='expect = { status = [200, 201] }'
  cat >"$1" <<TOML
workload = "api"
[args]
target = "$2"
rate = $(($3 * 100))
duration = "10ms"
conns = $3
timeout = "300s"
[[flow]]
name = "upload"
steps = [
  { name = "POST /v1/files/initiate", path = "/v1/files/initiate",
    json = { filename = "bench-{{seq}}.bin", size = $(($4 * 1048576)), chunk_size = 10485760 },
    capture = { upload_id = "/upload_id" }, expect = { status = [201] } },
  { name = "POST /v1/files/{id}/chunks", path = "/v1/files/{{upload_id}}/chunks",
    split = { total = "$4M", chunk = "10M" },
    multipart = [ { name = "chunk_index", value = "{{i}}" },
                  { name = "chunk", filename = "chunk-{{i}}.bin", content_type = "application/octet-stream", chunk = true } ] },
  { name = "POST /v1/files/{id}/complete", path = "/v1/files/{{upload_id}}/complete",
    $expect },
]
TOML
}
flow "$dir/flow.toml" "http://127.0.0.1:$port" "$uploads" "$mib" 1
flow "$dir/nohash.toml" "http://127.0.0.1:$port" "$uploads" "$mib" 0

# measure KIND N MIB LABEL CMD...: runs CMD under /usr/bin/time; appends "mbs client_cpu
# server_cpu rss" to $dir/KIND.runs and prints the run's row.
measure() {
  local kind=$1 n=$2 m=$3 label=$4 start end t0 t1 mbs scpu
  shift 4
  t0=$(server_ticks)
  start=$(date +%s.%N)
  /usr/bin/time -v "$@" >/dev/null 2>"$dir/$kind.time" || true
  end=$(date +%s.%N)
  t1=$(server_ticks)
  mbs=$(echo "$n * $m * 1048576 / 1000000 / ($end - $start)" | bc -l)
  scpu=$(echo "($t1 - $t0) / $tck" | bc -l)
  printf "| %s | %s x %s MiB | %.1f | %s | %.2f | %s | %s |\n" "$label" "$n" "$m" "$mbs" "$(cpu "$dir/$kind.time")" \
    "$scpu" "$(rss "$dir/$kind.time")" "$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "$mbs $(cpu "$dir/$kind.time") $scpu $(rss "$dir/$kind.time")" >>"$dir/$kind.runs"
}

check() { # JSON report of a flow run: every upload must have passed
  local ok failed
  ok=$(json "$1" "[n['requests']['ok'] for n in j['names'] if n['name']=='upload'][0]")
  failed=$(json "$1" "j['requests']['failed']")
  [ "$ok" = "$uploads" ] && [ "$failed" = 0 ] || echo "!! $1: upload flows ok $ok of $uploads, failed steps $failed" >&2
}

printf "| run | objects | MB/s (10^6 B / wall s of the process) | client CPU s | server CPU s | peak RSS MiB | load 1/5/15 min |\n|---|---|---|---|---|---|---|\n"
for _ in $(seq "$rounds"); do
  measure s3 "$uploads" "$mib" "blast upload -> serve S3 (SigV4)" \
    $blast upload --target "http://127.0.0.1:$s3port" --size "${mib}M" --part-size 10M \
    --parallel "$uploads" --uploads "$uploads" -q
  sleep 1
  measure flow "$uploads" "$mib" "multipart flow -> serve /v1/files (SHA-256 checked)" \
    $blast run "$dir/flow.toml" -q --json "$dir/flow.json"
  check "$dir/flow.json"
  sleep 1
  if [ "${NOHASH:-0}" = 1 ]; then
    measure nohash "$uploads" "$mib" "multipart flow, no {{sent_sha256}} check" \
      $blast run "$dir/nohash.toml" -q --json "$dir/nohash.json"
    check "$dir/nohash.json"
    sleep 1
  fi
done
if [ -n "$app" ]; then
  flow "$dir/app.toml" "http://127.0.0.1:$appport" "$uploads" "$app_mib" 1
  srv=$app
  measure app "$uploads" "$app_mib" "multipart flow -> FastAPI + python-multipart (1 worker)" \
    $blast run "$dir/app.toml" -q --json "$dir/app.json"
  check "$dir/app.json"
fi
echo
col() { awk "{print \$$2}" "$dir/$1.runs" | median; }
for k in s3 flow nohash; do
  [ -f "$dir/$k.runs" ] || continue
  printf -- "- median of %s runs, %s: %.1f MB/s, client CPU %.2f s, server CPU %.2f s, peak RSS %s MiB\n" \
    "$(wc -l <"$dir/$k.runs")" "$k" "$(col $k 1)" "$(col $k 2)" "$(col $k 3)" "$(col $k 4)"
done
printf -- "- flow / blast upload, median MB/s: %.2f\n" "$(echo "$(col flow 1) / $(col s3 1)" | bc -l)"
