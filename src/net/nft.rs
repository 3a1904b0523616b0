//! NAT and forwarding rules through nftables. Every rule a run adds in a namespace lives
//! in one table of its own (`table inet nsr_<pid>`), created with `create table` (which
//! fails rather than merging into a table of the same name), each primitive's rules one
//! transaction: an nfnetlink batch nsr sends itself (`add_batch`), or, where nsr cannot
//! open a socket in the namespace (an ordinary user's sandbox, whose user namespace a
//! thread cannot enter), the same rules as text for `nft -f -` (`add_script`). Undo
//! deletes the run's rules or the whole table and nothing else: nsr never flushes,
//! reorders or re-policies chains it does not own.

use super::nfnetlink::{family_name, Batch, ChainInfo};
use super::nft_exprs::verdict;
use crate::ops::nat::{BaseChain, NatRule};
use crate::ops::OpError;
use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The run's own table name.
pub fn table_name() -> String {
    format!("nsr_{}", std::process::id())
}

/// The commands that add `rule`: the table first when asked, then each chain that
/// `has_chain` does not know, then the rules.
pub fn add_script(
    table: &str,
    rule: &NatRule,
    create_table: bool,
    has_chain: impl Fn(&str) -> bool,
) -> String {
    let mut s = String::new();
    if create_table {
        s.push_str(&format!("create table inet {table}\n"));
    }
    for c in new_chains(rule, has_chain) {
        s.push_str(&format!(
            "add chain inet {table} {} {{ {} }}\n",
            c.name, c.spec
        ));
    }
    for l in rule.lines() {
        s.push_str(&format!("add rule inet {table} {} {}\n", l.chain, l.text));
    }
    s
}

/// The chains the rule's lines go in that `has_chain` does not know, each once.
fn new_chains(rule: &NatRule, has_chain: impl Fn(&str) -> bool) -> Vec<BaseChain> {
    let mut made: Vec<BaseChain> = Vec::new();
    for l in rule.lines() {
        if !has_chain(l.chain) && !made.iter().any(|c| c.name == l.chain) {
            made.push(l.base);
        }
    }
    made
}

/// The same as `add_script`, as one nfnetlink transaction.
pub fn add_batch(
    table: &str,
    rule: &NatRule,
    create_table: bool,
    has_chain: impl Fn(&str) -> bool,
) -> Batch {
    let mut b = Batch::new();
    if create_table {
        b.create_table(table);
    }
    for c in new_chains(rule, has_chain) {
        b.add_chain(table, &c);
    }
    for (l, exprs) in rule.lines().iter().zip(super::nft_exprs::rules(rule)) {
        b.add_rule(table, l.chain, &exprs);
    }
    b
}

/// Chains of other tables that drop forwarded packets by default, from the kernel's
/// own list (as `foreign_forward_drops` reads nft's).
pub fn foreign_forward_drop_chains(chains: &[ChainInfo], own_table: &str) -> Vec<String> {
    const NF_INET_FORWARD: u32 = 2;
    chains
        .iter()
        .filter(|c| c.hooknum == Some(NF_INET_FORWARD) && c.policy == Some(verdict(false)))
        .filter(|c| !(family_name(c.family) == "inet" && c.table == own_table))
        .map(|c| {
            format!(
                "table {} {} chain {}",
                family_name(c.family),
                c.table,
                c.name
            )
        })
        .collect()
}

/// Where the nft binary is (`NSR_NFT` names it explicitly), or a clear error saying how
/// to get it.
pub fn find_nft() -> Result<PathBuf, OpError> {
    let missing = |what: String| {
        OpError::os(Errno::ENOENT, what).with_hint(
            "install it: apt-get install nftables (Debian/Ubuntu), dnf install nftables (Fedora); or set NSR_NFT to its path",
        )
    };
    if let Some(p) = std::env::var_os("NSR_NFT") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(missing(format!(
                "NSR_NFT names {}, which is not a file; the nft program is needed for NAT and forwarding rules",
                p.display()
            )))
        };
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join("nft"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            missing(
                "the nft program is needed for NAT and forwarding rules and was not found".into(),
            )
        })
}

