//! Landlock path-beneath rules for a command: the paths it may read, write or execute
//! from, and nothing else of the filesystem. The ruleset is built in the holder for each
//! command (its paths are those of the sandbox's current root) and entered by the
//! command's process with one system call between clone and exec.
//!
//! Raw system calls rather than the `landlock` crate: the command's process shares the
//! holder's memory and must not allocate, and the crate's `restrict_self` both builds
//! and enters in one process.

use serde::{Deserialize, Serialize};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// What a recipe wrote: `landlock: #{ read: [...], write: [...], exec: [...] }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Landlock {
    pub read: Vec<String>,
    pub write: Vec<String>,
    pub exec: Vec<String>,
}

// Access rights (linux/landlock.h), with the ABI that brought them.
const EXECUTE: u64 = 1 << 0;
const WRITE_FILE: u64 = 1 << 1;
const READ_FILE: u64 = 1 << 2;
const READ_DIR: u64 = 1 << 3;
const REMOVE_DIR: u64 = 1 << 4;
const REMOVE_FILE: u64 = 1 << 5;
const MAKE_CHAR: u64 = 1 << 6;
const MAKE_DIR: u64 = 1 << 7;
const MAKE_REG: u64 = 1 << 8;
const MAKE_SOCK: u64 = 1 << 9;
const MAKE_FIFO: u64 = 1 << 10;
const MAKE_BLOCK: u64 = 1 << 11;
const MAKE_SYM: u64 = 1 << 12;
/// ABI 2: link or rename a file from one directory to another.
const REFER: u64 = 1 << 13;
/// ABI 3.
const TRUNCATE: u64 = 1 << 14;
/// ABI 5: ioctl on a device.
const IOCTL_DEV: u64 = 1 << 15;

/// The rights a rule on a file (not a directory) may carry.
const ON_A_FILE: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;

const READ: u64 = READ_FILE | READ_DIR;
const EXEC: u64 = READ | EXECUTE;
/// Everything but making device nodes (which CAP_MKNOD governs, and a confined command
/// does not have) and executing.
const WRITE: u64 = READ
    | WRITE_FILE
    | REMOVE_DIR
    | REMOVE_FILE
    | MAKE_DIR
    | MAKE_REG
    | MAKE_SOCK
    | MAKE_FIFO
    | MAKE_SYM
    | REFER
    | TRUNCATE
    | IOCTL_DEV;

/// The filesystem rights ABI `abi` knows: all of them are handled (denied unless a rule
/// allows them).
fn handled(abi: u32) -> u64 {
    let mut all = EXECUTE
        | WRITE_FILE
        | READ_FILE
        | READ_DIR
        | REMOVE_DIR
        | REMOVE_FILE
        | MAKE_CHAR
        | MAKE_DIR
        | MAKE_REG
        | MAKE_SOCK
        | MAKE_FIFO
        | MAKE_BLOCK
        | MAKE_SYM;
    if abi >= 2 {
        all |= REFER;
    }
    if abi >= 3 {
        all |= TRUNCATE;
    }
    if abi >= 5 {
        all |= IOCTL_DEV;
    }
    all
}

/// The Landlock ABI the running kernel has, or why it has none (EOPNOTSUPP: built in
/// but not enabled; ENOSYS: not built in).
pub fn version() -> Result<u32, nix::errno::Errno> {
    // SAFETY: the version query takes no memory and creates nothing.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    u32::try_from(v).map_err(|_| nix::errno::Errno::last())
}

/// The ABI, 0 for none: asked of the kernel once per process (each confined
/// command's ruleset needs it).
pub fn abi() -> u32 {
    static ABI: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *ABI.get_or_init(|| version().unwrap_or(0))
}

/// What a kernel with ABI `abi` cannot enforce of what `landlock` asks, for a warning;
/// empty when everything is.
pub fn not_enforced(abi: u32) -> Vec<&'static str> {
    if abi == 0 {
        return vec!["any of it (this kernel has no Landlock, or it is disabled)"];
    }
    let mut gaps = Vec::new();
    if abi < 2 {
        gaps.push("moving files between directories is refused everywhere (ABI 2)");
    }
    if abi < 3 {
        gaps.push("truncating a file outside the write paths (ABI 3)");
    }
    if abi < 5 {
        gaps.push("ioctl on devices outside the write paths (ABI 5)");
    }
    gaps
}

/// The warning for a recipe that asks for Landlock on this kernel, if it cannot have
/// all of it.
pub fn warning() -> Option<String> {
    let abi = abi();
    let gaps = not_enforced(abi);
    (!gaps.is_empty()).then(|| {
        format!(
            "landlock: this kernel (Landlock ABI {abi}) does not enforce {}",
            gaps.join("; ")
        )
    })
}

/// A built ruleset, entered with [`Ruleset::enter`].
pub struct Ruleset(OwnedFd);

