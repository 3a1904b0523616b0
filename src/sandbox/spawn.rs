//! Creating a sandbox, as `unshare --fork` does: a first child enters the namespaces
//! to join (setns), creates the new ones (unshare), waits for nsr to write its id maps,
//! and, when a pid or time namespace applies only to its children, forks the holder.
//! When nothing is joined (and no time namespace is asked for), one clone() creates the
//! holder directly in all its new namespaces: one process less to start and stop.

use super::client::SandboxHandle;
use super::holder;
use super::protocol::{recv, recv_with_fds, send, Go, Startup, WireError};
use crate::ns::idmap;
use crate::ops::kinds::NsKind;
use crate::ops::sandbox::{Propagation, SandboxSpec};
use crate::ops::OpError;
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// How long a sandbox may take to come up before nsr gives up on it.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// Whether the namespaces apply to the first child's children only, so a holder is forked.
fn holder_is_second_child(spec: &SandboxSpec) -> bool {
    spec.has_own_pid_ns() || spec.creates(NsKind::Time)
}

/// Whether one clone() can create the holder in all its namespaces at once.
fn direct_clone(spec: &SandboxSpec) -> bool {
    spec.join.is_empty() && !spec.creates(NsKind::Time)
}

/// clone(2) with namespace flags and no new stack: returns twice, like fork.
fn clone_with(flags: CloneFlags) -> Result<Option<Pid>, Errno> {
    // SAFETY: without CLONE_VM the child gets a copy of memory, as with fork; nsr is
    // single-threaded, so no lock is held by another thread in the copy.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags.bits() | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match r {
        -1 => Err(Errno::last()),
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}

/// The cgroups a sandbox's first process is in from its start: cloned into `unified`
/// (a cgroup2 directory), it writes "0" to each of `tasks` before anything else.
#[derive(Clone, Copy, Default)]
pub struct Joining<'a> {
    pub unified: Option<BorrowedFd<'a>>,
    pub tasks: &'a [OwnedFd],
}

/// Starts the sandbox `spec` in the cgroups `join`; its confined commands will start in
/// the cgroup `device_cgroup` (an fd of its directory) when it is given. `meanwhile` runs in nsr
/// once the sandbox's first process exists, while it sets its namespaces up (work
/// that must be done before any command starts, not before the sandbox does).
pub fn spawn(
    spec: &SandboxSpec,
    device_cgroup: Option<BorrowedFd<'_>>,
    join: Joining<'_>,
    meanwhile: &mut dyn FnMut() -> Result<(), OpError>,
) -> Result<SandboxHandle, OpError> {
    let cgroup = device_cgroup.map(|fd| fd.as_raw_fd());
    let (sock, child_sock) = UnixStream::pair().map_err(|e| io_err(e, "socketpair"))?;
    let parent_pid = std::process::id() as i32;
    // A new cgroup namespace is rooted where its creator is: in the sandbox's cgroups,
    // which a process cloned straight into it would not yet be.
    let in_groups = join.unified.is_some() || !join.tasks.is_empty();
    let direct = direct_clone(spec) && (!in_groups || !spec.creates(NsKind::Cgroup));
    let started = if let Some(group) = join.unified {
        let flags = if direct { create_flags(spec).bits() } else { 0 };
        crate::sys::clone_into_cgroup(flags, group)
            .map(|pid| (pid != 0).then(|| Pid::from_raw(pid)))
            .map_err(|e| unshare_error(e, spec))
    } else if direct {
        clone_with(create_flags(spec)).map_err(|e| unshare_error(e, spec))
    } else {
        // SAFETY: nsr is single-threaded; the child goes on with its own copy of memory.
        unsafe { fork() }
            .map_err(|e| OpError::os(e, "fork"))
            .map(|r| match r {
                ForkResult::Child => None,
                ForkResult::Parent { child } => Some(child),
            })
    };
    let first = match started? {
        None => {
            // nsr is not dumpable (so that a sandbox cannot reach its /proc/PID/root and
            // fds); this child must be until its id maps are written, by nsr or newuidmap.
            crate::sys::set_dumpable(true);
            drop(sock);
            join_cgroups(join.tasks, &child_sock);
            if direct {
                direct_child(spec, child_sock, cgroup)
            } else {
                first_child(spec, child_sock, parent_pid, cgroup)
            }
        }
        Some(child) => child,
    };
    drop(child_sock);
    let mut handle = SandboxHandle::new(first, sock, spec);
    if let Err(e) = meanwhile() {
        handle.kill_now();
        return Err(e);
    }
    let result = start_up(
        &mut handle,
        first,
        spec,
        !direct && holder_is_second_child(spec),
    );
    if result.is_err() {
        handle.kill_now();
    }
    result.map(|()| handle)
}

