//! A mount a recipe asks for, validated before anything touches the kernel.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountSource {
    /// A new filesystem instance (`mount -t TYPE SOURCE TARGET`).
    Filesystem { fstype: String, source: String },
    /// `mount --bind` / `mount --rbind`; the source is a path as the sandbox sees it.
    Bind { source: String, recursive: bool },
    /// An overlay of read-only lower directories under a writable upper one.
    Overlay {
        lower: Vec<String>,
        upper: Option<String>,
        work: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    pub source: MountSource,
    /// Absolute path inside the sandbox's root.
    pub target: String,
    pub readonly: bool,
    pub nosuid: bool,
    pub nodev: bool,
    pub noexec: bool,
    /// Filesystem options (`-o size=64m,mode=755`), as key and optional value.
    pub data: Vec<(String, Option<String>)>,
}

/// Flags a user may set or clear; `None` means "what container runtimes use for this type".
#[derive(Debug, Clone, Copy, Default)]
pub struct MountFlagChoices {
    pub readonly: Option<bool>,
    pub nosuid: Option<bool>,
    pub nodev: Option<bool>,
    pub noexec: Option<bool>,
}

impl MountSpec {
    /// Builds a spec from the recipe's `mount(source, target, fstype, options)` words.
    /// `fstype` "bind" and "rbind" are bind mounts, as in mount(8)'s `--bind`/`--rbind`.
    pub fn new(
        source: &str,
        target: &str,
        fstype: &str,
        flags: MountFlagChoices,
        data: &str,
        overlay: Option<(Vec<String>, Option<String>, Option<String>)>,
    ) -> Result<MountSpec, String> {
        check_path("target", target)?;
        let target = normalize_in_root(target)?;
        let source = match fstype {
            "bind" | "rbind" => {
                check_path("source", source)?;
                if source.is_empty() {
                    return Err("a bind mount needs a source path".into());
                }
                MountSource::Bind { source: source.to_string(), recursive: fstype == "rbind" }
            }
            "overlay" => {
                let (lower, upper, work) = overlay.unwrap_or_default();
                if lower.is_empty() {
                    return Err("an overlay mount needs `lower: [dir, ...]`".into());
                }
                if upper.is_some() != work.is_some() {
                    return Err("an overlay mount needs both `upper` and `work`, or neither (read-only)".into());
                }
                for p in lower.iter().chain(upper.iter()).chain(work.iter()) {
                    check_path("overlay directory", p)?;
                }
                MountSource::Overlay { lower, upper, work }
            }
            "" => return Err("the filesystem type is empty (proc, sysfs, tmpfs, devpts, mqueue, bind, rbind, overlay...)".into()),
            t if !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-') => {
                return Err(format!("'{t}' is not a filesystem type name"))
            }
            t => MountSource::Filesystem { fstype: t.to_string(), source: source.to_string() },
        };
        let (dsuid, ddev, dexec) = defaults_for(fstype);
        let is_bind = matches!(source, MountSource::Bind { .. });
        let spec = MountSpec {
            target,
            readonly: flags.readonly.unwrap_or(false),
            nosuid: flags.nosuid.unwrap_or(dsuid && !is_bind),
            nodev: flags.nodev.unwrap_or(ddev && !is_bind),
            noexec: flags.noexec.unwrap_or(dexec && !is_bind),
            data: parse_data(data)?,
            source,
        };
        if is_bind && !spec.data.is_empty() {
            return Err("a bind mount takes no filesystem options (`data`)".into());
        }
        Ok(spec)
    }

    pub fn fstype(&self) -> &str {
        match &self.source {
            MountSource::Filesystem { fstype, .. } => fstype,
            MountSource::Bind {
                recursive: false, ..
            } => "bind",
            MountSource::Bind {
                recursive: true, ..
            } => "rbind",
            MountSource::Overlay { .. } => "overlay",
        }
    }

    /// The words a journal entry uses: "proc on /proc".
    pub fn describe(&self) -> String {
        match &self.source {
            MountSource::Bind { source, recursive } => {
                format!(
                    "{}bind {source} on {}",
                    if *recursive { "r" } else { "" },
                    self.target
                )
            }
            _ => format!("{} on {}", self.fstype(), self.target),
        }
    }

    fn flag_words(&self) -> Vec<String> {
        let mut o = Vec::new();
        if self.readonly {
            o.push("ro".to_string());
        }
        for (on, word) in [
            (self.nosuid, "nosuid"),
            (self.nodev, "nodev"),
            (self.noexec, "noexec"),
        ] {
            if on {
                o.push(word.to_string());
            }
        }
        o
    }
}

