//! Confinement of what a sandbox runs: capabilities, no_new_privs, a seccomp filter and
//! resource limits, applied by the holder to a command between fork and exec (as runc
//! does), never to the holder itself, which keeps what the recipe's own mounts, chroots
//! and extractions need.

pub mod apply;
pub mod caps;
pub mod devices;
pub mod landlock;
pub mod seccomp;
mod syscalls_x86_64;

use serde::{Deserialize, Serialize};

/// The capabilities a command keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Caps {
    /// Whatever the holder has (all of them as root).
    All,
    /// This mask (bit N is capability N).
    Only(u64),
}

/// One resource limit: RLIMIT_* by number, soft and hard (u64::MAX: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// The ids a command runs as inside (numbers: nsr never reads the sandbox's
/// /etc/passwd with its own libc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (none: cleared).
    pub groups: Vec<u32>,
}

/// Everything a command is confined by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confinement {
    pub caps: Caps,
    pub no_new_privs: bool,
    pub seccomp: Option<seccomp::Policy>,
    pub rlimits: Vec<Rlimit>,
    /// None: the holder's ids (root inside).
    #[serde(default)]
    pub user: Option<User>,
    /// None: the whole filesystem the sandbox sees.
    #[serde(default)]
    pub landlock: Option<landlock::Landlock>,
    /// Which device nodes it may open.
    #[serde(default = "standard_devices")]
    pub devices: devices::Devices,
}

fn standard_devices() -> devices::Devices {
    devices::Devices::Standard { extra: Vec::new() }
}

impl Confinement {
    /// What `privileged: true` asks for: the holder's privileges, unfiltered.
    pub fn privileged() -> Confinement {
        Confinement {
            caps: Caps::All,
            no_new_privs: false,
            seccomp: None,
            rlimits: Vec::new(),
            user: None,
            landlock: None,
            devices: devices::Devices::All,
        }
    }

    /// The container runtimes' default: their capability set, no_new_privs, the
    /// default seccomp list.
    pub fn confined() -> Confinement {
        Confinement {
            caps: Caps::Only(caps::default_mask()),
            no_new_privs: true,
            seccomp: Some(seccomp::Policy::default_list()),
            rlimits: Vec::new(),
            user: None,
            landlock: None,
            devices: standard_devices(),
        }
    }

    /// Whether its commands start in the sandbox's device cgroup.
    pub fn limits_devices(&self) -> bool {
        matches!(self.devices, devices::Devices::Standard { .. })
    }

    pub fn is_privileged(&self) -> bool {
        *self == Confinement::privileged()
    }

    /// In words, for a picture (`nsr graph`): what differs from running unconfined.
    pub fn summary(&self) -> String {
        if self.is_privileged() {
            return "privileged (the holder's capabilities, no filter)".into();
        }
        if *self == Confinement::confined() {
            return "confined: runtime defaults".into();
        }
        let mut parts = vec![match self.caps {
            Caps::All => "all capabilities".to_string(),
            Caps::Only(m) if m == caps::default_mask() => "default capabilities".into(),
            Caps::Only(0) => "no capabilities".into(),
            Caps::Only(m) => format!("capabilities {}", caps::names_of(m).join(" ")),
        }];
        if self.no_new_privs {
            parts.push("no_new_privs".into());
        }
        parts.push(match &self.seccomp {
            None => "no seccomp".into(),
            Some(p)
                if p.base == seccomp::Base::DefaultList
                    && p.allow.is_empty()
                    && p.deny.is_empty() =>
            {
                "seccomp default".into()
            }
            Some(p) => format!(
                "seccomp {} (+{} -{})",
                match p.base {
                    seccomp::Base::DefaultList => "default",
                    seccomp::Base::Allow => "allow-list",
                    seccomp::Base::Deny => "deny-list",
                },
                p.allow.len(),
                p.deny.len()
            ),
        });
        if self.landlock.is_some() {
            parts.push("landlock".into());
        }
        if !self.rlimits.is_empty() {
            let names: Vec<_> = self
                .rlimits
                .iter()
                .map(|r| rlimit_name(r.resource))
                .collect();
            parts.push(format!("rlimits {}", names.join(" ")));
        }
        if let Some(u) = &self.user {
            parts.push(format!("uid {} gid {}", u.uid, u.gid));
        }
        parts.join(", ")
    }
}

impl Default for Confinement {
    /// A sandbox without confinement options is confined.
    fn default() -> Confinement {
        Confinement::confined()
    }
}

/// `seccomp: "none"`, or a filter (an enum rather than an Option, which JSON could not
/// tell apart from "not given").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeccompSetting {
    Off,
    Filter(seccomp::Policy),
}