/// The sandbox's first process moves itself into its v1 cgroups ("0" is the writer),
/// so that all it starts is born there; it ends when it cannot.
fn join_cgroups(procs: &[OwnedFd], sock: &UnixStream) {
    for fd in procs {
        if let Err(e) = nix::unistd::write(fd, b"0") {
            let mut sock = sock;
            let err = OpError::os(e, "cannot join the sandbox's cgroups");
            let _ = send(&mut sock, &Startup::Failed(WireError::from(err)));
            holder::unsafe_exit(1);
        }
    }
}

/// Answers the first child's set-up messages until the holder is ready.
fn start_up(
    handle: &mut SandboxHandle,
    first: Pid,
    spec: &SandboxSpec,
    forks: bool,
) -> Result<(), OpError> {
    let sock = &mut handle.sock;
    sock.set_read_timeout(Some(STARTUP_TIMEOUT))
        .map_err(|e| io_err(e, "socket timeout"))?;
    let mut holder_pid = if forks { None } else { Some(first.as_raw()) };
    let mut namespaces = None;
    while holder_pid.is_none() || namespaces.is_none() {
        // The holder's namespaces come attached to its Ready: every frame is read so.
        let (msg, fds) = match recv_with_fds(sock) {
            Ok(Some((msg, fds))) => (Some(msg), fds),
            Ok(None) => (None, Vec::new()),
            Err(e) => return Err(io_err(e, "the sandbox did not come up")),
        };
        match msg {
            Some(Startup::NeedMaps) => {
                idmap::write_maps(
                    first.as_raw(),
                    &spec.uid_map,
                    &spec.gid_map,
                    is_root_map(spec),
                )?;
                send(sock, &Go::Proceed).map_err(|_| {
                    OpError::new("the sandbox exited while its id maps were written")
                })?;
            }
            Some(Startup::HolderPid(pid)) => holder_pid = Some(pid),
            Some(Startup::Ready { namespaces: names }) => {
                namespaces = Some(super::protocol::named_namespaces(&names, fds)?);
            }
            Some(Startup::Failed(w)) => return Err(w.into()),
            None => return Err(OpError::new("the sandbox process exited during set-up")),
        }
    }
    sock.set_read_timeout(None)
        .map_err(|e| io_err(e, "socket timeout"))?;
    handle.set_namespaces(namespaces.unwrap_or_default());
    handle.set_holder(holder_pid.unwrap_or(first.as_raw()))
}

/// --map-root-user denies setgroups; explicit multi-range maps keep it.
fn is_root_map(spec: &SandboxSpec) -> bool {
    spec.uid_map.len() == 1 && spec.uid_map[0].inside == 0 && spec.uid_map[0].count == 1
}

fn io_err(e: std::io::Error, what: &str) -> OpError {
    match e.raw_os_error() {
        Some(n) => OpError::os(Errno::from_raw(n), format!("{what}: {e}")),
        None => OpError::new(format!("{what}: {e}")),
    }
}

/// The holder, cloned straight into its new namespaces.
fn direct_child(spec: &SandboxSpec, mut sock: UnixStream, cgroup: Option<RawFd>) -> ! {
    // In a new pid namespace getppid() is 0, so nsr's death is seen through the socket
    // (end of file) if it happens before this.
    // SAFETY: prctl on this process only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    if let Err(e) = finish_namespaces(spec, &mut sock) {
        let _ = send(&mut sock, &Startup::Failed(WireError::from(e)));
        holder::unsafe_exit(1);
    }
    holder::run(sock, holder::Setup::of(spec, spec.has_own_pid_ns(), cgroup))
}

