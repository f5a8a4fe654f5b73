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
