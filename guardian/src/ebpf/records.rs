//! Decoding the program's ring-buffer records ([`guardian_common::RawRecord`])
//! into [`Record`]s.
//!
//! The bytes come from the kernel: every field is read at its offset from
//! [`guardian_common::layout`], every kind goes through `TryFrom`, and every
//! length is checked against the buffer; nothing is transmuted.

use guardian_common::{
    ioctl, layout, rtm, CMDLINE_CAPTURE, COMM_LEN, FLAG_CMDLINE_TRUNCATED, FLAG_DATA_UNREADABLE, MSG_CAPTURE,
    RAW_RECORD_LEN, SOURCE_IOCTL, SOURCE_NETLINK,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record is {len} bytes, expected at least {RAW_RECORD_LEN}")]
    TooShort { len: usize },
    #[error("unknown record source {0}")]
    UnknownSource(u32),
    #[error("unexpected message type {msg_type} for record source {record_source}")]
    UnknownType { record_source: u32, msg_type: u32 },
    #[error("{field} is {value}, more than the record holds")]
    LengthOutOfRange { field: &'static str, value: u32 },
}

/// The process that made the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Thread id, initial pid namespace.
    pub pid: u32,
    /// Process id, initial pid namespace.
    pub tgid: u32,
    /// Parent's process id (0 when unreadable).
    pub ptgid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: String,
    /// The start of the command line, arguments separated by spaces.
    pub cmdline: String,
    /// The command line was longer than what the program captured.
    pub cmdline_truncated: bool,
    /// cgroup v2 id (the inode number of the cgroup's directory).
    pub cgroup_id: u64,
}

/// A netlink message sent to the kernel's rtnetlink socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetlinkMsg {
    pub msg_type: u16,
    pub flags: u16,
    pub seq: u32,
    /// The sender's netlink port id (`NETLINK_CB(skb).portid`).
    pub port_id: u32,
    /// The message's full length (`nlmsg_len`).
    pub len: u32,
    /// The first bytes of the message, `nlmsghdr` included (empty if unreadable).
    pub bytes: Vec<u8>,
}

impl NetlinkMsg {
    /// The message body (after the 16-byte header), as far as captured.
    pub fn body(&self) -> &[u8] {
        self.bytes.get(16..).unwrap_or_default()
    }

    /// The address family: first byte of rtmsg/ifinfomsg/ifaddrmsg/nhmsg.
    pub fn family(&self) -> Option<u8> {
        self.body().first().copied()
    }

    /// The message was longer than what the program captured.
    pub fn is_truncated(&self) -> bool {
        (self.bytes.len() as u32) < self.len
    }
}

/// An `ioctl(2)` argument copied from the caller's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlArg {
    pub request: u32,
    /// `struct rtentry` (or `struct in6_rtmsg`) for SIOCDELRT, `struct ifreq`
    /// for SIOCSIFFLAGS; empty when unreadable.
    pub bytes: Vec<u8>,
}

impl IoctlArg {
    /// `ifr_name` of an `ifreq` (SIOCSIFFLAGS).
    pub fn ifname(&self) -> Option<String> {
        if self.request != ioctl::SIOCSIFFLAGS {
            return None;
        }
        let name = self.bytes.get(..16)?;
        let end = name.iter().position(|&c| c == 0).unwrap_or(16);
        Some(String::from_utf8_lossy(&name[..end]).into_owned())
    }
}

/// What was asked of the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// RTM_DELROUTE (IPv4 or IPv6: see [`NetlinkMsg::family`]).
    DelRoute(NetlinkMsg),
    /// RTM_NEWROUTE with NLM_F_REPLACE.
    ReplaceRoute(NetlinkMsg),
    /// RTM_NEWLINK/RTM_SETLINK clearing IFF_UP.
    LinkDown(NetlinkMsg),
    /// RTM_DELLINK.
    DelLink(NetlinkMsg),
    /// RTM_DELADDR.
    DelAddr(NetlinkMsg),
    /// RTM_DELNEXTHOP.
    DelNexthop(NetlinkMsg),
    /// ioctl SIOCDELRT (net-tools `route del`).
    IoctlDelRoute(IoctlArg),
    /// ioctl SIOCSIFFLAGS clearing IFF_UP (`ifconfig down`).
    IoctlLinkDown(IoctlArg),
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// CLOCK_MONOTONIC nanoseconds when the program saw the request.
    pub ktime_ns: u64,
    /// The namespace the request was made in (its cookie or inode number,
    /// as the running variant identifies namespaces).
    pub netns_id: u64,
    pub task: Task,
    pub request: Request,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn checked_len(b: &[u8], at: usize, max: usize, field: &'static str) -> Result<usize, DecodeError> {
    let value = u32_at(b, at);
    if value as usize > max {
        return Err(DecodeError::LengthOutOfRange { field, value });
    }
    Ok(value as usize)
}

impl TryFrom<&[u8]> for Record {
    type Error = DecodeError;

    fn try_from(b: &[u8]) -> Result<Self, DecodeError> {
        Decoder::default().decode(b)
    }
}

/// Decodes a stream of records, reusing the previous record's [`Task`] when
/// the same task sent the next one (a mass flush is thousands of records
/// from one `ip`): one comparison instead of re-parsing the command line.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The raw task bytes of the last record and what they decoded to.
    last: Option<(TaskKey, Task)>,
}

