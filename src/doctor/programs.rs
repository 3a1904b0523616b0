//! The programs nsr calls: newuidmap/newgidmap (with /etc/subuid and /etc/subgid), nft,
//! pasta or slirp4netns for rootless networking, and the OCI runtimes that run what
//! `nsr export oci` writes.

use super::check::{Check, Status};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// A program on PATH (or in the sbin directories a non-login root shell may lack).
fn find(program: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(program)).find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// newuidmap/newgidmap (setuid root, or with file capabilities) and this user's ranges.
pub fn id_mapping() -> Vec<Check> {
    let root = nix::unistd::geteuid().is_root();
    let helpers: Vec<(&str, Option<PathBuf>)> = ["newuidmap", "newgidmap"]
        .into_iter()
        .map(|p| (p, find(p)))
        .collect();
    let missing: Vec<&str> = helpers
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| *n)
        .collect();
    let helper = if root {
        Check::ok(
            "newuidmap",
            "not needed as root (nsr writes uid_map and gid_map itself)",
        )
    } else if !missing.is_empty() {
        Check::problem(
            "newuidmap",
            Status::Warn,
            format!(
                "{} not found: uid_map/gid_map ranges beyond your own id cannot be written",
                missing.join(", ")
            ),
            "apt-get install uidmap",
        )
    } else {
        let unprivileged: Vec<String> = helpers
            .iter()
            .filter_map(|(n, p)| p.as_ref().map(|p| (n, p)))
            .filter(|(_, p)| !is_setuid_or_capable(p))
            .map(|(n, p)| format!("{n} ({})", p.display()))
            .collect();
        if unprivileged.is_empty() {
            Check::ok("newuidmap", "newuidmap and newgidmap can map ranges")
        } else {
            Check::problem(
                "newuidmap",
                Status::Warn,
                format!(
                    "{} is neither setuid root nor has file capabilities",
                    unprivileged.join(", ")
                ),
                "apt-get install --reinstall uidmap",
            )
        }
    };
    vec![helper, subordinate_ids(root)]
}

fn is_setuid_or_capable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let setuid_root = std::fs::metadata(p).is_ok_and(|m| m.mode() & 0o4000 != 0 && m.uid() == 0);
    // security.capability: Debian's uidmap may ship with cap_setuid/cap_setgid instead.
    let mut buf = [0u8; 64];
    let name = c"security.capability";
    let path = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap_or_default();
    // SAFETY: getxattr into a buffer of the given size.
    let caps = unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    setuid_root || caps > 0
}

/// This user's ranges in /etc/subuid and /etc/subgid (by name or by uid).
fn subordinate_ids(root: bool) -> Check {
    if root {
        return Check::ok("subordinate ids", "not needed as root (any range maps)");
    }
    let uid = nix::unistd::geteuid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default();
    let ranges = |file: &str| -> Vec<String> {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut f = l.split(':');
                let who = f.next()?;
                let (start, count) = (f.next()?, f.next()?);
                (who == name || who == uid.to_string()).then(|| format!("{start}+{count}"))
            })
            .collect()
    };
    let (subuid, subgid) = (ranges("/etc/subuid"), ranges("/etc/subgid"));
    if !subuid.is_empty() && !subgid.is_empty() {
        Check::ok(
            "subordinate ids",
            format!(
                "/etc/subuid {}, /etc/subgid {}",
                subuid.join(" "),
                subgid.join(" ")
            ),
        )
    } else {
        let who = if name.is_empty() {
            uid.to_string()
        } else {
            name
        };
        Check::problem(
            "subordinate ids",
            Status::Warn,
            format!("no range for {who} in /etc/subuid or /etc/subgid: only your own id maps into a sandbox"),
            format!("usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {who} (as root)"),
        )
    }
}

