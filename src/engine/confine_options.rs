//! The confinement options of `unshare` and of `run`/`exec`, from recipe values:
//! `privileged`, `caps`, `seccomp`, `no_new_privs`, `rlimits`, `run_as`, `landlock`,
//! `devices`.

use super::read::{array, boolean, string, type_name};
use crate::confine::devices::{DeviceRule, Devices};
use crate::confine::landlock::Landlock;
use crate::confine::seccomp::{self, Base, Policy};
use crate::confine::{caps, Caps, ConfineOptions, Rlimit, SeccompSetting, User, RLIMITS};
use rhai::{Dynamic, Map};

type Res<T> = Result<T, String>;

pub const KEYS: [&str; 8] = [
    "privileged",
    "caps",
    "seccomp",
    "no_new_privs",
    "rlimits",
    // Not `user`: on unshare that key joins a user namespace (as `net:` joins a netns).
    "run_as",
    "landlock",
    "devices",
];

pub fn confine_options(opts: &Map) -> Res<ConfineOptions> {
    let o = ConfineOptions {
        privileged: opts
            .get("privileged")
            .map(|d| boolean(d, "privileged"))
            .transpose()?,
        caps: opts.get("caps").map(caps_of).transpose()?,
        no_new_privs: opts
            .get("no_new_privs")
            .map(|d| boolean(d, "no_new_privs"))
            .transpose()?,
        seccomp: opts.get("seccomp").map(seccomp_of).transpose()?,
        rlimits: opts.get("rlimits").map(rlimits_of).transpose()?,
        user: opts.get("run_as").map(user_of).transpose()?,
        landlock: opts.get("landlock").map(landlock_of).transpose()?,
        devices: opts.get("devices").map(devices_of).transpose()?,
    };
    o.validate()?;
    Ok(o)
}

/// The options of one `run`/`exec`: those of unshare but `devices`, which is the
/// sandbox's (its commands share its device cgroup).
pub fn command_confine_options(opts: &Map) -> Res<ConfineOptions> {
    let o = confine_options(opts)?;
    if o.devices.is_some() {
        return Err("devices is an option of unshare: a sandbox's commands share its device cgroup (privileged: true runs one command outside it)".into());
    }
    Ok(o)
}

/// `["NET_ADMIN", ...]` or `"all"`.
fn caps_of(d: &Dynamic) -> Res<Caps> {
    if let Ok(s) = d.clone().into_string() {
        return match s.as_str() {
            "all" => Ok(Caps::All),
            other => Err(format!(
                "caps is \"all\" or a list of capability names, not \"{other}\""
            )),
        };
    }
    let names = array(d, "caps")?
        .iter()
        .map(|n| string(n, "a capability name"))
        .collect::<Res<Vec<_>>>()?;
    Ok(Caps::Only(caps::mask(&names)?))
}

/// `"default"`, `"none"`, or `#{ allow: [...], deny: [...], default: "default" | "allow" | "deny" }`.
fn seccomp_of(d: &Dynamic) -> Res<SeccompSetting> {
    if let Ok(s) = d.clone().into_string() {
        return match s.as_str() {
            "default" => Ok(SeccompSetting::Filter(Policy::default_list())),
            "none" => Ok(SeccompSetting::Off),
            other => Err(format!(
                "seccomp is \"default\", \"none\" or a map, not \"{other}\""
            )),
        };
    }
    let m = d.clone().try_cast::<Map>().ok_or_else(|| {
        format!(
            "seccomp is \"default\", \"none\" or #{{ allow, deny, default }}, not {}",
            type_name(d)
        )
    })?;
    let mut policy = Policy::default_list();
    for (k, v) in &m {
        match k.as_str() {
            "allow" | "deny" => {
                let names = array(v, &format!("seccomp {k}"))?
                    .iter()
                    .map(|n| string(n, "a system call name"))
                    .collect::<Res<Vec<_>>>()?;
                let numbers = seccomp::numbers(&names)?;
                if k == "allow" {
                    policy.allow = numbers;
                } else {
                    policy.deny = numbers;
                }
            }
            "default" => {
                policy.base = match string(v, "seccomp default")?.as_str() {
                    "default" => Base::DefaultList,
                    "allow" => Base::Allow,
                    "deny" => Base::Deny,
                    other => {
                        return Err(format!(
                            "seccomp default is \"default\", \"allow\" or \"deny\", not \"{other}\""
                        ))
                    }
                }
            }
            other => {
                return Err(format!(
                    "unknown seccomp option '{other}' (known: allow, deny, default)"
                ))
            }
        }
    }
    Ok(SeccompSetting::Filter(policy))
}

