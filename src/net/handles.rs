//! nsr's open handles on network namespaces: an fd on each, and a route socket and a
//! netfilter socket bound in it once one is needed. A lab of a thousand hosts would hold two thousand of them,
//! past the common soft limit of 1024 open files; so a named namespace (which its
//! /run/netns bind mount keeps alive, and which can be opened again by that path) is
//! closed when it has not been used for a while, and reopened on its next use, after
//! checking that the path still names the same namespace. Namespaces that cannot be
//! reopened (the host's, a sandbox's) stay open.

use super::netlink::RouteSocket;
use super::netns;
use super::nfnetlink::NfSocket;
use crate::ops::OpError;
use nix::errno::Errno;
use std::collections::HashMap;
use std::os::fd::OwnedFd;

/// Namespace identity: the inode of its nsfs file.
pub type Ino = u64;

/// How many reopenable namespaces stay open between operations (two fds each).
const KEEP_OPEN: usize = 64;

#[derive(Default)]
pub struct NsHandles {
    fds: HashMap<Ino, OwnedFd>,
    sockets: HashMap<Ino, RouteSocket>,
    netfilter: HashMap<Ino, NfSocket>,
    /// Named namespaces, by the path that opens them again.
    reopen: HashMap<Ino, String>,
    last_use: HashMap<Ino, u64>,
    clock: u64,
}

impl NsHandles {
    /// A namespace that stays open while nsr knows it.
    pub fn pin(&mut self, ino: Ino, fd: OwnedFd) {
        self.fds.entry(ino).or_insert(fd);
    }

    /// A named namespace: `path` opens it again after it was closed to save fds.
    pub fn named(&mut self, ino: Ino, fd: OwnedFd, path: String, socket: Option<RouteSocket>) {
        self.fds.entry(ino).or_insert(fd);
        if let Some(s) = socket {
            self.sockets.entry(ino).or_insert(s);
        }
        self.reopen.insert(ino, path);
        self.touch(ino);
    }

    /// Whether nsr still knows the namespace (open now, or openable by its path).
    pub fn alive(&self, ino: Ino) -> bool {
        self.fds.contains_key(&ino) || self.reopen.contains_key(&ino)
    }

    /// The namespace's fd, reopened when it was closed.
    pub fn fd(&mut self, ino: Ino) -> Result<&OwnedFd, OpError> {
        self.touch(ino);
        if !self.fds.contains_key(&ino) {
            let path = self
                .reopen
                .get(&ino)
                .ok_or_else(|| OpError::new("the network namespace is gone"))?;
            let fd = netns::open_ns(path)?;
            if netns::identity_of(&fd)? != ino {
                return Err(OpError::os(
                    Errno::ESTALE,
                    format!("{path} names another network namespace than the one this run used"),
                )
                .with_hint("something deleted and re-created it during the run"));
            }
            self.fds.insert(ino, fd);
        }
        Ok(&self.fds[&ino])
    }

    /// A route socket bound in the namespace (nsr's own socket for the host's).
    pub fn socket(&mut self, ino: Ino, host: bool) -> Result<&mut RouteSocket, OpError> {
        if !self.sockets.contains_key(&ino) {
            let s = if host {
                RouteSocket::open()?
            } else {
                netns::socket_in(self.fd(ino)?)?
            };
            self.sockets.insert(ino, s);
        }
        self.touch(ino);
        Ok(self.sockets.get_mut(&ino).expect("socket just inserted"))
    }

    /// A netfilter socket bound in the namespace, kept with its route socket.
    pub fn netfilter(&mut self, ino: Ino, host: bool) -> Result<&mut NfSocket, OpError> {
        if !self.netfilter.contains_key(&ino) {
            let s = if host {
                NfSocket::open()?
            } else {
                let fd =
                    netns::within(self.fd(ino)?, || NfSocket::open().map(|s| s.into_raw_fd()))??;
                // SAFETY: the fd is the socket the helper thread just opened and gave up.
                unsafe { NfSocket::from_raw_fd(fd) }
            };
            self.netfilter.insert(ino, s);
        }
        self.touch(ino);
        Ok(self.netfilter.get_mut(&ino).expect("socket just inserted"))
    }

    /// Closes nsr's handles on a namespace and forgets it.
    pub fn forget(&mut self, ino: Ino) {
        self.sockets.remove(&ino);
        self.netfilter.remove(&ino);
        self.fds.remove(&ino);
        self.reopen.remove(&ino);
        self.last_use.remove(&ino);
    }

    /// Between operations (never during one, which may hold a raw fd): closes the
    /// least recently used reopenable namespaces past KEEP_OPEN.
    pub fn trim(&mut self) {
        let open: Vec<Ino> = self
            .fds
            .keys()
            .copied()
            .filter(|i| self.reopen.contains_key(i))
            .collect();
        if open.len() <= KEEP_OPEN {
            return;
        }
        let mut by_age: Vec<(u64, Ino)> = open
            .into_iter()
            .map(|i| (self.last_use.get(&i).copied().unwrap_or(0), i))
            .collect();
        by_age.sort_unstable();
        for (_, ino) in by_age.iter().take(by_age.len() - KEEP_OPEN / 2) {
            self.fds.remove(ino);
            self.sockets.remove(ino);
            self.netfilter.remove(ino);
        }
    }

    fn touch(&mut self, ino: Ino) {
        self.clock += 1;
        self.last_use.insert(ino, self.clock);
    }
}
