use super::*;
use guardian_common::{FLAG_CMDLINE_UNREADABLE, SOURCE_IOCTL};

/// Raw record bytes as the program writes them.
pub(crate) struct Raw(pub Vec<u8>);

impl Raw {
    pub(crate) fn new(source: u32, msg_type: u32) -> Self {
        let mut raw = Raw(vec![0xAA; RAW_RECORD_LEN]); // garbage, like a reused ring slot
        for at in (0..layout::COMM).step_by(4) {
            raw.put32(at, 0);
        }
        raw.put32(layout::SOURCE, source);
        raw.put32(layout::MSG_TYPE, msg_type);
        raw.put64(layout::KTIME_NS, 123_456_789);
        raw.put32(layout::PID, 4243);
        raw.put32(layout::TGID, 4242);
        raw.put32(layout::PTGID, 1);
        raw.put32(layout::UID, 1000);
        raw.put32(layout::GID, 100);
        raw.put64(layout::CGROUP_ID, 77);
        raw.put64(layout::NETNS_ID, 4096);
        raw.0[layout::COMM..layout::COMM + 16].copy_from_slice(b"ip\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        let cmd = b"ip\0route\0del\x0010.9.0.0/24\0";
        raw.0[layout::CMDLINE..layout::CMDLINE + cmd.len()].copy_from_slice(cmd);
        raw.put32(layout::CMDLINE_LEN, cmd.len() as u32);
        raw
    }

    pub(crate) fn put32(&mut self, at: usize, v: u32) {
        self.0[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn put64(&mut self, at: usize, v: u64) {
        self.0[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn netlink(msg_type: u16, flags: u16, body: &[u8]) -> Self {
        let mut raw = Raw::new(SOURCE_NETLINK, u32::from(msg_type));
        let len = 16 + body.len() as u32;
        let mut msg = Vec::new();
        msg.extend_from_slice(&len.to_le_bytes());
        msg.extend_from_slice(&msg_type.to_le_bytes());
        msg.extend_from_slice(&flags.to_le_bytes());
        msg.extend_from_slice(&7u32.to_le_bytes());
        msg.extend_from_slice(&4242u32.to_le_bytes());
        msg.extend_from_slice(body);
        let captured = msg.len().min(MSG_CAPTURE);
        raw.0[layout::DATA..layout::DATA + captured].copy_from_slice(&msg[..captured]);
        raw.put32(layout::NL_FLAGS, u32::from(flags));
        raw.put32(layout::NL_SEQ, 7);
        raw.put32(layout::NL_PORTID, 4242);
        raw.put32(layout::MSG_LEN, len);
        raw.put32(layout::DATA_LEN, captured as u32);
        raw
    }

    pub(crate) fn decode(&self) -> Result<Record, DecodeError> {
        Record::try_from(self.0.as_slice())
    }
}

/// rtmsg for an IPv4 /24 in table 100, plus RTA_DST.
fn rtmsg_v4() -> Vec<u8> {
    let mut b = vec![2, 24, 0, 0, 100, 3, 0, 1, 0, 0, 0, 0];
    b.extend_from_slice(&[8, 0, 1, 0, 10, 9, 0, 0]);
    b
}

fn netlink_of(r: &Record) -> &NetlinkMsg {
    match &r.request {
        Request::DelRoute(m)
        | Request::ReplaceRoute(m)
        | Request::LinkDown(m)
        | Request::DelLink(m)
        | Request::DelAddr(m)
        | Request::DelNexthop(m) => m,
        other => panic!("not a netlink request: {other:?}"),
    }
}

#[test]
fn delroute_v4_decodes_with_task_and_message() {
    let r = Raw::netlink(rtm::DELROUTE, 0x5, &rtmsg_v4()).decode().unwrap();
    assert!(matches!(r.request, Request::DelRoute(_)));
    let m = netlink_of(&r);
    assert_eq!((m.seq, m.port_id, m.len, m.flags), (7, 4242, 36, 0x5));
    assert_eq!(m.family(), Some(2));
    assert_eq!(m.body(), rtmsg_v4().as_slice());
    assert!(!m.is_truncated());
    assert_eq!(
        r.task,
        Task {
            pid: 4243,
            tgid: 4242,
            ptgid: 1,
            uid: 1000,
            gid: 100,
            comm: "ip".into(),
            cmdline: "ip route del 10.9.0.0/24".into(),
            cmdline_truncated: false,
            cgroup_id: 77,
        }
    );
    assert_eq!((r.ktime_ns, r.netns_id), (123_456_789, 4096));
}

#[test]
fn delroute_v6_reports_its_family() {
    let mut body = rtmsg_v4();
    body[0] = 10;
    let r = Raw::netlink(rtm::DELROUTE, 0, &body).decode().unwrap();
    assert_eq!(netlink_of(&r).family(), Some(10));
}

#[test]
fn every_netlink_kind_maps_to_its_request() {
    type Case = (u16, u16, fn(&Request) -> bool);
    let cases: [Case; 7] = [
        (rtm::NEWROUTE, 0x100, |r| matches!(r, Request::ReplaceRoute(_))),
        (rtm::NEWLINK, 0, |r| matches!(r, Request::LinkDown(_))),
        (rtm::SETLINK, 0, |r| matches!(r, Request::LinkDown(_))),
        (rtm::DELLINK, 0, |r| matches!(r, Request::DelLink(_))),
        (rtm::DELADDR, 0, |r| matches!(r, Request::DelAddr(_))),
        (rtm::DELNEXTHOP, 0, |r| matches!(r, Request::DelNexthop(_))),
        (rtm::DELROUTE, 0, |r| matches!(r, Request::DelRoute(_))),
    ];
    for (ty, flags, is) in cases {
        let r = Raw::netlink(ty, flags, &[0; 16]).decode().unwrap();
        assert!(is(&r.request), "type {ty}: {:?}", r.request);
    }
}

#[test]
fn long_messages_are_marked_truncated() {
    let body = vec![0u8; 400];
    let r = Raw::netlink(rtm::DELROUTE, 0, &body).decode().unwrap();
    let m = netlink_of(&r);
    assert_eq!((m.bytes.len(), m.len), (MSG_CAPTURE, 416));
    assert!(m.is_truncated());
}

#[test]
fn ioctls_decode_with_their_argument() {
    let mut raw = Raw::new(SOURCE_IOCTL, ioctl::SIOCSIFFLAGS);
    raw.0[layout::DATA..layout::DATA + 6].copy_from_slice(b"veth0\0");
    raw.put32(layout::DATA_LEN, ioctl::IFREQ_LEN);
    raw.put32(layout::MSG_LEN, ioctl::IFREQ_LEN);
    let r = raw.decode().unwrap();
    let Request::IoctlLinkDown(arg) = &r.request else { panic!("{:?}", r.request) };
    assert_eq!(arg.ifname().as_deref(), Some("veth0"));
    assert_eq!(arg.bytes.len(), 40);

    let mut raw = Raw::new(SOURCE_IOCTL, ioctl::SIOCDELRT);
    raw.put32(layout::DATA_LEN, ioctl::RTENTRY_LEN);
    let r = raw.decode().unwrap();
    assert!(matches!(&r.request, Request::IoctlDelRoute(a) if a.bytes.len() == 120 && a.ifname().is_none()));
}

#[test]
fn unreadable_data_and_cmdline_decode_as_empty() {
    let mut raw = Raw::netlink(rtm::DELROUTE, 0, &rtmsg_v4());
    raw.put32(layout::FLAGS, FLAG_DATA_UNREADABLE | FLAG_CMDLINE_UNREADABLE);
    raw.put32(layout::CMDLINE_LEN, 0);
    let r = raw.decode().unwrap();
    assert!(netlink_of(&r).bytes.is_empty());
    assert_eq!(r.task.cmdline, "");
}

#[test]
fn truncated_records_are_rejected() {
    let raw = Raw::netlink(rtm::DELROUTE, 0, &rtmsg_v4());
    for len in [0, 1, layout::DATA, RAW_RECORD_LEN - 1] {
        assert_eq!(Record::try_from(&raw.0[..len]), Err(DecodeError::TooShort { len }));
    }
}

#[test]
fn malformed_records_are_rejected() {
    let mut raw = Raw::netlink(rtm::DELROUTE, 0, &rtmsg_v4());
    raw.put32(layout::SOURCE, 9);
    assert_eq!(raw.decode(), Err(DecodeError::UnknownSource(9)));

    let raw = Raw::netlink(rtm::NEWADDR_FOR_TEST, 0, &[]);
    assert!(matches!(raw.decode(), Err(DecodeError::UnknownType { .. })));

    let mut raw = Raw::netlink(rtm::DELROUTE, 0, &[]);
    raw.put32(layout::MSG_TYPE, 0x1_0019);
    assert!(matches!(raw.decode(), Err(DecodeError::UnknownType { .. })));

    let mut raw = Raw::netlink(rtm::DELROUTE, 0, &[]);
    raw.put32(layout::DATA_LEN, MSG_CAPTURE as u32 + 1);
    assert!(matches!(raw.decode(), Err(DecodeError::LengthOutOfRange { field: "data_len", .. })));

    let mut raw = Raw::netlink(rtm::DELROUTE, 0, &[]);
    raw.put32(layout::CMDLINE_LEN, u32::MAX);
    assert!(matches!(raw.decode(), Err(DecodeError::LengthOutOfRange { field: "cmdline_len", .. })));

    let mut raw = Raw::new(SOURCE_IOCTL, 0x8913);
    raw.put32(layout::DATA_LEN, 0);
    assert!(matches!(raw.decode(), Err(DecodeError::UnknownType { .. })));
}

#[test]
fn a_decoder_reuses_the_task_of_the_previous_record_only_when_it_is_the_same() {
    let mut decoder = Decoder::default();
    let first = Raw::netlink(rtm::DELROUTE, 0, &rtmsg_v4());
    assert_eq!(decoder.decode(&first.0), first.decode());
    let mut second = Raw::netlink(rtm::DELROUTE, 0, &rtmsg_v4());
    second.put32(layout::NL_SEQ, 8);
    assert_eq!(decoder.decode(&second.0), second.decode());
    // Another task (pid, comm, command line, truncation) decodes afresh.
    let mut other = Raw::netlink(rtm::DELROUTE, 0, &rtmsg_v4());
    other.put32(layout::PID, 9);
    assert_eq!(decoder.decode(&other.0).unwrap().task.pid, 9);
    other.0[layout::COMM] = b'x';
    assert_eq!(decoder.decode(&other.0).unwrap().task.comm, "xp");
    other.put32(layout::CMDLINE_LEN, 2);
    assert_eq!(decoder.decode(&other.0).unwrap().task.cmdline, "ip");
    other.put32(layout::FLAGS, FLAG_CMDLINE_TRUNCATED);
    assert!(decoder.decode(&other.0).unwrap().task.cmdline_truncated);
    // Errors leave the cache as it was.
    let mut bad = Raw::netlink(rtm::DELROUTE, 0, &[]);
    bad.put32(layout::SOURCE, 9);
    assert!(decoder.decode(&bad.0).is_err());
    assert_eq!(decoder.decode(&first.0), first.decode());
}

#[test]
fn decoding_arbitrary_bytes_never_panics() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut decoder = Decoder::default();
    for _ in 0..2000 {
        let mut b = vec![0u8; RAW_RECORD_LEN];
        for byte in &mut b {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        b[layout::SOURCE] = (state % 3) as u8;
        let _ = Record::try_from(b.as_slice());
        let _ = decoder.decode(b.as_slice());
    }
}

mod rtm {
    pub use guardian_common::rtm::*;
    pub const NEWADDR_FOR_TEST: u16 = 20;
}
