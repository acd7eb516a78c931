#!/usr/bin/env bash
# Fuzzes the parsers of what blast reads from the network (HTTP/1.1 responses, S3 error bodies)
# with cargo-fuzz / libFuzzer, for a bounded time per target, and prints executions and findings.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). Runs on the stable toolchain without a
# sanitizer (-s none: blast has no unsafe code in these parsers, so ASan adds little); crashes
# land in fuzz/artifacts/<target>/ and make the script exit 1.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
command -v cargo-fuzz >/dev/null || { echo "fuzz.sh: cargo install cargo-fuzz first" >&2; exit 2; }
status=0
for target in http_response s3_error; do
  mkdir -p "corpus/$target"
  if [ "$target" = http_response ] && [ -z "$(ls -A corpus/$target)" ]; then
    # Seeds: a few valid responses (first byte picks the split size).
    printf '\x07HTTP/1.1 202 Accepted\r\nContent-Length: 21\r\n\r\n{"status":"accepted"}' > corpus/$target/length
    printf '\x03HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' > corpus/$target/chunked
    printf '\x01HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n' > corpus/$target/close
  fi
  echo "== $target for ${secs}s"
  set +e
  cargo fuzz run -s none "$target" "corpus/$target" -- -max_total_time="$secs" -print_final_stats=1 \
    > "/tmp/blast-fuzz-$target.log" 2>&1
  code=$?
  set -e
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs" "/tmp/blast-fuzz-$target.log" || true
  if [ $code -ne 0 ]; then
    echo "   FINDING: see /tmp/blast-fuzz-$target.log and fuzz/artifacts/$target/"
    status=1
  else
    echo "   no crash"
  fi
done
exit $status