/// What a recipe wrote (on `unshare` for the sandbox, on `run`/`exec` for one command):
/// each part it names replaces that part of what it is applied to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfineOptions {
    pub privileged: Option<bool>,
    pub caps: Option<Caps>,
    pub no_new_privs: Option<bool>,
    pub seccomp: Option<SeccompSetting>,
    pub rlimits: Option<Vec<Rlimit>>,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub landlock: Option<landlock::Landlock>,
    /// On `unshare` only: the device cgroup is the sandbox's.
    #[serde(default)]
    pub devices: Option<devices::Devices>,
}

impl ConfineOptions {
    pub fn is_empty(&self) -> bool {
        *self == ConfineOptions::default()
    }

    /// `base` with these options applied. `privileged: true` is the holder's privileges;
    /// a confinement option on a privileged base starts from the confined default.
    pub fn apply_to(&self, base: &Confinement) -> Confinement {
        if self.privileged == Some(true) {
            return Confinement::privileged();
        }
        let mut c = if self.is_empty() {
            return base.clone();
        } else if base.is_privileged() {
            Confinement::confined()
        } else {
            base.clone()
        };
        if let Some(caps) = self.caps {
            c.caps = caps;
        }
        if let Some(n) = self.no_new_privs {
            c.no_new_privs = n;
        }
        match &self.seccomp {
            Some(SeccompSetting::Off) => c.seccomp = None,
            Some(SeccompSetting::Filter(p)) => c.seccomp = Some(p.clone()),
            None => {}
        }
        if let Some(r) = &self.rlimits {
            c.rlimits = r.clone();
        }
        if let Some(u) = &self.user {
            c.user = Some(u.clone());
        }
        if let Some(l) = &self.landlock {
            c.landlock = Some(l.clone());
        }
        if let Some(d) = &self.devices {
            c.devices = d.clone();
        }
        c
    }

    /// `privileged: true` with another option contradicts itself.
    pub fn validate(&self) -> Result<(), String> {
        let others = self.caps.is_some()
            || self.no_new_privs.is_some()
            || self.seccomp.is_some()
            || self.rlimits.is_some()
            || self.user.is_some()
            || self.landlock.is_some()
            || self.devices.is_some();
        if self.privileged == Some(true) && others {
            return Err("privileged: true turns confinement off; it cannot go with caps, seccomp, no_new_privs, rlimits, run_as, landlock or devices".into());
        }
        Ok(())
    }
}

/// RLIMIT_* numbers by the names prlimit(1) uses (lowercase, without RLIMIT_).
pub const RLIMITS: [(&str, u32); 8] = [
    ("nofile", libc::RLIMIT_NOFILE),
    ("nproc", libc::RLIMIT_NPROC),
    ("as", libc::RLIMIT_AS),
    ("core", libc::RLIMIT_CORE),
    ("fsize", libc::RLIMIT_FSIZE),
    ("stack", libc::RLIMIT_STACK),
    ("cpu", libc::RLIMIT_CPU),
    ("memlock", libc::RLIMIT_MEMLOCK),
];

pub fn rlimit_name(resource: u32) -> &'static str {
    RLIMITS
        .iter()
        .find(|(_, r)| *r == resource)
        .map(|(n, _)| *n)
        .unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_says_what_differs_from_the_defaults() {
        assert_eq!(
            Confinement::confined().summary(),
            "confined: runtime defaults"
        );
        assert!(Confinement::privileged()
            .summary()
            .starts_with("privileged"));
        let c = Confinement {
            caps: Caps::Only(0),
            seccomp: None,
            user: Some(User {
                uid: 1000,
                gid: 1000,
                groups: vec![],
            }),
            ..Confinement::confined()
        };
        assert_eq!(
            c.summary(),
            "no capabilities, no_new_privs, no seccomp, uid 1000 gid 1000"
        );
    }

    #[test]
    fn options_replace_parts_and_privileged_turns_everything_off() {
        let none = ConfineOptions::default();
        assert!(none.apply_to(&Confinement::privileged()).is_privileged());
        let caps = ConfineOptions {
            caps: Some(Caps::Only(1 << 12)),
            ..Default::default()
        };
        let c = caps.apply_to(&Confinement::privileged());
        assert_eq!(c.caps, Caps::Only(1 << 12));
        assert!(c.no_new_privs && c.seccomp.is_some(), "the rest confined");
        let off = ConfineOptions {
            privileged: Some(true),
            ..Default::default()
        };
        assert!(off.apply_to(&Confinement::confined()).is_privileged());
        let both = ConfineOptions {
            privileged: Some(true),
            caps: Some(Caps::All),
            ..Default::default()
        };
        assert!(both.validate().is_err());
    }
}
