#!/usr/bin/env bash
# Writes a users file for scenarios: a header (name,password,conversation) and N users, one per
# line. Scenario templates read the columns as {{user.name}}, {{user.password}},
# {{user.conversation}}; each virtual user is one row.
# Usage: scripts/make-users.sh N [FILE] [CONVERSATIONS]   (default FILE: stdout, 100 conversations)
set -euo pipefail
n=${1:?usage: scripts/make-users.sh N [FILE] [CONVERSATIONS]}
out=${2:--}
convs=${3:-100}
case "$n$convs" in *[!0-9]*) echo "make-users.sh: N and CONVERSATIONS must be whole numbers" >&2; exit 2 ;; esac
[ "$n" -ge 1 ] && [ "$convs" -ge 1 ] || { echo "make-users.sh: N and CONVERSATIONS must be at least 1" >&2; exit 2; }
gen() {
  echo "name,password,conversation"
  awk -v n="$n" -v c="$convs" 'BEGIN { for (i = 0; i < n; i++) printf "user%05d,pw-%05d,conv-%d\n", i, i, i % c }'
}
if [ "$out" = - ]; then gen; else gen >"$out"; fi
