#!/usr/bin/env bash
# Extraction benchmark (issue 4): nsr's rootfs_from_tar against GNU `tar xf` on the same
# archive, plain and gzip-compressed, onto disk (ext4 here) and onto tmpfs, interleaved in
# one run (benches/extract.nsr), always into fresh directories (ext4 is several times
# slower right after a tree was deleted). The tree is /usr/share/doc and /usr/share/man
# of this machine: over 100 MB and 10,000 files. Prints mean seconds and tar/nsr ratios.
# Run as root:  bash benches/extract.sh [ROUNDS]     (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
cargo build --release --quiet
nsr=$PWD/target/x86_64-unknown-linux-gnu/release/nsr
work=$(mktemp -d /var/tmp/nsr-extract.XXXXXX)
shm=$(mktemp -d /dev/shm/nsr-extract.XXXXXX)
trap 'rm -rf "$work" "$shm"' EXIT
mkdir "$work/out"
tar -cf "$work/tree.tar" -C /usr share/doc share/man
gzip -c "$work/tree.tar" > "$work/tree.tar.gz"
echo "tree: $(tar -tf "$work/tree.tar" | wc -l) entries, $(du -m "$work/tree.tar" | cut -f1) MB plain, $(du -m "$work/tree.tar.gz" | cut -f1) MB gzip"
"$nsr" run benches/extract.nsr rounds="$rounds" disk="$work/out" shm="$shm" \
  plain="$work/tree.tar" gz="$work/tree.tar.gz" |
  awk -v disk="$work/out" '/^result / {
      fs = ($2 == disk) ? "disk (ext4)" : "tmpfs"; kind = ($3 ~ /\.gz$/) ? "gzip" : "plain"
      k = fs " " kind; n[k]++; a[k] += $4; b[k] += $5; order[k] = ++seen[k] == 1 ? ++m : order[k]; key[order[k]] = k
    }
    END {
      printf "%-18s %10s %10s %12s\n", "target archive", "nsr s", "tar s", "tar/nsr"
      for (i = 1; i <= m; i++) { k = key[i]; printf "%-18s %10.3f %10.3f %11.2fx\n", k, a[k] / n[k], b[k] / n[k], b[k] / a[k] }
    }'
