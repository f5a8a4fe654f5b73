//! Deserializers for the human-friendly values of the configuration file:
//! durations ("30s"), sizes ("8MiB") and route protocols (201 or "bgp").

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        de::Error::custom(format!("invalid duration {text:?} ({e}); write e.g. \"30s\", \"500ms\" or \"5m\""))
    })
}

/// A duration written like [`duration`] ("500ms"), as a type of its own so
/// it can sit inside `toml::Spanned` and validation can name its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        duration(d).map(HumanDuration)
    }
}

pub fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct SizeVisitor;
    impl Visitor<'_> for SizeVisitor {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a size such as \"8MiB\" or a number of bytes")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom("a size cannot be negative"))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            v.parse::<bytesize::ByteSize>()
                .map(|b| b.as_u64())
                .map_err(|e| E::custom(format!("invalid size {v:?} ({e}); write e.g. \"8MiB\"")))
        }
    }
    d.deserialize_any(SizeVisitor)
}

/// Route protocol names as iproute2's `rt_protos` spells them, and
/// guardian's own, which the Debian package adds to iproute2's list
/// (`packaging/rt_protos.d/guardian.conf`), so that `ip route` shows
/// `proto guardian`.
const PROTOCOL_NAMES: &[(&str, u8)] = &[
    ("redirect", 1),
    ("kernel", 2),
    ("boot", 3),
    ("static", 4),
    ("gated", 8),
    ("ra", 9),
    ("mrt", 10),
    ("zebra", 11),
    ("bird", 12),
    ("dnrouted", 13),
    ("xorp", 14),
    ("ntk", 15),
    ("dhcp", 16),
    ("keepalived", 18),
    ("babel", 42),
    ("openr", 99),
    ("bgp", 186),
    ("isis", 187),
    ("ospf", 188),
    ("rip", 189),
    ("eigrp", 192),
    ("guardian", 201),
];

pub fn protocol_name(number: u8) -> Option<&'static str> {
    PROTOCOL_NAMES.iter().find(|(_, n)| *n == number).map(|(name, _)| *name)
}

pub fn protocol<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    struct ProtocolVisitor;
    impl Visitor<'_> for ProtocolVisitor {
        type Value = u8;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a route protocol number (5-255) or a name from rt_protos such as \"bgp\"")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u8, E> {
            let n = u8::try_from(v).map_err(|_| E::custom(format!("route protocol {v} is out of range 0-255")))?;
            check_protocol(n).map_err(E::custom)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u8, E> {
            let n = match PROTOCOL_NAMES.iter().find(|(name, _)| *name == v) {
                Some((_, n)) => *n,
                None => v.parse::<u8>().map_err(|_| {
                    E::custom(format!("unknown route protocol {v:?}; use a number or a name such as \"bgp\""))
                })?,
            };
            check_protocol(n).map_err(E::custom)
        }
    }
    d.deserialize_any(ProtocolVisitor)
}

/// Protocols 0-4 belong to the kernel and to manually added routes: guardian
/// treats routes with its protocol as its own (it adopts them and withdraws
/// stale ones), so sharing one of those would delete other people's routes.
fn check_protocol(n: u8) -> Result<u8, String> {
    if n <= 4 {
        let name = protocol_name(n).unwrap_or("unspec");
        return Err(format!(
            "route protocol {n} ({name}) is used by the kernel and by manually added routes; \
             guardian withdraws stale routes of its own protocol, so pick one of its own (default 201)"
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(deserialize_with = "protocol")]
        p: u8,
    }

    fn proto(toml_value: &str) -> Result<u8, String> {
        toml::from_str::<T>(&format!("p = {toml_value}")).map(|t| t.p).map_err(|e| e.to_string())
    }

    #[test]
    fn protocol_accepts_numbers_and_names() {
        assert_eq!(proto("201").unwrap(), 201);
        assert_eq!(proto("\"bgp\"").unwrap(), 186);
        assert_eq!(proto("\"201\"").unwrap(), 201);
        assert_eq!(proto("\"guardian\"").unwrap(), 201);
    }

    /// The name the package gives iproute2 is the one the file accepts, for
    /// the same number (the default).
    #[test]
    fn guardian_names_the_protocol_the_package_gives_iproute2() {
        let conf = include_str!("../../../packaging/rt_protos.d/guardian.conf");
        let entries: Vec<(&str, &str)> = conf
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once(char::is_whitespace))
            .collect();
        assert_eq!(entries.len(), 1, "{conf}");
        let (number, name) = entries[0];
        assert_eq!(name.trim(), "guardian");
        assert_eq!(number.parse::<u8>().ok(), Some(crate::config::DEFAULT_ROUTE_PROTOCOL));
        assert_eq!(proto(&format!("\"{}\"", name.trim())).unwrap(), crate::config::DEFAULT_ROUTE_PROTOCOL);
        assert_eq!(protocol_name(crate::config::DEFAULT_ROUTE_PROTOCOL), Some("guardian"));
    }

    #[test]
    fn protocol_rejects_kernel_and_manual_protocols() {
        assert!(proto("\"boot\"").unwrap_err().contains("manually added routes"));
        assert!(proto("2").unwrap_err().contains("kernel"));
        assert!(proto("300").unwrap_err().contains("out of range"));
        assert!(proto("\"nosuch\"").unwrap_err().contains("unknown route protocol"));
    }
}
