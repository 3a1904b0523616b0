#!/usr/bin/env bash
# Topology benchmark (issues 3, 25): N hosts (N = 1, 10, 100, 1000), each a netns with a veth pair to
# a bridge in a "switch" netns, an address, links up and a default route, then torn down.
# Side by side in one run, interleaved: nsr (benches/topology.nsr), a shell script with
# one `ip` call per operation, and the same operations through `ip -batch` (one ip
# process per namespace it works in). Prints milliseconds per host for set-up and
# teardown, and the ratios; then how per-host cost grows with N (nsr's N=1000 against
# its N=100). The NAT section: a port forward per host in one router netns, nsr
# (benches/nat.nsr) against one `nft -f` of the same rules and one `nft` per rule.
# Everything happens inside namespaces the benchmark creates.
# Run as root:  bash benches/topology.sh [ROUNDS] [SIZES]   (default 5, "1 10 100 1000";
# N=1000 runs once per round set, as its rounds take seconds each)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
sizes=${2:-1 10 100 1000}
cargo build --release --quiet
nsr=$PWD/target/x86_64-unknown-linux-gnu/release/nsr
p=nsrb$$
# `ip netns add` leaves /run/netns mounted; leave the host as the benchmark found it.
had_dir=0; [ -d /run/netns ] && had_dir=1
if ! findmnt -n /run/netns >/dev/null; then
  trap 'if [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then umount /run/netns 2>/dev/null; [ $had_dir = 1 ] || rmdir /run/netns 2>/dev/null; fi; true' EXIT
fi
ns() { date +%s%N; }

addr() { echo "10.200.$(($1 / 250)).$(($1 % 250 + 2))/16"; }

# A switch (a netns with a bridge) per 1,000 hosts: a bridge takes at most 1,024 ports.
switches() { echo $((($1 + 999) / 1000)); }

shell_setup() {
  for ((s = 0; s < $(switches $1); s++)); do
    ip netns add ${p}sw$s
    ip -n ${p}sw$s link add br0 type bridge
    ip -n ${p}sw$s addr add 10.200.0.1/16 dev br0
    ip -n ${p}sw$s link set br0 up
  done
  for ((i = 1; i <= $1; i++)); do
    sw=${p}sw$(((i - 1) / 1000))
    ip netns add ${p}h$i
    ip -n $sw link add v$i type veth peer name eth0 netns ${p}h$i
    ip -n $sw link set v$i master br0
    ip -n $sw link set v$i up
    ip -n ${p}h$i addr add "$(addr $i)" dev eth0
    ip -n ${p}h$i link set eth0 up
    ip -n ${p}h$i link set lo up
    ip -n ${p}h$i route add default via 10.200.0.1
  done
}

shell_teardown() {
  for ((i = 1; i <= $1; i++)); do ip netns del ${p}h$i; done
  for ((s = 0; s < $(switches $1); s++)); do ip netns del ${p}sw$s; done
}

# ip -batch: one ip process for the host side, one per host namespace (ip -batch
# cannot switch namespaces in the middle of a batch).
batch_setup() {
  { for ((s = 0; s < $(switches $1); s++)); do echo "netns add ${p}sw$s"; done
    for ((i = 1; i <= $1; i++)); do echo "netns add ${p}h$i"; done; } | ip -batch -
  for ((s = 0; s < $(switches $1); s++)); do
    { echo "link add br0 type bridge"
      echo "addr add 10.200.0.1/16 dev br0"
      echo "link set br0 up"
      for ((i = s * 1000 + 1; i <= $1 && i <= (s + 1) * 1000; i++)); do
        echo "link add v$i type veth peer name eth0 netns ${p}h$i"
        echo "link set v$i master br0"
        echo "link set v$i up"
      done; } | ip -n ${p}sw$s -batch -
  done
  for ((i = 1; i <= $1; i++)); do
    printf '%s\n' "addr add $(addr $i) dev eth0" "link set eth0 up" "link set lo up" \
      "route add default via 10.200.0.1" | ip -n ${p}h$i -batch -
  done
}

batch_teardown() {
  { for ((i = 1; i <= $1; i++)); do echo "netns del ${p}h$i"; done
    for ((s = 0; s < $(switches $1); s++)); do echo "netns del ${p}sw$s"; done; } | ip -batch -
}

# Waits until the kernel has really removed the namespaces' links, as nsr does.
settle() { while ip -o link show | grep -q "${p}"; do sleep 0.001; done; }
# The kernel frees deleted namespaces in the background; let it finish before the next
# tool starts, so that no tool pays for another's cleanup.
quiesce() { sleep "$(awk -v n=$1 'BEGIN { print 0.1 + n * 0.004 }')"; }

