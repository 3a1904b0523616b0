//! Capability names, as capabilities(7) lists them without the `CAP_` prefix, and the
//! set container runtimes grant by default.

/// By number: CAP_CHOWN is 0, CAP_CHECKPOINT_RESTORE 40.
pub const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The OCI/Docker default set, without MKNOD (Docker may grant it only because its
/// device cgroup makes a new node useless) and without SYS_CHROOT (after a plain chroot
/// a second chroot is the classic way out).
pub const DEFAULT: [&str; 12] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "KILL",
    "AUDIT_WRITE",
];

/// The number of `name` (`NET_ADMIN` or `CAP_NET_ADMIN`, any case).
pub fn number(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    NAMES.iter().position(|n| *n == bare).map(|i| i as u32)
}

/// A mask of capabilities by name; the first unknown name is the error.
pub fn mask(names: &[String]) -> Result<u64, String> {
    let mut m = 0u64;
    for n in names {
        let bit = number(n)
            .ok_or_else(|| format!("unknown capability '{n}' (known: {})", NAMES.join(" ")))?;
        m |= 1 << bit;
    }
    Ok(m)
}

pub fn default_mask() -> u64 {
    DEFAULT
        .iter()
        .map(|n| 1u64 << number(n).expect("a known name"))
        .fold(0, |a, b| a | b)
}

/// The names in `mask`, in capability order.
pub fn names_of(mask: u64) -> Vec<&'static str> {
    (0..NAMES.len())
        .filter(|i| mask & (1 << i) != 0)
        .map(|i| NAMES[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_agree_with_capabilities_7() {
        assert_eq!(number("CHOWN"), Some(0));
        assert_eq!(number("cap_net_admin"), Some(12));
        assert_eq!(number("SYS_ADMIN"), Some(21));
        assert_eq!(number("CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(number("NET_ADMINN"), None);
        assert_eq!(default_mask().count_ones(), 12);
        assert!(mask(&["NOPE".into()])
            .unwrap_err()
            .contains("unknown capability 'NOPE'"));
    }
}