/// `#{ nofile: 1024, core: 0, as: [soft, hard], stack: "unlimited" }`.
fn rlimits_of(d: &Dynamic) -> Res<Vec<Rlimit>> {
    let m = d
        .clone()
        .try_cast::<Map>()
        .ok_or_else(|| format!("rlimits must be a map, not {}", type_name(d)))?;
    let mut out = Vec::new();
    for (k, v) in &m {
        let resource = RLIMITS
            .iter()
            .find(|(n, _)| *n == k.as_str())
            .map(|(_, r)| *r)
            .ok_or_else(|| {
                format!(
                    "unknown resource limit '{k}' (known: {})",
                    RLIMITS.map(|(n, _)| n).join(", ")
                )
            })?;
        let (soft, hard) = if let Ok(pair) = v.clone().into_array() {
            if pair.len() != 2 {
                return Err(format!("rlimits {k}: give one value or [soft, hard]"));
            }
            (limit(&pair[0], k)?, limit(&pair[1], k)?)
        } else {
            let one = limit(v, k)?;
            (one, one)
        };
        if soft > hard {
            return Err(format!(
                "rlimits {k}: the soft limit {soft} is above the hard limit {hard}"
            ));
        }
        out.push(Rlimit {
            resource,
            soft,
            hard,
        });
    }
    Ok(out)
}

fn limit(d: &Dynamic, key: &str) -> Res<u64> {
    if let Ok(s) = d.clone().into_string() {
        return match s.as_str() {
            "unlimited" => Ok(u64::MAX),
            other => Err(format!(
                "rlimits {key}: a number or \"unlimited\", not \"{other}\""
            )),
        };
    }
    let n = d
        .as_int()
        .map_err(|_| format!("rlimits {key}: a number, not {}", type_name(d)))?;
    u64::try_from(n).map_err(|_| format!("rlimits {key}: {n} is negative"))
}

/// `"1000"`, `"1000:1000"` or `#{ uid: 1000, gid: 1000, groups: [27] }`, by number.
fn user_of(d: &Dynamic) -> Res<User> {
    let id = |v: &str, what: &str| -> Res<u32> {
        v.parse().map_err(|_| {
            format!("run_as: {what} '{v}' is not a number (nsr takes ids by number, not names)")
        })
    };
    if let Ok(s) = d.clone().into_string() {
        let (u, g) = s.split_once(':').unwrap_or((&s, &s));
        return Ok(User {
            uid: id(u, "uid")?,
            gid: id(g, "gid")?,
            groups: Vec::new(),
        });
    }
    let m = d.clone().try_cast::<Map>().ok_or_else(|| {
        format!(
            "run_as is \"UID:GID\" or #{{ uid, gid, groups }}, not {}",
            type_name(d)
        )
    })?;
    let num = |v: &Dynamic, what: &str| -> Res<u32> {
        let n = v
            .as_int()
            .map_err(|_| format!("run_as {what} must be a number, not {}", type_name(v)))?;
        u32::try_from(n).map_err(|_| format!("run_as {what}: {n} is not an id"))
    };
    let mut u = User {
        uid: 0,
        gid: 0,
        groups: Vec::new(),
    };
    let mut gid_given = false;
    for (k, v) in &m {
        match k.as_str() {
            "uid" => u.uid = num(v, "uid")?,
            "gid" => {
                u.gid = num(v, "gid")?;
                gid_given = true;
            }
            "groups" => {
                u.groups = array(v, "run_as groups")?
                    .iter()
                    .map(|g| num(g, "group"))
                    .collect::<Res<_>>()?
            }
            other => {
                return Err(format!(
                    "unknown run_as option '{other}' (known: uid, gid, groups)"
                ))
            }
        }
    }
    if !gid_given {
        u.gid = u.uid;
    }
    Ok(u)
}

/// `#{ read: [paths], write: [paths], exec: [paths] }`: absolute paths inside the sandbox.
fn landlock_of(d: &Dynamic) -> Res<Landlock> {
    let m = d.clone().try_cast::<Map>().ok_or_else(|| {
        format!(
            "landlock is #{{ read: [...], write: [...], exec: [...] }}, not {}",
            type_name(d)
        )
    })?;
    let mut l = Landlock::default();
    for (k, v) in &m {
        let list = match k.as_str() {
            "read" => &mut l.read,
            "write" => &mut l.write,
            "exec" => &mut l.exec,
            other => {
                return Err(format!(
                    "unknown landlock option '{other}' (known: read, write, exec)"
                ))
            }
        };
        for p in array(v, &format!("landlock {k}"))? {
            let path = string(&p, &format!("a landlock {k} path"))?;
            if !path.starts_with('/') {
                return Err(format!(
                    "landlock {k}: '{path}' is not an absolute path (paths are inside the sandbox's root)"
                ));
            }
            if path.contains('\0') {
                return Err(format!("landlock {k}: a path with a NUL byte"));
            }
            list.push(path);
        }
    }
    Ok(l)
}

/// `"all"`, or the devices allowed beside the standard ones: `["c 10:200", "b 7:*"]`.
fn devices_of(d: &Dynamic) -> Res<Devices> {
    if let Ok(s) = d.clone().into_string() {
        return match s.as_str() {
            "all" => Ok(Devices::All),
            "standard" => Ok(Devices::Standard { extra: Vec::new() }),
            other => Err(format!(
                "devices is \"all\", \"standard\" or a list like [\"c 10:200\"], not \"{other}\""
            )),
        };
    }
    let extra = array(d, "devices")?
        .iter()
        .map(|r| DeviceRule::parse(&string(r, "a device rule")?))
        .collect::<Res<Vec<_>>>()?;
    Ok(Devices::Standard { extra })
}
