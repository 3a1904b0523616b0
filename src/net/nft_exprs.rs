//! nsr's NAT and forwarding rules as nf_tables expressions: the bytecode `nft` itself
//! compiles their text to (`nft --debug=netlink` shows it), so that `nft list ruleset`
//! prints the rules `nsr plan` shows.

use super::nfnetlink::{Attrs, Encode};
use crate::ops::cidr::IpCidr;
use crate::ops::nat::{NatRule, Proto};
use std::net::IpAddr;

// Expression attributes and values of linux/netfilter/nf_tables.h.
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFT_REG_VERDICT: u32 = 0;
const NFT_REG_1: u32 = 1;
const NFT_REG_2: u32 = 2;
const NFT_META_IIFNAME: u32 = 6;
const NFT_META_OIFNAME: u32 = 7;
const NFT_META_NFPROTO: u32 = 15;
const NFT_META_L4PROTO: u32 = 16;
const NFT_PAYLOAD_NETWORK_HEADER: u32 = 1;
const NFT_PAYLOAD_TRANSPORT_HEADER: u32 = 2;
const NFT_CT_STATE: u32 = 0;
const NFT_FIB_RESULT_ADDRTYPE: u32 = 3;
const NFTA_FIB_F_DADDR: u32 = 1 << 1;
const NFT_NAT_DNAT: u32 = 1;
const NF_NAT_RANGE_PROTO_SPECIFIED: u32 = 2;
const RTN_LOCAL: u32 = 2;
const CT_ESTABLISHED_RELATED: u32 = 0x2 | 0x4;
const IFNAMSIZ: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `[ meta load KEY => reg 1 ]`
    Meta(u32),
    /// `[ cmp eq|neq reg 1 DATA ]`
    Cmp {
        equal: bool,
        data: Vec<u8>,
    },
    /// `[ payload load LEN @ BASE header + OFFSET => reg 1 ]`
    Payload {
        base: u32,
        offset: u32,
        len: u32,
    },
    /// `[ bitwise reg 1 = ( reg 1 & MASK ) ^ 0 ]`
    Mask(Vec<u8>),
    /// `[ ct load state => reg 1 ]`
    CtState,
    /// `[ fib daddr type => reg 1 ]`
    FibDaddrType,
    /// `[ immediate reg N DATA ]`
    Immediate {
        reg: u32,
        data: Vec<u8>,
    },
    /// `[ immediate reg 0 accept|drop ]`
    Verdict(bool),
    Counter,
    Masquerade,
    /// `[ nat dnat FAMILY addr_min reg 1 proto_min reg 2 flags 0x2 ]`
    Dnat {
        family: u32,
    },
}

/// A verdict code (NF_ACCEPT 1, NF_DROP 0), as immediates and chain policies carry it.
pub fn verdict(accept: bool) -> u32 {
    u32::from(accept)
}

impl Expr {
    fn name(&self) -> &'static str {
        match self {
            Expr::Meta(_) => "meta",
            Expr::Cmp { .. } => "cmp",
            Expr::Payload { .. } => "payload",
            Expr::Mask(_) => "bitwise",
            Expr::CtState => "ct",
            Expr::FibDaddrType => "fib",
            Expr::Immediate { .. } | Expr::Verdict(_) => "immediate",
            Expr::Counter => "counter",
            Expr::Masquerade => "masq",
            Expr::Dnat { .. } => "nat",
        }
    }
}

