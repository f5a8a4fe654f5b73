use super::*;

/// A netlink message as the kernel frames it (payload padded to 4 bytes).
fn msg(ty: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((wire::NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&wire::NLM_F_MULTI.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(payload);
    m.resize(m.len().next_multiple_of(4), 0);
    m
}

/// The end of a dump: DONE carrying `-errno` (0 for success).
fn done(seq: u32, errno: i32) -> Vec<u8> {
    msg(wire::NLMSG_DONE, seq, &(-errno).to_ne_bytes())
}

fn walk(datagram: &[u8], seq: u32) -> (Vec<u16>, Option<Result<(), KernelError>>) {
    let mut seen = Vec::new();
    let end = dump_datagram(datagram, seq, &mut |m: &wire::NlMsg| seen.push(m.ty));
    (seen, end)
}

#[test]
fn a_datagram_without_the_end_hands_on_its_dump_messages_only() {
    let datagram = [msg(wire::RTM_NEWROUTE, 5, &[0; 12]), msg(wire::RTM_NEWROUTE, 4, &[0; 12])].concat();
    let (seen, end) = walk(&datagram, 5);
    assert_eq!(seen, vec![wire::RTM_NEWROUTE], "another request's message is skipped");
    assert!(end.is_none(), "the dump goes on in the next datagram");
}

#[test]
fn done_ends_the_dump_and_what_follows_it_is_not_read() {
    let datagram = [msg(wire::RTM_NEWROUTE, 5, &[0; 12]), done(5, 0), msg(wire::RTM_NEWROUTE, 5, &[0; 12])].concat();
    let (seen, end) = walk(&datagram, 5);
    assert_eq!(seen.len(), 1);
    assert!(matches!(end, Some(Ok(()))));
}

#[test]
fn a_table_that_does_not_exist_is_an_empty_dump_and_other_errors_fail_it() {
    assert!(matches!(walk(&done(5, libc::ENOENT), 5).1, Some(Ok(()))));
    let (_, end) = walk(&msg(wire::NLMSG_ERROR, 5, &(-libc::EPERM).to_ne_bytes()), 5);
    assert!(matches!(end, Some(Err(KernelError::Request { op: "dump", .. }))), "{end:?}");
}

#[test]
fn a_malformed_datagram_fails_the_dump() {
    let mut datagram = msg(wire::RTM_NEWROUTE, 5, &[0; 12]);
    datagram.truncate(10);
    assert!(matches!(walk(&datagram, 5).1, Some(Err(KernelError::Wire(_)))));
}
