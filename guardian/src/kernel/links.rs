//! Interfaces as the kernel reports them: index, name and whether they are up.

use crate::messages::Link;
use netlink_packet_core::Parseable;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};

/// Decodes an RTM_NEWLINK/RTM_DELLINK payload.
pub fn parse_link(payload: &[u8]) -> Option<Link> {
    let msg = LinkMessage::parse(payload).ok()?;
    let name = msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(name) => Some(name.clone()),
        _ => None,
    })?;
    Some(Link { index: msg.header.index, name, up: msg.header.flags.contains(LinkFlags::Up) })
}

#[cfg(test)]
mod tests;
