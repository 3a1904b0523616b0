//! An archive member's name, made safe before anything is created: split into plain
//! components, a leading `/` dropped (as `tar` does), and any `..` refused outright.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryPath {
    /// The target directory itself (`./`, `/`).
    Root,
    /// Plain components, none empty, `.` or `..`.
    Inside(Vec<OsString>),
    /// Never extracted, with the reason.
    Refused(&'static str),
}

pub fn parse(raw: &[u8]) -> EntryPath {
    if raw.contains(&0) {
        return EntryPath::Refused("contains a NUL byte");
    }
    let mut parts = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return EntryPath::Refused("contains '..'"),
            c => parts.push(OsString::from_vec(c.to_vec())),
        }
    }
    if parts.is_empty() {
        EntryPath::Root
    } else {
        EntryPath::Inside(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inside(p: &[&str]) -> EntryPath {
        EntryPath::Inside(p.iter().map(OsString::from).collect())
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(parse(b"./usr/bin/sh"), inside(&["usr", "bin", "sh"]));
        assert_eq!(parse(b"/etc//passwd"), inside(&["etc", "passwd"]));
        assert_eq!(parse(b"./"), EntryPath::Root);
        assert_eq!(parse(b"/"), EntryPath::Root);
        assert_eq!(parse(b"../etc/passwd"), EntryPath::Refused("contains '..'"));
        assert_eq!(parse(b"a/../../b"), EntryPath::Refused("contains '..'"));
        assert_eq!(parse(b"a/..b"), inside(&["a", "..b"]));
    }
}