/// Why a ruleset could not be built.
#[derive(Debug)]
pub struct BuildError {
    pub path: Option<String>,
    pub errno: i32,
    pub what: &'static str,
}

impl Landlock {
    fn rules(&self) -> impl Iterator<Item = (&str, u64)> {
        [(&self.read, READ), (&self.write, WRITE), (&self.exec, EXEC)]
            .into_iter()
            .flat_map(|(paths, access)| paths.iter().map(move |p| (p.as_str(), access)))
    }
}

/// Usable whatever the rules say (where the root has them): nearly every program opens
/// one of them, and none of them reaches anything of the host's.
const STANDARD_DEVICES: [&str; 5] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

impl Landlock {
    /// Builds the ruleset in the calling process's root: every path must exist there.
    /// None on a kernel without Landlock (best effort: nsr warned when the recipe ran).
    pub fn build(&self) -> Result<Option<Ruleset>, BuildError> {
        let abi = abi();
        if abi == 0 {
            return Ok(None);
        }
        let handled = handled(abi);
        let fail = |path: Option<&str>, what| BuildError {
            path: path.map(str::to_string),
            errno: std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
            what,
        };
        let attr: u64 = handled;
        // SAFETY: attr is a landlock_ruleset_attr's first field, and size says only that.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &attr as *const u64,
                std::mem::size_of::<u64>(),
                0u32,
            )
        };
        if fd < 0 {
            return Err(fail(None, "landlock_create_ruleset"));
        }
        // SAFETY: a new fd of ours (O_CLOEXEC, as Landlock makes it).
        let ruleset = Ruleset(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        for (path, access) in self.rules() {
            let c = CString::new(path).map_err(|_| BuildError {
                path: Some(path.into()),
                errno: libc::EINVAL,
                what: "a path with a NUL byte",
            })?;
            // SAFETY: open of a NUL-terminated path; the fd is owned right away.
            let raw = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
            if raw < 0 {
                return Err(fail(Some(path), "open"));
            }
            // SAFETY: just opened.
            let beneath = unsafe { OwnedFd::from_raw_fd(raw) };
            let mut access = access & handled;
            if !is_dir(&beneath) {
                access &= ON_A_FILE;
            }
            ruleset
                .add(&beneath, access)
                .map_err(|_| fail(Some(path), "landlock_add_rule"))?;
        }
        for dev in STANDARD_DEVICES {
            let c = CString::new(dev).expect("no NUL");
            // SAFETY: as above; a device the root lacks is simply not allowed.
            let raw = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
            if raw >= 0 {
                // SAFETY: just opened.
                let node = unsafe { OwnedFd::from_raw_fd(raw) };
                let _ = ruleset.add(&node, (READ_FILE | WRITE_FILE) & handled);
            }
        }
        Ok(Some(ruleset))
    }
}

fn is_dir(fd: &OwnedFd) -> bool {
    // SAFETY: fstat into a zeroed stat.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd.as_raw_fd(), &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFDIR
    }
}

/// struct landlock_path_beneath_attr, packed as the kernel has it.
#[repr(C, packed)]
struct PathBeneath {
    allowed_access: u64,
    parent_fd: i32,
}

impl Ruleset {
    fn add(&self, beneath: &OwnedFd, access: u64) -> Result<(), ()> {
        let attr = PathBeneath {
            allowed_access: access,
            parent_fd: beneath.as_raw_fd(),
        };
        // SAFETY: attr lives across the call; 1 is LANDLOCK_RULE_PATH_BENEATH.
        let r = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                self.0.as_raw_fd(),
                1u32,
                &attr as *const PathBeneath,
                0u32,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(())
        }
    }

    /// Restricts the calling process. Needs no_new_privs or CAP_SYS_ADMIN.
    ///
    /// # Safety
    /// One raw system call; fit for the command's process between clone and exec.
    pub unsafe fn enter(&self) -> bool {
        // SAFETY: one raw system call on a ruleset fd this value owns.
        unsafe { libc::syscall(libc::SYS_landlock_restrict_self, self.0.as_raw_fd(), 0u32) == 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_abi_handles_what_it_knows_and_names_what_it_cannot_enforce() {
        assert_eq!(handled(1), (1 << 13) - 1);
        assert_eq!(handled(7), (1 << 16) - 1);
        assert_eq!(handled(4) & IOCTL_DEV, 0);
        assert!(not_enforced(7).is_empty());
        assert_eq!(not_enforced(4).len(), 1);
        assert_eq!(not_enforced(1).len(), 3);
        assert!(not_enforced(0)[0].contains("no Landlock"));
    }

    #[test]
    fn write_does_not_give_execute_nor_device_nodes() {
        assert_eq!(WRITE & (EXECUTE | MAKE_CHAR | MAKE_BLOCK), 0);
        assert_eq!(EXEC & WRITE_FILE, 0);
        assert_eq!(READ & (EXECUTE | WRITE_FILE), 0);
    }
}
