#!/usr/bin/env bash
# Runs the accuracy (with io_backends) and fault suites N times in a row (default 20) while another process keeps
# one core busy, and stops at the first failure: the timing tests must not flake on a shared
# machine. Usage: scripts/soak-tests.sh [N]
#   BUSY_CORE=0   which core the busy loop is pinned to (default 0)
#   SUITES="accuracy io_backends faults"   modules of the test binary to run (tests/it/NAME.rs;
#   io_backends holds the 1 ms delay and the rates up to 5,000/s on each backend)
set -euo pipefail
cd "$(dirname "$0")/.."

n="${1:-20}"
case "$n" in '' | *[!0-9]*) echo "soak-tests: N must be a whole number, got '$n'" >&2; exit 2 ;; esac
core="${BUSY_CORE:-0}"
suites="${SUITES:-accuracy io_backends faults}"

# The suites are modules of the one test binary (tests/it): each is a filter on test names.
filters=()
for s in $suites; do
    [ "$s" != main ] && [ -f "tests/it/$s.rs" ] || { echo "soak-tests: '$s' is not a test module (tests/it/NAME.rs)" >&2; exit 2; }
    filters+=("$s::")
done
# Build once (the README's test profile), outside the timed loop. Logs go where cargo builds
# (CARGO_TARGET_DIR or target/).
nice -n 19 cargo test --profile test-ci --test it --no-run
logs="${CARGO_TARGET_DIR:-target}"

# One core kept busy for the whole soak; stopped however the script ends.
taskset -c "$core" yes > /dev/null &
busy=$!
trap 'kill "$busy" 2>/dev/null || true' EXIT

for i in $(seq 1 "$n"); do
    started=$(date +%s)
    if ! cargo test --profile test-ci --test it -- --test-threads=1 "${filters[@]}" > "$logs/soak-$i.log" 2>&1; then
        echo "soak-tests: run $i of $n FAILED (log: $logs/soak-$i.log)"
        grep -E "^test .* FAILED|panicked" "$logs/soak-$i.log" || true
        exit 1
    fi
    echo "soak-tests: run $i of $n passed in $(( $(date +%s) - started )) s"
done
echo "soak-tests: $n of $n runs passed with core $core kept busy"