impl Encode for Expr {
    /// Writes the expression: its name, then its data.
    fn encode(&self, a: &mut Attrs) {
        a.str(NFTA_EXPR_NAME, self.name());
        a.nest(NFTA_EXPR_DATA, |d| match self {
            Expr::Meta(key) => {
                d.be32(1, NFT_REG_1); // NFTA_META_DREG
                d.be32(2, *key); // NFTA_META_KEY
            }
            Expr::Cmp { equal, data } => {
                d.be32(1, NFT_REG_1); // NFTA_CMP_SREG
                d.be32(2, if *equal { 0 } else { 1 }); // NFTA_CMP_OP: EQ, NEQ
                d.nest(3, |v| v.bytes(NFTA_DATA_VALUE, data)); // NFTA_CMP_DATA
            }
            Expr::Payload { base, offset, len } => {
                d.be32(1, NFT_REG_1); // NFTA_PAYLOAD_DREG
                d.be32(2, *base);
                d.be32(3, *offset);
                d.be32(4, *len);
            }
            Expr::Mask(mask) => {
                d.be32(1, NFT_REG_1); // NFTA_BITWISE_SREG
                d.be32(2, NFT_REG_1); // NFTA_BITWISE_DREG
                d.be32(3, mask.len() as u32); // NFTA_BITWISE_LEN
                d.nest(4, |v| v.bytes(NFTA_DATA_VALUE, mask)); // NFTA_BITWISE_MASK
                d.nest(5, |v| v.bytes(NFTA_DATA_VALUE, &vec![0; mask.len()])); // XOR
            }
            Expr::CtState => {
                d.be32(2, NFT_CT_STATE); // NFTA_CT_KEY
                d.be32(1, NFT_REG_1); // NFTA_CT_DREG
            }
            Expr::FibDaddrType => {
                d.be32(1, NFT_REG_1); // NFTA_FIB_DREG
                d.be32(2, NFT_FIB_RESULT_ADDRTYPE); // NFTA_FIB_RESULT
                d.be32(3, NFTA_FIB_F_DADDR); // NFTA_FIB_FLAGS
            }
            Expr::Immediate { reg, data } => {
                d.be32(1, *reg); // NFTA_IMMEDIATE_DREG
                d.nest(2, |v| v.bytes(NFTA_DATA_VALUE, data));
            }
            Expr::Verdict(accept) => {
                d.be32(1, NFT_REG_VERDICT);
                d.nest(2, |v| {
                    v.nest(NFTA_DATA_VERDICT, |c| {
                        c.be32(NFTA_VERDICT_CODE, verdict(*accept))
                    })
                });
            }
            Expr::Counter | Expr::Masquerade => {}
            Expr::Dnat { family } => {
                d.be32(1, NFT_NAT_DNAT); // NFTA_NAT_TYPE
                d.be32(2, *family); // NFTA_NAT_FAMILY
                d.be32(3, NFT_REG_1); // NFTA_NAT_REG_ADDR_MIN
                d.be32(5, NFT_REG_2); // NFTA_NAT_REG_PROTO_MIN
                d.be32(7, NF_NAT_RANGE_PROTO_SPECIFIED); // NFTA_NAT_FLAGS
            }
        });
    }
}

fn family(v6: bool) -> u32 {
    if v6 {
        10 // NFPROTO_IPV6
    } else {
        2 // NFPROTO_IPV4
    }
}

/// `iifname "NAME"` / `oifname != "NAME"`: the name zero-padded to IFNAMSIZ.
fn ifname(key: u32, name: &str, equal: bool) -> [Expr; 2] {
    let mut data = name.as_bytes().to_vec();
    data.resize(IFNAMSIZ, 0);
    [Expr::Meta(key), Expr::Cmp { equal, data }]
}

/// `ip saddr NET/LEN` (or `ip6 saddr`): the family, then the prefix's bytes; a prefix
/// that ends inside a byte (or /0) compares the whole address under a mask, as nft does.
fn saddr(source: &IpCidr) -> Vec<Expr> {
    let net = source.network();
    let (v6, offset, bytes) = match net.addr {
        IpAddr::V4(a) => (false, 12, a.octets().to_vec()),
        IpAddr::V6(a) => (true, 8, a.octets().to_vec()),
    };
    let mut out = vec![
        Expr::Meta(NFT_META_NFPROTO),
        Expr::Cmp {
            equal: true,
            data: vec![family(v6) as u8],
        },
    ];
    let len = net.prefix as usize;
    let masked = !len.is_multiple_of(8) || len == 0;
    let loaded = if masked { bytes.len() } else { len / 8 };
    out.push(Expr::Payload {
        base: NFT_PAYLOAD_NETWORK_HEADER,
        offset,
        len: loaded as u32,
    });
    if masked {
        let mask = (0..loaded)
            .map(|i| match len.saturating_sub(i * 8) {
                0 => 0,
                n if n >= 8 => 0xff,
                n => 0xffu8 << (8 - n),
            })
            .collect();
        out.push(Expr::Mask(mask));
    }
    out.push(Expr::Cmp {
        equal: true,
        data: bytes[..loaded].to_vec(),
    });
    out
}

