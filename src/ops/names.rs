//! Names the kernel accepts for network interfaces and named network namespaces,
//! checked before anything is asked of it.

/// IFNAMSIZ is 16 bytes including the terminating NUL.
pub const IFNAME_MAX: usize = 15;

pub fn check_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an interface name cannot be empty".into());
    }
    if name.len() > IFNAME_MAX {
        return Err(format!(
            "interface name '{name}' is {} bytes long; Linux allows at most {IFNAME_MAX}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("'{name}' is not a valid interface name"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| *c == '/' || *c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "interface name '{name}' contains {c:?}; Linux refuses '/', ':' and whitespace"
        ));
    }
    Ok(())
}

/// A named netns is a file in /run/netns: one path component, as `ip netns add` wants.
pub fn check_netns_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a netns name cannot be empty".into());
    }
    if name.len() > 255 {
        return Err(format!("netns name '{name}' is longer than 255 bytes"));
    }
    if name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(format!(
            "'{name}' is not a netns name: it becomes a file in /run/netns, so no '/' and not '.' or '..'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        assert!(check_ifname("veth0").is_ok());
        assert!(check_ifname("a23456789012345").is_ok());
        let long = check_ifname("a234567890123456").unwrap_err();
        assert!(
            long.contains("16 bytes") && long.contains("at most 15"),
            "{long}"
        );
        assert!(check_ifname("").is_err());
        assert!(check_ifname("eth0:1").is_err());
        assert!(check_ifname("a b").is_err());
        assert!(check_ifname("a/b").is_err());
        assert!(check_ifname("..").is_err());
    }

    #[test]
    fn netns_names() {
        assert!(check_netns_name("test_net").is_ok());
        assert!(check_netns_name("../etc").is_err());
        assert!(check_netns_name("..").is_err());
        assert!(check_netns_name("").is_err());
    }
}
