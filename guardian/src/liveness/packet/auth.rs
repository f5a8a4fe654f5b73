//! BFD authentication (RFC 5880 4.3, 4.4, 6.7.3, 6.7.4): the keyed MD5 and
//! keyed SHA1 sections, each in its plain and its meticulous variant.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Auth Type   |   Auth Len    |  Auth Key ID  |   Reserved    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Auth Key/Digest (16 bytes) or Auth Key/Hash (20)      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The section follows the 24-byte mandatory part; the packet's Length is
//! 48 (MD5) or 52 (SHA1). The digest is computed over the whole packet with
//! the shared key, zero-padded to 16 or 20 bytes, in the digest field.
//!
//! This file is stateless: it signs and checks the digest, type, length and
//! key id. The sequence number rules (a window of 3 x Detect Mult after the
//! last one accepted, strictly increasing in the meticulous variants) need
//! the session's memory and live in [`crate::liveness::session`]. Simple
//! password (type 1) is not offered: it sends the key in clear.

use md5::Md5;
use sha1::{Digest, Sha1};

use super::bfd;
/// The key's type and secret are the configuration's; signing is ours.
pub use crate::config::{AuthKey, AuthType, KeyError};

/// The longest packet guardian sends: the mandatory part and a SHA1 section.
pub const MAX_LEN: usize = bfd::LEN + SHA1_SECTION;

const MD5_SECTION: usize = 24;
const SHA1_SECTION: usize = 28;
/// Auth Type, Auth Len, Key ID, Reserved, Sequence Number.
const HEADER: usize = 8;
/// Byte 1 of the mandatory part: the Authentication Present (A) bit.
const A_BIT: u8 = 0x04;

/// Why an authenticated (or unauthenticated) packet was refused; each a
/// `reason` label of the received-invalid counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Authentication is configured and the A bit is clear.
    #[error("no authentication section")]
    Missing,
    /// The A bit is set and no authentication is configured.
    #[error("authentication present, none configured")]
    Unexpected,
    #[error("auth type {got}, expected {expected}")]
    Type { got: u8, expected: u8 },
    /// Auth Len is not the type's, or the section does not fit in Length.
    #[error("auth length {auth_len} in a packet of length {length}")]
    Length { auth_len: u8, length: usize },
    #[error("auth key id {got}, expected {expected}")]
    KeyId { got: u8, expected: u8 },
    #[error("digest mismatch")]
    Digest,
}

impl AuthError {
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "auth_missing",
            AuthError::Unexpected => "auth_unexpected",
            AuthError::Type { .. } => "auth_type",
            AuthError::Length { .. } => "auth_length",
            AuthError::KeyId { .. } => "auth_key_id",
            AuthError::Digest => "auth_digest",
        }
    }
}

/// Appends `key`'s section with `sequence` to the mandatory part already in
/// `buf[..24]`, sets the A bit and Length, and signs. Returns the length.
pub fn sign(buf: &mut [u8; MAX_LEN], key: &AuthKey, sequence: u32) -> usize {
    let t = key.auth_type();
    let len = bfd::LEN + section_len(t);
    buf[1] |= A_BIT;
    buf[3] = len as u8;
    let section = &mut buf[bfd::LEN..len];
    section[0] = t.code();
    section[1] = section_len(t) as u8;
    section[2] = key.key_id();
    section[3] = 0;
    section[4..HEADER].copy_from_slice(&sequence.to_be_bytes());
    section[HEADER..].copy_from_slice(key.key());
    let digest = digest(t, &buf[..len]);
    buf[bfd::LEN + HEADER..len].copy_from_slice(&digest[..t.key_len()]);
    len
}

/// Checks the section of a received packet (`packet` is its first Length
/// bytes, which [`bfd::decode`] has validated) against `key`: A bit,
/// type, Auth Len, key id, then the digest.
pub fn verify(packet: &[u8], key: &AuthKey) -> Result<(), AuthError> {
    if packet.get(1).is_none_or(|flags| flags & A_BIT == 0) {
        return Err(AuthError::Missing);
    }
    let t = key.auth_type();
    let section = packet.get(bfd::LEN..).unwrap_or_default();
    let (got_type, auth_len) = (section.first().copied().unwrap_or(0), section.get(1).copied().unwrap_or(0));
    if got_type != t.code() {
        return Err(AuthError::Type { got: got_type, expected: t.code() });
    }
    if usize::from(auth_len) != section_len(t) || section.len() != section_len(t) {
        return Err(AuthError::Length { auth_len, length: packet.len() });
    }
    if section[2] != key.key_id() {
        return Err(AuthError::KeyId { got: section[2], expected: key.key_id() });
    }
    let mut copy = [0u8; MAX_LEN];
    let copy = &mut copy[..packet.len()];
    copy.copy_from_slice(packet);
    copy[bfd::LEN + HEADER..].copy_from_slice(key.key());
    let expected = digest(t, copy);
    // Compared without an early exit, so the time taken tells nothing of
    // how much of a forged digest was right.
    let received = &packet[bfd::LEN + HEADER..];
    let diff = received.iter().zip(&expected[..t.key_len()]).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff == 0 {
        Ok(())
    } else {
        Err(AuthError::Digest)
    }
}

/// The sequence number of an authenticated packet (`packet`: Length bytes
/// with the A bit set), if its section is long enough to have one.
pub fn sequence(packet: &[u8]) -> Option<u32> {
    let s = packet.get(bfd::LEN + 4..bfd::LEN + HEADER)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Auth Len: the whole section.
fn section_len(t: AuthType) -> usize {
    match t {
        AuthType::KeyedMd5 | AuthType::MeticulousKeyedMd5 => MD5_SECTION,
        AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => SHA1_SECTION,
    }
}

fn digest(t: AuthType, bytes: &[u8]) -> [u8; 20] {
    let mut out = [0u8; 20];
    match t {
        AuthType::KeyedMd5 | AuthType::MeticulousKeyedMd5 => out[..16].copy_from_slice(&Md5::digest(bytes)),
        AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => out.copy_from_slice(&Sha1::digest(bytes)),
    }
    out
}

#[cfg(test)]
mod tests;
