//! The seccomp filter of a confined command, built as classic BPF from data (no
//! libseccomp): the x86_64 table by name, the x32 ABI and the i386 entry (`int 0x80`)
//! refused outright, so that no call slips past the filter through another ABI.

use super::syscalls_x86_64::SYSCALLS;
use serde::{Deserialize, Serialize};

/// What a syscall not named in `allow` or `deny` gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Base {
    /// The default list refused (DEFAULT_DENY, namespace flags of clone, clone3,
    /// personality changes); everything else allowed.
    DefaultList,
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub base: Base,
    /// Numbers in the x86_64 table.
    pub allow: Vec<u32>,
    pub deny: Vec<u32>,
}

/// What container runtimes refuse by default and no sandboxed program needs: kernel
/// modules, kexec, reboot, swap, the clocks, BPF, perf, userfaultfd, keyrings, file
/// handles (the "shocker" escape), every mount call, new or joined namespaces,
/// accounting, quotas, port I/O, the kernel log, other processes' memory.
pub const DEFAULT_DENY: [&str; 52] = [
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "clock_settime",
    "clock_adjtime",
    "settimeofday",
    "adjtimex",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "add_key",
    "request_key",
    "keyctl",
    "open_by_handle_at",
    "name_to_handle_at",
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "open_tree",
    "mount_setattr",
    "unshare",
    "setns",
    "acct",
    "quotactl",
    "quotactl_fd",
    "iopl",
    "ioperm",
    "syslog",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "lookup_dcookie",
    "vhangup",
    "uselib",
    "nfsservctl",
    "_sysctl",
    "ustat",
    "sysfs",
    "fanotify_init",
];

/// The number of a syscall by its name in the x86_64 table.
pub fn number(name: &str) -> Option<u32> {
    SYSCALLS
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| SYSCALLS[i].1)
}

/// The name of a number in the x86_64 table.
pub fn name(nr: u32) -> Option<&'static str> {
    SYSCALLS
        .iter()
        .find(|(_, n)| *n == nr)
        .map(|(name, _)| *name)
}

/// Numbers for names; the first unknown name is the error.
pub fn numbers(names: &[String]) -> Result<Vec<u32>, String> {
    names
        .iter()
        .map(|n| {
            number(n).ok_or_else(|| format!("unknown system call '{n}' (not in the x86_64 table)"))
        })
        .collect()
}

impl Policy {
    pub fn default_list() -> Policy {
        Policy {
            base: Base::DefaultList,
            allow: Vec::new(),
            deny: Vec::new(),
        }
    }
}

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
/// The namespace flags clone(2) takes (CLONE_NEWTIME only through clone3 and unshare).
const CLONE_NEW_FLAGS: u32 =
    0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;
/// personality(2) values glibc and common tools use: query, PER_LINUX, UNAME26,
/// ADDR_NO_RANDOMIZE (what Docker allows).
const PERSONALITIES: [u32; 5] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

const LD_ABS_W: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const JGT_K: u16 = 0x25;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;
/// struct seccomp_data: nr at 0, arch at 4, args[0] (its low 32 bits) at 16.
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0: u32 = 16;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// `if nr == n { return action }`, two instructions whatever the program's length.
/// What the filter does with one system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Return(u32),
    /// clone: refused with namespace flags.
    Clone,
    /// personality: only the usual values (query, and the ones glibc and setarch use).
    Personality,
}

impl Action {
    /// The instructions that decide, after the number matched (at most 8: a jump
    /// over them fits in a u8).
    fn block(self, refuse: u32) -> Vec<libc::sock_filter> {
        match self {
            Action::Return(r) => vec![stmt(RET_K, r)],
            Action::Clone => vec![
                stmt(LD_ABS_W, ARG0),
                jump(JSET_K, CLONE_NEW_FLAGS, 0, 1),
                stmt(RET_K, refuse),
                stmt(RET_K, RET_ALLOW),
            ],
            Action::Personality => {
                let k = PERSONALITIES.len() as u8;
                let mut b = vec![stmt(LD_ABS_W, ARG0)];
                for (i, v) in PERSONALITIES.iter().enumerate() {
                    b.push(jump(JEQ_K, *v, k - i as u8, 0));
                }
                b.push(stmt(RET_K, refuse));
                b.push(stmt(RET_K, RET_ALLOW));
                b
            }
        }
    }
}

