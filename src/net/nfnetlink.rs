//! nf_tables over netlink, spoken by nsr itself: a NETLINK_NETFILTER socket bound in a
//! namespace, and batches (one kernel transaction each) of table, chain and rule
//! messages. What `nft -f` would send for nsr's own rules, without a process per rule.
//! The kernel handles a batch inside sendmsg(2), so every answer (acks, errors, the
//! echoed rules with their handles) is queued by the time it returns.

use crate::ops::nat::BaseChain;
use crate::ops::OpError;
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
use nix::errno::Errno;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_DELRULE: u16 = 8;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_ECHO: u16 = 0x8;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLA_F_NESTED: u16 = 0x8000;

const NFPROTO_INET: u8 = 1;
const NF_ACCEPT: u32 = 1;

// Attribute numbers of linux/netfilter/nf_tables.h.
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_HANDLE: u16 = 3;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_LIST_ELEM: u16 = 1;

/// What goes in a rule's expression list: each writes its own name and data.
pub trait Encode {
    fn encode(&self, a: &mut Attrs);
}

/// Attributes being written into a message.
pub struct Attrs<'a>(&'a mut Vec<u8>);

impl Attrs<'_> {
    pub fn bytes(&mut self, ty: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.pad();
    }

    pub fn str(&mut self, ty: u16, s: &str) {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.bytes(ty, &v);
    }

    /// A 32-bit number in network byte order, as nf_tables takes them.
    pub fn be32(&mut self, ty: u16, v: u32) {
        self.bytes(ty, &v.to_be_bytes());
    }

    pub fn nest(&mut self, ty: u16, f: impl FnOnce(&mut Attrs)) {
        let at = self.0.len();
        self.0.extend_from_slice(&[0; 4]);
        f(&mut Attrs(self.0));
        let len = (self.0.len() - at) as u16;
        self.0[at..at + 2].copy_from_slice(&len.to_ne_bytes());
        self.0[at + 2..at + 4].copy_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
    }

    fn pad(&mut self) {
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0);
        }
    }
}

/// One transaction: every message in it takes effect, or none does.
pub struct Batch {
    buf: Vec<u8>,
    seq: u32,
}

impl Batch {
    pub fn new() -> Batch {
        let mut b = Batch {
            buf: Vec::with_capacity(1024),
            seq: 0,
        };
        b.message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0, |_| {});
        b
    }

    fn message(&mut self, ty: u16, flags: u16, family: u8, f: impl FnOnce(&mut Attrs)) {
        self.seq += 1;
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&self.seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        // nfgenmsg: family, version 0, and for batch markers the subsystem.
        let res_id = if ty == NFNL_MSG_BATCH_BEGIN || ty == NFNL_MSG_BATCH_END {
            NFNL_SUBSYS_NFTABLES
        } else {
            0
        };
        self.buf.extend_from_slice(&[family, 0]);
        self.buf.extend_from_slice(&res_id.to_be_bytes());
        f(&mut Attrs(&mut self.buf));
        let len = (self.buf.len() - at) as u32;
        self.buf[at..at + 4].copy_from_slice(&len.to_ne_bytes());
    }

    fn nft(&mut self, msg: u16, flags: u16, f: impl FnOnce(&mut Attrs)) {
        let ty = (NFNL_SUBSYS_NFTABLES << 8) | msg;
        self.message(ty, NLM_F_REQUEST | NLM_F_ACK | flags, NFPROTO_INET, f);
    }

    /// `create table inet NAME`: fails with EEXIST rather than joining a table.
    pub fn create_table(&mut self, name: &str) {
        self.nft(NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, |a| {
            a.str(NFTA_TABLE_NAME, name)
        });
    }

    pub fn delete_table(&mut self, name: &str) {
        self.nft(NFT_MSG_DELTABLE, 0, |a| a.str(NFTA_TABLE_NAME, name));
    }

    /// `add chain inet TABLE NAME { type KIND hook H priority P; policy accept; }`
    pub fn add_chain(&mut self, table: &str, chain: &BaseChain) {
        self.nft(NFT_MSG_NEWCHAIN, NLM_F_CREATE, |a| {
            a.str(NFTA_CHAIN_TABLE, table);
            a.str(NFTA_CHAIN_NAME, chain.name);
            a.nest(NFTA_CHAIN_HOOK, |h| {
                h.be32(NFTA_HOOK_HOOKNUM, chain.hooknum);
                h.be32(NFTA_HOOK_PRIORITY, chain.priority as u32);
            });
            a.be32(NFTA_CHAIN_POLICY, NF_ACCEPT);
            a.str(NFTA_CHAIN_TYPE, chain.kind);
        });
    }

    /// `add rule inet TABLE CHAIN ...`, echoed back with the handle it got.
    pub fn add_rule(&mut self, table: &str, chain: &str, exprs: &[impl Encode]) {
        self.nft(
            NFT_MSG_NEWRULE,
            NLM_F_CREATE | NLM_F_APPEND | NLM_F_ECHO,
            |a| {
                a.str(NFTA_RULE_TABLE, table);
                a.str(NFTA_RULE_CHAIN, chain);
                a.nest(NFTA_RULE_EXPRESSIONS, |list| {
                    for e in exprs {
                        list.nest(NFTA_LIST_ELEM, |el| e.encode(el));
                    }
                });
            },
        );
    }

    pub fn delete_rule(&mut self, table: &str, chain: &str, handle: u64) {
        self.nft(NFT_MSG_DELRULE, 0, |a| {
            a.str(NFTA_RULE_TABLE, table);
            a.str(NFTA_RULE_CHAIN, chain);
            a.bytes(NFTA_RULE_HANDLE, &handle.to_be_bytes());
        });
    }

    fn finish(mut self) -> Vec<u8> {
        self.message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, 0, |_| {});
        self.buf
    }
}