/// SIGUSR1 to the first child: the environment is kept, outlive nsr.
extern "C" fn keep_alive(_: libc::c_int) {
    // SAFETY: prctl is async-signal-safe (a plain system call).
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0) };
}

fn first_child(
    spec: &SandboxSpec,
    mut sock: UnixStream,
    parent_pid: i32,
    cgroup: Option<RawFd>,
) -> ! {
    // SAFETY: prctl and signal on this process only; the handler only calls prctl.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::signal(libc::SIGUSR1, keep_alive as *const () as libc::sighandler_t);
    }
    if nix::unistd::getppid().as_raw() != parent_pid {
        holder::unsafe_exit(1);
    }
    match enter_namespaces(spec, &mut sock) {
        Ok(()) => {}
        Err(e) => {
            let _ = send(&mut sock, &Startup::Failed(WireError::from(e)));
            holder::unsafe_exit(1);
        }
    }
    if !spec.time_offsets.is_zero() {
        // Before anything enters the time namespace: afterwards the kernel refuses.
        if let Err(e) = set_time_offsets(spec) {
            let _ = send(&mut sock, &Startup::Failed(WireError::from(e)));
            holder::unsafe_exit(1);
        }
    }
    if !holder_is_second_child(spec) {
        holder::run(sock, holder::Setup::of(spec, false, cgroup));
    }
    // SAFETY: still single-threaded.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => holder::run(sock, holder::Setup::of(spec, true, cgroup)),
        Ok(ForkResult::Parent { child }) => {
            // It waits on the host's side of the namespaces with the host's root: no
            // process of the sandbox may open its /proc/PID/root or fds.
            crate::sys::set_dumpable(false);
            let _ = send(&mut sock, &Startup::HolderPid(child.as_raw()));
            drop(sock);
            // It shares the sandbox's new namespaces: it keeps none of nsr's fds.
            crate::sys::close_fds_except(0, &[]);
            wait_for_holder(child)
        }
        Err(e) => {
            let _ = send(
                &mut sock,
                &Startup::Failed(OpError::os(e, "fork the holder").into()),
            );
            holder::unsafe_exit(1)
        }
    }
}

/// The clock offsets of the time namespace this process made, as `unshare --monotonic
/// N --boottime N` writes them, to its own timens_offsets.
fn set_time_offsets(spec: &SandboxSpec) -> Result<(), OpError> {
    std::fs::write("/proc/self/timens_offsets", spec.time_offsets.proc_text()).map_err(|e| {
        let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        let err = OpError::os(
            errno,
            format!(
                "cannot set the time namespace's offsets (monotonic {}, boottime {})",
                spec.time_offsets.monotonic, spec.time_offsets.boottime
            ),
        );
        match errno {
            Errno::EINVAL | Errno::ERANGE => err.with_hint(
                "an offset may not take a clock below zero (more negative than the machine's uptime)",
            ),
            Errno::EPERM => err.with_hint("setting clock offsets needs CAP_SYS_TIME over the time namespace"),
            _ => err,
        }
    })
}

/// The first child stays as the holder's parent, like unshare(1) with --fork, and
/// ends with the holder's status.
fn wait_for_holder(child: Pid) -> ! {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => holder::unsafe_exit(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => holder::unsafe_exit(128 + sig as i32),
            Err(Errno::EINTR) | Ok(_) => continue,
            Err(_) => holder::unsafe_exit(1),
        }
    }
}