/// The bytes a [`Task`] is decoded from.
#[derive(Debug, PartialEq, Eq)]
struct TaskKey {
    ids: [u8; layout::NL_PORTID - layout::PID],
    cgroup_id: u64,
    truncated: bool,
    comm: [u8; COMM_LEN],
    cmdline: Vec<u8>,
}

impl TaskKey {
    fn matches(&self, b: &[u8], truncated: bool, cmdline: &[u8]) -> bool {
        self.ids[..] == b[layout::PID..layout::NL_PORTID]
            && self.cgroup_id == u64_at(b, layout::CGROUP_ID)
            && self.truncated == truncated
            && self.comm[..] == b[layout::COMM..layout::COMM + COMM_LEN]
            && self.cmdline[..] == *cmdline
    }
}

impl Decoder {
    /// Decodes one record (see [`Record`]'s `TryFrom<&[u8]>`).
    pub fn decode(&mut self, b: &[u8]) -> Result<Record, DecodeError> {
        if b.len() < RAW_RECORD_LEN {
            return Err(DecodeError::TooShort { len: b.len() });
        }
        let source = u32_at(b, layout::SOURCE);
        let msg_type = u32_at(b, layout::MSG_TYPE);
        let flags = u32_at(b, layout::FLAGS);
        let data_len = checked_len(b, layout::DATA_LEN, MSG_CAPTURE, "data_len")?;
        let cmdline_len = checked_len(b, layout::CMDLINE_LEN, CMDLINE_CAPTURE, "cmdline_len")?;
        let request = request(b, source, msg_type, flags, data_len)?;
        let truncated = flags & FLAG_CMDLINE_TRUNCATED != 0;
        let cmdline_raw = &b[layout::CMDLINE..layout::CMDLINE + cmdline_len];
        let task = match &self.last {
            Some((key, task)) if key.matches(b, truncated, cmdline_raw) => task.clone(),
            _ => {
                let task = task(b, truncated, cmdline_raw);
                let key = TaskKey {
                    ids: b[layout::PID..layout::NL_PORTID].try_into().expect("ids"),
                    cgroup_id: u64_at(b, layout::CGROUP_ID),
                    truncated,
                    comm: b[layout::COMM..layout::COMM + COMM_LEN].try_into().expect("comm"),
                    cmdline: cmdline_raw.to_vec(),
                };
                self.last = Some((key, task.clone()));
                task
            }
        };
        Ok(Record { ktime_ns: u64_at(b, layout::KTIME_NS), netns_id: u64_at(b, layout::NETNS_ID), task, request })
    }
}

fn task(b: &[u8], truncated: bool, cmdline_raw: &[u8]) -> Task {
    let cmdline = cmdline_raw
        .split(|&c| c == 0)
        .filter(|arg| !arg.is_empty())
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(" ");
    Task {
        pid: u32_at(b, layout::PID),
        tgid: u32_at(b, layout::TGID),
        ptgid: u32_at(b, layout::PTGID),
        uid: u32_at(b, layout::UID),
        gid: u32_at(b, layout::GID),
        comm: c_string(&b[layout::COMM..layout::COMM + COMM_LEN]),
        cmdline,
        cmdline_truncated: truncated,
        cgroup_id: u64_at(b, layout::CGROUP_ID),
    }
}

fn request(b: &[u8], source: u32, msg_type: u32, flags: u32, data_len: usize) -> Result<Request, DecodeError> {
    let data = || {
        if flags & FLAG_DATA_UNREADABLE != 0 {
            Vec::new()
        } else {
            b[layout::DATA..layout::DATA + data_len].to_vec()
        }
    };
    Ok(match source {
        SOURCE_NETLINK => {
            let nl_flags = u32_at(b, layout::NL_FLAGS);
            let unknown = DecodeError::UnknownType { record_source: source, msg_type };
            let ty = u16::try_from(msg_type).map_err(|_| unknown)?;
            let flags = u16::try_from(nl_flags).map_err(|_| unknown)?;
            let wrap: fn(NetlinkMsg) -> Request = match ty {
                rtm::DELROUTE => Request::DelRoute,
                rtm::NEWROUTE => Request::ReplaceRoute,
                rtm::NEWLINK | rtm::SETLINK => Request::LinkDown,
                rtm::DELLINK => Request::DelLink,
                rtm::DELADDR => Request::DelAddr,
                rtm::DELNEXTHOP => Request::DelNexthop,
                _ => return Err(unknown),
            };
            wrap(NetlinkMsg {
                msg_type: ty,
                flags,
                seq: u32_at(b, layout::NL_SEQ),
                port_id: u32_at(b, layout::NL_PORTID),
                len: u32_at(b, layout::MSG_LEN),
                bytes: data(),
            })
        }
        SOURCE_IOCTL => {
            let wrap: fn(IoctlArg) -> Request = match msg_type {
                ioctl::SIOCDELRT => Request::IoctlDelRoute,
                ioctl::SIOCSIFFLAGS => Request::IoctlLinkDown,
                _ => return Err(DecodeError::UnknownType { record_source: source, msg_type }),
            };
            wrap(IoctlArg { request: msg_type, bytes: data() })
        }
        other => return Err(DecodeError::UnknownSource(other)),
    })
}

#[cfg(test)]
pub(crate) mod tests {
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
}
