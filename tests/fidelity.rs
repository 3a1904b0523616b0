//! A root nsr extracts is the tree GNU tar (for a tarball) and umoci (for image
//! layers) make of the same input: every entry's type, mode, owner, size, modification
//! time to the nanosecond, link count, symlink target and extended attributes, with
//! directories declared twice, PAX sub-second times, hard links and whiteouts.

mod common;
use common::*;
use std::process::Command;

/// Prints one line per entry below $1 (not $1 itself), sorted: what `find -printf
/// '%P %M %U %G %s %T@ %n %l'` shows, with the nanoseconds whole, and the xattrs.
const LISTING: &str = r#"
import os, stat, sys
top = sys.argv[1]
out = []
for base, dirs, files in os.walk(top):
    for name in dirs + files:
        p = os.path.join(base, name)
        st = os.lstat(p)
        size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
        link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else ""
        try:
            xattrs = sorted((n, os.getxattr(p, n, follow_symlinks=False)) for n in os.listxattr(p, follow_symlinks=False))
        except OSError:
            xattrs = []
        out.append(f"{os.path.relpath(p, top)} {stat.filemode(st.st_mode)} {st.st_uid} {st.st_gid} {size} {st.st_mtime_ns} {st.st_nlink} {link} {xattrs}")
print("\n".join(sorted(out)))
"#;

fn sh(script: &str, dir: &str) {
    let r = run_command({
        let mut c = Command::new("sh");
        c.args(["-euc", script]).current_dir(dir);
        c
    });
    r.expect_code(0);
}

/// The listing of `dir` as nsr made it: taken by a command of a sandbox that shares
/// the host's files, while the run (and so the tree) is still there.
fn nsr_listing(s: &Scratch, make: &str, params: &[String]) -> String {
    let listing = s.write("listing.py", LISTING);
    let recipe = s.write(
        "extract.nsr",
        &format!(
            "let dir = {make};\nlet h = unshare([\"uts\"]);\nlet r = h.run([\"/usr/bin/python3\", {listing:?}, dir], #{{ check: true }});\nprint(r.stdout);\n"
        ),
    );
    let mut args = vec!["run".to_string(), recipe];
    args.extend_from_slice(params);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = nsr(&args);
    r.expect_code(0);
    r.stdout
}

fn listing_of(s: &Scratch, dir: &str) -> String {
    let listing = s.write("listing.py", LISTING);
    let r = run_command({
        let mut c = Command::new("/usr/bin/python3");
        c.args([&listing, dir]);
        c
    });
    r.expect_code(0);
    r.stdout
}

/// Two halves of a tree whose directory `d` appears in both with different metadata.
/// Times have nanoseconds; a hard link, a symlink, xattrs and a sticky directory too.
fn halves(s: &Scratch) {
    s.write("a/d/f", "1\n");
    s.write("a/e/keep", "kept\n");
    s.write("b/d/g", "2\n");
    s.write("b/o/new", "new\n");
    s.write("a/o/old", "old\n");
    sh(
        "ln a/d/f a/d/hard; ln -s f a/d/sym; chmod 1777 a/e; \
         setfattr -n user.who -v first a/d; setfattr -n user.only-first -v 1 a/d; \
         setfattr -n user.who -v second b/d; chmod 700 b/d; \
         touch -h -d '2019-05-05 05:05:05.123456789' a/d/sym; \
         touch -d '2020-01-01 12:00:00.5' a/d/f a/d a/e/keep a/e a/o/old a/o; \
         touch -d '2022-02-02 02:02:02.987654321' b/d/g b/d b/o/new b/o",
        &s.dir.to_string_lossy(),
    );
}

#[test]
fn a_tarball_with_a_directory_twice_and_sub_second_times_extracts_as_gnu_tar_does() {
    let _g = privileged();
    let s = Scratch::new("fidelity-tar");
    halves(&s);
    sh(
        "tar --format=posix --xattrs -C a -cf dup.tar d e o; \
         tar --format=posix --xattrs -C b -rf dup.tar --numeric-owner --owner=5 --group=6 d; \
         mkdir gnu; tar --xattrs --xattrs-include='*' --numeric-owner -xpf dup.tar -C gnu",
        &s.dir.to_string_lossy(),
    );
    let gnu = listing_of(&s, &s.path("gnu"));
    // The reference shows what is compared: the last declaration of d, in nanoseconds.
    assert!(
        gnu.lines()
            .any(|l| l.starts_with("d drwx------ 5 6 0 1643767322987654321 ")
                && l.contains("('user.who', b'second')")),
        "{gnu}"
    );
    assert!(
        gnu.contains("d/sym lrwxrwxrwx 0 0 1 1557032705123456789 1 f"),
        "{gnu}"
    );
    let ours = nsr_listing(
        &s,
        "rootfs_from_tar(args.tar, args.dir)",
        &[
            format!("tar={}", s.path("dup.tar")),
            format!("dir={}", s.path("nsr")),
        ],
    );
    assert_eq!(ours.trim(), gnu.trim());
}

#[test]
fn image_layers_made_by_umoci_extract_as_umoci_unpacks_them() {
    let _g = privileged();
    let s = Scratch::new("fidelity-umoci");
    halves(&s);
    // The second layer re-declares d (owner 5:6, mode 700, a later time, another
    // xattr), removes e/keep with a whiteout and makes o opaque.
    sh(
        "tar --format=posix --xattrs -C a -cf layer1.tar d e o; \
         mkdir -p b/e && touch b/e/.wh.keep && touch b/o/.wh..wh..opq; \
         touch -d '2020-01-01 12:00:00.5' b/e; touch -d '2022-02-02 02:02:02.987654321' b/o; \
         tar --format=posix --xattrs -C b --numeric-owner --owner=5 --group=6 -cf layer2.tar d e o; \
         umoci init --layout img; umoci new --image img:t; \
         umoci raw add-layer --image img:t layer1.tar; umoci raw add-layer --image img:t layer2.tar; \
         umoci unpack --image img:t bundle",
        &s.dir.to_string_lossy(),
    );
    let umoci = listing_of(&s, &s.path("bundle/rootfs"));
    assert!(!umoci.contains("e/keep"), "the whiteout applies:\n{umoci}");
    assert!(
        !umoci.contains("o/old"),
        "the opaque directory applies:\n{umoci}"
    );
    assert!(
        umoci.lines().any(|l| l.starts_with("d drwx------ 5 6 ")),
        "{umoci}"
    );
    let ours = nsr_listing(
        &s,
        "rootfs_from_image(args.img, args.dir, #{ tag: \"t\" })",
        &[
            format!("img={}", s.path("img")),
            format!("dir={}", s.path("nsr")),
        ],
    );
    assert_eq!(ours.trim(), umoci.trim());
}
