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

/// A route protocol as written, a number or a name; resolved against the
/// system's rt_protos during validation (`protocols.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolText(pub String);

impl<'de> Deserialize<'de> for ProtocolText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ProtocolVisitor;
        impl Visitor<'_> for ProtocolVisitor {
            type Value = ProtocolText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a route protocol number (0-255) or a name from rt_protos such as \"bird\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ProtocolText, E> {
                u8::try_from(v).map_err(|_| E::custom(format!("route protocol {v} is out of range 0-255")))?;
                Ok(ProtocolText(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ProtocolText, E> {
                Ok(ProtocolText(v.to_owned()))
            }
        }
        d.deserialize_any(ProtocolVisitor)
    }
}

#[cfg(test)]
mod tests;
