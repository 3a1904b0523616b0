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

/// Defines a name type that can only hold a name its check accepted: made once, where
/// a recipe's word comes in, and carried as it is by the operations.
macro_rules! checked_name {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn new(name: &str) -> Result<$name, String> {
                $check(name).map(|()| $name(name.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

checked_name!(
    /// A network interface's name, as the kernel accepts it (`check_ifname`).
    IfName,
    check_ifname
);
checked_name!(
    /// A named network namespace's name, one file in /run/netns (`check_netns_name`).
    NetnsName,
    check_netns_name
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checked_name_holds_only_what_its_check_accepts() {
        assert_eq!(IfName::new("veth0").unwrap().as_str(), "veth0");
        assert!(IfName::new("a-name-longer-than-15").is_err());
        assert!(NetnsName::new("../x").is_err());
        assert_eq!(&*NetnsName::new("lab").unwrap(), "lab");
    }

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
