//! Root filesystems from tarballs: what is kept (owners, modes, times, links, devices,
//! xattrs), every compression, what is refused, and that an untrusted archive never
//! writes outside its target directory.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// A busybox root with a device node, a hard link, symlinks, odd owners and modes,
/// archived by GNU tar (plain, and compressed three ways).
fn busybox_archives(s: &Scratch) -> Vec<String> {
    let root = s.busybox_root("src");
    let r = Path::new(&root);
    std::fs::write(r.join("etc/motd"), "hello from the tarball\n").unwrap();
    let sh = |cmd: &str| {
        let ok = Command::new("sh")
            .args(["-c", cmd])
            .current_dir(r)
            .status()
            .unwrap()
            .success();
        assert!(ok, "{cmd}");
    };
    sh("chown 1000:1001 etc/motd && chmod 640 etc/motd && touch -d @1000000000 etc/motd");
    sh("mknod dev/null c 1 3 && chmod 666 dev/null && chmod 1777 tmp");
    sh("ln bin/busybox bin/hardlinked && ln -s ../etc/motd bin/motd-link && mkdir -p opt/ro && chmod 555 opt/ro");
    sh("cp bin/busybox bin/suid && chmod 4755 bin/suid");
    sh(&format!("setfattr -n user.nsr -v kept {root}/etc/motd"));
    let plain = s.path("root.tar");
    sh(&format!("tar --xattrs -cf {plain} ."));
    sh(&format!("gzip -c {plain} > {plain}.gz && zstd -q -c {plain} > {plain}.zst && xz -c {plain} > {plain}.xz"));
    // The names say nothing about the content: nsr must look at the bytes.
    sh(&format!("cp {plain}.gz {}", s.path("misleading.tar")));
    vec![
        plain.clone(),
        format!("{plain}.gz"),
        format!("{plain}.zst"),
        format!("{plain}.xz"),
        s.path("misleading.tar"),
    ]
}

/// A directory `rel` in the scratch, owned by `uid` (and group `uid`).
fn owned_dir(s: &Scratch, rel: &str, uid: u32) -> String {
    let dir = s.path(rel);
    std::fs::create_dir_all(&dir).unwrap();
    nix::unistd::chown(
        dir.as_str(),
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(uid)),
    )
    .unwrap();
    dir
}