/// A netfilter socket bound in one network namespace.
pub struct NfSocket {
    socket: Socket,
    buf: Vec<u8>,
}

/// A chain of any table, as a dump lists it.
#[derive(Debug, PartialEq, Eq)]
pub struct ChainInfo {
    pub family: u8,
    pub table: String,
    pub name: String,
    pub hooknum: Option<u32>,
    pub policy: Option<u32>,
}

impl NfSocket {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<NfSocket, OpError> {
        let io = |e: std::io::Error, what: &str| {
            OpError::os(
                Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                format!("{what} (netfilter netlink)"),
            )
        };
        let mut socket = Socket::new(NETLINK_NETFILTER).map_err(|e| io(e, "netlink socket"))?;
        socket
            .bind_auto()
            .map_err(|e| io(e, "bind netlink socket"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(|e| io(e, "connect netlink socket"))?;
        let _ = socket.set_ext_ack(true);
        Ok(NfSocket {
            socket,
            buf: vec![0; 1 << 16],
        })
    }

    pub fn into_raw_fd(self) -> std::os::fd::RawFd {
        std::os::fd::IntoRawFd::into_raw_fd(self.socket)
    }

    /// # Safety
    /// `fd` must be a socket made by `open`.
    pub unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> NfSocket {
        NfSocket {
            // SAFETY: the caller hands over a netfilter socket of its own.
            socket: unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) },
            buf: vec![0; 1 << 16],
        }
    }

    /// Applies the batch as one transaction: the (chain, handle) of each rule it added,
    /// or the first error the kernel gave (and then nothing of it took effect).
    pub fn apply(&mut self, batch: Batch) -> Result<Vec<(String, u64)>, Errno> {
        let buf = batch.finish();
        self.socket
            .send(&buf, 0)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        let mut handles = Vec::new();
        let mut error = None;
        loop {
            let n = match self.socket.recv(&mut &mut self.buf[..], libc::MSG_DONTWAIT) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))),
            };
            for (ty, body) in messages(&self.buf[..n]) {
                if ty == NLMSG_ERROR {
                    let code = body
                        .get(..4)
                        .map(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")))
                        .unwrap_or(0);
                    if code < 0 && error.is_none() {
                        error = Some(Errno::from_raw(-code));
                    }
                } else if ty == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE {
                    if let Some(h) = rule_handle(body) {
                        handles.push(h);
                    }
                }
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(handles),
        }
    }

    /// Every chain of every table in the namespace.
    pub fn chains(&mut self) -> Result<Vec<ChainInfo>, Errno> {
        let mut req = Vec::new();
        let ty = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN;
        req.extend_from_slice(&20u32.to_ne_bytes());
        req.extend_from_slice(&ty.to_ne_bytes());
        req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        req.extend_from_slice(&1u32.to_ne_bytes());
        req.extend_from_slice(&0u32.to_ne_bytes());
        req.extend_from_slice(&[0, 0, 0, 0]);
        let err = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        self.socket.send(&req, 0).map_err(err)?;
        let mut found = Vec::new();
        loop {
            let n = self.socket.recv(&mut &mut self.buf[..], 0).map_err(err)?;
            for (ty, body) in messages(&self.buf[..n]) {
                match ty {
                    NLMSG_DONE => return Ok(found),
                    NLMSG_ERROR => {
                        let code = i32::from_ne_bytes(body[..4].try_into().expect("4 bytes"));
                        return if code < 0 {
                            Err(Errno::from_raw(-code))
                        } else {
                            Ok(found)
                        };
                    }
                    _ => found.extend(chain_info(body)),
                }
            }
        }
    }
}

