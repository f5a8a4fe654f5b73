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
pub(crate) mod tests;
