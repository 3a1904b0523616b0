//! A route a recipe asks for, checked when it is made.

use super::cidr::IpCidr;
use std::net::IpAddr;

/// A route a recipe asks for: `ip route add DEST [via GATEWAY] [dev DEV] [metric N]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RouteSpec {
    /// None is the default route.
    pub dest: Option<IpCidr>,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub metric: Option<u32>,
    pub v6: bool,
}

impl RouteSpec {
    /// `ip route add DEST [via VIA] [dev DEV] [metric N]` from a recipe's words.
    pub fn parse(
        dest: &str,
        via: Option<&str>,
        dev: Option<&str>,
        metric: Option<u32>,
        v6: bool,
    ) -> Result<RouteSpec, String> {
        let dest_c = IpCidr::parse_destination(dest)?;
        let via = via.map(super::cidr::parse_ip).transpose()?;
        if let Some(d) = dev {
            super::names::check_ifname(d)?;
        }
        if via.is_none() && dev.is_none() {
            return Err(format!(
                "a route to {dest} needs a gateway (via) or a device (dev)"
            ));
        }
        if let (Some(d), Some(g)) = (&dest_c, via) {
            if d.is_v6() != g.is_ipv6() {
                return Err(format!(
                    "gateway {g} and destination {dest} are of different IP families"
                ));
            }
        }
        let v6 = dest_c
            .map(|d| d.is_v6())
            .or(via.map(|g| g.is_ipv6()))
            .unwrap_or(v6);
        Ok(RouteSpec {
            dest: dest_c,
            via,
            dev: dev.map(str::to_string),
            metric,
            v6,
        })
    }

    pub fn dest_text(&self) -> String {
        match &self.dest {
            Some(d) => d.to_string(),
            None => "default".into(),
        }
    }
}
