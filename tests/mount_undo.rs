//! Undoing a mount takes back exactly the mount nsr made, wherever a sandbox moved the
//! directories around it, and never one that was there before: during the rollback a
//! process renames the root's directories back and forth with a symlink that leads out
//! of the root onto canary mounts (renameat2 RENAME_EXCHANGE in a loop). `nsr down`
//! finds a mount a chrooted sandbox made in the host's mount table by its ID. The undo
//! of make_dir removes nothing through a directory swapped for a symlink either.

mod common;

use common::*;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn mount_count() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .count()
}

fn is_mounted(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(path))
}

fn mount_tmpfs(path: &str, tag: &str) {
    nix::mount::mount(
        Some(tag),
        path,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap();
}

/// Swaps `a` and `b` (a directory and a symlink) until `stop`, as fast as it can.
fn swapper(a: String, b: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let (a, b) = (
            std::ffi::CString::new(a).unwrap(),
            std::ffi::CString::new(b).unwrap(),
        );
        let mut swaps = 0u64;
        while !stop.load(Ordering::Relaxed) {
            // SAFETY: renameat2 on two paths the test made.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_renameat2,
                    libc::AT_FDCWD,
                    a.as_ptr(),
                    libc::AT_FDCWD,
                    b.as_ptr(),
                    libc::RENAME_EXCHANGE,
                )
            };
            if r == 0 {
                swaps += 1;
            }
        }
        swaps
    })
}

/// Kills nsr (by pid: the test started it) if the test fails before it ends.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const KINDS: [&str; 5] = ["t", "b", "r", "p", "o"];
const EACH: usize = 40;
const OVERLAYS: usize = 10;

