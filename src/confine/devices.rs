//! The device policy of confined commands: only the standard nodes (null, zero, full,
//! random, urandom, tty, ptmx, the pty slaves) and those a recipe adds can be opened,
//! whatever nodes the sandbox's root holds (a tarball extracted as root may ship one of
//! the host's disks). Enforced by a cgroup-device BPF program on the cgroup2 cgroup the
//! commands start in (`crate::cgroup`), as runc does on cgroup v2; creating a node
//! (mknod, which needs CAP_MKNOD anyway) stays allowed, opening it does not.

use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// One allowed device: `c 10:200` or `b 7:*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    pub block: bool,
    pub major: u32,
    /// None: any minor.
    pub minor: Option<u32>,
}

/// Which device nodes a confined command may open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Devices {
    /// Whatever its permissions allow (`devices: "all"`, or privileged).
    All,
    /// The standard nodes and these.
    Standard { extra: Vec<DeviceRule> },
}

const fn char_dev(major: u32, minor: Option<u32>) -> DeviceRule {
    DeviceRule {
        block: false,
        major,
        minor,
    }
}

/// null, zero, full, random, urandom, tty, ptmx, and the pty slaves (majors 136-143).
pub const STANDARD: [DeviceRule; 15] = [
    char_dev(1, Some(3)),
    char_dev(1, Some(5)),
    char_dev(1, Some(7)),
    char_dev(1, Some(8)),
    char_dev(1, Some(9)),
    char_dev(5, Some(0)),
    char_dev(5, Some(2)),
    char_dev(136, None),
    char_dev(137, None),
    char_dev(138, None),
    char_dev(139, None),
    char_dev(140, None),
    char_dev(141, None),
    char_dev(142, None),
    char_dev(143, None),
];

impl DeviceRule {
    /// `c 10:200`, `b 7:*` (the devices cgroup's notation, without the access letters).
    pub fn parse(text: &str) -> Result<DeviceRule, String> {
        let bad = || {
            format!(
                "devices: '{text}' is not \"c MAJOR:MINOR\" or \"b MAJOR:MINOR\" (MINOR may be *)"
            )
        };
        let (kind, numbers) = text.trim().split_once(' ').ok_or_else(bad)?;
        let block = match kind {
            "c" => false,
            "b" => true,
            _ => return Err(bad()),
        };
        let (major, minor) = numbers.trim().split_once(':').ok_or_else(bad)?;
        Ok(DeviceRule {
            block,
            major: major.parse().map_err(|_| bad())?,
            minor: match minor {
                "*" => None,
                m => Some(m.parse().map_err(|_| bad())?),
            },
        })
    }
}

impl std::fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.block { 'b' } else { 'c' };
        match self.minor {
            Some(m) => write!(f, "{kind} {}:{m}", self.major),
            None => write!(f, "{kind} {}:*", self.major),
        }
    }
}

/// struct bpf_insn.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_W | BPF_MEM
const MOV64_X: u8 = 0xbf;
const MOV64_K: u8 = 0xb7;
const AND64_K: u8 = 0x57;
const RSH64_K: u8 = 0x77;
const JNE_K: u8 = 0x55;
const JEQ_K: u8 = 0x15;
const JLT_K: u8 = 0xa5;
const JLE_K: u8 = 0xb5;
const EXIT: u8 = 0x95;

// struct bpf_cgroup_dev_ctx: access_type (device type | access << 16), major, minor.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;

/// What one group of rules tests, after the device type: a major and a set of minors,
/// or a range of majors with any minor.
#[derive(Debug, PartialEq)]
enum Test {
    Minors {
        block: bool,
        major: u32,
        minors: Vec<u32>,
    },
    Majors {
        block: bool,
        low: u32,
        high: u32,
    },
}