/// Each listed call's action, by number (the recipe's allow list first, then its deny
/// list, then the default list), and the action of every other call.
fn decisions(policy: &Policy, refuse: u32) -> (Vec<(u32, Action)>, u32) {
    let mut by_nr: std::collections::BTreeMap<u32, Action> = Default::default();
    for n in &policy.allow {
        by_nr.entry(*n).or_insert(Action::Return(RET_ALLOW));
    }
    for n in &policy.deny {
        by_nr.entry(*n).or_insert(Action::Return(refuse));
    }
    let otherwise = match policy.base {
        Base::Allow => RET_ALLOW,
        Base::Deny => refuse,
        Base::DefaultList => {
            for n in DEFAULT_DENY.iter().filter_map(|name| number(name)) {
                by_nr.entry(n).or_insert(Action::Return(refuse));
            }
            // glibc falls back to clone when clone3 says ENOSYS, and clone's flags
            // are a register the filter can read (clone3's are in memory).
            for (name, action) in [
                ("clone3", Action::Return(RET_ERRNO | libc::ENOSYS as u32)),
                ("clone", Action::Clone),
                ("personality", Action::Personality),
            ] {
                if let Some(n) = number(name) {
                    by_nr.entry(n).or_insert(action);
                }
            }
            RET_ALLOW
        }
    };
    (by_nr.into_iter().collect(), otherwise)
}

const JA: u16 = 0x05;
/// Leaves of the search tree are compared one by one.
const LEAF: usize = 4;

/// A binary search over the sorted numbers, so that a call is decided in a few
/// comparisons, not one per listed call: the kernel runs the filter on every system
/// call, and emulates it for every number when the filter is loaded (its action cache),
/// which a linear list made the largest part of a confined command's start.
fn search(entries: &[(u32, u32, Action)], otherwise: u32, refuse: u32) -> Vec<libc::sock_filter> {
    if entries.len() <= LEAF {
        let mut p = Vec::new();
        for (low, high, action) in entries {
            let block = action.block(refuse);
            let len = block.len() as u8;
            if low == high {
                p.push(jump(JEQ_K, *low, 0, len));
            } else {
                p.push(jump(JGE_K, *low, 0, len + 1));
                p.push(jump(JGT_K, *high, len, 0));
            }
            p.extend(block);
        }
        p.push(stmt(RET_K, otherwise));
        return p;
    }
    let (low, high) = entries.split_at(entries.len() / 2);
    let right = search(high, otherwise, refuse);
    let left = search(low, otherwise, refuse);
    // nr >= the middle: on to the right half, which follows; else to the left one,
    // past it (with a jump of any length when it is long).
    let mut p = match u8::try_from(right.len()) {
        Ok(skip) => vec![jump(JGE_K, high[0].0, 0, skip)],
        Err(_) => vec![jump(JGE_K, high[0].0, 1, 0), stmt(JA, right.len() as u32)],
    };
    p.extend(right);
    p.extend(left);
    p
}

/// Consecutive numbers with the same answer as one range: a shorter program, which
/// the kernel checks and compiles for every command.
fn ranges(entries: Vec<(u32, Action)>) -> Vec<(u32, u32, Action)> {
    let mut out: Vec<(u32, u32, Action)> = Vec::new();
    for (n, action) in entries {
        match out.last_mut() {
            Some((_, high, a))
                if *high + 1 == n && *a == action && matches!(action, Action::Return(_)) =>
            {
                *high = n
            }
            _ => out.push((n, n, action)),
        }
    }
    out
}

