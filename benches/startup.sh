#!/usr/bin/env bash
# Startup benchmark: `nsr run` of a recipe that unshares mount, uts, ipc, pid and net
# and runs `true` (confined, the default), side by side with `unshare --mount --uts --ipc
# --pid --net --fork true` and with the same recipe `privileged: true` (what confinement
# costs), interleaved in one run. Prints the mean wall time of each and the ratios.
# Run as root:  bash benches/startup.sh [ITERATIONS]     (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}
cargo build --release --quiet
nsr=$PWD/target/x86_64-unknown-linux-gnu/release/nsr
recipe=$(mktemp --suffix=.nsr)
privileged=$(mktemp --suffix=.nsr)
trap 'rm -f "$recipe" "$privileged"' EXIT
cat > "$recipe" <<'NSR'
let box = unshare(["mount", "uts", "ipc", "pid", "net"]);
box.run(["true"]);
NSR
cat > "$privileged" <<'NSR'
let box = unshare(#{ kinds: ["mount", "uts", "ipc", "pid", "net"], privileged: true });
box.run(["true"]);
NSR
"$nsr" run "$recipe"                                    # warm caches
"$nsr" run "$privileged"
unshare --mount --uts --ipc --pid --net --fork true
ns() { date +%s%N; }
t_nsr=0; t_unshare=0; t_priv=0
for ((i = 0; i < n; i++)); do
  a=$(ns); "$nsr" run "$recipe"; b=$(ns)
  unshare --mount --uts --ipc --pid --net --fork true; c=$(ns)
  "$nsr" run "$privileged"; d=$(ns)
  t_nsr=$((t_nsr + b - a)); t_unshare=$((t_unshare + c - b)); t_priv=$((t_priv + d - c))
done
awk -v a="$t_nsr" -v b="$t_unshare" -v p="$t_priv" -v n="$n" 'BEGIN {
  printf "iterations: %d\n", n
  printf "nsr run:        %.3f ms per run (confined)\n", a / n / 1e6
  printf "nsr privileged: %.3f ms per run\n", p / n / 1e6
  printf "unshare(1):     %.3f ms per run\n", b / n / 1e6
  printf "ratio nsr/unshare: %.2f\n", a / b
  printf "ratio confined/privileged: %.3f\n", a / p
}'
