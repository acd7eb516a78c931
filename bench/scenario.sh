#!/usr/bin/env bash
# Scenarios against the single-request path, in one run on this machine, against `blast serve`:
# 1. Highest rate: `blast api` with its one request vs the 10:1 POST/GET scenario, both asked for
#    more than the machine can do (--rate far above capacity), achieved rate and blast's CPU per
#    request compared (target: the mix >= 90% of the single request's maximum).
# 2. Uploads: `blast upload` (S3 multipart to serve's S3 endpoint) vs the same bytes through the
#    application's API as a scenario flow (initiate, chunks, complete) to serve's /v1/files
#    (target: the flow >= 80% of the S3 MB/s), with peak client memory for each.
# Both upload rates are the objects' bytes over the wall time of the blast process (start-up,
# bucket creation and login included, the same for both).
# Usage: bench/scenario.sh [seconds] [uploads] [object size MiB]   (needs cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
uploads=${2:-8}
mib=${3:-256}
blast=./target/release/blast
port=18199
s3port=18198
$blast serve --listen 127.0.0.1:$port --s3-listen 127.0.0.1:$s3port --exit-after $((secs * 10 + 300))s >/dev/null &
server=$!
dir=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
sleep 0.5
scripts/make-users.sh 100 "$dir/users.csv"

cpu() { awk '/User time/{u=$4} /System time/{s=$4} END{printf "%.3f", u+s}' "$1"; }
rss() { awk '/Maximum resident/{printf "%.0f", $6/1024}' "$1"; }
json() { python3 -c "import json,sys;j=json.load(open('$1'));print($2)"; }

cat >"$dir/mix.toml" <<TOML
workload = "api"
[args]
target = "http://127.0.0.1:$port"
[data]
users = { file = "users.csv" }
[[request]]
name = "POST /v1/messages"
weight = 10
method = "POST"
path = "/v1/messages"
body = '{"conversation_id":"{{user.conversation}}","sender_id":"bench","content":"load test message"}'
[[request]]
name = "GET /v1/conversations"
weight = 1
method = "GET"
path = "/v1/conversations?limit=20"
TOML

rate=300000
printf "| run | asked | achieved req/s | p99 ms | client CPU s | CPU µs/request |\n|---|---|---|---|---|---|\n"
/usr/bin/time -v $blast api --rate $rate --duration "${secs}s" --conns 64 --max-queue 20000 \
  --target "http://127.0.0.1:$port/v1/messages" -q --json "$dir/one.json" >/dev/null 2>"$dir/one.time" || true
one=$(json "$dir/one.json" "j['achieved_rate']"); one_sent=$(json "$dir/one.json" "j['requests']['sent']")
one_cpu=$(cpu "$dir/one.time"); one_us=$(echo "$one_cpu * 1000000 / $one_sent" | bc -l)
printf "| one request (POST /v1/messages) | %s/s | %.0f | %s | %s | %.2f |\n" $rate "$one" "$(json "$dir/one.json" "j['latency_ms']['p99']")" "$one_cpu" "$one_us"
sleep 2
/usr/bin/time -v $blast run "$dir/mix.toml" --rate $rate --duration "${secs}s" --conns 64 --max-queue 20000 \
  -q --json "$dir/mix.json" >/dev/null 2>"$dir/mix.time" || true
mix=$(json "$dir/mix.json" "j['achieved_rate']"); mix_sent=$(json "$dir/mix.json" "j['requests']['sent']")
mix_cpu=$(cpu "$dir/mix.time"); mix_us=$(echo "$mix_cpu * 1000000 / $mix_sent" | bc -l)
printf "| 10:1 scenario (POST + GET, per-user data) | %s/s | %.0f | %s | %s | %.2f |\n" $rate "$mix" "$(json "$dir/mix.json" "j['latency_ms']['p99']")" "$mix_cpu" "$mix_us"
echo
echo "- mix / single maximum rate: $(printf %.3f "$(echo "$mix / $one" | bc -l)") (target >= 0.90); CPU per request mix/single: $(printf %.2f "$(echo "$mix_us / $one_us" | bc -l)")"
sleep 2

size=$((mib * 1024 * 1024))
chunks=$((mib / 8))
cat >"$dir/upload.toml" <<TOML
workload = "api"
[args]
target = "http://127.0.0.1:$port"
rate = $((uploads * 100))     # all uploads start within the first 10 ms, as blast upload's do
duration = "10ms"
conns = $uploads
timeout = "60s"
[[flow]]
name = "upload"
steps = [
  { name = "initiate", method = "POST", path = "/v1/files/initiate", body = '{"size":$size,"chunk_size":8388608}', capture = { upload_id = "/upload_id" } },
  { name = "chunk", method = "POST", path = "/v1/files/{{upload_id}}/chunks?index={{i}}", body = { random_bytes = "8M" }, repeat = $chunks },
  { name = "complete", method = "POST", path = "/v1/files/{{upload_id}}/complete" },
]
TOML
echo
printf "| upload path | objects | MB/s (bytes / wall time of the process) | client CPU s | peak RSS MiB |\n|---|---|---|---|---|\n"
start=$(date +%s.%N)
/usr/bin/time -v $blast upload --target "http://127.0.0.1:$s3port" --size "${mib}M" --part-size 8M \
  --parallel "$uploads" --uploads "$uploads" -q --json "$dir/s3.json" >/dev/null 2>"$dir/s3.time" || true
end=$(date +%s.%N)
s3=$(echo "$uploads * $size / 1000000 / ($end - $start)" | bc -l)
printf "| blast upload (S3 multipart, SigV4) | %s x %s MiB | %.1f | %s | %s |\n" "$uploads" "$mib" "$s3" "$(cpu "$dir/s3.time")" "$(rss "$dir/s3.time")"
sleep 2
start=$(date +%s.%N)
/usr/bin/time -v $blast run "$dir/upload.toml" -q --json "$dir/flow.json" >/dev/null 2>"$dir/flow.time" || true
end=$(date +%s.%N)
flow=$(echo "$uploads * $size / 1000000 / ($end - $start)" | bc -l)
printf "| scenario flow (application API: initiate, %s chunks, complete) | %s x %s MiB | %.1f | %s | %s |\n" "$chunks" "$uploads" "$mib" "$flow" "$(cpu "$dir/flow.time")" "$(rss "$dir/flow.time")"
echo
echo "- flow / S3 MB/s: $(printf %.3f "$(echo "$flow / $s3" | bc -l)") (target >= 0.80); failed steps: $(json "$dir/flow.json" "j['requests']['failed']")"
