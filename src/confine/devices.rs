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
const JGT_K: u8 = 0x25;
const SUB64_K: u8 = 0x17;
const MOV32_K: u8 = 0xb4; // zero-extends: a mask with bit 31 stays positive
const RSH64_X: u8 = 0x7f;
const EXIT: u8 = 0x95;

// struct bpf_cgroup_dev_ctx: access_type (device type | access << 16), major, minor.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;

/// What one group of rules tests, after the device type: a major and a set of minors,
/// or a range of majors with any minor.
#[derive(Debug, PartialEq)]
enum Test {
    Minors { major: u32, minors: Vec<u32> },
    Majors { low: u32, high: u32 },
}

/// The rules of one device type grouped so that the program has few branches (the
/// verifier's time grows faster than their number, and it is paid at every sandbox's
/// start): minors of one major together, consecutive majors with any minor as one
/// range, and a major a range covers not tested again.
fn tests(rules: &[DeviceRule], block: bool) -> Vec<Test> {
    let mut majors: Vec<u32> = rules
        .iter()
        .filter(|r| r.block == block && r.minor.is_none())
        .map(|r| r.major)
        .collect();
    majors.sort_unstable();
    majors.dedup();
    let mut out: Vec<Test> = Vec::new();
    for m in majors {
        match out.last_mut() {
            Some(Test::Majors { high, .. }) if *high + 1 == m => *high = m,
            _ => out.push(Test::Majors { low: m, high: m }),
        }
    }
    let covered = |major: u32| {
        out.iter()
            .any(|t| matches!(t, Test::Majors { low, high } if (*low..=*high).contains(&major)))
    };
    let mut minors: Vec<Test> = Vec::new();
    for r in rules.iter().filter(|r| r.block == block) {
        let Some(minor) = r.minor else { continue };
        if covered(r.major) {
            continue;
        }
        match minors
            .iter_mut()
            .find(|t| matches!(t, Test::Minors { major, .. } if *major == r.major))
        {
            Some(Test::Minors { minors, .. }) => minors.push(minor),
            _ => minors.push(Test::Minors {
                major: r.major,
                minors: vec![minor],
            }),
        }
    }
    out.extend(minors);
    out
}

const ALLOW: [Insn; 2] = [insn(MOV64_K, 0, 0, 0, 1), insn(EXIT, 0, 0, 0, 0)];

/// The code of one test: it ends the program when the device is its, else falls
/// through to what follows it.
fn test_code(t: &Test) -> Vec<Insn> {
    match t {
        Test::Majors { low, high } => {
            let mut c = vec![
                insn(MOV64_X, 6, 4, 0, 0),
                insn(SUB64_K, 6, 0, 0, *low as i32),
                insn(JGT_K, 6, 0, 2, (*high - *low) as i32),
            ];
            c.extend(ALLOW);
            c
        }
        Test::Minors { major, minors } => {
            let mut body = Vec::new();
            let mask: u32 = minors
                .iter()
                .filter(|m| **m < 32)
                .fold(0, |a, m| a | 1 << m);
            let large: Vec<u32> = minors.iter().copied().filter(|m| *m >= 32).collect();
            if mask != 0 {
                // The answer is bit `minor` of the mask, for minors below 32.
                body.push(insn(JGT_K, 5, 0, 5, 31));
                body.push(insn(MOV32_K, 6, 0, 0, mask as i32));
                body.push(insn(RSH64_X, 6, 5, 0, 0));
                body.push(insn(AND64_K, 6, 0, 0, 1));
                body.push(insn(MOV64_X, 0, 6, 0, 0));
                body.push(insn(EXIT, 0, 0, 0, 0));
            }
            for m in large {
                body.push(insn(JNE_K, 5, 0, 2, m as i32));
                body.extend(ALLOW);
            }
            let mut c = vec![insn(JNE_K, 4, 0, body.len() as i16, *major as i32)];
            c.extend(body);
            c
        }
    }
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
        insn(JNE_K, 3, 0, 2, 0), // more than mknod asked: check the list
    ];
    p.extend(ALLOW);
    for (block, kind) in [(false, DEV_CHAR), (true, DEV_BLOCK)] {
        let code: Vec<Insn> = tests(rules, block).iter().flat_map(test_code).collect();
        if code.is_empty() {
            continue;
        }
        p.push(insn(JNE_K, 2, 0, code.len() as i16, kind));
        p.extend(code);
    }
    p.push(insn(MOV64_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
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
                MOV32_K => r[dst] = i.imm as u32 as u64,
                SUB64_K => r[dst] = r[dst].wrapping_sub(i.imm as i64 as u64),
                RSH64_X => r[dst] >>= r[src] & 63,
                JNE_K if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                JGT_K if r[dst] > i.imm as i64 as u64 => pc += i.off as usize,
                JNE_K | JGT_K => {}
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
            DeviceRule::parse("c 10:31").unwrap(),
            DeviceRule::parse("c 136:4").unwrap(),
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
        assert!(allows(&p, false, 10, 31, read), "bit 31 of a mask");
        assert!(!allows(&p, false, 10, 30, read) && !allows(&p, false, 10, 63, read));
        assert!(
            !allows(&p, false, 1, 4, read),
            "/dev/port-like 1:4 is not listed"
        );
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
