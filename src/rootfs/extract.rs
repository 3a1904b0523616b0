//! Extraction of an untrusted tarball into a directory. Every member's parent is
//! resolved with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_XDEV)` from the target directory,
//! and the member is created with `*at` calls on that parent without following a final
//! symlink: a `..`, an absolute name, a symlink (or chain of them) pointing outside, a
//! hard link to an outside path or a directory replaced by a symlink all stay inside
//! the target, whatever order the archive puts them in.

use super::compression::{self, Compression};
use super::entry_meta::{self, Meta};
use super::entry_path::{self, EntryPath};
use super::progress::Progress;
use crate::ops::OpError;
use nix::errno::Errno;
use rustix::fs::{
    self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Timestamps, XattrFlags,
};
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use tar::EntryType;

#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractOptions {
    /// Entries that cannot be created (device nodes when unprivileged, unsafe names)
    /// are errors instead of being skipped and listed.
    pub strict: bool,
    /// A progress line on a terminal.
    pub progress: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ExtractReport {
    pub entries: u64,
    pub bytes: u64,
    pub compression: Option<Compression>,
    /// Device nodes not created (not privileged to).
    pub skipped_devices: Vec<String>,
    /// Members never extracted, with the reason (a `..` in the name).
    pub refused: Vec<(String, &'static str)>,
}

impl ExtractReport {
    /// One line per kind of skipped member, as `tar --ignore-command-error` intends.
    pub fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.skipped_devices.is_empty() {
            out.push(format!(
                "skipped {} device node(s) that only root can create: {}",
                self.skipped_devices.len(),
                shorten(&self.skipped_devices)
            ));
        }
        if !self.refused.is_empty() {
            let names: Vec<String> = self
                .refused
                .iter()
                .map(|(n, why)| format!("{n} ({why})"))
                .collect();
            out.push(format!(
                "refused {} unsafe member(s): {}",
                self.refused.len(),
                shorten(&names)
            ));
        }
        out
    }
}

fn shorten(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

/// Directory metadata is applied at the end: a read-only directory must not stop its
/// own members from being created, and creating them would change its mtime. A
/// directory the archive (or a later layer) declares again ends with the last
/// declaration's metadata, as GNU tar and umoci leave it.
struct DirMeta {
    path: Vec<OsString>,
    mode: u32,
    owner: Option<(u32, u32)>,
    times: Timestamps,
}

pub struct Extractor<'a> {
    root: &'a OwnedFd,
    opts: ExtractOptions,
    owners: bool,
    /// Image layers: whiteouts apply.
    layers: bool,
    /// What the current layer created, which its opaque markers must not remove.
    this_layer: HashSet<Vec<OsString>>,
    /// The last parent directory resolved, by its components.
    cached: Option<(Vec<OsString>, OwnedFd)>,
    dirs: Vec<DirMeta>,
    /// Where each directory is in `dirs`.
    dir_index: HashMap<Vec<OsString>, usize>,
    report: ExtractReport,
    buf: Vec<u8>,
}

/// A read from the archive stream failed: the archive is damaged or cut short.
fn damaged(errno: Errno, e: &std::io::Error, member: &str) -> OpError {
    OpError::os(
        errno,
        format!("the archive is damaged or cut short at {member}: {e}"),
    )
}

fn errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

fn rerr(e: rustix::io::Errno) -> Errno {
    Errno::from_raw(e.raw_os_error())
}

fn join(parts: &[OsString]) -> PathBuf {
    parts.iter().collect()
}

const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT
    .union(ResolveFlags::NO_MAGICLINKS)
    .union(ResolveFlags::NO_XDEV);

/// Opens `dir` (which must exist) as the root of an extraction.
pub fn open_root(dir: &Path) -> Result<OwnedFd, OpError> {
    rfs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| OpError::os(rerr(e), format!("cannot open {}", dir.display())))
}

/// Extracts `archive` into the directory `root`.
pub fn extract(
    archive: &Path,
    root: &OwnedFd,
    opts: ExtractOptions,
) -> Result<ExtractReport, OpError> {
    let file = File::open(archive)
        .map_err(|e| OpError::os(errno(&e), format!("cannot open {}", archive.display())))?;
    let label = archive.display().to_string();
    let mut x = Extractor::new(root, opts, false);
    x.apply(Box::new(file), &label)?;
    x.finish()
}

