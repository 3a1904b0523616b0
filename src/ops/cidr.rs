//! Addresses in CIDR form (`172.16.99.1/24`, `fd00::1/64`), as `ip addr` and `ip route`
//! write them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct IpCidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpCidr {
    /// An interface address: the prefix is required, host bits are what they are.
    pub fn parse(text: &str) -> Result<IpCidr, String> {
        let (a, p) = text.split_once('/').ok_or_else(|| {
            format!("'{text}' is not in CIDR form: write the prefix length too, as in 10.0.0.1/24")
        })?;
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("'{a}' in '{text}' is not an IPv4 or IPv6 address"))?;
        let max = max_prefix(&addr);
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| format!("'/{p}' in '{text}' is not a prefix length (0 to {max})"))?;
        Ok(IpCidr { addr, prefix })
    }

    /// A route destination: `default`, a bare address (a host route) or a network whose
    /// host bits are zero (`ip route` refuses the rest with "Invalid prefix").
    pub fn parse_destination(text: &str) -> Result<Option<IpCidr>, String> {
        if text == "default" {
            return Ok(None);
        }
        let cidr = match text.parse::<IpAddr>() {
            Ok(addr) => IpCidr {
                addr,
                prefix: max_prefix(&addr),
            },
            Err(_) => IpCidr::parse(text)?,
        };
        if cidr.network() != cidr {
            return Err(format!(
                "'{text}' has host bits set; the network is {}",
                cidr.network()
            ));
        }
        Ok(Some(cidr))
    }

    pub fn is_v6(&self) -> bool {
        self.addr.is_ipv6()
    }

    /// The network this address is in: host bits cleared.
    pub fn network(&self) -> IpCidr {
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let bits = u32::from(a) & mask32(self.prefix);
                IpAddr::V4(Ipv4Addr::from(bits))
            }
            IpAddr::V6(a) => {
                let bits = u128::from(a) & mask128(self.prefix);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        };
        IpCidr {
            addr,
            prefix: self.prefix,
        }
    }

    /// How many addresses the prefix holds (saturating at u128::MAX for a /0 of IPv6).
    pub fn size(&self) -> u128 {
        let bits: u32 = if self.is_v6() { 128 } else { 32 };
        let host_bits = bits - self.prefix as u32;
        if host_bits >= 128 {
            u128::MAX
        } else {
            1u128 << host_bits
        }
    }

    /// The `n`-th address of this network (0 is the network address itself), with the
    /// prefix: `10.0.0.0/24` and 2 give `10.0.0.2/24`. None past the network's end.
    pub fn nth(&self, n: u128) -> Option<IpCidr> {
        let net = self.network();
        if n >= net.size() {
            return None;
        }
        let addr = match net.addr {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) + n as u32).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) + n).into()),
        };
        Some(IpCidr {
            addr,
            prefix: net.prefix,
        })
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = mask32(self.prefix);
                u32::from(n) & m == u32::from(*a) & m
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = mask128(self.prefix);
                u128::from(n) & m == u128::from(*a) & m
            }
            _ => false,
        }
    }
}

fn max_prefix(addr: &IpAddr) -> u8 {
    if addr.is_ipv6() {
        128
    } else {
        32
    }
}

fn mask32(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix as u32)
    }
}

fn mask128(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix as u32)
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl From<IpCidr> for String {
    fn from(c: IpCidr) -> String {
        c.to_string()
    }
}

impl TryFrom<String> for IpCidr {
    type Error = String;
    fn try_from(s: String) -> Result<IpCidr, String> {
        IpCidr::parse(&s)
    }
}

pub fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| format!("'{text}' is not an IPv4 or IPv6 address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_address_of_a_network() {
        let net = IpCidr::parse("10.0.0.5/24").unwrap();
        assert_eq!(net.nth(2).unwrap().to_string(), "10.0.0.2/24");
        assert_eq!(net.size(), 256);
        assert!(net.nth(256).is_none());
        let v6 = IpCidr::parse("fd00::/64").unwrap();
        assert_eq!(v6.nth(1).unwrap().to_string(), "fd00::1/64");
        assert_eq!(IpCidr::parse("::/0").unwrap().size(), u128::MAX);
    }

    #[test]
    fn parses_interface_addresses() {
        let c = IpCidr::parse("172.16.99.1/24").unwrap();
        assert_eq!(c.to_string(), "172.16.99.1/24");
        assert_eq!(c.network().to_string(), "172.16.99.0/24");
        assert!(c.contains(&"172.16.99.200".parse().unwrap()));
        assert!(!c.contains(&"172.16.98.1".parse().unwrap()));
        assert!(!c.contains(&"fd00::1".parse().unwrap()));
        let v6 = IpCidr::parse("fd00:1::2/64").unwrap();
        assert!(v6.is_v6());
        assert!(v6.contains(&"fd00:1::ffff".parse().unwrap()));
    }

    #[test]
    fn refuses_bad_addresses() {
        assert!(IpCidr::parse("172.16.99.1").unwrap_err().contains("CIDR"));
        assert!(IpCidr::parse("172.16.99.1/33")
            .unwrap_err()
            .contains("0 to 32"));
        assert!(IpCidr::parse("172.16.999.1/24")
            .unwrap_err()
            .contains("not an IPv4"));
        assert!(IpCidr::parse("fd00::1/129").is_err());
        assert!(IpCidr::parse("x/8").is_err());
    }

    #[test]
    fn route_destinations() {
        assert_eq!(IpCidr::parse_destination("default").unwrap(), None);
        assert_eq!(
            IpCidr::parse_destination("10.0.0.0/8")
                .unwrap()
                .unwrap()
                .to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            IpCidr::parse_destination("10.1.2.3")
                .unwrap()
                .unwrap()
                .to_string(),
            "10.1.2.3/32"
        );
        assert!(IpCidr::parse_destination("10.0.0.1/8")
            .unwrap_err()
            .contains("10.0.0.0/8"));
        assert!(IpCidr::parse_destination("0.0.0.0/0").unwrap().is_some());
    }
}