/// The program for `policy`, refusing with `errno`.
pub fn program(policy: &Policy, errno: i32) -> Vec<libc::sock_filter> {
    let refuse = RET_ERRNO | (errno as u32 & 0xffff);
    // The 32-bit entry is refused whole (a call must not slip past through another
    // table), the x32 one too; an unknown architecture ends the process.
    let mut p = vec![
        stmt(LD_ABS_W, ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 3, 0),
        jump(JEQ_K, AUDIT_ARCH_I386, 0, 1),
        stmt(RET_K, refuse),
        stmt(RET_K, RET_KILL_PROCESS),
        stmt(LD_ABS_W, NR),
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, refuse),
    ];
    let (entries, otherwise) = decisions(policy, refuse);
    p.extend(search(&ranges(entries), otherwise, refuse));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_name_is_in_the_table_and_the_table_is_sorted() {
        assert!(SYSCALLS.windows(2).all(|w| w[0].0 < w[1].0));
        for n in DEFAULT_DENY {
            assert!(number(n).is_some(), "{n}");
        }
        assert_eq!(number("mount"), Some(165));
        assert_eq!(number("open_by_handle_at"), Some(304));
        assert!(numbers(&["mount".into(), "mountt".into()])
            .unwrap_err()
            .contains("'mountt'"));
    }

    #[test]
    fn jumps_stay_inside_the_program() {
        let p = program(&Policy::default_list(), libc::EPERM);
        for (i, ins) in p.iter().enumerate() {
            if ins.code == JA {
                assert!(i + 1 + (ins.k as usize) < p.len(), "{i}");
            } else if ins.code & 0x07 == 0x05 {
                assert!(i + 1 + (ins.jt.max(ins.jf) as usize) < p.len(), "{i}");
            }
        }
        assert_eq!(p.last().unwrap().code, RET_K);
    }

    /// Runs the filter as the kernel would for one call.
    fn decide(p: &[libc::sock_filter], arch: u32, nr: u32, arg0: u32) -> u32 {
        let mut pc = 0;
        let mut a = 0u32;
        loop {
            let i = p[pc];
            pc += 1;
            match i.code {
                LD_ABS_W => {
                    a = match i.k {
                        NR => nr,
                        ARCH => arch,
                        ARG0 => arg0,
                        other => panic!("load {other}"),
                    }
                }
                JA => pc += i.k as usize,
                JEQ_K | JGE_K | JGT_K | JSET_K => {
                    let yes = match i.code {
                        JEQ_K => a == i.k,
                        JGE_K => a >= i.k,
                        JGT_K => a > i.k,
                        _ => a & i.k != 0,
                    };
                    pc += if yes { i.jt } else { i.jf } as usize;
                }
                RET_K => return i.k,
                other => panic!("code {other:#x}"),
            }
        }
    }

    #[test]
    fn the_search_decides_every_call_as_the_lists_say() {
        let refuse = RET_ERRNO | libc::EPERM as u32;
        let p = program(&Policy::default_list(), libc::EPERM);
        let x86 = AUDIT_ARCH_X86_64;
        for name in DEFAULT_DENY {
            assert_eq!(decide(&p, x86, number(name).unwrap(), 0), refuse, "{name}");
        }
        for (nr, _) in super::SYSCALLS.iter().map(|(n, nr)| (*nr, n)) {
            let listed = DEFAULT_DENY.iter().any(|d| number(d) == Some(nr))
                || ["clone", "clone3", "personality"]
                    .iter()
                    .any(|d| number(d) == Some(nr));
            if !listed {
                assert_eq!(decide(&p, x86, nr, 0), RET_ALLOW, "{nr}");
            }
        }
        let clone = number("clone").unwrap();
        assert_eq!(
            decide(&p, x86, clone, 0x1000_0000),
            refuse,
            "clone with CLONE_NEWUSER"
        );
        assert_eq!(decide(&p, x86, clone, 0x11), RET_ALLOW, "a plain fork");
        assert_eq!(
            decide(&p, x86, number("clone3").unwrap(), 0),
            RET_ERRNO | libc::ENOSYS as u32
        );
        let personality = number("personality").unwrap();
        assert_eq!(decide(&p, x86, personality, 0xffff_ffff), RET_ALLOW);
        assert_eq!(decide(&p, x86, personality, 0x0040_0000), refuse);
        assert_eq!(decide(&p, x86, 0x4000_0000 | 165, 0), refuse, "x32 mount");
        assert_eq!(
            decide(&p, AUDIT_ARCH_I386, 1, 0),
            refuse,
            "the 32-bit entry"
        );
        // The recipe's allow list comes first, its deny list next.
        let own = Policy {
            base: Base::Deny,
            allow: vec![0, 1, 60, 231],
            deny: vec![1],
        };
        let p = program(&own, libc::EPERM);
        assert_eq!(decide(&p, x86, 1, 0), RET_ALLOW);
        assert_eq!(decide(&p, x86, 2, 0), refuse);
        assert_eq!(decide(&p, x86, 231, 0), RET_ALLOW);
        // Long lists: jumps of any length.
        let all: Vec<u32> = super::SYSCALLS.iter().map(|(_, nr)| *nr).collect();
        let p = program(
            &Policy {
                base: Base::Deny,
                allow: all.clone(),
                deny: vec![],
            },
            libc::EPERM,
        );
        for nr in all {
            assert_eq!(decide(&p, x86, nr, 0), RET_ALLOW, "{nr}");
        }
    }
}