fn enter_namespaces(spec: &SandboxSpec, sock: &mut UnixStream) -> Result<(), OpError> {
    // Join first (a user namespace before what it owns), so that namespaces owned by
    // the host can still be entered before a new user namespace drops host privilege.
    let mut joins: Vec<_> = spec.join.iter().collect();
    joins.sort_by_key(|(k, _)| **k != NsKind::User);
    for (kind, target) in joins {
        let path = target.path_for(*kind);
        let fd = open(
            path.as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            let err = OpError::os(
                e,
                format!("cannot open {path} to join its {kind} namespace"),
            );
            if e == Errno::ENOENT {
                err.with_hint(
                    "no such namespace file: check the netns name (ip netns list) or the pid",
                )
            } else {
                err
            }
        })?;
        let flag = CloneFlags::from_bits_retain(kind.clone_flag());
        setns(&fd, flag).map_err(|e| {
            let err = OpError::os(e, format!("setns into {path} ({kind})"));
            match e {
                Errno::EINVAL => err.with_hint(format!("{path} is not a {kind} namespace")),
                Errno::EPERM => {
                    err.with_hint("joining a namespace needs CAP_SYS_ADMIN over it (run as root)")
                }
                _ => err,
            }
        })?;
    }
    let flags = create_flags(spec);
    if !flags.is_empty() {
        unshare(flags).map_err(|e| unshare_error(e, spec))?;
    }
    finish_namespaces(spec, sock)
}

fn create_flags(spec: &SandboxSpec) -> CloneFlags {
    let mut flags = CloneFlags::empty();
    for kind in &spec.create {
        flags |= CloneFlags::from_bits_retain(kind.clone_flag());
    }
    flags
}

/// After the namespaces exist: id maps (written by nsr), then mount propagation.
fn finish_namespaces(spec: &SandboxSpec, sock: &mut UnixStream) -> Result<(), OpError> {
    if spec.creates(NsKind::User) {
        send(sock, &Startup::NeedMaps).map_err(|_| OpError::new("nsr went away"))?;
        match recv::<Go>(sock) {
            Ok(Some(Go::Proceed)) => {}
            _ => return Err(OpError::new("nsr did not write the id maps")),
        }
        if !spec.uid_map.is_empty() {
            // Become the mapped root (or the first mapped id) with full capabilities.
            let uid = spec.uid_map[0].inside;
            let gid = spec.gid_map.first().map(|r| r.inside).unwrap_or(uid);
            let _ = nix::unistd::setresgid(gid.into(), gid.into(), gid.into());
            let _ = nix::unistd::setresuid(uid.into(), uid.into(), uid.into());
        }
    }
    if spec.creates(NsKind::Mount) {
        let prop = match spec.propagation {
            Propagation::Private => Some(MsFlags::MS_PRIVATE),
            Propagation::Slave => Some(MsFlags::MS_SLAVE),
            Propagation::Unchanged => None,
        };
        if let Some(p) = prop {
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                p | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| OpError::os(e, "cannot make / private in the new mount namespace"))?;
        }
    }
    Ok(())
}

fn unshare_error(e: Errno, spec: &SandboxSpec) -> OpError {
    let err = OpError::os(
        e,
        format!(
            "unshare({})",
            spec.create
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let root = nix::unistd::geteuid().is_root();
    match e {
        Errno::EPERM if !root && !spec.creates(NsKind::User) => err.with_hint(
            "not root: add \"user\" to the kinds with map_root: true for a rootless sandbox",
        ),
        Errno::EPERM | Errno::ENOSPC if spec.creates(NsKind::User) => {
            let disabled = std::fs::read_to_string("/proc/sys/kernel/unprivileged_userns_clone")
                .map(|v| v.trim() == "0")
                .unwrap_or(false)
                || std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
                    .map(|v| v.trim() == "0")
                    .unwrap_or(false)
                || std::fs::read_to_string(
                    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
                )
                .map(|v| v.trim() == "1")
                .unwrap_or(false);
            if disabled {
                err.with_hint("unprivileged user namespaces are disabled on this host (sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces or kernel.apparmor_restrict_unprivileged_userns)")
            } else if e == Errno::ENOSPC {
                err.with_hint("the limit of user namespaces is reached (user.max_user_namespaces)")
            } else {
                err.with_hint("the kernel refused a new user namespace: are you inside a chroot, or a seccomp filter?")
            }
        }
        Errno::EINVAL => err.with_hint("this kernel does not support one of these namespace kinds"),
        _ => err,
    }
}