#[test]
fn a_rename_race_during_rollback_neither_keeps_a_mount_nor_takes_a_foreign_one() {
    let _g = privileged();
    let s = Scratch::new("mount-race");
    let root = s.busybox_root("root");
    let canary = s.path("canary");
    for d in ["x", "src/sub", "lower", "ov"] {
        std::fs::create_dir_all(format!("{root}/{d}")).unwrap();
    }
    s.own_mount(&canary);
    // The canaries: mounts outside the root, at the names the sandbox's mounts have.
    for kind in KINDS {
        let n = if kind == "o" { OVERLAYS } else { EACH };
        for i in 0..n {
            std::fs::create_dir_all(format!("{root}/x/{kind}{i}")).unwrap();
            std::fs::create_dir_all(format!("{canary}/{kind}{i}")).unwrap();
            mount_tmpfs(&format!("{canary}/{kind}{i}"), "nsr-test-canary");
        }
    }
    for i in 0..OVERLAYS {
        std::fs::create_dir_all(format!("{root}/ov/u{i}")).unwrap();
        std::fs::create_dir_all(format!("{root}/ov/w{i}")).unwrap();
    }
    // root/y leads out of the root, to the canaries.
    std::os::unix::fs::symlink("../canary", format!("{root}/y")).unwrap();
    let before = mount_count();
    let recipe = s.write(
        "race.nsr",
        &format!(
            r#"let box = unshare(["pid"]);
box.chroot(args.root);
for i in 0..{EACH} {{
    box.mount("tmpfs", "/x/t" + i, "tmpfs", #{{ data: "size=1m" }});
    box.mount("/src", "/x/b" + i, "bind");
    box.mount("/src", "/x/r" + i, "rbind");
    box.mount("proc", "/x/p" + i, "proc");
}}
for i in 0..{OVERLAYS} {{
    box.mount("overlay", "/x/o" + i, "overlay", #{{ lower: ["/lower"], upper: "/ov/u" + i, work: "/ov/w" + i }});
}}
print("READY");
box.run(["sh", "-c", "while [ ! -e /go ]; do sleep 0.01; done"]);
"#
        ),
    );
    let root_arg = format!("root={root}");
    let (child, first, _out) = start_nsr(&["run", recipe.as_str(), root_arg.as_str()]);
    let mut child = KillOnDrop(Some(child));
    assert_eq!(first.trim(), "READY");
    let made = mount_count() - before;
    assert!(made >= 4 * EACH + OVERLAYS, "{made} mounts made");
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = swapper(format!("{root}/x"), format!("{root}/y"), stop.clone());
    std::fs::write(format!("{root}/go"), "").unwrap();
    let out = wait_bounded(child.0.take().unwrap(), std::time::Duration::from_secs(120));
    stop.store(true, Ordering::Relaxed);
    let swaps = swaps.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(swaps > 100, "the race ran ({swaps} swaps)");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("already gone"), "{stderr}");
    assert_eq!(
        mount_count(),
        before,
        "every mount nsr made is gone, no other"
    );
    for kind in KINDS {
        let n = if kind == "o" { OVERLAYS } else { EACH };
        for i in 0..n {
            assert!(
                is_mounted(&format!("{canary}/{kind}{i}")),
                "canary {kind}{i} survived"
            );
        }
    }
}

/// `unshare(["pid"])`, chroot, a tmpfs: the mount is in the host's table under the root.
/// `then` is what the recipe does last.
fn chrooted_mount_recipe(s: &Scratch, then: &str) -> (String, String) {
    let root = s.busybox_root("root");
    let recipe = s.write(
        "chroot-mount.nsr",
        &format!("let box = unshare([\"pid\"]);\nbox.chroot(args.root);\nbox.mount(\"tmpfs\", \"/mnt\", \"tmpfs\");\nprint(\"READY\");\n{then}"),
    );
    (root, recipe)
}

/// `nsr down NAME` takes the tmpfs at ROOT/mnt back, by its ID, and nothing else.
fn assert_down_takes_the_mount(name: &str, root: &str, mounts_before: usize) {
    assert!(is_mounted(&format!("{root}/mnt")));
    let r = nsr(&["down", name]);
    r.expect_code(0);
    assert!(
        r.stderr.contains("undid mount tmpfs on /mnt"),
        "{}",
        r.stderr
    );
    assert!(!is_mounted(&format!("{root}/mnt")), "{}", r.stderr);
    assert_eq!(mount_count(), mounts_before);
}

#[test]
fn down_takes_back_a_mount_a_chrooted_sandbox_made_in_the_hosts_table() {
    let _g = privileged();
    let s = Scratch::new("down-chroot");
    let (root, recipe) = chrooted_mount_recipe(&s, "");
    let name = format!("{}-chroot", prefix());
    let before = mount_count();
    nsr(&[
        "run",
        "--keep",
        "--name",
        &name,
        &recipe,
        &format!("root={root}"),
    ])
    .expect_code(0);
    assert_down_takes_the_mount(&name, &root, before);
}

#[test]
fn down_after_sigkill_takes_back_a_mount_a_chrooted_sandbox_made() {
    let _g = privileged();
    let s = Scratch::new("kill-chroot");
    let (root, recipe) = chrooted_mount_recipe(&s, "box.run([\"sleep\", \"60\"]);\n");
    let name = format!("{}-killed", prefix());
    let before = mount_count();
    let root_arg = format!("root={root}");
    let (child, first, _out) = start_nsr(&[
        "run",
        "--name",
        name.as_str(),
        recipe.as_str(),
        root_arg.as_str(),
    ]);
    let mut child = KillOnDrop(Some(child));
    assert_eq!(first.trim(), "READY");
    // SIGKILL: no rollback; the holder dies with nsr, the mount stays in the host's table.
    let mut nsr_process = child.0.take().unwrap();
    nsr_process.kill().unwrap();
    nsr_process.wait().unwrap();
    assert_down_takes_the_mount(&name, &root, before);
}

#[test]
fn make_dirs_undo_never_removes_a_directory_through_a_swapped_symlink() {
    let _g = privileged();
    let s = Scratch::new("mkdir-swap");
    let root = s.path("root");
    let outside = s.path("outside");
    // An empty directory that was there before the run, outside the root.
    std::fs::create_dir_all(format!("{outside}/b")).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    let recipe = s.write(
        "mkdir.nsr",
        "make_dir(args.root + \"/a/b\");\nprint(\"READY\");\nlet h = unshare([\"uts\"]);\nh.run([\"sh\", \"-c\", \"while [ ! -e \" + args.root + \"/go ]; do sleep 0.01; done\"]);\n",
    );
    let root_arg = format!("root={root}");
    let name = format!("{}-mkdir-swap", prefix());
    let (child, first, _out) =
        start_nsr(&["run", "--name", &name, recipe.as_str(), root_arg.as_str()]);
    let mut child = KillOnDrop(Some(child));
    assert_eq!(first.trim(), "READY");
    // What a process in the root could do: its directory becomes a symlink out.
    std::fs::rename(format!("{root}/a"), format!("{root}/a-moved")).unwrap();
    std::os::unix::fs::symlink("../outside", format!("{root}/a")).unwrap();
    std::fs::write(format!("{root}/go"), "").unwrap();
    let out = wait_bounded(child.0.take().unwrap(), std::time::Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        std::path::Path::new(&format!("{outside}/b")).is_dir(),
        "the undo removed a directory outside the root through the symlink:\n{stderr}"
    );
    // It says what it could not do, and what is left.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("through no symlink"), "{stderr}");
    // Once the symlink is taken away and the directory put back, `nsr down` finishes.
    put_back_and_down(&root, &name);
    assert!(!std::path::Path::new(&format!("{root}/a")).exists());
    assert!(std::path::Path::new(&format!("{outside}/b")).is_dir());
}

/// Undoes the swap a test made in `root` (`a` a symlink, the real one at `a-moved`)
/// and takes the environment down: what the failed undo left goes.
fn put_back_and_down(root: &str, name: &str) {
    std::fs::remove_file(format!("{root}/a")).unwrap();
    std::fs::rename(format!("{root}/a-moved"), format!("{root}/a")).unwrap();
    let r = nsr(&["down", name]);
    r.expect_code(0);
}

#[test]
fn an_extracted_trees_undo_never_empties_a_directory_through_a_swapped_symlink() {
    let _g = privileged();
    let s = Scratch::new("tree-swap");
    let root = s.path("root");
    let outside = s.path("outside");
    // A directory of the host's, outside the root, with the same name as the tree.
    std::fs::create_dir_all(format!("{outside}/tree")).unwrap();
    std::fs::write(format!("{outside}/tree/precious"), "host data\n").unwrap();
    std::fs::create_dir_all(format!("{root}/a")).unwrap();
    s.write("content/etc/hostname", "from the tarball\n");
    let tar = s.path("t.tar");
    let made = Command::new("tar")
        .args(["-C", &s.path("content"), "-cf", &tar, "."])
        .status()
        .unwrap();
    assert!(made.success());
    let recipe = s.write(
        "tree.nsr",
        "rootfs_from_tar(args.tar, args.root + \"/a/tree\");\nprint(\"READY\");\nlet h = unshare([\"uts\"]);\nh.run([\"sh\", \"-c\", \"while [ ! -e \" + args.root + \"/go ]; do sleep 0.01; done\"]);\n",
    );
    let (root_arg, tar_arg) = (format!("root={root}"), format!("tar={tar}"));
    let name = format!("{}-tree-swap", prefix());
    let (child, first, _out) =
        start_nsr(&["run", "--name", &name, recipe.as_str(), &root_arg, &tar_arg]);
    let mut child = KillOnDrop(Some(child));
    assert_eq!(first.trim(), "READY");
    assert!(std::path::Path::new(&format!("{root}/a/tree/etc/hostname")).exists());
    // What a process in the root could do: a directory on the tree's path becomes a
    // symlink out of the root, onto a directory of the same name.
    std::fs::rename(format!("{root}/a"), format!("{root}/a-moved")).unwrap();
    std::os::unix::fs::symlink("../outside", format!("{root}/a")).unwrap();
    std::fs::write(format!("{root}/go"), "").unwrap();
    let out = wait_bounded(child.0.take().unwrap(), std::time::Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        std::fs::read_to_string(format!("{outside}/tree/precious"))
            .ok()
            .as_deref(),
        Some("host data\n"),
        "the undo emptied a directory outside the root through the symlink:\n{stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("through no symlink"), "{stderr}");
    // The tree itself is still where the symlink was swapped in: reported, left.
    assert!(std::path::Path::new(&format!("{root}/a-moved/tree/etc/hostname")).exists());
    put_back_and_down(&root, &name);
    assert!(!std::path::Path::new(&format!("{root}/a/tree")).exists());
    assert_eq!(
        std::fs::read_to_string(format!("{outside}/tree/precious")).unwrap(),
        "host data\n"
    );
}
