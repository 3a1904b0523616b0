//! The `limits` map of `unshare` and `box.limits`, from recipe values:
//! `#{ memory: "256M", memory_swap: "0", pids: 128, cpu: 0.5, cpu_weight: 100,
//! io: #{ "/dev/vda": #{ read_bps: "20M", write_bps: "10M" } } }`.

use super::read::{string, type_name};
use crate::ops::limits::{parse_size, CgroupLimits, IoLimit};
use rhai::{Dynamic, Map};

type Res<T> = Result<T, String>;

pub const KEYS: [&str; 6] = ["memory", "memory_swap", "pids", "cpu", "cpu_weight", "io"];
const IO_KEYS: [&str; 4] = ["read_bps", "write_bps", "read_iops", "write_iops"];

/// A size: a number of bytes, or a string with K, M, G or T.
fn size(d: &Dynamic, what: &str) -> Res<u64> {
    if let Ok(n) = d.as_int() {
        return u64::try_from(n).map_err(|_| format!("{what} must not be negative, not {n}"));
    }
    let text = string(d, what).map_err(|_| {
        format!(
            "{what} must be a size (\"256M\" or bytes), not {}",
            type_name(d)
        )
    })?;
    parse_size(&text).map_err(|e| format!("{what}: {e}"))
}

fn whole(d: &Dynamic, what: &str, least: i64) -> Res<u64> {
    let n = d
        .as_int()
        .map_err(|_| format!("{what} must be a whole number, not {}", type_name(d)))?;
    if n < least {
        return Err(format!("{what} must be at least {least}, not {n}"));
    }
    Ok(n as u64)
}

/// Cores, as a decimal or whole number, in thousandths.
fn cores(d: &Dynamic) -> Res<u64> {
    let n = match (d.as_float(), d.as_int()) {
        (Ok(f), _) => f,
        (_, Ok(i)) => i as f64,
        _ => {
            return Err(format!(
                "limits.cpu must be a number of cores (0.5), not {}",
                type_name(d)
            ))
        }
    };
    if n.is_nan() || n <= 0.0 || !n.is_finite() {
        return Err(format!("limits.cpu must be more than 0 cores, not {n}"));
    }
    Ok((n * 1000.0).round() as u64)
}

/// The device number of a block device node.
fn block_device(path: &str) -> Res<(u32, u32)> {
    use nix::sys::stat::{major, minor, stat, SFlag};
    let st = stat(path).map_err(|e| {
        format!("limits.io: {path}: {e:?} ({}): name a block device, such as /dev/vda (lsblk lists them)", e.desc())
    })?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFBLK {
        return Err(format!(
            "limits.io: {path} is not a block device (lsblk lists them)"
        ));
    }
    Ok((major(st.st_rdev) as u32, minor(st.st_rdev) as u32))
}

fn io_of(d: &Dynamic) -> Res<Vec<IoLimit>> {
    let devices = d.clone().try_cast::<Map>().ok_or_else(|| {
        format!(
            "limits.io must be a map of device to #{{ read_bps, ... }}, not {}",
            type_name(d)
        )
    })?;
    let mut out = Vec::new();
    for (device, spec) in &devices {
        let spec = spec.clone().try_cast::<Map>().ok_or_else(|| {
            format!(
                "limits.io[\"{device}\"] must be a map of {}",
                IO_KEYS.join(", ")
            )
        })?;
        let (major, minor) = block_device(device)?;
        let mut io = IoLimit {
            device: device.to_string(),
            major,
            minor,
            ..Default::default()
        };
        for (key, value) in &spec {
            let what = format!("limits.io[\"{device}\"].{key}");
            let slot = match key.as_str() {
                "read_bps" => &mut io.read_bps,
                "write_bps" => &mut io.write_bps,
                "read_iops" => &mut io.read_iops,
                "write_iops" => &mut io.write_iops,
                _ => {
                    return Err(format!(
                        "unknown option '{key}' for limits.io (known: {})",
                        IO_KEYS.join(", ")
                    ))
                }
            };
            *slot = Some(if key.ends_with("iops") {
                whole(value, &what, 1)?
            } else {
                size(value, &what)?
            });
        }
        out.push(io);
    }
    Ok(out)
}

/// The limits map.
pub fn limits_of(d: &Dynamic) -> Res<CgroupLimits> {
    let map = d.clone().try_cast::<Map>().ok_or_else(|| {
        format!(
            "limits must be a map (#{{ memory: \"256M\", pids: 128 }}), not {}",
            type_name(d)
        )
    })?;
    let mut l = CgroupLimits::default();
    for (key, value) in &map {
        let what = format!("limits.{key}");
        match key.as_str() {
            "memory" => l.memory = Some(size(value, &what)?),
            "memory_swap" => l.memory_swap = Some(size(value, &what)?),
            "pids" => l.pids = Some(whole(value, &what, 1)?),
            "cpu" => l.cpu_millis = Some(cores(value)?),
            "cpu_weight" => l.cpu_weight = Some(whole(value, &what, 1)?),
            "io" => l.io = io_of(value)?,
            _ => {
                return Err(format!(
                    "unknown limit '{key}' (known: {})",
                    KEYS.join(", ")
                ))
            }
        }
    }
    if l.memory == Some(0) {
        return Err("limits.memory must be more than 0".into());
    }
    l.validate()?;
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(src: &str) -> Res<CgroupLimits> {
        let engine = rhai::Engine::new();
        limits_of(&engine.eval::<Dynamic>(src).unwrap())
    }

    #[test]
    fn a_limits_map_reads_as_the_user_wrote_it() {
        let l = limits(
            r#"#{ memory: "256M", memory_swap: "0", pids: 128, cpu: 0.5, cpu_weight: 100 }"#,
        )
        .unwrap();
        assert_eq!(l.memory, Some(256 << 20));
        assert_eq!(l.memory_swap, Some(0));
        assert_eq!(l.pids, Some(128));
        assert_eq!(l.cpu_millis, Some(500));
        assert_eq!(l.cpu_weight, Some(100));
        assert_eq!(limits("#{ cpu: 2 }").unwrap().cpu_millis, Some(2000));
        assert_eq!(
            limits("#{ memory: 1048576 }").unwrap().memory,
            Some(1 << 20)
        );
    }

    #[test]
    fn bad_limits_say_which_and_why() {
        let e = |src: &str| limits(src).unwrap_err();
        assert!(e(r#"#{ memory: "lots" }"#).contains("limits.memory: 'lots' is not a size"));
        assert!(e("#{ cpu: -1 }").contains("more than 0 cores"));
        assert!(e("#{ pids: 0 }").contains("limits.pids must be at least 1"));
        assert!(e("#{ memory: 0 }").contains("more than 0"));
        assert!(e("#{ swap: 1 }").contains("unknown limit 'swap'"));
        assert!(
            e(r#"#{ io: #{ "/dev/nsr-no-such-disk": #{ read_bps: "1M" } } }"#).contains("ENOENT")
        );
        assert!(
            e(r#"#{ io: #{ "/dev/null": #{ read_bps: "1M" } } }"#).contains("not a block device")
        );
        assert!(e("5").contains("limits must be a map"));
    }
}
