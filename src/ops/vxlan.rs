//! A VXLAN tunnel endpoint as a recipe asks for it (`vxlan(name, #{ id, remote, ... })`),
//! checked before anything touches the kernel, with the `ip link add` words it stands for.

use super::names::IfName;
use super::shell::shell_quote;
use std::net::IpAddr;

/// The largest VXLAN network identifier: 24 bits.
pub const MAX_VNI: u32 = (1 << 24) - 1;
/// IANA's VXLAN port (the kernel's default is 8472, Linux's pre-standard one).
pub const IANA_PORT: u16 = 4789;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanSpec {
    /// The VNI: which segment of the other end this link joins.
    pub id: u32,
    /// The other endpoint's underlay address (unicast: one peer per link).
    pub remote: IpAddr,
    /// This endpoint's underlay address, when the host has several.
    pub local: Option<IpAddr>,
    /// The underlay link the packets leave by.
    pub dev: Option<IfName>,
    /// UDP destination port.
    pub port: u16,
}

impl VxlanSpec {
    /// Checks what the recipe wrote: a VNI of 24 bits, addresses that are addresses and
    /// of one family, a port that is not 0.
    pub fn new(
        id: i64,
        remote: &str,
        local: Option<&str>,
        dev: Option<IfName>,
        port: Option<i64>,
    ) -> Result<VxlanSpec, String> {
        let id = u32::try_from(id)
            .ok()
            .filter(|v| *v <= MAX_VNI)
            .ok_or_else(|| {
                format!("id {id} is not a VXLAN network identifier (0 to {MAX_VNI}: 24 bits)")
            })?;
        let addr = |what: &str, text: &str| {
            text.parse::<IpAddr>()
                .map_err(|_| format!("{what} '{text}' is not an IP address (the other host's underlay address, such as 192.0.2.2)"))
        };
        let remote = addr("remote", remote)?;
        if remote.is_unspecified() || remote.is_multicast() {
            return Err(format!(
                "remote {remote} is not a unicast address: give the other endpoint's address"
            ));
        }
        let local = local.map(|l| addr("local", l)).transpose()?;
        if local.is_some_and(|l| l.is_ipv4() != remote.is_ipv4()) {
            return Err("local and remote are of different families (IPv4 and IPv6)".into());
        }
        let port = match port {
            None => IANA_PORT,
            Some(p) => u16::try_from(p)
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("port {p} is not a UDP port (1 to 65535)"))?,
        };
        Ok(VxlanSpec {
            id,
            remote,
            local,
            dev,
            port,
        })
    }

    /// `id 42 remote 192.0.2.2 local 192.0.2.1 dstport 4789 dev eth0`
    pub fn words(&self) -> String {
        let mut w = format!("id {} remote {}", self.id, self.remote);
        if let Some(l) = self.local {
            w.push_str(&format!(" local {l}"));
        }
        w.push_str(&format!(" dstport {}", self.port));
        if let Some(d) = &self.dev {
            w.push_str(&format!(" dev {}", shell_quote(d)));
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vni_has_24_bits_and_addresses_are_addresses() {
        let ok = VxlanSpec::new(42, "192.0.2.2", Some("192.0.2.1"), None, None).unwrap();
        assert_eq!(
            ok.words(),
            "id 42 remote 192.0.2.2 local 192.0.2.1 dstport 4789"
        );
        assert!(VxlanSpec::new(1 << 24, "192.0.2.2", None, None, None)
            .unwrap_err()
            .contains("24 bits"));
        assert!(VxlanSpec::new(-1, "192.0.2.2", None, None, None).is_err());
        assert!(VxlanSpec::new(1, "host-b", None, None, None)
            .unwrap_err()
            .contains("'host-b' is not an IP address"));
        assert!(
            VxlanSpec::new(1, "192.0.2.2", Some("2001:db8::1"), None, None)
                .unwrap_err()
                .contains("different families")
        );
        assert!(VxlanSpec::new(1, "239.1.1.1", None, None, None).is_err());
        assert!(VxlanSpec::new(1, "192.0.2.2", None, None, Some(70000)).is_err());
    }
}
