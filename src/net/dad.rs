//! IPv6 duplicate address detection: a new address is tentative for a second or two
//! (it cannot be bound, and connections from it fail) until the kernel has checked that
//! no other host on the link has it. nsr does not wait at `addr` (a lab adds many, and
//! their checks run at once); it waits before the next command of the recipe runs, for
//! every address it added that is still tentative on a link that can carry the check.

use super::addrs::AddrInfo;
use crate::ops::cidr::IpCidr;
use crate::ops::net::NsRef;
use crate::ops::OpError;
use nix::errno::Errno;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Longer than the kernel's check takes with its defaults (a random delay up to
/// rtr_solicit_delay, 1 s, then dad_transmits × retrans_time, 1 × 1 s).
const DAD_LIMIT: Duration = Duration::from_secs(10);

/// An address nsr added and has not yet seen leave the tentative state.
pub struct Pending {
    pub ino: u64,
    pub ns: NsRef,
    pub dev: String,
    pub index: u32,
    pub cidr: IpCidr,
}

enum State {
    /// Usable, or gone: nothing to wait for.
    Settled,
    /// Tentative on a link that is up with a carrier: the check is running.
    Checking,
    /// Tentative on a link that is down: the check starts when it comes up.
    Waiting,
}

fn state(
    p: &Pending,
    addrs: &[AddrInfo],
    links: &[crate::ops::net::LinkInfo],
) -> Result<State, OpError> {
    let Some(a) = addrs
        .iter()
        .find(|a| a.index == p.index && a.cidr.addr == p.cidr.addr)
    else {
        return Ok(State::Settled);
    };
    if a.dad_failed() {
        return Err(OpError::os(
            Errno::EADDRINUSE,
            format!(
                "the address {} on {} ({}) failed duplicate address detection (dadfailed)",
                p.cidr, p.dev, p.ns
            ),
        )
        .with_hint("another host on the link has this address: give each end its own"));
    }
    if !a.tentative() {
        return Ok(State::Settled);
    }
    let carrier = links
        .iter()
        .find(|l| l.index == p.index)
        .is_some_and(|l| l.up && matches!(l.state.as_str(), "up" | "unknown"));
    Ok(if carrier {
        State::Checking
    } else {
        State::Waiting
    })
}

/// A namespace's addresses and links, as `settle` reads them.
pub type Lists = (Vec<AddrInfo>, Vec<crate::ops::net::LinkInfo>);

/// Waits until none of `pending` is being checked; keeps those whose link is still
/// down (checked when it comes up, before a later command). `lists` reads a namespace
/// (None: it is gone, and its addresses with it).
pub fn settle(
    pending: &mut Vec<Pending>,
    lists: &mut dyn FnMut(u64) -> Result<Option<Lists>, OpError>,
) -> Result<(), OpError> {
    let deadline = Instant::now() + DAD_LIMIT;
    loop {
        let mut seen: HashMap<u64, Option<Lists>> = HashMap::new();
        let mut checking = None;
        let mut still = Vec::new();
        for p in std::mem::take(pending) {
            let read = match seen.entry(p.ino) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(lists(p.ino)?),
            };
            let Some((addrs, links)) = read else {
                continue;
            };
            match state(&p, addrs, links)? {
                State::Settled => {}
                State::Checking => {
                    checking.get_or_insert(format!("{} on {} ({})", p.cidr, p.dev, p.ns));
                    still.push(p);
                }
                State::Waiting => still.push(p),
            }
        }
        *pending = still;
        let Some(which) = checking else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            return Err(OpError::os(
                Errno::ETIMEDOUT,
                format!(
                    "the address {which} is still tentative after {} s",
                    DAD_LIMIT.as_secs()
                ),
            )
            .with_hint("duplicate address detection did not finish; addr(dev, cidr, #{ nodad: true }) skips it"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
