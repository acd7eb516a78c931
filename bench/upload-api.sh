#!/usr/bin/env bash
# Uploads through an application's API as multipart chunks (the scenario flow of the README:
# initiate, `split` chunks as the multipart part `chunk` with a `chunk_index` field, complete
# checked against `{{sent_sha256}}`) against two servers, and `blast upload` (S3 multipart,
# SigV4) to `blast serve`'s S3 endpoint as the reference:
# 1. blast upload -> blast serve's S3 endpoint;
# 2. the flow -> blast serve's /v1/files (its own multipart parser, hashing as it streams);
# 3. the flow -> a FastAPI app under uvicorn (bench/upload_app.py: UploadFile, python-multipart).
# MB/s = the objects' bytes / wall time of the blast process (start-up included, the same for
# all); peak RSS and CPU of the blast process from /usr/bin/time -v. Every flow upload must pass
# its SHA-256 check (failed steps are printed).
# Usage: bench/upload-api.sh [uploads] [object MiB] [FastAPI object MiB]
#   BLAST=path/to/blast (default ./target/release/blast), PYTHON=venv python with fastapi,
#   uvicorn and python-multipart (default ~/.cache/blast-ci/venv/bin/python, as .ci/run makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
uploads=${1:-8}
mib=${2:-256}
app_mib=${3:-64}
blast=${BLAST:-./target/release/blast}
python=${PYTHON:-$HOME/.cache/blast-ci/venv/bin/python}
port=18189
s3port=18188
appport=18187
dir=$(mktemp -d)
$blast serve --listen 127.0.0.1:$port --s3-listen 127.0.0.1:$s3port --exit-after 900s >/dev/null &
server=$!
(cd bench && exec "$python" -m uvicorn upload_app:app --host 127.0.0.1 --port $appport --log-level warning) &
app=$!
trap 'kill $server $app 2>/dev/null || true; rm -rf "$dir"' EXIT
sleep 2

cpu() { awk '/User time/{u=$4} /System time/{s=$4} END{printf "%.2f", u+s}' "$1"; }
rss() { awk '/Maximum resident/{printf "%.0f", $6/1024}' "$1"; }
json() { python3 -c "import json,sys;j=json.load(open('$1'));print($2)"; }

# flow TARGET N MIB: the multipart upload flow, N uploads of MIB MiB in 10 MiB chunks (the last
# one the remainder), all started within the first 10 ms, as blast upload's are.
flow() {
  cat >"$dir/flow.toml" <<TOML
workload = "api"
[args]
target = "$1"
rate = $(($2 * 100))
duration = "10ms"
conns = $2
timeout = "120s"
[[flow]]
name = "upload"
steps = [
  { name = "POST /v1/files/initiate", path = "/v1/files/initiate",
    json = { filename = "bench-{{seq}}.bin", size = $(($3 * 1048576)), chunk_size = 10485760 },
    capture = { upload_id = "/upload_id" }, expect = { status = [201] } },
  { name = "POST /v1/files/{id}/chunks", path = "/v1/files/{{upload_id}}/chunks",
    split = { total = "$3M", chunk = "10M" },
    multipart = [ { name = "chunk_index", value = "{{i}}" },
                  { name = "chunk", filename = "chunk-{{i}}.bin", content_type = "application/octet-stream", chunk = true } ] },
  { name = "POST /v1/files/{id}/complete", path = "/v1/files/{{upload_id}}/complete",
    expect = { status = [200, 201], json = { "/sha256" = "{{sent_sha256}}" } } },
]
TOML
}

row() { # label uploads mib json time start end
  local mbs
  mbs=$(echo "$2 * $3 * 1048576 / 1000000 / ($7 - $6)" | bc -l)
  printf "| %s | %s x %s MiB | %.1f | %s | %s |\n" "$1" "$2" "$3" "$mbs" "$(cpu "$5")" "$(rss "$5")"
  echo "$mbs" >"$4.mbs"
}

printf "| upload path | objects | MB/s (bytes / wall time of the process) | client CPU s | peak RSS MiB |\n|---|---|---|---|---|\n"
start=$(date +%s.%N)
/usr/bin/time -v $blast upload --target "http://127.0.0.1:$s3port" --size "${mib}M" --part-size 10M \
  --parallel "$uploads" --uploads "$uploads" -q --json "$dir/s3.json" >/dev/null 2>"$dir/s3.time" || true
row "blast upload -> blast serve S3 (SigV4, 10 MiB parts)" "$uploads" "$mib" "$dir/s3" "$dir/s3.time" "$start" "$(date +%s.%N)"
sleep 2
flow "http://127.0.0.1:$port" "$uploads" "$mib"
start=$(date +%s.%N)
/usr/bin/time -v $blast run "$dir/flow.toml" -q --json "$dir/serve.json" >/dev/null 2>"$dir/serve.time" || true
row "multipart flow -> blast serve /v1/files" "$uploads" "$mib" "$dir/serve" "$dir/serve.time" "$start" "$(date +%s.%N)"
sleep 2
flow "http://127.0.0.1:$appport" "$uploads" "$app_mib"
start=$(date +%s.%N)
/usr/bin/time -v $blast run "$dir/flow.toml" -q --json "$dir/app.json" >/dev/null 2>"$dir/app.time" || true
row "multipart flow -> FastAPI + python-multipart (uvicorn, 1 worker)" "$uploads" "$app_mib" "$dir/app" "$dir/app.time" "$start" "$(date +%s.%N)"
echo
s3=$(cat "$dir/s3.mbs"); serve=$(cat "$dir/serve.mbs"); fa=$(cat "$dir/app.mbs")
echo "- flow to blast serve / blast upload MB/s: $(printf %.2f "$(echo "$serve / $s3" | bc -l)"); flow to FastAPI / blast upload: $(printf %.3f "$(echo "$fa / $s3" | bc -l)")"
for r in serve app; do
  echo "- $r: upload flows ok $(json "$dir/$r.json" "[n['requests']['ok'] for n in j['names'] if n['name']=='upload'][0]") of $uploads, failed steps $(json "$dir/$r.json" "j['requests']['failed']"), chunks sent $(json "$dir/$r.json" "[n['bytes']['sent'] for n in j['names'] if n['name']=='POST /v1/files/{id}/chunks'][0]") bytes"
done