/// `tcp dport PORT dnat ip to ADDR:TO_PORT`
fn dnat(proto: Proto, port: u16, to: IpAddr, to_port: u16) -> Vec<Expr> {
    let l4 = match proto {
        Proto::Tcp => 6,
        Proto::Udp => 17,
    };
    let addr = match to {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    vec![
        Expr::Meta(NFT_META_L4PROTO),
        Expr::Cmp {
            equal: true,
            data: vec![l4],
        },
        Expr::Payload {
            base: NFT_PAYLOAD_TRANSPORT_HEADER,
            offset: 2,
            len: 2,
        },
        Expr::Cmp {
            equal: true,
            data: port.to_be_bytes().to_vec(),
        },
        Expr::Immediate {
            reg: NFT_REG_1,
            data: addr,
        },
        Expr::Immediate {
            reg: NFT_REG_2,
            data: to_port.to_be_bytes().to_vec(),
        },
        Expr::Dnat {
            family: family(to.is_ipv6()),
        },
    ]
}

/// The expressions of each of the rule's lines, in the order of `NatRule::lines`.
pub fn rules(rule: &NatRule) -> Vec<Vec<Expr>> {
    match rule {
        NatRule::Masquerade { source, out } => {
            let mut e = saddr(source);
            e.extend(ifname(NFT_META_OIFNAME, out, true));
            e.push(Expr::Masquerade);
            vec![e]
        }
        NatRule::Forward { input, out } => {
            let mut e: Vec<Expr> = ifname(NFT_META_IIFNAME, input, true).into();
            e.extend(ifname(NFT_META_OIFNAME, out, true));
            e.extend([Expr::Counter, Expr::Verdict(true)]);
            vec![e]
        }
        NatRule::PortForward {
            proto,
            port,
            to,
            to_port,
            input,
        } => {
            let d = dnat(*proto, *port, *to, *to_port);
            match input {
                Some(i) => {
                    let mut e: Vec<Expr> = ifname(NFT_META_IIFNAME, i, true).into();
                    e.extend(d);
                    vec![e]
                }
                None => {
                    let mut local = vec![
                        Expr::FibDaddrType,
                        Expr::Cmp {
                            equal: true,
                            data: RTN_LOCAL.to_ne_bytes().to_vec(),
                        },
                    ];
                    local.extend(d.clone());
                    vec![d, local]
                }
            }
        }
        NatRule::DropOutbound => {
            let mut e: Vec<Expr> = ifname(NFT_META_OIFNAME, "lo", false).into();
            e.extend([
                Expr::CtState,
                Expr::Mask(CT_ESTABLISHED_RELATED.to_ne_bytes().to_vec()),
                Expr::Cmp {
                    equal: true,
                    data: vec![0; 4],
                },
                Expr::Counter,
                Expr::Verdict(false),
            ]);
            vec![e]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_rules() -> Vec<NatRule> {
        vec![
            NatRule::Masquerade {
                source: IpCidr::parse("172.16.99.7/20").unwrap(),
                out: "ens3".into(),
            },
            NatRule::Forward {
                input: "veth0".into(),
                out: "ens3".into(),
            },
            NatRule::PortForward {
                proto: Proto::Tcp,
                port: 8080,
                to: "10.0.0.2".parse().unwrap(),
                to_port: 80,
                input: None,
            },
            NatRule::DropOutbound,
        ]
    }

    #[test]
    fn each_line_of_a_rule_has_its_expressions() {
        for r in all_rules() {
            assert_eq!(rules(&r).len(), r.lines().len(), "{r:?}");
        }
    }

    #[test]
    fn a_prefix_inside_a_byte_is_masked() {
        let e = saddr(&IpCidr::parse("172.16.99.7/20").unwrap());
        assert_eq!(e[3], Expr::Mask(vec![0xff, 0xff, 0xf0, 0]));
        assert_eq!(
            e[4],
            Expr::Cmp {
                equal: true,
                data: vec![172, 16, 96, 0]
            }
        );
        let whole = saddr(&IpCidr::parse("10.1.0.0/16").unwrap());
        assert_eq!(whole.len(), 4, "no mask for a whole-byte prefix: {whole:?}");
        let any = saddr(&IpCidr::parse("0.0.0.0/0").unwrap());
        assert_eq!(any[3], Expr::Mask(vec![0; 4]));
    }
}
