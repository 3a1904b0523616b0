//! A namespace a live picture looks into.

use crate::ops::net::NsRef;
use std::os::fd::OwnedFd;

/// A namespace to draw: its id in the model, its fd, the user namespace that owns it
/// when a sandbox's (to look inside as an ordinary user), whether the run made it, and
/// the names the journal knows it by.
pub struct Seen {
    pub id: String,
    pub fd: OwnedFd,
    pub user: Option<OwnedFd>,
    pub created: bool,
    pub refs: Vec<NsRef>,
}
