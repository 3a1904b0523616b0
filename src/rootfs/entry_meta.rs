//! What a tar member says about itself beyond its name and type: mode, owner, times
//! (with the nanoseconds of PAX records, as GNU tar keeps them) and extended attributes.

use rustix::fs::{Timespec, Timestamps};
use std::io::Read;

pub struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: Timespec,
    /// A PAX `atime` record; without one the access time is the modification time (as
    /// umoci sets it), so that the same archive always gives the same tree.
    pub atime: Option<Timespec>,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Meta {
    pub fn times(&self) -> Timestamps {
        Timestamps {
            last_access: self.atime.unwrap_or(self.mtime),
            last_modification: self.mtime,
        }
    }
}

pub fn read<R: Read>(entry: &mut tar::Entry<R>) -> std::io::Result<Meta> {
    let h = entry.header();
    // A numeric field that does not parse (empty, or not octal) reads as 0, as GNU tar
    // reads it; the mode falls back to rw-r--r--.
    let mut m = Meta {
        mode: h.mode().map(|m| m & 0o7777).unwrap_or(0o644),
        uid: h.uid().unwrap_or(0) as u32,
        gid: h.gid().unwrap_or(0) as u32,
        mtime: Timespec {
            tv_sec: h.mtime().unwrap_or(0) as i64,
            tv_nsec: 0,
        },
        atime: None,
        xattrs: Vec::new(),
    };
    if let Some(pax) = entry.pax_extensions()? {
        for ext in pax.flatten() {
            let key = ext.key_bytes();
            let value = ext.value_bytes();
            let text = || std::str::from_utf8(value).ok();
            match key {
                b"uid" => m.uid = text().and_then(|v| v.parse().ok()).unwrap_or(m.uid),
                b"gid" => m.gid = text().and_then(|v| v.parse().ok()).unwrap_or(m.gid),
                b"mtime" => m.mtime = text().and_then(pax_time).unwrap_or(m.mtime),
                b"atime" => m.atime = text().and_then(pax_time).or(m.atime),
                _ => {
                    if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                        m.xattrs.push((name.to_vec(), value.to_vec()));
                    }
                }
            }
        }
    }
    Ok(m)
}

/// A PAX time record: decimal seconds with an optional fraction of any length, which
/// may be negative (`-1.25` is 1.25 s before the epoch).
pub fn pax_time(text: &str) -> Option<Timespec> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sec: i64 = whole.parse().ok()?;
    // Nanoseconds: the first nine digits, padded; finer digits are dropped, as GNU tar does.
    let mut nsec: i64 = 0;
    for i in 0..9 {
        let d = fraction
            .as_bytes()
            .get(i)
            .map_or(0, |b| i64::from(b - b'0'));
        nsec = nsec * 10 + d;
    }
    Some(match (negative, nsec) {
        (false, _) => Timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        },
        (true, 0) => Timespec {
            tv_sec: -sec,
            tv_nsec: 0,
        },
        (true, _) => Timespec {
            tv_sec: -sec - 1,
            tv_nsec: 1_000_000_000 - nsec,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Option<(i64, i64)> {
        pax_time(text).map(|t| (t.tv_sec, t.tv_nsec))
    }

    #[test]
    fn pax_times_keep_their_nanoseconds() {
        assert_eq!(t("1796108766.90823017"), Some((1796108766, 908230170)));
        assert_eq!(t("1796108766"), Some((1796108766, 0)));
        assert_eq!(t("1.000000001999"), Some((1, 1)));
        assert_eq!(t("-1.25"), Some((-2, 750_000_000)));
        assert_eq!(t("-3"), Some((-3, 0)));
        assert_eq!(t(""), None);
        assert_eq!(t("12a"), None);
        assert_eq!(t("1.2.3"), None);
    }
}