pub fn nft() -> Check {
    match crate::net::nft::find_nft() {
        Ok(path) => {
            let version = std::process::Command::new(&path)
                .arg("--version")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default();
            Check::ok("nft", format!("{} ({version})", path.display()))
        }
        Err(e) => Check::problem(
            "nft",
            Status::Missing,
            format!(
                "not found: NAT rules in an ordinary user's sandbox, `nsr gc` and `nsr graph --env` need it; as root nsr makes NAT rules without it ({})",
                e.message
            ),
            "apt-get install nftables (or NSR_NFT=/path/to/nft)",
        ),
    }
}

/// runc or crun: what runs the bundles `nsr export oci` writes (nsr itself needs neither).
pub fn oci_runtime() -> Check {
    let found: Vec<String> = ["runc", "crun"]
        .into_iter()
        .filter_map(|r| {
            find(r).map(|p| {
                format!(
                    "{r} ({}, {})",
                    p.display(),
                    package_version(r).unwrap_or_else(|| "version unknown".into())
                )
            })
        })
        .collect();
    if found.is_empty() {
        Check::problem(
            "oci runtime",
            Status::Warn,
            "neither runc nor crun: nsr export oci writes bundles that nothing here runs",
            "apt-get install runc",
        )
    } else {
        Check::ok(
            "oci runtime",
            format!("for nsr export oci's bundles: {}", found.join(", ")),
        )
    }
}

/// pasta (passt) or slirp4netns: a sandbox of an ordinary user reaching the network.
/// `net: "pasta"` uses pasta, or slirp4netns when pasta is missing; their versions,
/// and whether /dev/net/tun (which both open as the user) is usable.
pub fn rootless_network() -> Vec<Check> {
    let slirp = find("slirp4netns").map(|p| {
        let v = package_version("slirp4netns").unwrap_or_else(|| "version unknown".into());
        format!("{} ({v})", p.display())
    });
    let Some(pasta) = find("pasta") else {
        return vec![
            match slirp {
                Some(s) => Check::problem(
                    "pasta",
                    Status::Warn,
                    format!(
                        "not found: net: \"pasta\" falls back to slirp4netns, {s} (no host_ports)"
                    ),
                    crate::net::pasta::INSTALL_HINT,
                ),
                None => Check::problem(
                    "pasta",
                    Status::Warn,
                    "not found, nor slirp4netns: net: \"pasta\" cannot connect a sandbox",
                    crate::net::pasta::INSTALL_HINT,
                ),
            },
            tun(),
        ];
    };
    let version = package_version("passt")
        .or_else(|| crate::net::pasta::version(&pasta))
        .unwrap_or_else(|| "version unknown".into());
    let mut checks = vec![Check::ok(
        "pasta",
        format!("{} ({version})", pasta.display()),
    )];
    if let Some(s) = slirp {
        checks.push(Check::ok(
            "slirp4netns",
            format!("{s}: net: \"slirp4netns\""),
        ));
    }
    checks.push(tun());
    checks
}

/// The Debian package's version: this pasta's own `--version` says "unknown version".
fn package_version(package: &str) -> Option<String> {
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", package])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !v.is_empty()).then(|| format!("{package} {v}"))
}

/// /dev/net/tun: pasta opens it as the user who runs nsr.
fn tun() -> Check {
    use std::os::unix::fs::MetadataExt;
    let path = "/dev/net/tun";
    let Ok(m) = std::fs::metadata(path) else {
        return Check::problem(
            "/dev/net/tun",
            Status::Warn,
            "missing: pasta cannot make its interface",
            "as root: mkdir -p /dev/net && mknod -m 666 /dev/net/tun c 10 200",
        );
    };
    let root = nix::unistd::geteuid().is_root();
    if root || m.mode() & 0o006 == 0o006 {
        return Check::ok("/dev/net/tun", format!("mode {:o}", m.mode() & 0o777));
    }
    Check::problem(
        "/dev/net/tun",
        Status::Warn,
        format!(
            "mode {:o}: pasta or slirp4netns, started as you, cannot open it",
            m.mode() & 0o777
        ),
        "as root: chmod 0666 /dev/net/tun (udev's default mode)",
    )
}
