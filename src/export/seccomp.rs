//! nsr's seccomp policy in the runtime-spec's words (libseccomp's, as runc and crun
//! load it): the same calls refused with the same errno.

use crate::confine::seccomp::{Base, Policy, DEFAULT_DENY};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompOperator, LinuxSyscall,
};

/// The namespace flags of clone(2), each refused on its own (libseccomp compares an
/// argument with a mask for equality, so "any of them set" is one rule per flag).
const CLONE_NEW_FLAGS: [u64; 7] = [
    0x0002_0000,
    0x0200_0000,
    0x0400_0000,
    0x0800_0000,
    0x1000_0000,
    0x2000_0000,
    0x4000_0000,
];

/// The personality(2) values nsr's filter lets through.
const PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

fn name_of(nr: u32) -> Option<String> {
    crate::confine::seccomp::name(nr).map(str::to_string)
}

fn rule(names: Vec<String>, action: LinuxSeccompAction, errno: Option<u32>) -> LinuxSyscall {
    let mut s = LinuxSyscall::default();
    s.set_names(names);
    s.set_action(action);
    s.set_errno_ret(errno);
    s
}

fn arg(value: u64, value_two: Option<u64>, op: LinuxSeccompOperator) -> LinuxSeccompArg {
    let b = LinuxSeccompArgBuilder::default()
        .index(0usize)
        .value(value)
        .op(op);
    match value_two {
        Some(v) => b.value_two(v),
        None => b,
    }
    .build()
    .expect("every field given")
}

/// The filter for `policy`, refusing with EPERM as nsr's does. The x86_64 table only:
/// libseccomp then gives calls of the x32 and i386 entries its bad-architecture action
/// (kill), where nsr's own filter refuses them; either way they do not get through.
pub fn of_policy(policy: &Policy) -> LinuxSeccomp {
    let eperm = Some(libc::EPERM as u32);
    let names = |nrs: &[u32]| -> Vec<String> {
        let mut v: Vec<String> = nrs.iter().filter_map(|n| name_of(*n)).collect();
        v.sort();
        v.dedup();
        v
    };
    let allow = names(&policy.allow);
    let deny: Vec<String> = names(&policy.deny)
        .into_iter()
        .filter(|n| !allow.contains(n))
        .collect();
    let mut rules = Vec::new();
    if !allow.is_empty() && policy.base != Base::Allow {
        rules.push(rule(allow.clone(), LinuxSeccompAction::ScmpActAllow, None));
    }
    if !deny.is_empty() && policy.base != Base::Deny {
        rules.push(rule(deny.clone(), LinuxSeccompAction::ScmpActErrno, eperm));
    }
    let default = match policy.base {
        Base::Allow => LinuxSeccompAction::ScmpActAllow,
        Base::Deny => LinuxSeccompAction::ScmpActErrno,
        Base::DefaultList => {
            let listed = |n: &str| allow.iter().chain(deny.iter()).any(|x| x == n);
            let mut list: Vec<String> = DEFAULT_DENY
                .iter()
                .filter(|n| !listed(n) && crate::confine::seccomp::number(n).is_some())
                .map(|n| n.to_string())
                .collect();
            list.sort();
            rules.push(rule(list, LinuxSeccompAction::ScmpActErrno, eperm));
            if !listed("clone3") {
                let enosys = Some(libc::ENOSYS as u32);
                rules.push(rule(
                    vec!["clone3".into()],
                    LinuxSeccompAction::ScmpActErrno,
                    enosys,
                ));
            }
            if !listed("clone") {
                for flag in CLONE_NEW_FLAGS {
                    let mut r = rule(
                        vec!["clone".into()],
                        LinuxSeccompAction::ScmpActErrno,
                        eperm,
                    );
                    r.set_args(Some(vec![arg(
                        flag,
                        Some(flag),
                        LinuxSeccompOperator::ScmpCmpMaskedEq,
                    )]));
                    rules.push(r);
                }
            }
            if !listed("personality") {
                let mut r = rule(
                    vec!["personality".into()],
                    LinuxSeccompAction::ScmpActErrno,
                    eperm,
                );
                let args = PERSONALITIES
                    .iter()
                    .map(|v| arg(*v, None, LinuxSeccompOperator::ScmpCmpNe))
                    .collect();
                r.set_args(Some(args));
                rules.push(r);
            }
            LinuxSeccompAction::ScmpActAllow
        }
    };
    let mut s = LinuxSeccomp::default();
    s.set_default_action(default);
    if default == LinuxSeccompAction::ScmpActErrno {
        s.set_default_errno_ret(eperm);
    }
    s.set_architectures(Some(vec![Arch::ScmpArchX86_64]));
    s.set_syscalls(Some(rules));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_list_refuses_what_nsr_refuses() {
        let s = of_policy(&Policy::default_list());
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActAllow);
        let rules = s.syscalls().clone().unwrap();
        let refused: Vec<&String> = rules
            .iter()
            .filter(|r| r.args().is_none() && r.errno_ret() == Some(libc::EPERM as u32))
            .flat_map(|r| r.names())
            .collect();
        for name in ["mount", "bpf", "open_by_handle_at", "unshare", "keyctl"] {
            assert!(refused.iter().any(|n| *n == name), "{name} refused");
        }
        let clone_rules = rules.iter().filter(|r| r.names() == &["clone"]).count();
        assert_eq!(clone_rules, CLONE_NEW_FLAGS.len());
        assert!(rules
            .iter()
            .any(|r| r.names() == &["clone3"] && r.errno_ret() == Some(libc::ENOSYS as u32)));
    }

    #[test]
    fn an_allow_list_refuses_everything_else() {
        let p = Policy {
            base: Base::Deny,
            allow: vec![crate::confine::seccomp::number("read").unwrap()],
            deny: vec![],
        };
        let s = of_policy(&p);
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(libc::EPERM as u32));
        assert_eq!(s.syscalls().clone().unwrap()[0].names(), &["read"]);
    }
}