impl<'a> Extractor<'a> {
    /// An extraction into `root`; with `layers`, the streams are image layers whose
    /// whiteouts (`.wh.NAME`, `.wh..wh..opq`) remove what earlier layers put there.
    pub fn new(root: &'a OwnedFd, opts: ExtractOptions, layers: bool) -> Extractor<'a> {
        let owners = nix::unistd::geteuid().is_root();
        Extractor {
            root,
            opts,
            owners,
            layers,
            this_layer: HashSet::new(),
            cached: None,
            dirs: Vec::new(),
            dir_index: HashMap::new(),
            report: ExtractReport::default(),
            buf: vec![0; 1 << 18],
        }
    }

    /// Applies one tar stream (compressed or not); `label` names it in errors.
    pub fn apply(&mut self, input: Box<dyn Read + Send>, label: &str) -> Result<(), OpError> {
        let (kind, stream) = compression::open(input)
            .map_err(|e| OpError::os(errno(&e), format!("cannot read {label}")))?;
        self.report.compression.get_or_insert(kind);
        self.this_layer.clear();
        let short = Path::new(label)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut progress = Progress::new(format!("extracting {short}"), self.opts.progress);
        let mut tar = tar::Archive::new(stream);
        let entries = tar.entries().map_err(|e| unreadable(label, kind, e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| unreadable(label, kind, e))?;
            self.entry(&mut entry)
                .map_err(|e| e.map_message(|m| format!("{label}: {m}")))?;
            progress.tick(self.report.entries, self.report.bytes);
        }
        progress.finish(self.report.entries, self.report.bytes);
        Ok(())
    }

    /// Applies the directories' deferred metadata and returns what was done.
    pub fn finish(mut self) -> Result<ExtractReport, OpError> {
        self.finish_dirs()?;
        Ok(self.report)
    }
}

fn unreadable(label: &str, kind: Compression, e: std::io::Error) -> OpError {
    OpError::os(
        errno(&e),
        format!(
            "{label} is not a readable {} tar archive: {e}",
            kind.name()
        ),
    )
    .with_hint("nsr reads tar archives, plain or compressed with gzip, zstd or xz (docker export writes plain tar)")
}

impl OpError {
    fn map_message(mut self, f: impl FnOnce(String) -> String) -> OpError {
        self.message = f(self.message);
        self
    }
}

impl<'a> Extractor<'a> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), OpError> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let fail = |e: Errno, what: &str| OpError::os(e, format!("{what} {shown}"));
        let kind = entry.header().entry_type();
        let parts = match entry_path::parse(&raw) {
            EntryPath::Refused(why) => {
                if self.opts.strict {
                    return Err(OpError::os(
                        Errno::EPERM,
                        format!("refused member {shown}: {why}"),
                    ));
                }
                self.report.refused.push((shown, why));
                return Ok(());
            }
            EntryPath::Root => {
                if kind == EntryType::Directory {
                    let m = entry_meta::read(entry).map_err(|e| damaged(errno(&e), &e, &shown))?;
                    self.defer_dir(Vec::new(), &m);
                }
                return Ok(());
            }
            EntryPath::Inside(p) => p,
        };
        let (name, parent_parts) = parts.split_last().expect("at least one component");
        if self.layers {
            if let Some(hidden) = name.as_bytes().strip_prefix(b".wh.") {
                return self
                    .whiteout(parent_parts, hidden, &shown)
                    .map_err(|e| fail(e, "cannot apply the whiteout"));
            }
            self.this_layer.insert(parts.clone());
        }
        let m = entry_meta::read(entry).map_err(|e| damaged(errno(&e), &e, &shown))?;
        self.report.entries += 1;
        match kind {
            EntryType::Directory => self.directory(&parts, &m, &shown)?,
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.regular(entry, parent_parts, name, &m, &shown)?
            }
            EntryType::Symlink => self.symlink(entry, parent_parts, name, &m, &shown)?,
            EntryType::Link => self.hard_link(entry, parent_parts, name, &shown)?,
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                self.node(entry, kind, parent_parts, name, &m, &shown)?
            }
            _ => {
                // Global headers, volume labels and the like carry nothing to create.
                self.report.entries -= 1;
            }
        }
        Ok(())
    }

    /// A directory: made (or kept, when an earlier member or layer made it), its
    /// attributes set when the whole tree is in (`defer_dir`).
    fn directory(&mut self, parts: &[OsString], m: &Meta, shown: &str) -> Result<(), OpError> {
        let (name, parent_parts) = parts.split_last().expect("at least one component");
        let fail = |e: Errno, what: &str| OpError::os(e, format!("{what} {shown}"));
        let parent = self
            .parent(parent_parts)
            .map_err(|e| fail(e, "cannot reach the parent of"))?;
        let mut declared_again = false;
        match rfs::mkdirat(&parent, name.as_os_str(), Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            Err(rustix::io::Errno::EXIST) => {
                declared_again = true;
                let st = rfs::statat(&parent, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| fail(rerr(e), "cannot inspect"))?;
                if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                    rfs::unlinkat(&parent, name.as_os_str(), AtFlags::empty())
                        .map_err(|e| fail(rerr(e), "cannot replace"))?;
                    self.cached = None;
                    rfs::mkdirat(&parent, name.as_os_str(), Mode::from_raw_mode(0o700))
                        .map_err(|e| fail(rerr(e), "cannot create directory"))?;
                }
            }
            Err(e) => return Err(fail(rerr(e), "cannot create directory")),
        }
        // A layer's entry describes the whole directory: attributes an earlier
        // layer gave it and this one does not go (umoci does the same).
        let replace = declared_again && self.layers;
        if !m.xattrs.is_empty() || replace {
            let fd = self.open_dir(parts).map_err(|e| fail(e, "cannot open"))?;
            if replace {
                drop_xattrs_but(fd.as_fd(), &m.xattrs);
            }
            self.set_xattrs(fd.as_fd(), &m.xattrs);
        }
        self.defer_dir(parts.to_vec(), m);
        Ok(())
    }

    /// A regular file: created (never through a symlink), written, then owner, mode,
    /// xattrs and times.
    fn regular<R: Read>(
        &mut self,
        entry: &mut tar::Entry<R>,
        parent_parts: &[OsString],
        name: &OsStr,
        m: &Meta,
        shown: &str,
    ) -> Result<(), OpError> {
        let fail = |e: Errno, what: &str| OpError::os(e, format!("{what} {shown}"));
        let parent = self
            .parent(parent_parts)
            .map_err(|e| fail(e, "cannot reach the parent of"))?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rfs::openat(&parent, name, flags, Mode::from_raw_mode(0o600)) {
            Err(rustix::io::Errno::EXIST) => {
                rfs::unlinkat(&parent, name, AtFlags::empty())
                    .map_err(|e| fail(rerr(e), "cannot replace"))?;
                rfs::openat(&parent, name, flags, Mode::from_raw_mode(0o600))
            }
            other => other,
        }
        .map_err(|e| fail(rerr(e), "cannot create"))?;
        let mut file = File::from(fd);
        loop {
            let n = entry
                .read(&mut self.buf)
                .map_err(|e| damaged(errno(&e), &e, shown))?;
            if n == 0 {
                break;
            }
            file.write_all(&self.buf[..n])
                .map_err(|e| fail(errno(&e), "cannot write"))?;
            self.report.bytes += n as u64;
        }
        if self.owners {
            rfs::fchown(&file, Some(uid(m.uid)), Some(gid(m.gid)))
                .map_err(|e| fail(rerr(e), "cannot set the owner of"))?;
        }
        rfs::fchmod(&file, Mode::from_raw_mode(self.mode(m.mode)))
            .map_err(|e| fail(rerr(e), "cannot set the mode of"))?;
        self.set_xattrs(file.as_fd(), &m.xattrs);
        rfs::futimens(&file, &m.times()).map_err(|e| fail(rerr(e), "cannot set the times of"))?;
        Ok(())
    }

    /// A symbolic link, its target stored as written.
    fn symlink<R: Read>(
        &mut self,
        entry: &mut tar::Entry<R>,
        parent_parts: &[OsString],
        name: &OsStr,
        m: &Meta,
        shown: &str,
    ) -> Result<(), OpError> {
        let fail = |e: Errno, what: &str| OpError::os(e, format!("{what} {shown}"));
        let target = entry
            .link_name_bytes()
            .ok_or_else(|| fail(Errno::EINVAL, "no target for symlink"))?
            .into_owned();
        // The target is stored as written: it is only ever resolved inside the root.
        self.cached = None;
        let parent = self
            .parent(parent_parts)
            .map_err(|e| fail(e, "cannot reach the parent of"))?;
        let target = OsStr::from_bytes(&target);
        self.make_replacing(&parent, name, "cannot create symlink", || {
            rfs::symlinkat(target, &parent, name)
        })
        .map_err(|(e, what)| fail(e, what))?;
        self.chown_at(&parent, name, m)
            .map_err(|e| fail(rerr(e), "cannot set the owner of"))?;
        let _ = rfs::utimensat(&parent, name, &m.times(), AtFlags::SYMLINK_NOFOLLOW);
        Ok(())
    }

    /// A hard link to a member already extracted, both resolved inside the root.
    fn hard_link<R: Read>(
        &mut self,
        entry: &mut tar::Entry<R>,
        parent_parts: &[OsString],
        name: &OsStr,
        shown: &str,
    ) -> Result<(), OpError> {
        let fail = |e: Errno, what: &str| OpError::os(e, format!("{what} {shown}"));
        let raw_target = entry
            .link_name_bytes()
            .ok_or_else(|| fail(Errno::EINVAL, "no target for hard link"))?
            .into_owned();
        let target = match entry_path::parse(&raw_target) {
            EntryPath::Inside(t) => t,
            EntryPath::Root => {
                return Err(fail(Errno::EPERM, "hard link to the root directory in"))
            }
            EntryPath::Refused(why) => {
                if self.opts.strict {
                    return Err(fail(Errno::EPERM, "refused hard link"));
                }
                self.report.refused.push((shown.to_string(), why));
                return Ok(());
            }
        };
        let (tname, tparent_parts) = target.split_last().expect("at least one component");
        let tparent = self
            .resolve(tparent_parts)
            .map_err(|e| fail(e, "cannot reach the target of"))?;
        let parent = self
            .parent(parent_parts)
            .map_err(|e| fail(e, "cannot reach the parent of"))?;
        self.make_replacing(&parent, name, "cannot create hard link", || {
            rfs::linkat(&tparent, tname, &parent, name, AtFlags::empty())
        })
        .map_err(|(e, what)| fail(e, what))?;
        Ok(())
    }

    /// A device node or fifo; without the privilege to make one (rootless), skipped
    /// and listed unless `strict`.
    fn node<R: Read>(
        &mut self,
        entry: &mut tar::Entry<R>,
        kind: EntryType,
        parent_parts: &[OsString],
        name: &OsStr,
        m: &Meta,
        shown: &str,
    ) -> Result<(), OpError> {
        let fail = |e: Errno, what: &str| OpError::os(e, format!("{what} {shown}"));
        let parent = self
            .parent(parent_parts)
            .map_err(|e| fail(e, "cannot reach the parent of"))?;
        let h = entry.header();
        let (ft, dev) = match kind {
            EntryType::Char => (FileType::CharacterDevice, dev(h)),
            EntryType::Block => (FileType::BlockDevice, dev(h)),
            _ => (FileType::Fifo, 0),
        };
        let _ = self.remove_existing(&parent, name);
        match rfs::mknodat(&parent, name, ft, Mode::from_raw_mode(0o600), dev) {
            Ok(()) => {}
            Err(rustix::io::Errno::PERM) if !self.opts.strict => {
                self.report.entries -= 1;
                self.report.skipped_devices.push(shown.to_string());
                return Ok(());
            }
            Err(e) => return Err(fail(rerr(e), "cannot create device node")),
        }
        self.chown_at(&parent, name, m)
            .map_err(|e| fail(rerr(e), "cannot set the owner of"))?;
        rfs::chmodat(
            &parent,
            name,
            Mode::from_raw_mode(self.mode(m.mode)),
            AtFlags::empty(),
        )
        .map_err(|e| fail(rerr(e), "cannot set the mode of"))?;
        let _ = rfs::utimensat(&parent, name, &m.times(), AtFlags::SYMLINK_NOFOLLOW);
        Ok(())
    }

    /// `.wh.NAME` removes NAME from the layers below; `.wh..wh..opq` empties the
    /// directory of everything the layers below put in it.
    fn whiteout(&mut self, dir: &[OsString], hidden: &[u8], shown: &str) -> Result<(), Errno> {
        self.cached = None;
        let parent = match self.resolve_existing(dir) {
            Some(fd) => fd,
            None => return Ok(()),
        };
        if hidden == b".wh..opq" {
            let names = super::remove::names(&parent).map_err(|e| e.errno.unwrap_or(Errno::EIO))?;
            for n in names {
                let mut p = dir.to_vec();
                p.push(n.clone());
                if !self.this_layer.contains(&p) {
                    super::remove::remove_at(&parent, &n, Path::new(shown))
                        .map_err(|e| e.errno.unwrap_or(Errno::EIO))?;
                }
            }
            return Ok(());
        }
        let name = OsStr::from_bytes(hidden);
        if hidden.is_empty() || hidden == b"." || hidden == b".." || hidden.contains(&b'/') {
            self.report
                .refused
                .push((shown.to_string(), "a whiteout of no name"));
            return Ok(());
        }
        super::remove::remove_at(&parent, name, Path::new(shown))
            .map_err(|e| e.errno.unwrap_or(Errno::EIO))
    }

    /// A directory inside the root if it exists (a whiteout for a missing one is moot).
    fn resolve_existing(&self, parts: &[OsString]) -> Option<OwnedFd> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        if parts.is_empty() {
            return rfs::openat(self.root, ".", flags, Mode::empty()).ok();
        }
        rfs::openat2(self.root, join(parts), flags, Mode::empty(), RESOLVE).ok()
    }

    /// Owner (when root) of a member made by name in `parent`, not following a symlink.
    fn chown_at(&self, parent: &OwnedFd, name: &OsStr, m: &Meta) -> Result<(), rustix::io::Errno> {
        if self.owners {
            rfs::chownat(
                parent,
                name,
                Some(uid(m.uid)),
                Some(gid(m.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )?;
        }
        Ok(())
    }

    /// Modes as tar keeps them: all bits as root, without set-id bits otherwise.
    fn mode(&self, mode: u32) -> u32 {
        if self.owners {
            mode
        } else {
            mode & 0o1777
        }
    }

    fn set_xattrs(&self, fd: BorrowedFd<'_>, xattrs: &[(Vec<u8>, Vec<u8>)]) {
        for (name, value) in xattrs {
            // Best effort, as tar --xattrs: a filesystem may not take every namespace.
            let _ = rfs::fsetxattr(fd, OsStr::from_bytes(name), value, XattrFlags::empty());
        }
    }

    /// Removes what is at `name` so a member can take its place; an empty directory
    /// can go, a full one cannot (tar refuses too).
    /// Makes `name` with `make`; where an earlier member or layer left something of that
    /// name, removes it and makes it once more. The error says which step failed.
    fn make_replacing(
        &mut self,
        parent: &OwnedFd,
        name: &OsStr,
        what: &'static str,
        make: impl Fn() -> rustix::io::Result<()>,
    ) -> Result<(), (Errno, &'static str)> {
        match make() {
            Err(rustix::io::Errno::EXIST) => {
                self.remove_existing(parent, name)
                    .map_err(|e| (e, "cannot replace"))?;
                make().map_err(|e| (rerr(e), what))
            }
            other => other.map_err(|e| (rerr(e), what)),
        }
    }

    fn remove_existing(&mut self, parent: &OwnedFd, name: &OsStr) -> Result<(), Errno> {
        match rfs::unlinkat(parent, name, AtFlags::empty()) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::ISDIR) => {
                self.cached = None;
                rfs::unlinkat(parent, name, AtFlags::REMOVEDIR).map_err(rerr)
            }
            Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(rerr(e)),
        }
    }

    /// The parent directory of a member, from the one-entry cache when it is the same
    /// as the last member's (archives list a directory's members together).
    fn parent(&mut self, parts: &[OsString]) -> Result<OwnedFd, Errno> {
        if let Some((p, fd)) = &self.cached {
            if p.as_slice() == parts {
                return fd.try_clone().map_err(|e| errno(&e));
            }
        }
        let fd = self.resolve(parts)?;
        self.cached = Some((parts.to_vec(), fd.try_clone().map_err(|e| errno(&e))?));
        Ok(fd)
    }

    /// Resolves a directory inside the root, creating missing ones (0755, as tar does).
    fn resolve(&self, parts: &[OsString]) -> Result<OwnedFd, Errno> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        if parts.is_empty() {
            return self.root.try_clone().map_err(|e| errno(&e));
        }
        match rfs::openat2(self.root, join(parts), flags, Mode::empty(), RESOLVE) {
            Ok(fd) => return Ok(fd),
            Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(rerr(e)),
        }
        let mut dir = self.root.try_clone().map_err(|e| errno(&e))?;
        for i in 0..parts.len() {
            match rfs::openat2(self.root, join(&parts[..=i]), flags, Mode::empty(), RESOLVE) {
                Ok(fd) => dir = fd,
                Err(rustix::io::Errno::NOENT) => {
                    match rfs::mkdirat(&dir, parts[i].as_os_str(), Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(rerr(e)),
                    }
                    dir =
                        rfs::openat2(self.root, join(&parts[..=i]), flags, Mode::empty(), RESOLVE)
                            .map_err(rerr)?;
                }
                Err(e) => return Err(rerr(e)),
            }
        }
        Ok(dir)
    }

    fn open_dir(&self, parts: &[OsString]) -> Result<OwnedFd, Errno> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        if parts.is_empty() {
            return rfs::openat(self.root, ".", flags, Mode::empty()).map_err(rerr);
        }
        rfs::openat2(self.root, join(parts), flags, Mode::empty(), RESOLVE).map_err(rerr)
    }

    fn finish_dirs(&mut self) -> Result<(), OpError> {
        for d in self.dirs.iter().rev() {
            let shown = join(&d.path).display().to_string();
            // A directory replaced later in the archive (by a symlink, say) is skipped.
            let Ok(fd) = self.open_dir(&d.path) else {
                continue;
            };
            let fail =
                |e: rustix::io::Errno, what: &str| OpError::os(rerr(e), format!("{what} {shown}"));
            if let Some((u, g)) = d.owner {
                rfs::fchown(&fd, Some(uid(u)), Some(gid(g)))
                    .map_err(|e| fail(e, "cannot set the owner of"))?;
            }
            rfs::fchmod(&fd, Mode::from_raw_mode(self.mode(d.mode)))
                .map_err(|e| fail(e, "cannot set the mode of"))?;
            rfs::futimens(&fd, &d.times).map_err(|e| fail(e, "cannot set the times of"))?;
        }
        Ok(())
    }

    /// Remembers a directory's metadata for `finish_dirs`; a later declaration of the
    /// same directory replaces an earlier one's.
    fn defer_dir(&mut self, path: Vec<OsString>, m: &Meta) {
        let meta = DirMeta {
            path,
            mode: m.mode,
            owner: self.owners.then_some((m.uid, m.gid)),
            times: m.times(),
        };
        match self.dir_index.get(&meta.path) {
            Some(&i) => self.dirs[i] = meta,
            None => {
                self.dir_index.insert(meta.path.clone(), self.dirs.len());
                self.dirs.push(meta);
            }
        }
    }
}

fn uid(u: u32) -> rfs::Uid {
    rfs::Uid::from_raw(u)
}

fn gid(g: u32) -> rfs::Gid {
    rfs::Gid::from_raw(g)
}

fn dev(h: &tar::Header) -> u64 {
    let major = h.device_major().ok().flatten().unwrap_or(0);
    let minor = h.device_minor().ok().flatten().unwrap_or(0);
    rfs::makedev(major, minor)
}

/// Removes the extended attributes of `fd` that `keep` does not name, but those of the
/// kernel's and the security module's own (`system.*`, `security.selinux`).
fn drop_xattrs_but(fd: BorrowedFd<'_>, keep: &[(Vec<u8>, Vec<u8>)]) {
    let mut names = vec![0u8; 64 * 1024];
    let Ok(n) = rfs::flistxattr(fd, &mut names) else {
        return;
    };
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let own = name.starts_with(b"system.") || name == b"security.selinux";
        if !own && !keep.iter().any(|(k, _)| k == name) {
            let _ = rfs::fremovexattr(fd, OsStr::from_bytes(name));
        }
    }
}
