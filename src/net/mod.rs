//! Networking: named network namespaces, links, addresses, routes and forwarding over
//! rtnetlink, and NAT rules through nftables, each with an exact undo.

pub mod addrs;
mod dad;
mod handles;
pub mod kernel;
pub mod links;
pub mod netlink;
pub mod netns;
mod nfnetlink;
pub mod nft;
mod nft_exprs;
pub mod pasta;
pub mod peers;
pub mod routes;
pub mod slirp;
