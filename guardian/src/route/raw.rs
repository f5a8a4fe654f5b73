//! A route kept exactly as the kernel has it, for a guarded route the
//! compact model cannot express (several next hops with weights, metrics,
//! a realm...). The bytes are the payload of an RTM_NEWROUTE that recreates
//! it, made and replayed by `kernel::wire::raw`; here they are only kept
//! and compared.

/// The payload (rtmsg and attributes) of an RTM_NEWROUTE, without what the
/// kernel adds on its own, so two copies of one route are equal byte for byte.
///
/// Its fingerprint is worked out once, when it is made: a scan compares it
/// with every dumped route's, and hashing the copy again each time (behind
/// two pointers) was most of a scan's cost at 1M copies. The Arc that holds
/// a copy rounds to 48 bytes with or without it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawRoute {
    fingerprint: u64,
    payload: Box<[u8]>,
}

impl std::fmt::Debug for RawRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawRoute({} bytes)", self.payload.len())
    }
}

impl RawRoute {
    /// Wraps a payload already normalized (`kernel::wire::raw::copy`).
    pub fn from_normalized(payload: Vec<u8>) -> RawRoute {
        RawRoute { fingerprint: fingerprint_of_normalized(&payload), payload: payload.into_boxed_slice() }
    }

    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// A 64-bit digest of the copy, never 0 (0 marks a route the compact
    /// model describes). Only compared within one process.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

/// See [`RawRoute::fingerprint`].
pub fn fingerprint_of_normalized(payload: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x6775_6172_6469_616e).hash_one(payload).max(1)
}