/// The rules grouped so that the program stays short (the verifier's time grows with
/// it, and it is paid at every sandbox's start): minors of one major together,
/// consecutive majors with any minor as one range.
fn tests(rules: &[DeviceRule]) -> Vec<Test> {
    let mut out: Vec<Test> = Vec::new();
    for r in rules {
        match r.minor {
            Some(m) => match out.iter_mut().find(|t| {
                matches!(t, Test::Minors { block, major, .. } if *block == r.block && *major == r.major)
            }) {
                Some(Test::Minors { minors, .. }) => minors.push(m),
                _ => out.push(Test::Minors {
                    block: r.block,
                    major: r.major,
                    minors: vec![m],
                }),
            },
            None => match out.iter_mut().find(|t| {
                matches!(t, Test::Majors { block, high, .. } if *block == r.block && *high + 1 == r.major)
            }) {
                Some(Test::Majors { high, .. }) => *high = r.major,
                _ => out.push(Test::Majors {
                    block: r.block,
                    low: r.major,
                    high: r.major,
                }),
            },
        }
    }
    out
}

/// The program: allow a bare mknod, and an open of a listed device; refuse the rest.
pub fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0), // r2 = access_type
        insn(MOV64_X, 3, 2, 0, 0),
        insn(AND64_K, 2, 0, 0, 0xffff), // r2 = device type
        insn(RSH64_K, 3, 0, 0, 16),     // r3 = access
        insn(LDX_W, 4, 1, 4, 0),        // r4 = major
        insn(LDX_W, 5, 1, 8, 0),        // r5 = minor
        insn(AND64_K, 3, 0, 0, !ACC_MKNOD),
    ];
    // Jumps to the final "allow", patched once its place is known.
    let mut to_allow = vec![p.len()];
    p.push(insn(JEQ_K, 3, 0, 0, 0)); // nothing but mknod asked
    for t in tests(rules) {
        let kind = |block: bool| if block { DEV_BLOCK } else { DEV_CHAR };
        // Each test is skipped as a whole when the type or major does not match.
        let body: Vec<(u8, u8, i32, bool)> = match &t {
            Test::Minors {
                block,
                major,
                minors,
            } => {
                let mut b = vec![
                    (JNE_K, 2, kind(*block), false),
                    (JNE_K, 4, *major as i32, false),
                ];
                b.extend(minors.iter().map(|m| (JEQ_K, 5, *m as i32, true)));
                b
            }
            Test::Majors { block, low, high } => vec![
                (JNE_K, 2, kind(*block), false),
                (JLT_K, 4, *low as i32, false),
                (JLE_K, 4, *high as i32, true),
            ],
        };
        let len = body.len();
        for (i, (code, reg, imm, allow)) in body.into_iter().enumerate() {
            if allow {
                to_allow.push(p.len());
                p.push(insn(code, reg, 0, 0, imm));
            } else {
                p.push(insn(code, reg, 0, (len - i - 1) as i16, imm));
            }
        }
    }
    p.push(insn(MOV64_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    let allow = p.len();
    p.push(insn(MOV64_K, 0, 0, 0, 1));
    p.push(insn(EXIT, 0, 0, 0, 0));
    for at in to_allow {
        p[at].off = (allow - at - 1) as i16;
    }
    p
}

/// union bpf_attr for BPF_PROG_LOAD, up to expected_attach_type; the rest zero.
#[repr(C, align(8))]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    _rest: [u8; 64],
}

/// union bpf_attr for BPF_PROG_ATTACH.
#[repr(C, align(8))]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _rest: [u8; 44],
}

const BPF_PROG_LOAD: i32 = 5;
const BPF_PROG_ATTACH: i32 = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Run with whatever programs the cgroups above have, never instead of them.
const BPF_F_ALLOW_MULTI: u32 = 2;

fn bpf<T>(cmd: i32, attr: &T) -> Result<i64, nix::errno::Errno> {
    // SAFETY: attr is a bpf_attr of the command's layout, alive across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *const T,
            std::mem::size_of::<T>(),
        )
    };
    if r < 0 {
        Err(nix::errno::Errno::last())
    } else {
        Ok(r)
    }
}

