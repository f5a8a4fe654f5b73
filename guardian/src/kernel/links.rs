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
mod tests {
    use super::*;
    use netlink_packet_core::Emitable;

    #[test]
    fn decodes_index_name_and_up_flag() {
        let mut msg = LinkMessage::default();
        msg.header.index = 7;
        msg.header.flags = LinkFlags::Up | LinkFlags::LowerUp;
        msg.attributes.push(LinkAttribute::IfName("veth0".into()));
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut buf);
        assert_eq!(parse_link(&buf), Some(Link { index: 7, name: "veth0".into(), up: true }));
        assert_eq!(parse_link(&buf[..10]), None);
    }
}