/// Runs `nft ARGS` with `input` on stdin inside the network namespace `ns`, entering
/// `userns` first when given (an ordinary user's sandbox: only its own user namespace
/// gives the capability to change the netns it owns).
pub fn run(
    ns: &OwnedFd,
    userns: Option<&OwnedFd>,
    args: &[&str],
    input: &str,
) -> Result<String, OpError> {
    let nft = find_nft()?;
    let fd = ns.as_fd().as_raw_fd();
    let user = userns.map(|u| u.as_fd().as_raw_fd());
    let mut cmd = Command::new(&nft);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: nsr is single-threaded; the child only calls setns before exec (a user
    // namespace can be entered only by a single-threaded process: this child is one).
    unsafe {
        cmd.pre_exec(move || {
            crate::sys::restore_open_files_limit();
            if let Some(u) = user {
                setns(BorrowedFd::borrow_raw(u), CloneFlags::CLONE_NEWUSER)
                    .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
            }
            setns(BorrowedFd::borrow_raw(fd), CloneFlags::CLONE_NEWNET)
                .map_err(|e| std::io::Error::from_raw_os_error(e as i32))
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| OpError::new(format!("cannot start {}: {e}", nft.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| OpError::new(format!("nft did not finish: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errno = if stderr.contains("File exists") {
            Some(Errno::EEXIST)
        } else if stderr.contains("No such file or directory") {
            Some(Errno::ENOENT)
        } else if stderr.contains("Operation not permitted") {
            Some(Errno::EPERM)
        } else {
            None
        };
        let first = stderr
            .lines()
            .find(|l| l.contains("Error"))
            .unwrap_or(stderr.trim())
            .trim()
            .to_string();
        return Err(OpError {
            errno,
            message: format!("nft refused the rules: {first}"),
            hint: None,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The chain and handle of each rule nft echoed (`add rule inet T CHAIN ... # handle 7`).
pub fn echoed_rule_handles(echo: &str) -> Vec<(String, u64)> {
    echo.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("add rule ")?;
            let chain = rest.split_whitespace().nth(2)?;
            let (_, h) = l.rsplit_once("# handle ")?;
            Some((chain.to_string(), h.trim().parse().ok()?))
        })
        .collect()
}

/// Chains of other tables that drop forwarded packets by default (Docker's FORWARD
/// policy, for one), from `nft list chains`: nsr's accept rules cannot override them.
pub fn foreign_forward_drops(listing: &str, own_table: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut table = String::new();
    let mut chain = String::new();
    for line in listing.lines().map(str::trim) {
        if let Some(t) = line.strip_prefix("table ") {
            table = t.trim_end_matches('{').trim().to_string();
        } else if let Some(c) = line.strip_prefix("chain ") {
            chain = c.trim_end_matches('{').trim().to_string();
        } else if line.contains("hook forward")
            && line.contains("policy drop")
            && !table.ends_with(&format!(" {own_table}"))
        {
            found.push(format!("table {table} chain {chain}"));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::cidr::IpCidr;
    use crate::ops::nat::Proto;

    #[test]
    fn writes_the_tutorial_rules_in_nft_words() {
        let m = NatRule::Masquerade {
            source: IpCidr::parse("172.16.99.100/24").unwrap(),
            out: "ens3".into(),
        };
        assert_eq!(
            m.text(),
            "ip saddr 172.16.99.0/24 oifname \"ens3\" masquerade"
        );
        assert_eq!(
            m.iptables(),
            "iptables -t nat -A POSTROUTING -s 172.16.99.0/24 -o ens3 -j MASQUERADE"
        );
        let s = add_script("nsr_1", &m, true, |_| false);
        assert_eq!(
            s,
            "create table inet nsr_1\n\
             add chain inet nsr_1 postrouting { type nat hook postrouting priority srcnat; policy accept; }\n\
             add rule inet nsr_1 postrouting ip saddr 172.16.99.0/24 oifname \"ens3\" masquerade\n"
        );
        let p = NatRule::PortForward {
            proto: Proto::Tcp,
            port: 8080,
            to: "10.0.0.2".parse().unwrap(),
            to_port: 80,
            input: Some("veth0".into()),
        };
        assert_eq!(
            p.text(),
            "iifname \"veth0\" tcp dport 8080 dnat ip to 10.0.0.2:80"
        );
        let f = NatRule::Forward {
            input: "veth0".into(),
            out: "ens3".into(),
        };
        assert_eq!(
            f.text(),
            "iifname \"veth0\" oifname \"ens3\" counter accept"
        );
    }

    #[test]
    fn reads_the_handle_nft_echoes() {
        let echo = "create table inet t1 # handle 1\nadd chain inet t1 postrouting { type nat hook postrouting priority srcnat; policy accept; } # handle 1\nadd rule inet t1 postrouting ip saddr 10.0.0.0/24 oifname \"eth0\" masquerade # handle 2\n# new generation 2 by process 1 (nft)\n";
        assert_eq!(
            echoed_rule_handles(echo),
            vec![("postrouting".to_string(), 2)]
        );
        assert!(echoed_rule_handles("nothing").is_empty());
    }

    #[test]
    fn finds_foreign_drop_policies() {
        let listing = "table ip filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\ntable inet nsr_9 {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\n";
        assert_eq!(
            foreign_forward_drops(listing, "nsr_9"),
            vec!["table ip filter chain FORWARD".to_string()]
        );
    }
}
