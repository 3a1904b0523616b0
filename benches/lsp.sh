#!/usr/bin/env bash
# Language server benchmark: a 500-line recipe (100 hosts of a lab, five statements
# each) is opened in `nsr lsp`, then changed 1,000 times (one address each time, as a
# typist would); for each change, the time until its diagnostics arrive (the 20 ms
# debounce included). Side by side in the same run: `nsr check` of the same file, the
# CLI's answer to the same question. Also the server's resident memory after the open,
# after 500 changes and after 1,000 (flat: nothing accumulates per change).
# No root needed:  bash benches/lsp.sh [CHANGES]     (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
cargo build --release --quiet
nsr=$PWD/target/x86_64-unknown-linux-gnu/release/nsr
recipe=$(mktemp --suffix=.nsr)
trap 'rm -f "$recipe"' EXIT
python3 - "$nsr" "$recipe" "$n" <<'PY'
import json, os, statistics, subprocess, sys, time

nsr, recipe, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

def lab(k):
    lines = ["//! A 100-host lab: the language server benchmark's recipe.",
             "let sw = netns(\"bench-sw\");", "sw.bridge(\"br0\");", "sw.up(\"br0\");"]
    for h in range(100):
        lines += [f"let h{h} = netns(\"bench-h{h}\");",
                  f"veth(\"bh{h}\", \"eth0\", h{h}).move_to(sw);",
                  f"h{h}.addr(\"eth0\", \"10.{k % 200}.{h}.2/16\");",
                  f"h{h}.up(\"eth0\");",
                  f"h{h}.route(\"default\", \"10.{k % 200}.0.1\");"]
    return "\n".join(lines[:500]) + "\n"

text = lab(0)
assert text.count("\n") == 500
open(recipe, "w").write(text)

# The CLI's check of the same file, 50 times.
cli = []
for _ in range(50):
    a = time.perf_counter()
    subprocess.run([nsr, "check", recipe], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    cli.append(time.perf_counter() - a)

p = subprocess.Popen([nsr, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

def send(msg):
    body = json.dumps(msg).encode()
    p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    p.stdin.flush()

def read():
    length = None
    while True:
        line = p.stdout.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(p.stdout.read(length))

def rss_kib():
    for line in open(f"/proc/{p.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

uri = "file://" + recipe
send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
read()
send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
      "params": {"textDocument": {"uri": uri, "languageId": "nsr", "version": 0, "text": text}}})
while read().get("method") != "textDocument/publishDiagnostics":
    pass
rss = [rss_kib()]
lat = []
for v in range(1, n + 1):
    a = time.perf_counter()
    send({"jsonrpc": "2.0", "method": "textDocument/didChange",
          "params": {"textDocument": {"uri": uri, "version": v}, "contentChanges": [{"text": lab(v)}]}})
    while True:
        m = read()
        if m.get("method") == "textDocument/publishDiagnostics" and m["params"].get("version") == v:
            break
    lat.append(time.perf_counter() - a)
    if v == n // 2:
        rss.append(rss_kib())
rss.append(rss_kib())
send({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None})
read()
send({"jsonrpc": "2.0", "method": "exit", "params": None})
p.wait()

ms = lambda xs: sorted(xs)
q = lambda xs, f: ms(xs)[min(len(xs) - 1, int(len(xs) * f))] * 1000
print(f"recipe: 500 lines, {n} changes")
print(f"nsr lsp, change to diagnostics: median {q(lat, .5):.1f} ms, p95 {q(lat, .95):.1f} ms, max {max(lat) * 1000:.1f} ms (20 ms of it the debounce)")
print(f"nsr check (a process per check):  median {q(cli, .5):.1f} ms")
print(f"ratio lsp/check (median): {statistics.median(lat) / statistics.median(cli):.2f}")
print(f"server memory (VmRSS): {rss[0]} KiB after open, {rss[1]} after {n // 2} changes, {rss[2]} after {n}")
PY