/// The (type, body) of each netlink message in a buffer.
fn messages(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
        if len < 16 || len > buf.len() {
            break;
        }
        let ty = u16::from_ne_bytes([buf[4], buf[5]]);
        out.push((ty, &buf[16..len]));
        buf = &buf[((len + 3) & !3).min(buf.len())..];
    }
    out
}

/// The (type, payload) of each attribute.
fn attrs(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        if len < 4 || len > buf.len() {
            break;
        }
        let ty = u16::from_ne_bytes([buf[2], buf[3]]) & !NLA_F_NESTED;
        out.push((ty, &buf[4..len]));
        buf = &buf[((len + 3) & !3).min(buf.len())..];
    }
    out
}

fn c_str(b: &[u8]) -> String {
    String::from_utf8_lossy(b.split(|c| *c == 0).next().unwrap_or(b)).into_owned()
}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

/// The chain and handle of an echoed rule (body: nfgenmsg, then attributes).
fn rule_handle(body: &[u8]) -> Option<(String, u64)> {
    let mut chain = None;
    let mut handle = None;
    for (ty, v) in attrs(body.get(4..)?) {
        match ty {
            NFTA_RULE_CHAIN => chain = Some(c_str(v)),
            NFTA_RULE_HANDLE => handle = Some(u64::from_be_bytes(v.get(..8)?.try_into().ok()?)),
            _ => {}
        }
    }
    Some((chain?, handle?))
}

fn chain_info(body: &[u8]) -> Option<ChainInfo> {
    let family = *body.first()?;
    let mut c = ChainInfo {
        family,
        table: String::new(),
        name: String::new(),
        hooknum: None,
        policy: None,
    };
    for (ty, v) in attrs(body.get(4..)?) {
        match ty {
            NFTA_CHAIN_TABLE => c.table = c_str(v),
            NFTA_CHAIN_NAME => c.name = c_str(v),
            NFTA_CHAIN_POLICY => c.policy = be32(v),
            NFTA_CHAIN_HOOK => {
                c.hooknum = attrs(v)
                    .into_iter()
                    .find(|(t, _)| *t == NFTA_HOOK_HOOKNUM)
                    .and_then(|(_, v)| be32(v));
            }
            _ => {}
        }
    }
    Some(c)
}

/// The family's name as nft writes it.
pub fn family_name(family: u8) -> &'static str {
    match family {
        1 => "inet",
        2 => "ip",
        3 => "arp",
        5 => "netdev",
        7 => "bridge",
        10 => "ip6",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::nat::NatRule;

    #[test]
    fn a_batch_is_framed_by_begin_and_end_with_aligned_messages() {
        let rule = NatRule::Forward {
            input: "veth0".into(),
            out: "eth0".into(),
        };
        let mut b = Batch::new();
        b.create_table("nsr_1");
        b.add_chain("nsr_1", &rule.lines()[0].base);
        b.add_rule(
            "nsr_1",
            "forward",
            &super::super::nft_exprs::rules(&rule)[0],
        );
        let buf = b.finish();
        let msgs = messages(&buf);
        let types: Vec<u16> = msgs.iter().map(|(t, _)| *t).collect();
        let nft = |m| (NFNL_SUBSYS_NFTABLES << 8) | m;
        assert_eq!(
            types,
            [
                NFNL_MSG_BATCH_BEGIN,
                nft(NFT_MSG_NEWTABLE),
                nft(NFT_MSG_NEWCHAIN),
                nft(NFT_MSG_NEWRULE),
                NFNL_MSG_BATCH_END
            ]
        );
        // The markers name the subsystem (res_id, big-endian); the others the family.
        assert_eq!(&msgs[0].1[..4], &[0, 0, 0, 10]);
        assert_eq!(msgs[1].1[0], NFPROTO_INET);
        let total: usize = msgs.iter().map(|(_, b)| 16 + b.len()).sum();
        assert_eq!(total, buf.len(), "every message is 4-byte aligned");
        // The table's name, NUL-terminated, is its one attribute.
        let table = attrs(&msgs[1].1[4..]);
        assert_eq!(table, vec![(NFTA_TABLE_NAME, &b"nsr_1\0"[..])]);
    }

    #[test]
    fn reads_the_handle_of_an_echoed_rule() {
        let mut body = vec![NFPROTO_INET, 0, 0, 0];
        let mut a = Attrs(&mut body);
        a.str(NFTA_RULE_TABLE, "nsr_1");
        a.str(NFTA_RULE_CHAIN, "prerouting");
        a.bytes(NFTA_RULE_HANDLE, &7u64.to_be_bytes());
        assert_eq!(rule_handle(&body), Some(("prerouting".to_string(), 7)));
        assert_eq!(rule_handle(&body[..4]), None);
    }
}
