//! slirp4netns, the fallback for pasta: the same job (a namespace's interface, address
//! and route through a user-mode TCP/IP stack; port forwards from the host), an older
//! tool. It stays in the foreground as nsr's child (in a session of its own, so a
//! Ctrl-C on nsr's terminal does not end it before the rollback does), says it is
//! ready on `--ready-fd`, and takes port forwards over its API socket, which lives in
//! a directory only this user can enter and is unlinked once the forwards are made:
//! nothing else can add one later.

use crate::ops::pasta::{PastaProcess, PastaSpec};
use crate::ops::OpError;
use nix::errno::Errno;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// slirp4netns on PATH (`NSR_SLIRP4NETNS` names it explicitly).
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NSR_SLIRP4NETNS") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    super::pasta::on_path("slirp4netns")
}

/// The address slirp4netns gives the namespace with `--configure`, where forwards land.
const GUEST: &str = "10.0.2.100";

/// slirp4netns is not on PATH, though asked for.
pub fn missing() -> OpError {
    OpError::os(Errno::ENOENT, "slirp4netns is not on PATH")
        .with_hint("install it: apt-get install slirp4netns; or pasta: apt-get install passt")
}

/// Starts slirp4netns for the namespace `netns` (entered through `userns` first when
/// given) and returns once it is ready and has every forward.
pub fn start(
    program: &Path,
    spec: &PastaSpec,
    name: &str,
    netns: BorrowedFd<'_>,
    userns: Option<BorrowedFd<'_>>,
) -> Result<PastaProcess, OpError> {
    if !spec.host_ports.is_empty() {
        return Err(OpError::os(
            Errno::EINVAL,
            "slirp4netns cannot open single host ports: its host loopback is all or nothing (nsr keeps it closed)",
        )
        .with_hint("install pasta (apt-get install passt) for host_ports"));
    }
    let dir = PrivateDir::new()?;
    let api = dir.0.join("api.sock");
    let log = std::fs::File::create(dir.0.join("log"))
        .map_err(|e| OpError::new(format!("cannot make slirp4netns's log: {e}")))?;
    let (ready_read, ready_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| OpError::os(e, "cannot make a pipe for slirp4netns"))?;
    let mut cmd = Command::new(program);
    cmd.arg0(name)
        .args(crate::ops::pasta::SLIRP_OPTIONS)
        .arg("--netns-type=path");
    if nix::unistd::geteuid().is_root() {
        cmd.arg("--enable-sandbox");
    }
    cmd.arg(format!("--ready-fd={}", ready_write.as_raw_fd()))
        .arg(format!("--api-socket={}", api.display()));
    if let Some(u) = userns {
        cmd.arg(format!("--userns-path=/proc/self/fd/{}", u.as_raw_fd()));
    }
    cmd.arg(format!("/proc/self/fd/{}", netns.as_raw_fd()))
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| OpError::new(e.to_string()))?)
        .stderr(log);
    super::pasta::pass_fds(&mut cmd, netns, userns, ready_write.as_fd(), true);
    let mut child = cmd
        .spawn()
        .map_err(|e| OpError::new(format!("cannot start {}: {e}", program.display())))?;
    drop(ready_write);
    let mut ready = [0u8; 1];
    let said = std::fs::File::from(ready_read)
        .read(&mut ready)
        .unwrap_or(0);
    let pid = child.id() as i32;
    let fail = |child: &mut std::process::Child, e: OpError| {
        let _ = child.kill();
        let _ = child.wait();
        e
    };
    if said != 1 {
        let _ = child.wait();
        let text = std::fs::read_to_string(dir.0.join("log")).unwrap_or_default();
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("it exited");
        return Err(OpError::new(format!(
            "slirp4netns did not start: {}",
            last.trim()
        )));
    }
    for p in &spec.ports {
        if let Err(e) = add_forward(&api, p) {
            return Err(fail(&mut child, e));
        }
    }
    let start = crate::ns::inspect::start_ticks(pid)
        .ok_or_else(|| OpError::new("slirp4netns was ready, then its process was gone"))?;
    Ok(PastaProcess {
        name: name.to_string(),
        pid,
        start,
        ports: spec.ports.clone(),
    })
}

/// One forward through the API socket: `add_hostfwd`, answered with `return` or `error`.
fn add_forward(api: &Path, p: &crate::ops::pasta::PortForward) -> Result<(), OpError> {
    let request = serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": p.proto.name(),
            "host_addr": p.bind.to_string(),
            "host_port": p.host,
            "guest_addr": GUEST,
            "guest_port": p.inside,
        }
    });
    let io = |e: std::io::Error| OpError::new(format!("slirp4netns's API socket: {e}"));
    let mut s = std::os::unix::net::UnixStream::connect(api).map_err(io)?;
    s.write_all(request.to_string().as_bytes()).map_err(io)?;
    s.shutdown(std::net::Shutdown::Write).map_err(io)?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).map_err(io)?;
    let v: serde_json::Value = serde_json::from_str(&reply).unwrap_or_default();
    if v.get("return").is_some() {
        return Ok(());
    }
    let desc = v["error"]["desc"]
        .as_str()
        .unwrap_or(reply.trim())
        .to_string();
    Err(OpError::os(
        Errno::EADDRINUSE,
        format!("slirp4netns cannot listen on host port {} ({p}): {desc}", p.host),
    )
    .with_hint(format!(
        "another sandbox's forward or a server on the host has it (ss -ltnup 'sport = :{}' shows which); pick another host port",
        p.host
    )))
}

/// A directory only this user can enter (mkdtemp's 0700), removed on drop.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn new() -> Result<PrivateDir, OpError> {
        let template = std::env::temp_dir().join("nsr-slirp-XXXXXX");
        nix::unistd::mkdtemp(&template)
            .map(PrivateDir)
            .map_err(|e| OpError::os(e, "cannot make a directory for slirp4netns's socket"))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