const INSPECT: &str = r#"
let root = rootfs_from_tar(args.tar, args.dir);
let box = unshare(#{ kinds: ["mount", "uts", "pid"] });
box.chroot(root);
box.mount("proc", "/proc", "proc");
print(box.run("cat /etc/motd; ls -ln /etc/motd /dev/null /bin/suid; ls -lnd /tmp /opt/ro; readlink /bin/motd-link; [ /bin/busybox -ef /bin/hardlinked ] && echo same-inode; date -r /etc/motd +%s", #{ check: true }).stdout);
"#;

#[test]
fn every_compression_gives_the_same_root_with_everything_kept() {
    let _g = privileged();
    let s = Scratch::new("formats");
    let archives = busybox_archives(&s);
    let recipe = s.write("inspect.nsr", INSPECT);
    let before = HostState::take();
    for (i, tar) in archives.iter().enumerate() {
        let dir = s.path(&format!("x{i}"));
        let r = nsr(&["run", &recipe, &format!("tar={tar}"), &format!("dir={dir}")]);
        r.expect_code(0);
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(lines[0], "hello from the tarball", "{tar}");
        assert_has_all(
            &r.stdout,
            &[
                "-rw-r-----    1 1000     1001",
                "crw-rw-rw-    1 0        0           1,   3",
                "-rwsr-xr-x",
                "drwxrwxrwt",
                "dr-xr-xr-x",
                "../etc/motd",
                "same-inode",
                "1000000000",
            ],
        );
        assert!(!Path::new(&dir).exists(), "{dir} is removed by the undo");
        before.assert_unchanged(tar);
    }
}

#[test]
fn extended_attributes_are_kept_where_the_filesystem_allows() {
    let _g = privileged();
    assert!(
        Command::new("getfattr").arg("--version").output().is_ok(),
        "getfattr/setfattr are needed (Debian package attr; .ci/run installs it)"
    );
    let s = Scratch::new("xattr");
    let archives = busybox_archives(&s);
    let r = run_recipe(
        &s,
        "x.nsr",
        "let root = rootfs_from_tar(args.tar, args.dir);\nlet b = unshare([\"uts\"]);\nprint(b.run(\"getfattr -n user.nsr --only-values \" + root + \"/etc/motd\").stdout);\n",
        &[&format!("tar={}", archives[0]), &format!("dir={}", s.path("x"))],
    );
    r.expect_code(0);
    assert_eq!(r.stdout.trim(), "kept");
}

/// A tar header with any name and link name, as a hostile tool would write them.
fn raw_entry(
    b: &mut tar::Builder<std::fs::File>,
    kind: tar::EntryType,
    name: &str,
    link: &str,
    data: &[u8],
) {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if !link.is_empty() {
        h.set_link_name_literal(link).unwrap();
    }
    h.set_entry_type(kind);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_size(data.len() as u64);
    h.set_mtime(1);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn archive(s: &Scratch, name: &str, entries: &[(tar::EntryType, &str, &str)]) -> String {
    let path = s.path(name);
    let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
    for (kind, n, link) in entries {
        let data: &[u8] = if *kind == tar::EntryType::Regular {
            b"pwned\n"
        } else {
            b""
        };
        raw_entry(&mut b, *kind, n, link, data);
    }
    b.finish().unwrap();
    path
}

/// Every file under `dir`, with its content or link target: a fingerprint to compare.
fn fingerprint(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let key = p.strip_prefix(dir).unwrap().display().to_string();
            if m.is_dir() {
                stack.push(p.clone());
                out.insert(key, format!("dir {:o}", m.permissions().mode()));
            } else if m.file_type().is_symlink() {
                out.insert(
                    key,
                    format!("link {}", std::fs::read_link(&p).unwrap().display()),
                );
            } else {
                out.insert(key, std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    out
}

#[test]
fn a_hostile_archive_never_writes_outside_its_target() {
    use tar::EntryType::{Directory as D, Link as L, Regular as F, Symlink as S};
    let _g = privileged();
    let s = Scratch::new("hostile");
    let outside = s.path("outside");
    std::fs::create_dir_all(format!("{outside}/etc")).unwrap();
    std::fs::write(format!("{outside}/etc/passwd"), "the real one\n").unwrap();
    let o = outside.as_str();
    let up = "../../../../../../../../..";
    type Member = (tar::EntryType, String, String);
    let cases: Vec<(&str, Vec<Member>)> = vec![
        (
            "dotdot",
            vec![
                (F, format!("{up}{o}/etc/passwd"), String::new()),
                (F, "a/../../x".into(), String::new()),
            ],
        ),
        (
            "absolute",
            vec![(F, format!("{o}/etc/passwd"), String::new())],
        ),
        (
            "symlink-then-write",
            vec![
                (S, "link".into(), format!("{o}/etc")),
                (F, "link/passwd".into(), String::new()),
            ],
        ),
        (
            "relative-symlink",
            vec![
                (S, "up".into(), up.into()),
                (F, format!("up{o}/etc/passwd"), String::new()),
            ],
        ),
        (
            "symlink-chain",
            vec![
                (S, "a".into(), "b".into()),
                (S, "b".into(), "c".into()),
                (S, "c".into(), format!("{up}{o}")),
                (F, "a/etc/passwd".into(), String::new()),
            ],
        ),
        (
            "hardlink-outside-abs",
            vec![
                (L, "hl".into(), format!("{o}/etc/passwd")),
                (F, "hl".into(), String::new()),
            ],
        ),
        (
            "hardlink-dotdot",
            vec![(L, "hl".into(), format!("{up}{o}/etc/passwd"))],
        ),
        (
            "dir-replaced-by-symlink",
            vec![
                (D, "d".into(), String::new()),
                (S, "d".into(), format!("{o}/etc")),
                (F, "d/passwd".into(), String::new()),
            ],
        ),
        (
            "symlink-over-symlink",
            vec![
                (S, "e".into(), "safe".into()),
                (S, "e".into(), format!("{o}/etc")),
                (F, "e/passwd".into(), String::new()),
            ],
        ),
    ];
    // What each archive gets: the exit status, what nsr says, and the tree it leaves in
    // its target (paths under it, `f` file, `l` symlink with its target).
    let inside_o = o.trim_start_matches('/');
    let landed = |extra: &str| -> String {
        let mut parts = vec![];
        let mut p = String::new();
        for c in inside_o.split('/') {
            p = if p.is_empty() {
                c.into()
            } else {
                format!("{p}/{c}")
            };
            parts.push(format!("{p} d"));
        }
        parts.push(format!("{inside_o}/etc d"));
        parts.push(format!("{inside_o}/etc/passwd f"));
        if !extra.is_empty() {
            parts.push(extra.into());
        }
        parts.sort();
        parts.join("\n")
    };
    let expected: BTreeMap<&str, (i32, String, String)> = [
        (
            "dotdot",
            (0, "refused 2 unsafe member(s)".into(), String::new()),
        ),
        ("absolute", (0, String::new(), landed(""))),
        (
            "symlink-then-write",
            (
                1,
                "cannot reach the parent of link/passwd: ENOENT".into(),
                String::new(),
            ),
        ),
        (
            "relative-symlink",
            (0, String::new(), landed(&format!("up l {up}"))),
        ),
        (
            "symlink-chain",
            (
                1,
                "cannot reach the parent of a/etc/passwd: ENOENT".into(),
                String::new(),
            ),
        ),
        (
            "hardlink-outside-abs",
            (
                1,
                "cannot create hard link hl: ENOENT".into(),
                String::new(),
            ),
        ),
        (
            "hardlink-dotdot",
            (
                0,
                "refused 1 unsafe member(s): hl (contains '..')".into(),
                String::new(),
            ),
        ),
        (
            "dir-replaced-by-symlink",
            (
                1,
                "cannot reach the parent of d/passwd: ENOENT".into(),
                String::new(),
            ),
        ),
        (
            "symlink-over-symlink",
            (
                1,
                "cannot reach the parent of e/passwd: ENOENT".into(),
                String::new(),
            ),
        ),
    ]
    .into_iter()
    .collect();
    let recipe = s.write(
        "hostile.nsr",
            "let root = rootfs_from_tar(args.tar, args.dir);\nlet b = unshare([\"uts\"]);\nprint(\"outside:\\n\" + b.run(args.outside).stdout);\nprint(\"inside:\\n\" + b.run(\"cd \" + root + \" && \" + args.inside).stdout);\n",
    );
    let before = HostState::take();
    for (name, entries) in &cases {
        let entries: Vec<(tar::EntryType, &str, &str)> = entries
            .iter()
            .map(|(k, n, l)| (*k, n.as_str(), l.as_str()))
            .collect();
        let tar = archive(&s, &format!("{name}.tar"), &entries);
        let dir = s.path(&format!("t-{name}"));
        let scratch = s.dir.to_string_lossy().into_owned();
        // Everything the archives aim at (the outside tree, `x` beside the targets, the
        // scratch directory itself), with inode and link count: a hard link made to an
        // outside file shows in its link count while the extraction stands.
        let outside_now = || {
            let c = std::process::Command::new("sh")
                .args(["-c", &format!("{LISTING} {scratch}")])
                .output()
                .unwrap();
            String::from_utf8(c.stdout).unwrap()
        };
        let s_before = outside_now();
        let r = nsr(&[
            "run",
            &recipe,
            &format!("tar={tar}"),
            &format!("dir={dir}"),
            &format!("outside={LISTING} {scratch}"),
            "inside=find . -mindepth 1 -printf '%P %y %l\\n' | sed 's/ $//' | sort",
        ]);
        let (code, message, tree) = &expected[name.to_string().as_str()];
        r.expect_code(*code);
        assert!(r.stderr.contains(message.as_str()), "{name}: {}", r.stderr);
        if message.is_empty() {
            assert!(!r.stderr.contains("warning"), "{name}: {}", r.stderr);
        }
        if *code == 0 {
            let during = r
                .stdout
                .split("outside:\n")
                .nth(1)
                .unwrap()
                .split("\ninside:\n")
                .next()
                .unwrap();
            assert_eq!(during, s_before, "{name}: outside changed while extracted");
            let inside = r.stdout.split("inside:\n").nth(1).unwrap().trim_end();
            assert_eq!(inside, tree, "{name}: what the target holds");
        }
        assert_eq!(
            outside_now(),
            s_before,
            "{name} changed something outside its target"
        );
        assert!(
            !Path::new(&dir).exists(),
            "{name}: the target is removed by the undo"
        );
        before.assert_unchanged(name);
    }
}

/// Lists a tree but the targets (`t-*`): each non-directory with its type, link
/// count, inode, mode, size and link target; each directory with its mode.
const LISTING: &str = "find_outside() { find \"$1\" -path \"$1/t-*\" -prune -o -type d -printf '%p d %m\\n' -o -printf '%p %y %n %i %m %s %l\\n' | sort; }; find_outside";

#[test]
fn unsafe_names_are_listed_once_and_strict_makes_them_errors() {
    let _g = privileged();
    let s = Scratch::new("refused");
    let tar = archive(
        &s,
        "dots.tar",
        &[
            (tar::EntryType::Directory, "ok", ""),
            (tar::EntryType::Regular, "ok/file", ""),
            (tar::EntryType::Regular, "../escape", ""),
            (tar::EntryType::Regular, "ok/../../escape2", ""),
        ],
    );
    let recipe = "let root = rootfs_from_tar(args.tar, args.dir);\nlet b = unshare([\"uts\"]);\nprint(b.run(\"cat \" + root + \"/ok/file\").stdout);\n";
    let r = run_recipe(
        &s,
        "r.nsr",
        recipe,
        &[&format!("tar={tar}"), &format!("dir={}", s.path("x"))],
    );
    r.expect_code(0);
    assert_eq!(r.stdout.trim(), "pwned");
    assert_has_all(
        &r.stderr,
        &["warning", "r.nsr:1:12", "refused 2 unsafe member(s): ../escape (contains '..'), ok/../../escape2 (contains '..')"],
    );
    assert_eq!(r.stderr.matches("unsafe member").count(), 1, "{}", r.stderr);

    let strict = "rootfs_from_tar(args.tar, args.dir, #{ strict: true });\n";
    let r = run_recipe(
        &s,
        "s.nsr",
        strict,
        &[&format!("tar={tar}"), &format!("dir={}", s.path("y"))],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["s.nsr:1:1", "refused member ../escape", "EPERM"],
    );
    assert!(
        !Path::new(&s.path("y")).exists(),
        "a failed extraction is taken back"
    );
}

#[test]
fn an_existing_directory_is_never_taken_over_or_removed() {
    let _g = privileged();
    let s = Scratch::new("existing");
    let tar = archive(&s, "a.tar", &[(tar::EntryType::Regular, "f", "")]);
    let full = s.path("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(format!("{full}/mine"), "keep").unwrap();
    let r = run_recipe(
        &s,
        "r.nsr",
        "rootfs_from_tar(args.tar, args.dir);\n",
        &[&format!("tar={tar}"), &format!("dir={full}")],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["r.nsr:1:1", "is not an empty directory", "EEXIST", "hint:"],
    );
    assert_eq!(
        std::fs::read_to_string(format!("{full}/mine")).unwrap(),
        "keep"
    );

    // An empty directory that was there stays; only what was extracted goes.
    let empty = s.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let r = run_recipe(&s, "r.nsr", "let d = rootfs_from_tar(args.tar, args.dir);\nlet b = unshare([\"uts\"]);\nprint(b.run(\"cat \" + d + \"/f\").stdout);\n", &[&format!("tar={tar}"), &format!("dir={empty}")]);
    r.expect_code(0);
    assert_eq!(r.stdout.trim(), "pwned");
    assert!(Path::new(&empty).is_dir());
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

#[test]
fn bad_archives_get_clear_errors_and_leave_nothing() {
    let _g = privileged();
    let s = Scratch::new("badtar");
    let plain = archive(
        &s,
        "ok.tar",
        &[
            (tar::EntryType::Directory, "d", ""),
            (tar::EntryType::Regular, "d/f", ""),
        ],
    );
    let garbage = s.write("garbage.tar", &"not a tarball at all\n".repeat(100));
    // A gzip stream cut in the middle.
    let cut = s.path("cut.tar.gz");
    let gz = Command::new("gzip")
        .args(["-c", &plain])
        .output()
        .unwrap()
        .stdout;
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let before = HostState::take();
    for (tar, dir, wanted) in [
        (
            s.path("missing.tar"),
            s.path("a"),
            vec!["there is no archive", "ENOENT", "docker export"],
        ),
        (
            garbage.clone(),
            s.path("b"),
            vec!["not a readable plain tar archive"],
        ),
        (cut.clone(), s.path("c"), vec!["gzip", "cut.tar.gz"]),
        (
            plain.clone(),
            s.path("no/such/parent"),
            vec!["the parent of", "does not exist"],
        ),
    ] {
        let r = run_recipe(
            &s,
            "bad.nsr",
            "rootfs_from_tar(args.tar, args.dir);\n",
            &[&format!("tar={tar}"), &format!("dir={dir}")],
        );
        r.expect_code(1);
        assert_has_all(&r.stderr, &wanted);
        assert_has_all(&r.stderr, &["bad.nsr:1:1", "rootfs_from_tar("]);
        assert!(!Path::new(&dir).exists(), "{dir}");
        before.assert_unchanged(&tar);
    }
    let r = run_recipe(
        &s,
        "opt.nsr",
        "rootfs_from_tar(\"x\", \"y\", #{ fast: true });\n",
        &[],
    );
    r.expect_code(1);
    assert_has_all(&r.stderr, &["unknown option 'fast'", "strict, progress"]);
}

#[test]
fn unprivileged_extraction_skips_device_nodes_with_one_line() {
    let _g = privileged();
    let s = Scratch::new("rootlesstar");
    let archives = busybox_archives(&s);
    let work = s.path("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(s.path("root.tar"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let bin = s.path("nsr");
    std::fs::copy(NSR, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let recipe = s.write(
        "u.nsr",
        "let root = rootfs_from_tar(args.tar, args.dir);\nlet b = unshare(#{ kinds: [\"mount\", \"user\"], map_root: true });\nb.chroot(root);\nprint(b.run(\"cat /etc/motd; ls /dev\").stdout);\n",
    );
    std::fs::set_permissions(&recipe, std::fs::Permissions::from_mode(0o644)).unwrap();
    let nobody = "65534";
    let run = |extra: &str, dir: &str| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid", nobody, "--regid", nobody, "--clear-groups", "--"])
            .arg(&bin)
            .args([
                "run",
                &recipe,
                &format!("tar={}", archives[0]),
                &format!("dir={work}/{dir}"),
            ]);
        if !extra.is_empty() {
            cmd.arg(extra);
        }
        run_command(cmd)
    };
    let r = run("", "u1");
    r.expect_code(0);
    assert!(
        r.stdout.starts_with("hello from the tarball"),
        "{}",
        r.stdout
    );
    assert_has_all(
        &r.stderr,
        &["skipped 1 device node(s) that only root can create: ./dev/null"],
    );
    assert!(!Path::new(&format!("{work}/u1")).exists());

    let strict = s.write(
        "st.nsr",
        "rootfs_from_tar(args.tar, args.dir, #{ strict: true });\n",
    );
    std::fs::set_permissions(&strict, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", nobody, "--regid", nobody, "--clear-groups", "--"])
        .arg(&bin)
        .args([
            "run",
            &strict,
            &format!("tar={}", archives[0]),
            &format!("dir={work}/u2"),
        ]);
    let r = run_command(cmd);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["cannot create device node", "dev/null", "EPERM"],
    );
    assert!(!Path::new(&format!("{work}/u2")).exists());
}

#[test]
fn overlay_roots_share_one_extraction_and_leave_it_pristine() {
    let _g = privileged();
    let s = Scratch::new("overlay");
    let archives = busybox_archives(&s);
    let before = HostState::take();
    let r = run_recipe(
        &s,
        "ov.nsr",
        r#"
let base = rootfs_from_tar(args.tar, args.base);
// Mounted on the host before the sandboxes start, so their mount namespaces have them.
let ra = overlay_root(base, args.ra);
let rb = overlay_root([base], args.rb);
let a = unshare(#{ kinds: ["mount", "pid"] });
a.chroot(ra);
let b = unshare(#{ kinds: ["mount", "pid"] });
b.chroot(rb);
a.run("echo mine > /etc/a-only; rm /etc/motd", #{ check: true });
print("b sees: " + b.run("ls /etc | tr '\\n' ' '").stdout);
print("a sees: " + a.run("ls /etc | tr '\\n' ' '").stdout);
let host = unshare(["uts"]);
print("base: " + host.run("ls " + base + "/etc | tr '\\n' ' '").stdout);
"#,
        &[
            &format!("tar={}", archives[0]),
            &format!("base={}", s.path("base")),
            &format!("ra={}", s.path("ra")),
            &format!("rb={}", s.path("rb")),
        ],
    );
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "b sees: marker motd",
            "a sees: a-only marker \n",
            "base: marker motd",
        ],
    );
    for leftover in ["base", "ra", "rb", ".ra.nsr-overlay", ".rb.nsr-overlay"] {
        assert!(!Path::new(&s.path(leftover)).exists(), "{leftover} is left");
    }
    before.assert_unchanged("after overlay roots");

    let r = run_recipe(
        &s,
        "bad.nsr",
        "overlay_root(args.l, args.d);\n",
        &[
            &format!("l={}", s.path("nope")),
            &format!("d={}", s.path("d")),
        ],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "bad.nsr:1:1",
            "the lower directory",
            "does not exist",
            "ENOENT",
        ],
    );
    assert!(!Path::new(&s.path(".d.nsr-overlay")).exists());
}

#[test]
fn the_cache_extracts_once_and_is_listed_and_cleared() {
    let _g = privileged();
    let s = Scratch::new("cache");
    let archives = busybox_archives(&s);
    let cache = s.path("cache");
    let recipe = s.write(
        "c.nsr",
        r#"
let base = rootfs_cache(args.tar);
let root = overlay_root(base, args.dir);
let box = unshare(#{ kinds: ["mount", "pid"] });
box.chroot(root);
print("motd: " + box.run("cat /etc/motd").stdout);
let host = unshare(["uts"]);
print("tree: " + base);
print("marker: " + host.run(["test", "-e", base + "/nsr-test-marker"]).code);
// While an overlay uses the tree, clearing the cache refuses.
let clear = host.run([args.nsr, "cache", "clear"], #{ env: #{ NSR_CACHE_DIR: args.cache } });
print("clear while in use: " + clear.code + " " + clear.stderr);
"#,
    );
    let before = HostState::take();
    let run = || {
        let mut cmd = Command::new(NSR);
        cmd.args([
            "run",
            &recipe,
            &format!("tar={}", archives[1]),
            &format!("dir={}", s.path("r")),
            &format!("nsr={NSR}"),
            &format!("cache={cache}"),
        ])
        .env("NSR_CACHE_DIR", &cache);
        let r = run_command(cmd);
        r.expect_code(0);
        r
    };
    let first = run();
    let tree = first
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("tree: "))
        .unwrap()
        .to_string();
    assert!(first.stdout.contains("marker: 1\n"), "{}", first.stdout);
    // A file no extraction writes: the second run sees it only if it reuses the tree.
    std::fs::write(format!("{tree}/nsr-test-marker"), "").unwrap();
    let second = run();
    assert_has_all(
        &first.stdout,
        &[
            "motd: hello from the tarball",
            "clear while in use: 1",
            "in use by a mount",
            "EBUSY",
        ],
    );
    assert!(
        second.stdout.contains(&format!("tree: {tree}\n")) && second.stdout.contains("marker: 0\n"),
        "the second run reuses the first extraction:\n{}",
        second.stdout
    );
    before.assert_unchanged("after cached runs (the cache is outside the snapshot)");

    let ls = {
        let mut cmd = Command::new(NSR);
        cmd.args(["cache", "ls"]).env("NSR_CACHE_DIR", &cache);
        run_command(cmd)
    };
    ls.expect_code(0);
    assert_has_all(&ls.stdout, &[&cache, "root.tar.gz", "files"]);
    let mut cmd = Command::new(NSR);
    cmd.args(["cache", "clear"]).env("NSR_CACHE_DIR", &cache);
    let cleared = run_command(cmd);
    cleared.expect_code(0);
    assert!(cleared.stdout.starts_with("removed "), "{}", cleared.stdout);
    let left: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left in the cache: {left:?}");
}

/// A layer tarball from (name, content) pairs: a name ending in '/' is a directory,
/// content "->target" makes a symlink.
fn layer(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, content) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1);
        if let Some(dir) = name.strip_suffix('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            b.append_data(&mut h, dir, &[][..]).unwrap();
        } else if let Some(target) = content.strip_prefix("->") {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(0o777);
            h.set_size(0);
            b.append_link(&mut h, name, target).unwrap();
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o755);
            h.set_size(content.len() as u64);
            b.append_data(&mut h, name, content.as_bytes()).unwrap();
        }
    }
    b.into_inner().unwrap()
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Three layers: a base, one that whites out a file and makes a directory opaque
/// (gzip), one that adds a file and tries a whiteout named `..` (zstd).
fn image_layers() -> Vec<Vec<u8>> {
    let l1 = layer(&[
        ("etc/", ""),
        ("etc/motd", "base\n"),
        ("etc/remove-me", "gone soon\n"),
        ("etc/keep", "kept\n"),
        ("opt/", ""),
        ("opt/a", "a\n"),
        ("opt/b", "b\n"),
        ("bin/", ""),
        ("bin/sh", "->busybox"),
    ]);
    let l2 = layer(&[
        ("etc/.wh.remove-me", ""),
        ("etc/motd", "layer two\n"),
        ("opt/", ""),
        ("opt/.wh..wh..opq", ""),
        ("opt/c", "c\n"),
    ]);
    let l3 = layer(&[("etc/new", "three\n"), ("etc/.wh..", ""), ("bin/.wh.", "")]);
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&l2).unwrap();
        e.finish().unwrap()
    };
    let zst = zstd::encode_all(&l3[..], 3).unwrap();
    vec![l1, gz, zst]
}

fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn docker_save(s: &Scratch) -> String {
    docker_save_of(s, &image_layers(), "saved.tar")
}

/// A `docker save` archive of `layers` (each a tar), written to `name` in the scratch.
fn docker_save_of(s: &Scratch, layers: &[Vec<u8>], name: &str) -> String {
    let mut files = vec![];
    let mut names = vec![];
    for (i, l) in layers.iter().enumerate() {
        let n = format!("{}/layer.tar", sha256(l));
        names.push(format!("\"{n}\""));
        files.push((n, l.clone()));
        let _ = i;
    }
    files.push(("cfg.json".into(), b"{}".to_vec()));
    // docker save writes manifest.json last: the reader must not depend on the order.
    files.push((
        "manifest.json".into(),
        format!(
            "[{{\"Config\":\"cfg.json\",\"RepoTags\":[\"nsr/test:1\"],\"Layers\":[{}]}}]",
            names.join(",")
        )
        .into_bytes(),
    ));
    let path = s.path(name);
    std::fs::write(&path, tar_of(&files)).unwrap();
    path
}

fn oci_layout(s: &Scratch) -> String {
    let dir = s.path("oci");
    let blobs = format!("{dir}/blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let media = ["tar", "tar+gzip", "tar+zstd"];
    let mut descs = vec![];
    for (l, m) in image_layers().iter().zip(media) {
        let d = sha256(l);
        std::fs::write(format!("{blobs}/{d}"), l).unwrap();
        descs.push(format!(
            "{{\"mediaType\":\"application/vnd.oci.image.layer.v1.{m}\",\"digest\":\"sha256:{d}\",\"size\":{}}}",
            l.len()
        ));
    }
    let manifest = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:{}\",\"size\":2}},\"layers\":[{}]}}",
        sha256(b"{}"),
        descs.join(",")
    );
    std::fs::write(format!("{blobs}/{}", sha256(b"{}")), b"{}").unwrap();
    let md = sha256(manifest.as_bytes());
    std::fs::write(format!("{blobs}/{md}"), &manifest).unwrap();
    std::fs::write(
        format!("{dir}/oci-layout"),
        "{\"imageLayoutVersion\":\"1.0.0\"}",
    )
    .unwrap();
    std::fs::write(
        format!("{dir}/index.json"),
        format!("{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:{md}\",\"size\":{},\"platform\":{{\"architecture\":\"amd64\",\"os\":\"linux\"}}}}]}}", manifest.len()),
    )
    .unwrap();
    dir
}

#[test]
fn images_apply_their_layers_in_order_with_whiteouts() {
    let _g = privileged();
    let s = Scratch::new("image");
    let saved = docker_save(&s);
    let oci = oci_layout(&s);
    // The same layout as a tarball.
    let oci_tar = s.path("oci.tar");
    let ok = Command::new("tar")
        .args(["-cf", &oci_tar, "-C", &oci, "."])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let recipe = s.write(
        "img.nsr",
        "let r = rootfs_from_image(args.img, args.dir);\nlet h = unshare([\"uts\"]);\nprint(h.run(\"cd \" + r + \" && find . | sort | tr '\\\\n' ' ' && cat etc/motd\").stdout);\n",
    );
    let before = HostState::take();
    for img in [&saved, &oci, &oci_tar] {
        let r = nsr(&[
            "run",
            &recipe,
            &format!("img={img}"),
            &format!("dir={}", s.path("root")),
        ]);
        r.expect_code(0);
        assert_has_all(
            &r.stdout,
            &[". ./bin ./bin/sh ./etc ./etc/keep ./etc/motd ./etc/new ./opt ./opt/c layer two"],
        );
        assert!(!r.stdout.contains(".wh."), "{}", r.stdout);
        // The hostile whiteouts (`.wh..`, `.wh.`) are refused and listed, not applied.
        assert_has_all(
            &r.stderr,
            &["refused 2 unsafe member(s)", "a whiteout of no name"],
        );
        assert!(!Path::new(&s.path("root")).exists());
        before.assert_unchanged(img);
    }

    let r = run_recipe(
        &s,
        "tag.nsr",
        "rootfs_from_image(args.img, args.dir, #{ tag: \"nsr/other:2\" });\n",
        &[&format!("img={saved}"), &format!("dir={}", s.path("t"))],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["no image tagged nsr/other:2", "nsr/test:1", "ENOENT"],
    );
    let r = run_recipe(
        &s,
        "none.nsr",
        "rootfs_from_image(args.img, args.dir);\n",
        &[
            &format!("img={}", s.path("oci/blobs")),
            &format!("dir={}", s.path("t")),
        ],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["neither manifest.json", "index.json", "docker save"],
    );
    assert!(!Path::new(&s.path("t")).exists());
}

#[test]
fn mounts_into_an_untrusted_root_stay_inside_it() {
    use tar::EntryType::{Directory as D, Symlink as S};
    let _g = privileged();
    let s = Scratch::new("mountin");
    let outside = s.path("outside");
    std::fs::create_dir_all(format!("{outside}/sub")).unwrap();
    let before_outside = fingerprint(Path::new(&outside));
    let up = format!("../../../../../../../..{outside}");
    // /proc is a symlink to the outside, /data too, and /etc is a real directory.
    let tar = archive(
        &s,
        "evil.tar",
        &[(S, "proc", &up), (S, "data", &up), (D, "etc", "")],
    );
    let recipe = s.write(
        "m.nsr",
        r#"
let root = rootfs_from_tar(args.tar, args.dir);
let box = unshare(#{ kinds: ["mount", "pid"] });
box.chroot(root);
let tries = [["proc", "/proc", "proc"], ["tmpfs", "/data", "tmpfs"], ["tmpfs", "/data/sub", "tmpfs"]];
for t in tries {
    try {
        box.mount(t[0], t[1], t[2]);
        print(t[1] + ": mounted");
    } catch (e) {
        print(t[1] + ": " + e.errno + " " + e.message);
    }
}
"#,
    );
    let before = HostState::take();
    let r = nsr(&[
        "run",
        &recipe,
        &format!("tar={tar}"),
        &format!("dir={}", s.path("root")),
    ]);
    r.expect_code(0);
    // A final symlink is refused; a symlink on the way resolves inside the root, where
    // the path does not exist.
    assert_has_all(
        &r.stdout,
        &["/proc: ELOOP", "/data: ELOOP", "/data/sub: ENOENT"],
    );
    assert_eq!(fingerprint(Path::new(&outside)), before_outside);
    before.assert_unchanged("after mounts into an untrusted root");
}

#[test]
fn the_tarball_recipe_runs_the_tutorial_flow_three_ways() {
    let _g = privileged();
    let s = Scratch::new("tarrecipe");
    let archives = busybox_archives(&s);
    let saved = docker_save(&s);
    let recipe = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/recipes/rootfs-from-tarball.nsr"
    );
    let before = HostState::take();
    let cache = s.path("cache");
    for extra in ["", "cached=yes"] {
        let mut cmd = Command::new(NSR);
        cmd.args([
            "run",
            recipe,
            &format!("tar={}", archives[3]),
            &format!("dir={}", s.path("go_root")),
            "cmd=hostname; echo pid $$; cat /etc/motd",
        ])
        .env("NSR_CACHE_DIR", &cache);
        if !extra.is_empty() {
            cmd.arg(extra);
        }
        let r = run_command(cmd);
        r.expect_code(0);
        assert_has_all(&r.stdout, &["container", "pid 2", "hello from the tarball"]);
        before.assert_unchanged(extra);
    }
    // The third way: the same busybox tree as the one layer of a `docker save` image.
    let busybox_image = docker_save_of(
        &s,
        &[std::fs::read(&archives[0]).unwrap()],
        "busybox-image.tar",
    );
    let r = nsr(&[
        "run",
        recipe,
        &format!("tar={busybox_image}"),
        "image=yes",
        &format!("dir={}", s.path("bbimg")),
        "cmd=hostname; echo pid $$; cat /etc/motd",
    ]);
    r.expect_code(0);
    assert_has_all(&r.stdout, &["container", "pid 2", "hello from the tarball"]);
    assert!(!Path::new(&s.path("bbimg")).exists());
    before.assert_unchanged("busybox image");
    let r = nsr(&[
        "run",
        recipe,
        &format!("tar={saved}"),
        "image=yes",
        &format!("dir={}", s.path("img")),
        "cmd=cat /etc/motd",
    ]);
    // An image that is a bare tree without /proc: the mount fails, clearly, and the
    // image's root is undone with the rest.
    r.expect_code(1);
    let mount_line = std::fs::read_to_string(recipe)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("box.mount(\"proc\""))
        .unwrap()
        + 1;
    assert_has_all(
        &r.stderr,
        &[
            &format!("rootfs-from-tarball.nsr:{mount_line}:5"),
            "mount target /proc",
            "undid root",
        ],
    );
    assert!(!Path::new(&s.path("img")).exists());
    before.assert_unchanged("image");
}

#[test]
fn a_terminal_sees_extraction_progress_and_a_pipe_does_not() {
    let _g = privileged();
    let s = Scratch::new("progress");
    let archives = busybox_archives(&s);
    let recipe = s.write("p.nsr", "rootfs_from_tar(args.tar, args.dir);\n");
    let child = nsr_on_terminal(&format!(
        "run {recipe} tar={} dir={}",
        archives[1],
        s.path("t")
    ));
    let out = wait_bounded(child, std::time::Duration::from_secs(30));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("extracting root.tar.gz: ")
            && text.contains(" entries, ")
            && text.contains(" MB/s"),
        "{text}"
    );
    let r = nsr(&[
        "run",
        &recipe,
        &format!("tar={}", archives[1]),
        &format!("dir={}", s.path("u")),
    ]);
    r.expect_code(0);
    assert!(!r.stderr.contains("extracting"), "{}", r.stderr);
}

#[test]
fn extraction_inside_a_user_namespace_maps_the_owners() {
    let _g = privileged();
    let s = Scratch::new("mapped");
    let archives = busybox_archives(&s);
    // The sandbox's root is uid 100000 on the host: it may write here, and only here.
    let work = owned_dir(&s, "work", 100000);
    let before = HostState::take();
    let r = run_recipe(
        &s,
        "m.nsr",
        r#"
let box = unshare(#{ kinds: ["user", "mount", "pid"], uid_map: [[0, 100000, 65536]], gid_map: [[0, 100000, 65536]] });
let root = box.rootfs_from_tar(args.tar, args.dir);
let host = unshare(["uts"]);
print("host view: " + host.run("stat -c '%u:%g' " + root + "/etc/motd " + root + "/bin/busybox | tr '\\n' ' '").stdout);
box.chroot(root);
print("inside: " + box.run("ls -ln /etc/motd /bin/busybox | awk '{print $3\":\"$4}' | tr '\\n' ' '").stdout);
"#,
        &[&format!("tar={}", archives[0]), &format!("dir={work}/root")],
    );
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "host view: 101000:101001 100000:100000",
            "inside: 0:0 1000:1001",
        ],
    );
    // A user namespace cannot make device nodes: skipped and said once.
    assert_has_all(&r.stderr, &["skipped 1 device node(s)", "./dev/null"]);
    assert!(
        !Path::new(&format!("{work}/root")).exists(),
        "removed from inside the namespace"
    );
    before.assert_unchanged("after a mapped extraction");
    // Where the mapped root may not write, the error says why and what to do.
    let r = run_recipe(
        &s,
        "denied.nsr",
        "let box = unshare(#{ kinds: [\"user\", \"mount\"], uid_map: [[0, 100000, 65536]], gid_map: [[0, 100000, 65536]] });\nbox.rootfs_from_tar(args.tar, args.dir);\n",
        &[&format!("tar={}", archives[0]), &format!("dir={}", s.path("root"))],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "denied.nsr:2:5",
            "EACCES",
            "the sandbox's root is host uid 100000",
            &format!("chown 100000 {}", s.dir.display()),
            "uid_map: [[0, OWNER, 1], [1, 100000, 65535]]",
        ],
    );
}

#[test]
fn make_dir_makes_only_what_is_missing_and_refuses_dot_dot() {
    let _g = privileged();
    let s = Scratch::new("makedir");
    let file = s.write("f", "a file");
    let r = run_recipe(
        &s,
        "m.nsr",
        "let d = make_dir(args.base + \"/x/y\");\nlet h = unshare([\"uts\"]);\nprint(h.run(\"ls -d \" + d).stdout);\n",
        &[&format!("base={}", s.dir.display())],
    );
    r.expect_code(0);
    assert!(r.stdout.trim().ends_with("/x/y"), "{}", r.stdout);
    assert!(!s.dir.join("x").exists(), "undo removes what make_dir made");
    let r = run_recipe(
        &s,
        "b.nsr",
        "make_dir(args.d);\n",
        &[&format!("d={}/a/../b", s.dir.display())],
    );
    r.expect_code(1);
    assert_has_all(&r.stderr, &["b.nsr:1:1", "has '..' in it"]);
    let r = run_recipe(&s, "c.nsr", "make_dir(args.d);\n", &[&format!("d={file}")]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &["exists and is not a directory", "ENOTDIR"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "a file");
}

#[test]
fn fifos_and_setgid_bits_come_out_of_a_tarball_as_they_went_in() {
    let _g = privileged();
    let s = Scratch::new("fifo");
    let path = s.path("special.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
    let mut add = |kind: tar::EntryType, name: &str, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(0);
        h.set_mtime(1);
        b.append_data(&mut h, name, &[][..]).unwrap();
    };
    add(tar::EntryType::Directory, "shared", 0o2775);
    add(tar::EntryType::Fifo, "shared/pipe", 0o620);
    add(tar::EntryType::Regular, "shared/tool", 0o2755);
    b.finish().unwrap();
    drop(b);
    let before = HostState::take();
    let r = run_recipe(
        &s,
        "f.nsr",
        "let root = rootfs_from_tar(args.tar, args.dir);\nlet h = unshare([\"uts\"]);\nprint(h.run(\"cd \" + root + \" && stat -c '%n %F %a' shared shared/pipe shared/tool\").stdout);\n",
        &[&format!("tar={path}"), &format!("dir={}", s.path("t"))],
    );
    r.expect_code(0);
    assert_eq!(
        r.stdout,
        "shared directory 2775\nshared/pipe fifo 620\nshared/tool regular empty file 2755\n\n"
    );
    before.assert_unchanged("fifos and setgid");
}

/// A `docker save` archive holding two images, each of one layer with its own motd;
/// the second image's file belongs to uid 1000.
fn two_images(s: &Scratch) -> String {
    let one = layer(&[("etc/", ""), ("etc/motd", "image one\n")]);
    let two = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, "etc", &[][..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_size(10);
        b.append_data(&mut h, "etc/motd", &b"image two\n"[..])
            .unwrap();
        b.into_inner().unwrap()
    };
    let (d1, d2) = (sha256(&one), sha256(&two));
    let manifest = format!(
        "[{{\"Config\":\"c.json\",\"RepoTags\":[\"nsr/one:1\"],\"Layers\":[\"{d1}/layer.tar\"]}},{{\"Config\":\"c.json\",\"RepoTags\":[\"nsr/two:2\"],\"Layers\":[\"{d2}/layer.tar\"]}}]"
    );
    let files = vec![
        (format!("{d1}/layer.tar"), one),
        (format!("{d2}/layer.tar"), two),
        ("c.json".into(), b"{}".to_vec()),
        ("manifest.json".into(), manifest.into_bytes()),
    ];
    let path = s.path("two-images.tar");
    std::fs::write(&path, tar_of(&files)).unwrap();
    path
}

#[test]
fn an_image_is_chosen_by_tag_and_a_sandbox_extracts_one_with_mapped_owners() {
    let _g = privileged();
    let s = Scratch::new("imgtag");
    let img = two_images(&s);
    let work = owned_dir(&s, "work", 100000);
    let before = HostState::take();
    let r = run_recipe(
        &s,
        "t.nsr",
        r#"
let h = unshare(["uts"]);
let one = rootfs_from_image(args.img, args.dir + "/one", #{ tag: "nsr/one:1" });
let two = rootfs_from_image(args.img, args.dir + "/two", #{ tag: "nsr/two:2" });
print("one: " + h.run("cat " + one + "/etc/motd").stdout);
print("two: " + h.run("cat " + two + "/etc/motd").stdout);
let box = unshare(#{ kinds: ["user", "mount"], uid_map: [[0, 100000, 65536]], gid_map: [[0, 100000, 65536]] });
let mapped = box.rootfs_from_image(args.img, args.work + "/mapped", #{ tag: "nsr/two:2" });
print("mapped: " + h.run("stat -c '%u:%g' " + mapped + "/etc/motd").stdout);
"#,
        &[
            &format!("img={img}"),
            &format!("dir={}", s.dir.display()),
            &format!("work={work}"),
        ],
    );
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "one: image one\n",
            "two: image two\n",
            "mapped: 101000:101000\n",
        ],
    );
    assert!(
        !Path::new(&format!("{work}/mapped")).exists(),
        "removed by the undo"
    );
    // Two images and no tag, or a tag the archive lacks: the error lists the tags.
    for opts in ["", ", #{ tag: \"nsr/three:3\" }"] {
        let r = run_recipe(
            &s,
            "bad.nsr",
            &format!("rootfs_from_image(args.img, args.dir{opts});\n"),
            &[&format!("img={img}"), &format!("dir={}", s.path("bad"))],
        );
        r.expect_code(1);
        assert_has_all(&r.stderr, &["bad.nsr:1:1", "nsr/one:1", "nsr/two:2"]);
        assert!(!Path::new(&s.path("bad")).exists());
    }
    before.assert_unchanged("images by tag");
}

#[test]
fn an_overlay_root_stacks_several_lowers_uppermost_first() {
    let _g = privileged();
    let s = Scratch::new("lowers");
    s.write("top/etc/motd", "from the top\n");
    s.write("bottom/etc/motd", "from the bottom\n");
    s.write("bottom/etc/only-bottom", "below\n");
    let (top, bottom) = (s.path("top"), s.path("bottom"));
    let before_top = fingerprint(Path::new(&top));
    let before_bottom = fingerprint(Path::new(&bottom));
    let before = HostState::take();
    let r = run_recipe(
        &s,
        "o.nsr",
        r#"
let root = overlay_root([args.top, args.bottom], args.dir);
let h = unshare(["uts"]);
print(h.run("cat " + root + "/etc/motd " + root + "/etc/only-bottom").stdout);
h.run("echo changed > " + root + "/etc/motd && rm " + root + "/etc/only-bottom", #{ check: true });
print(h.run("cat " + root + "/etc/motd; ls " + root + "/etc").stdout);
"#,
        &[
            &format!("top={top}"),
            &format!("bottom={bottom}"),
            &format!("dir={}", s.path("root")),
        ],
    );
    r.expect_code(0);
    assert_eq!(
        r.stdout, "from the top\nbelow\n\nchanged\nmotd\n\n",
        "the top lower wins, the bottom's own file shows, writes go to the upper"
    );
    assert_eq!(fingerprint(Path::new(&top)), before_top);
    assert_eq!(fingerprint(Path::new(&bottom)), before_bottom);
    assert!(!Path::new(&s.path("root")).exists());
    assert!(!Path::new(&s.path(".root.nsr-overlay")).exists());
    before.assert_unchanged("several lowers");
}

#[test]
fn removing_an_extracted_tree_never_enters_a_mount_and_says_how_to_finish() {
    let _g = privileged();
    let s = Scratch::new("mountin");
    let tar = archive(
        &s,
        "r.tar",
        &[
            (tar::EntryType::Directory, "mnt", ""),
            (tar::EntryType::Regular, "etc-file", ""),
        ],
    );
    s.write("precious/file", "keep me\n");
    let precious = s.path("precious");
    let dir = s.path("t");
    let name = format!("{}-mountin", prefix());
    // Someone (not the recipe: nothing journals it) mounts a directory into the tree.
    let r = run_recipe(
        &s,
        "m.nsr",
        "let root = rootfs_from_tar(args.tar, args.dir);\nlet host = unshare(#{ kinds: [\"uts\"], privileged: true });\nhost.run(\"mount --bind \" + args.precious + \" \" + root + \"/mnt\", #{ check: true });\n",
        &[
            "--name",
            &name,
            &format!("tar={tar}"),
            &format!("dir={dir}"),
            &format!("precious={precious}"),
        ],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            &format!("FAILED to undo root {dir}"),
            &format!("a mount point is in the way at {dir}/mnt: EBUSY"),
            &format!("first unmount what `findmnt -R {dir}` lists"),
        ],
    );
    // What was mounted there is untouched; the rest of the tree is gone.
    assert_eq!(
        std::fs::read_to_string(format!("{precious}/file")).unwrap(),
        "keep me\n"
    );
    assert!(!Path::new(&format!("{dir}/etc-file")).exists());
    nix::mount::umount(format!("{dir}/mnt").as_str()).unwrap();
    // Once the mount is gone, `nsr down` finishes the job.
    let down = nsr(&["down", &name]);
    down.expect_code(0);
    assert!(!Path::new(&dir).exists(), "{}", down.stderr);
    assert_eq!(
        std::fs::read_to_string(format!("{precious}/file")).unwrap(),
        "keep me\n"
    );
}

#[test]
fn cache_clear_of_one_digest_keeps_the_others_and_the_default_places_are_used() {
    let _g = privileged();
    let s = Scratch::new("cachedigest");
    let a = archive(&s, "a.tar", &[(tar::EntryType::Regular, "from-a", "")]);
    let b = archive(&s, "b.tar", &[(tar::EntryType::Regular, "from-b", "")]);
    let digest = |p: &str| sha256(&std::fs::read(p).unwrap());
    let (da, db) = (digest(&a), digest(&b));
    let recipe = s.write(
        "c.nsr",
        "print(rootfs_cache(args.a));\nprint(rootfs_cache(args.b));\n",
    );
    let cache = s.path("cache");
    let with_cache = |args: &[&str]| {
        let mut cmd = Command::new(NSR);
        cmd.args(args).env("NSR_CACHE_DIR", &cache);
        run_command(cmd)
    };
    with_cache(&["run", &recipe, &format!("a={a}"), &format!("b={b}")]).expect_code(0);
    let ls = with_cache(&["cache", "ls"]);
    ls.expect_code(0);
    assert_has_all(&ls.stdout, &[&da, &db]);
    let cleared = with_cache(&["cache", "clear", &da]);
    cleared.expect_code(0);
    assert_has_all(&cleared.stdout, &["removed ", &da]);
    let ls = with_cache(&["cache", "ls"]);
    assert!(
        !ls.stdout.contains(&da) && ls.stdout.contains(&db),
        "{}",
        ls.stdout
    );
    let r = with_cache(&["cache", "clear", &da]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &[&da]);
    with_cache(&["cache", "clear", &db]).expect_code(0);

    // Without NSR_CACHE_DIR: root's cache is /var/cache/nsr/rootfs. Only this test's
    // entry is removed afterwards (and the directories, if the test made them).
    let made: Vec<&str> = ["/var/cache/nsr", "/var/cache/nsr/rootfs"]
        .into_iter()
        .filter(|d| !Path::new(d).exists())
        .collect();
    let mut cmd = Command::new(NSR);
    cmd.args(["run", &recipe, &format!("a={a}"), &format!("b={a}")])
        .env_remove("NSR_CACHE_DIR");
    let r = run_command(cmd);
    let entry = format!("/var/cache/nsr/rootfs/{da}");
    let there = Path::new(&entry).exists();
    let mut cmd = Command::new(NSR);
    cmd.args(["cache", "clear", &da])
        .env_remove("NSR_CACHE_DIR");
    let cleared = run_command(cmd);
    for d in made.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
    r.expect_code(0);
    assert!(r.stdout.starts_with(&entry), "{}", r.stdout);
    assert!(there, "root's cache entry is {entry}");
    cleared.expect_code(0);
    assert!(!Path::new(&entry).exists());
    for d in &made {
        assert!(!Path::new(d).exists(), "{d} is left behind");
    }

    // An ordinary user's is ~/.cache/nsr/rootfs.
    let home = owned_dir(&s, "home", 65534);
    let mut cmd = nsr_as_nobody(&s);
    cmd.args(["run", &recipe, &format!("a={a}"), &format!("b={a}")])
        .env_remove("NSR_CACHE_DIR")
        .env("HOME", &home);
    let r = run_command(cmd);
    r.expect_code(0);
    let entry = format!("{home}/.cache/nsr/rootfs/{da}");
    assert!(r.stdout.starts_with(&entry), "{}", r.stdout);
    assert!(Path::new(&format!("{entry}/from-a")).exists());
}