impl fmt::Display for MountSpec {
    /// The mount(8) command for this spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut opts = self.flag_words();
        match &self.source {
            MountSource::Bind { source, recursive } => {
                let word = if *recursive { "--rbind" } else { "--bind" };
                write!(f, "mount {word} {source} {}", self.target)?;
                if !opts.is_empty() {
                    write!(
                        f,
                        " && mount -o remount,bind,{} {}",
                        opts.join(","),
                        self.target
                    )?;
                }
                Ok(())
            }
            MountSource::Overlay { lower, upper, work } => {
                opts.push(format!("lowerdir={}", lower.join(":")));
                if let (Some(u), Some(w)) = (upper, work) {
                    opts.push(format!("upperdir={u}"));
                    opts.push(format!("workdir={w}"));
                }
                write!(
                    f,
                    "mount -t overlay overlay -o {} {}",
                    opts.join(","),
                    self.target
                )
            }
            MountSource::Filesystem { fstype, source } => {
                for (k, v) in &self.data {
                    opts.push(match v {
                        Some(v) => format!("{k}={v}"),
                        None => k.clone(),
                    });
                }
                let src = if source.is_empty() { "none" } else { source };
                write!(f, "mount -t {fstype} {src}")?;
                if !opts.is_empty() {
                    write!(f, " -o {}", opts.join(","))?;
                }
                write!(f, " {}", self.target)
            }
        }
    }
}

/// nosuid, nodev, noexec as runc and systemd-nspawn mount these types.
fn defaults_for(fstype: &str) -> (bool, bool, bool) {
    match fstype {
        "proc" | "sysfs" | "mqueue" | "cgroup2" => (true, true, true),
        "devpts" => (true, false, true),
        "tmpfs" => (true, true, false),
        _ => (false, false, false),
    }
}

fn check_path(what: &str, p: &str) -> Result<(), String> {
    if p.contains('\0') {
        return Err(format!("the {what} path contains a NUL byte"));
    }
    if p.len() >= libc::PATH_MAX as usize {
        return Err(format!("the {what} path is longer than PATH_MAX"));
    }
    Ok(())
}