printf '%-6s %-10s %12s %12s %12s\n' hosts tool "setup ms/h" "teardown ms/h" "total ms"
declare -A per_host
for n in $sizes; do
  s_nsr=0; t_nsr=0; s_sh=0; t_sh=0; s_b=0; t_b=0
  rr=$rounds; ((n >= 1000)) && rr=1
  for ((r = 0; r < rr; r++)); do
    a=$(ns); out=$("$nsr" run benches/topology.nsr n=$n p=$p); b=$(ns)
    setup_ns=$(awk -F= '/setup_ms=/ { printf "%.0f", $2 * 1e6 }' <<<"$out")
    s_nsr=$((s_nsr + setup_ns)); t_nsr=$((t_nsr + b - a - setup_ns)); quiesce $n
    a=$(ns); shell_setup $n; b=$(ns); shell_teardown $n; settle; c=$(ns)
    s_sh=$((s_sh + b - a)); t_sh=$((t_sh + c - b)); quiesce $n
    a=$(ns); batch_setup $n; b=$(ns); batch_teardown $n; settle; c=$(ns)
    s_b=$((s_b + b - a)); t_b=$((t_b + c - b)); quiesce $n
  done
  per_host[$n]=$(awk -v s=$s_nsr -v r=$rr -v n=$n 'BEGIN { printf "%.3f", s / r / n / 1e6 }')
  awk -v n=$n -v r=$rr -v sn=$s_nsr -v tn=$t_nsr -v ss=$s_sh -v ts=$t_sh -v sb=$s_b -v tb=$t_b 'BEGIN {
    d = r * n * 1e6
    printf "%-6d %-10s %12.3f %12.3f %12.1f\n", n, "nsr", sn / d, tn / d, (sn + tn) / r / 1e6
    printf "%-6d %-10s %12.3f %12.3f %12.1f\n", n, "ip", ss / d, ts / d, (ss + ts) / r / 1e6
    printf "%-6d %-10s %12.3f %12.3f %12.1f\n", n, "ip -batch", sb / d, tb / d, (sb + tb) / r / 1e6
    printf "%-6d ratios: ip/nsr setup %.1fx, total %.1fx; ip-batch/nsr setup %.1fx, total %.1fx\n", n, ss / sn, (ss + ts) / (sn + tn), sb / sn, (sb + tb) / (sn + tn)
  }'
done

if [ -n "${per_host[100]:-}" ] && [ -n "${per_host[1000]:-}" ]; then
  awk -v a="${per_host[100]}" -v b="${per_host[1000]}" 'BEGIN {
    printf "growth: nsr set-up per host at N=1000 %.3f ms, at N=100 %.3f ms: %.2fx\n", b, a, b / a }'
fi

# NAT: N port forwards in one netns. nft gets the same rules nsr makes (one table, a
# prerouting chain, the rules), once as one `nft -f` transaction and once one process
# per rule, as a shell script of `nft add rule` lines does.
nat_rules() {
  echo "create table inet nsrbench"
  echo "add chain inet nsrbench prerouting { type nat hook prerouting priority dstnat; policy accept; }"
  for ((i = 1; i <= $1; i++)); do
    echo "add rule inet nsrbench prerouting iifname \"br0\" tcp dport $((10000 + i)) dnat ip to 10.200.$((i / 250)).$((i % 250 + 2)):80"
  done
}
printf '\n%-6s %-14s %12s\n' rules tool "set-up ms"
for n in 100 1000; do
  a_nsr=0; a_f=0; a_each=0
  for ((r = 0; r < rounds; r++)); do
    out=$("$nsr" run benches/nat.nsr n=$n p=$p)
    a_nsr=$((a_nsr + $(awk -F= '/nat_ms=/ { printf "%.0f", $2 * 1e6 }' <<<"$out")))
    ip netns add ${p}rt
    nat_rules $n > /tmp/$p.nft
    a=$(ns); ip netns exec ${p}rt nft -f /tmp/$p.nft; b=$(ns)
    a_f=$((a_f + b - a))
    ip netns exec ${p}rt nft delete table inet nsrbench
    if ((n <= 100)); then
      head -2 /tmp/$p.nft | ip netns exec ${p}rt nft -f -
      a=$(ns)
      tail -n +3 /tmp/$p.nft | while read -r line; do ip netns exec ${p}rt nft "$line"; done
      b=$(ns); a_each=$((a_each + b - a))
    fi
    ip netns del ${p}rt; rm -f /tmp/$p.nft
  done
  awk -v n=$n -v r=$rounds -v a=$a_nsr -v f=$a_f -v e=$a_each 'BEGIN {
    printf "%-6d %-14s %12.1f\n", n, "nsr", a / r / 1e6
    printf "%-6d %-14s %12.1f\n", n, "nft -f", f / r / 1e6
    if (e > 0) printf "%-6d %-14s %12.1f\n", n, "nft per rule", e / r / 1e6
    printf "%-6d ratios: nsr/nft-f %.2fx", n, a / f
    if (e > 0) printf ", nft-per-rule/nsr %.1fx", e / a
    printf "\n"
  }'
done
