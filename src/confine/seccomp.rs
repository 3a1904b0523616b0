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
fn on(p: &mut Vec<libc::sock_filter>, n: u32, action: u32) {
    p.push(jump(JEQ_K, n, 0, 1));
    p.push(stmt(RET_K, action));
}

/// The filter for `policy`, refusing with `errno`.
pub fn program(policy: &Policy, errno: i32) -> Vec<libc::sock_filter> {
    let refuse = RET_ERRNO | (errno as u32 & 0xffff);
    let mut p = vec![
        stmt(LD_ABS_W, ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 3, 0),
        // The i386 entry (int 0x80) is refused outright; any other ABI is a kill.
        jump(JEQ_K, AUDIT_ARCH_I386, 0, 1),
        stmt(RET_K, refuse),
        stmt(RET_K, RET_KILL_PROCESS),
        stmt(LD_ABS_W, NR),
        // x32 calls carry the x86_64 arch with bit 30 set in the number.
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, refuse),
    ];
    for n in &policy.allow {
        on(&mut p, *n, RET_ALLOW);
    }
    for n in &policy.deny {
        on(&mut p, *n, refuse);
    }
    match policy.base {
        Base::Allow => p.push(stmt(RET_K, RET_ALLOW)),
        Base::Deny => p.push(stmt(RET_K, refuse)),
        Base::DefaultList => {
            for name in DEFAULT_DENY {
                if let Some(n) = number(name) {
                    on(&mut p, n, refuse);
                }
            }
            if let Some(n) = number("clone3") {
                // libc falls back to clone(2), whose flags the filter can read.
                on(&mut p, n, RET_ERRNO | libc::ENOSYS as u32);
            }
            if let Some(n) = number("clone") {
                p.push(jump(JEQ_K, n, 0, 4));
                p.push(stmt(LD_ABS_W, ARG0));
                p.push(jump(JSET_K, CLONE_NEW_FLAGS, 0, 1));
                p.push(stmt(RET_K, refuse));
                p.push(stmt(RET_K, RET_ALLOW));
            }
            if let Some(n) = number("personality") {
                let k = PERSONALITIES.len() as u8;
                p.push(jump(JEQ_K, n, 0, k + 3));
                p.push(stmt(LD_ABS_W, ARG0));
                for (i, v) in PERSONALITIES.iter().enumerate() {
                    p.push(jump(JEQ_K, *v, k - i as u8, 0));
                }
                p.push(stmt(RET_K, refuse));
                p.push(stmt(RET_K, RET_ALLOW));
            }
            p.push(stmt(RET_K, RET_ALLOW));
        }
    }
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
            if ins.code & 0x07 == 0x05 {
                assert!(i + 1 + (ins.jt.max(ins.jf) as usize) < p.len(), "{i}");
            }
        }
        assert_eq!(p.last().unwrap().code, RET_K);
    }
}
