//! An environment on disk: a directory per run under /run/nsr/envs (or the user's
//! runtime directory) holding `journal.jsonl`, an append-only log (its first line says
//! what the environment is) written
//! before each action is taken and after it, so that `nsr down` can undo what a run made
//! even after `kill -9`. The running nsr holds an exclusive lock on the directory.

use crate::journal::Origin;
use crate::ops::{CutShort, OpError, Undo};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One line of `journal.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Record {
    /// The first line: what the environment is.
    Meta(Meta),
    /// The run ended and kept what it made (`nsr run --keep`, the REPL's `:keep`).
    Kept,
    /// About to do `what`; `cut_short` takes it back if it never gets its `Done`.
    Intent {
        seq: u64,
        what: String,
        cut_short: CutShort,
        /// The recipe line that asked for it.
        #[serde(default)]
        origin: Origin,
        /// Nanoseconds since the epoch on the clock that stamps files (coarse), to tell
        /// a namespace or directory the action made from one that was there.
        at: i64,
    },
    /// Done, and this undoes it.
    Done {
        seq: u64,
        what: String,
        origin: Origin,
        undo: Undo,
    },
    /// Ended without anything to undo (failed, or made nothing).
    Nothing {
        seq: u64,
    },
    Undone {
        seq: u64,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub name: String,
    pub recipe: String,
    pub pid: i32,
    /// Seconds since the epoch.
    pub started: i64,
    /// The run ended and kept what it made (`nsr run --keep`).
    #[serde(default)]
    pub kept: bool,
}

/// Now, in nanoseconds, on the coarse clock the kernel stamps files with (a file made
/// after this call never has an older ctime).
pub fn now_coarse_ns() -> i64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into `t`.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut t) };
    t.tv_sec * 1_000_000_000 + t.tv_nsec
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn io(e: std::io::Error, what: String) -> OpError {
    OpError::os(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)), what)
}

/// Where environments live: /run/nsr/envs for root, the user's runtime directory
/// otherwise; `NSR_STATE_DIR` overrides (tests).
pub fn base_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("NSR_STATE_DIR") {
        return PathBuf::from(d);
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/run/nsr/envs");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) => PathBuf::from(d).join("nsr/envs"),
        None => PathBuf::from(format!("/tmp/nsr-{}/envs", nix::unistd::geteuid())),
    }
}

pub fn check_name(name: &str) -> Result<(), OpError> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || name.starts_with('.')
    {
        return Err(OpError::new(format!(
            "'{name}' is not an environment name: letters, digits, '-', '_' and '.', up to 64"
        )));
    }
    Ok(())
}

/// The directory of the existing environment `name`; `hint` says what to do when there
/// is none (`nsr ls lists them; ...`).
pub fn existing(name: &str, hint: &str) -> Result<PathBuf, OpError> {
    check_name(name)?;
    let dir = base_dir().join(name);
    if !dir.is_dir() {
        return Err(
            OpError::os(Errno::ENOENT, format!("there is no environment '{name}'")).with_hint(hint),
        );
    }
    Ok(dir)
}

/// The journal of a running environment, held locked by this process.
pub struct EnvJournal {
    pub dir: PathBuf,
    file: File,
    _lock: Flock<File>,
}

/// Tries to lock an environment's directory (the lock is on the directory itself);
/// None when another process holds it.
pub fn try_lock(dir: &Path) -> Result<Option<Flock<File>>, OpError> {
    let f = File::open(dir).map_err(|e| io(e, format!("cannot open {}", dir.display())))?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Some(l)),
        Err((_, Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(OpError::os(e, format!("cannot lock {}", dir.display()))),
    }
}

impl EnvJournal {
    /// Creates environment `name`; an existing one is never taken over.
    pub fn create(name: &str, recipe: &str) -> Result<EnvJournal, OpError> {
        check_name(name)?;
        let base = base_dir();
        let dir = base.join(name);
        // Only its user may enter it: a kept sandbox's holder listens there (`nsr enter`).
        let private = || {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().mode(0o700).create(&dir)
        };
        let mut made = private();
        if matches!(&made, Err(e) if e.kind() == std::io::ErrorKind::NotFound) {
            std::fs::create_dir_all(&base)
                .map_err(|e| io(e, format!("cannot create {}", base.display())))?;
            made = private();
        }
        if let Err(e) = made {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                let live = try_lock(&dir).ok().flatten().is_none();
                let pid = read_meta(&dir).map(|m| m.pid).unwrap_or(0);
                return Err(if live {
                    OpError::os(
                        Errno::EEXIST,
                        format!("environment '{name}' is in use (nsr pid {pid})"),
                    )
                    .with_hint("choose another --name, or wait for it to end (nsr ls)")
                } else {
                    OpError::os(
                        Errno::EEXIST,
                        format!("environment '{name}' is left from a run that did not end cleanly"),
                    )
                    .with_hint(format!("nsr down {name} undoes what it made"))
                });
            }
            return Err(io(e, format!("cannot create {}", dir.display())));
        }
        // `nsr ls` may hold the lock for an instant while it looks: try a few times.
        let mut lock = None;
        for _ in 0..100 {
            lock = try_lock(&dir)?;
            if lock.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let lock = lock.ok_or_else(|| OpError::new("cannot lock the new environment"))?;
        let meta = Meta {
            name: name.to_string(),
            recipe: recipe.to_string(),
            pid: std::process::id() as i32,
            started: now(),
            kept: false,
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("journal.jsonl"))
            .map_err(|e| io(e, "cannot open journal.jsonl".into()))?;
        let mut env = EnvJournal {
            dir,
            file,
            _lock: lock,
        };
        env.write(&Record::Meta(meta));
        Ok(env)
    }

    /// Appends one record. A write to the file survives the process being killed; it
    /// is written before the action it announces.
    pub fn write(&mut self, r: &Record) {
        write_record(&mut self.file, r);
    }

    /// The run ended and kept what it made: the environment stays (unlocked).
    pub fn mark_kept(mut self) {
        self.write(&Record::Kept);
    }

    /// The run ended with everything undone: the environment goes. (The base
    /// directory stays, as /run/netns does: making and removing it on every run cost
    /// a noticeable part of a short recipe's time on a disk-backed /run.)
    pub fn remove(self) {
        let _ = std::fs::remove_file(self.dir.join("journal.jsonl"));
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn write_record(file: &mut File, r: &Record) {
    if let Ok(mut line) = serde_json::to_vec(r) {
        line.push(b'\n');
        let _ = file.write_all(&line);
    }
}

/// Appends records to an environment's journal from another process (`nsr down`).
pub fn append(dir: &Path, records: &[Record]) {
    if let Ok(mut f) = OpenOptions::new()
        .append(true)
        .open(dir.join("journal.jsonl"))
    {
        for r in records {
            write_record(&mut f, r);
        }
    }
}

/// The environment's description, from its journal's first line (and whether a later
/// record says it was kept).
pub fn read_meta(dir: &Path) -> Option<Meta> {
    let (records, _) = read_records(dir);
    let mut meta = records.iter().find_map(|r| match r {
        Record::Meta(m) => Some(m.clone()),
        _ => None,
    })?;
    meta.kept = records.iter().any(|r| matches!(r, Record::Kept));
    Some(meta)
}

/// The records of a journal; an unreadable line (a crash mid-write, a corrupt file) is
/// reported with its line number and skipped, so the readable part is still undone.
pub fn read_records(dir: &Path) -> (Vec<Record>, Vec<String>) {
    let path = dir.join("journal.jsonl");
    let text = std::fs::read(&path).unwrap_or_default();
    let mut records = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match serde_json::from_slice::<Record>(line) {
            Ok(r) => records.push(r),
            Err(e) => problems.push(format!(
                "{}:{}: unreadable record ({e})",
                path.display(),
                i + 1
            )),
        }
    }
    (records, problems)
}
