"""What the kernel shows of a kept environment, for comparing `nsr graph`'s JSON with:
every named netns, each sandbox's own netns and the host's, with their links (not lo),
addresses (not link-local), bridge ports, veth pairs (matched by ifindex, both ways),
forwarding and the number of rules in nsr's nft tables. Uses ip, nft, nsenter, not nsr.

usage: kernel_view.py NSR ENV
"""
import json, os, subprocess, sys

nsr, env = sys.argv[1], sys.argv[2]

def run(argv):
    return subprocess.run(argv, capture_output=True, text=True).stdout

def inode(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None

ls = json.loads(run([nsr, "ls", "--json"]))
info = next(e for e in (ls if isinstance(ls, list) else ls.get("environments", [])) if e["name"] == env)
pids = info["sandboxes"]

spaces = {"host": []}  # id -> the words that enter it
by_inode = {inode("/proc/self/ns/net"): "host"}
for name in sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []:
    nid = "netns:" + name
    spaces[nid] = ["ip", "netns", "exec", name]
    by_inode[inode("/run/netns/" + name)] = nid
sandboxes = []
for number, pid in enumerate(pids, 1):
    ino = inode(f"/proc/{pid}/ns/net")
    if ino not in by_inode:
        nid = f"sandbox:{number}"
        by_inode[ino] = nid
        spaces[nid] = ["nsenter", "-t", str(pid), "-n"]
    sandboxes.append({"number": number, "netns": by_inode[ino]})

out = {"namespaces": {}, "sandboxes": sandboxes, "veths": []}
ends = []
for nid, enter in spaces.items():
    links = json.loads(run(enter + ["ip", "-j", "-d", "link", "show"]) or "[]")
    addrs = json.loads(run(enter + ["ip", "-j", "addr", "show"]) or "[]")
    names = {l["ifindex"]: l["ifname"] for l in links}
    ifaces = {}
    for l in links:
        if l["ifname"] == "lo":
            continue
        kind = l.get("linkinfo", {}).get("info_kind", "device")
        a = next((x for x in addrs if x["ifindex"] == l["ifindex"]), {"addr_info": []})
        ifaces[l["ifname"]] = {
            "kind": kind,
            "up": "UP" in l.get("flags", []),
            "addrs": sorted(f'{i["local"]}/{i["prefixlen"]}' for i in a["addr_info"] if i.get("scope") != "link"),
            "master": l.get("master"),
        }
        if kind == "veth":
            ends.append((nid, l["ifname"], l["ifindex"], l.get("link_index"), "link_netnsid" in l))
    ruleset = json.loads(run(enter + ["nft", "-j", "list", "ruleset"]) or '{"nftables": []}')
    rules = sum(1 for x in ruleset["nftables"] if "rule" in x and x["rule"]["table"].startswith("nsr_"))
    fwd = [f for f, key in (("ipv4", "net.ipv4.ip_forward"), ("ipv6", "net.ipv6.conf.all.forwarding"))
           if run(enter + ["sysctl", "-n", key]).strip() == "1"]
    out["namespaces"][nid] = {"interfaces": ifaces, "nat_rules": rules, "forwarding": fwd}

for i, (ns, name, idx, peer, elsewhere) in enumerate(ends):
    for (ns2, name2, idx2, peer2, elsewhere2) in ends[i + 1:]:
        if peer == idx2 and peer2 == idx and (ns != ns2) == elsewhere == elsewhere2:
            out["veths"].append(sorted([f"{ns}/{name}", f"{ns2}/{name2}"]))
out["veths"].sort()
print(json.dumps(out, indent=1, sort_keys=True))