/// Loads the policy's program and attaches it to the cgroup `dir` (an fd of its
/// directory); the program stays with the cgroup until the cgroup is removed.
pub fn attach(
    dir: &OwnedFd,
    extra: &[DeviceRule],
) -> Result<(), (&'static str, nix::errno::Errno)> {
    let rules: Vec<DeviceRule> = STANDARD.iter().chain(extra).copied().collect();
    let insns = program(&rules);
    let mut name = [0u8; 16];
    name[..11].copy_from_slice(b"nsr_devices");
    let load = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: c"Dual MIT/GPL".as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
        prog_ifindex: 0,
        expected_attach_type: BPF_CGROUP_DEVICE,
        _rest: [0; 64],
    };
    let fd = bpf(BPF_PROG_LOAD, &load).map_err(|e| ("bpf(BPF_PROG_LOAD)", e))?;
    // SAFETY: a new fd of ours.
    let prog = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attach = ProgAttach {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
        _rest: [0; 44],
    };
    bpf(BPF_PROG_ATTACH, &attach).map_err(|e| ("bpf(BPF_PROG_ATTACH)", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program the way the kernel would, on one access.
    fn allows(p: &[Insn], block: bool, major: u32, minor: u32, access: i32) -> bool {
        let ctx = [
            (if block { DEV_BLOCK } else { DEV_CHAR } | (access << 16)) as u64,
            major as u64,
            minor as u64,
        ];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = ctx[i.off as usize / 4],
                MOV64_X => r[dst] = r[src],
                MOV64_K => r[dst] = i.imm as i64 as u64,
                AND64_K => r[dst] &= i.imm as i64 as u64,
                RSH64_K => r[dst] >>= i.imm,
                JNE_K if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                JEQ_K if r[dst] == i.imm as i64 as u64 => pc += i.off as usize,
                JLT_K if r[dst] < i.imm as i64 as u64 => pc += i.off as usize,
                JLE_K if r[dst] <= i.imm as i64 as u64 => pc += i.off as usize,
                JNE_K | JEQ_K | JLT_K | JLE_K => {}
                EXIT => return r[0] == 1,
                other => panic!("unknown code {other:#x}"),
            }
        }
    }

    #[test]
    fn the_standard_nodes_open_others_do_not_and_mknod_alone_is_allowed() {
        let extra = [
            DeviceRule::parse("c 10:200").unwrap(),
            DeviceRule::parse("b 7:*").unwrap(),
        ];
        let rules: Vec<_> = STANDARD.iter().chain(&extra).copied().collect();
        let p = program(&rules);
        let (read, write, mknod) = (2, 4, ACC_MKNOD);
        assert!(allows(&p, false, 1, 3, read | write), "null");
        assert!(allows(&p, false, 136, 12, read | write), "a pty slave");
        assert!(allows(&p, false, 10, 200, read), "tun, added");
        assert!(allows(&p, true, 7, 4, read), "any loop device, added");
        assert!(!allows(&p, false, 1, 1, read), "mem");
        assert!(!allows(&p, true, 8, 0, read), "sda");
        assert!(!allows(&p, false, 10, 201, read), "not the added minor");
        assert!(
            !allows(&p, true, 1, 3, read),
            "a block device 1:3 is not null"
        );
        assert!(allows(&p, true, 8, 0, mknod), "creating a node");
        assert!(
            !allows(&program(&STANDARD), true, 7, 0, read),
            "loop, not added"
        );
    }

    #[test]
    fn device_rules_parse_as_the_devices_cgroup_writes_them() {
        assert_eq!(
            DeviceRule::parse("c 10:200").unwrap().to_string(),
            "c 10:200"
        );
        assert_eq!(DeviceRule::parse("b 7:*").unwrap().to_string(), "b 7:*");
        for bad in ["x 1:3", "c 1", "c a:3", "c1:3", "c 1:-3"] {
            assert!(DeviceRule::parse(bad).is_err(), "{bad}");
        }
    }
}