/// Mount targets are absolute paths inside the sandbox root; a `..` that climbs above
/// the root is refused rather than silently clamped, because it shows a recipe that
/// means a host path.
pub fn normalize_in_root(target: &str) -> Result<String, String> {
    if !target.starts_with('/') {
        return Err(format!(
            "mount target '{target}' is not absolute: give the path as the sandbox sees it, starting with /"
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    let mut climbed = false;
    for comp in target.split('/') {
        match comp {
            "" | "." => {}
            ".." => climbed |= parts.pop().is_none(),
            c => parts.push(c),
        }
    }
    let inside = format!("/{}", parts.join("/"));
    if climbed {
        return Err(format!(
            "mount target '{target}' climbs above the sandbox's root with '..': the kernel would stop at the root (making it '{inside}'), but nsr refuses it, because such a path usually means a host path; write the target as the sandbox sees it: '{inside}'"
        ));
    }
    Ok(inside)
}

fn parse_data(data: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    for item in data.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = match item.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (item.to_string(), None),
        };
        if k.is_empty() {
            return Err(format!("mount option '{item}' has no name"));
        }
        if matches!(
            k.as_str(),
            "ro" | "rw" | "nosuid" | "nodev" | "noexec" | "bind" | "rbind" | "remount"
        ) {
            return Err(format!(
                "'{k}' is a mount flag, not a filesystem option: use the options map (readonly, nosuid, nodev, noexec)"
            ));
        }
        out.push((k, v));
    }
    Ok(out)
}

/// runc's read-only paths under /proc.
pub const PROC_READ_ONLY: [&str; 5] = ["bus", "fs", "irq", "sys", "sysrq-trigger"];
/// runc's masked paths under /proc (files under an empty file, directories under an
/// empty read-only tmpfs).
pub const PROC_MASKED: [&str; 9] = [
    "acpi",
    "asound",
    "kcore",
    "keys",
    "latency_stats",
    "timer_list",
    "timer_stats",
    "sched_debug",
    "scsi",
];
pub const SYS_MASKED: [&str; 2] = ["firmware", "devices/virtual/powercap"];

#[cfg(test)]
mod tests {
    use super::*;

    fn fs(src: &str, target: &str, t: &str) -> Result<MountSpec, String> {
        MountSpec::new(src, target, t, MountFlagChoices::default(), "", None)
    }

    #[test]
    fn proc_gets_runtime_defaults_and_renders_as_mount() {
        let m = fs("proc", "/proc", "proc").unwrap();
        assert!(m.nosuid && m.nodev && m.noexec && !m.readonly);
        assert_eq!(
            m.to_string(),
            "mount -t proc proc -o nosuid,nodev,noexec /proc"
        );
    }

    #[test]
    fn target_must_stay_in_root() {
        assert!(fs("proc", "proc", "proc")
            .unwrap_err()
            .contains("not absolute"));
        assert!(fs("proc", "/../etc", "proc")
            .unwrap_err()
            .contains("climbs above the sandbox's root"));
        assert_eq!(fs("tmpfs", "/a/../tmp/./", "tmpfs").unwrap().target, "/tmp");
        // Where the kernel would clamp, the error says what the path would be and why.
        let e = fs("tmpfs", "/tmp/../../..", "tmpfs").unwrap_err();
        assert!(e.contains("would stop at the root (making it '/')"), "{e}");
    }

    #[test]
    fn bind_and_rbind() {
        let m = MountSpec::new(
            "/usr",
            "/usr",
            "rbind",
            MountFlagChoices {
                readonly: Some(true),
                ..Default::default()
            },
            "",
            None,
        )
        .unwrap();
        assert_eq!(m.describe(), "rbind /usr on /usr");
        assert_eq!(
            m.to_string(),
            "mount --rbind /usr /usr && mount -o remount,bind,ro /usr"
        );
        assert!(MountSpec::new("/a", "/b", "bind", Default::default(), "size=1", None).is_err());
    }

    #[test]
    fn overlay_needs_lower_and_both_upper_and_work() {
        assert!(fs("overlay", "/m", "overlay")
            .unwrap_err()
            .contains("lower"));
        let half = Some((vec!["/l".to_string()], Some("/u".to_string()), None));
        assert!(MountSpec::new("overlay", "/m", "overlay", Default::default(), "", half).is_err());
    }

    #[test]
    fn data_options_are_parsed_and_flags_refused() {
        let m = MountSpec::new(
            "tmpfs",
            "/tmp",
            "tmpfs",
            Default::default(),
            "size=64m, mode=1777",
            None,
        )
        .unwrap();
        assert_eq!(
            m.data,
            vec![
                ("size".into(), Some("64m".into())),
                ("mode".into(), Some("1777".into()))
            ]
        );
        assert!(
            MountSpec::new("tmpfs", "/t", "tmpfs", Default::default(), "ro", None)
                .unwrap_err()
                .contains("mount flag")
        );
    }

    #[test]
    fn bad_fstype_and_nul() {
        assert!(fs("x", "/x", "pro c").is_err());
        assert!(fs("x", "/x\0y", "tmpfs").unwrap_err().contains("NUL"));
    }
}
