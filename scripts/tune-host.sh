#!/usr/bin/env bash
# Host tuning for large blast runs. Prints what it would change; pass --apply to change it.
# Everything here affects the whole machine until reboot; nothing is written to /etc.
set -euo pipefail
apply=false
[ "${1:-}" = "--apply" ] && apply=true

run() {
  echo "  $*"
  if $apply; then "$@"; fi
}

echo "File descriptors: every connection needs one, in blast and in the target."
echo "  current soft/hard limit of this shell: $(ulimit -Sn)/$(ulimit -Hn)"
echo "  blast raises its own soft limit to the hard limit when --conns needs it;"
echo "  raise the hard limit in /etc/security/limits.conf (nofile) for more than $(ulimit -Hn)."
echo
echo "Ephemeral ports: each source/destination address pair has about this many:"
echo "  $(cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo unknown)"
echo "  Widening the range gives ~64K per pair; beyond that use blast ws --bind 127.0.0.1,127.0.0.2,..."
run sysctl -w net.ipv4.ip_local_port_range="1024 65535"
echo
echo "Accept backlog: bursts of connects overflow a short queue and wait a 1 s SYN retransmit."
run sysctl -w net.core.somaxconn=4096
run sysctl -w net.ipv4.tcp_max_syn_backlog=8192
echo
echo "TIME_WAIT: short runs that open and close many connections can reuse them sooner."
run sysctl -w net.ipv4.tcp_tw_reuse=1
$apply || echo "(dry run: pass --apply to make these changes)"
