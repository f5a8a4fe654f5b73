//! Liveness control packets: one decoded form, two wire profiles.
//!
//! The session state machine only ever sees [`Control`]; the profile codecs
//! ([`bfd`], [`doublezero`]) turn it into bytes and back. Fields that exist
//! in only one profile are carried with a neutral value in the other (for
//! example `poll` is always false in a `doublezero` packet).

pub mod auth;
pub mod bfd;
pub mod doublezero;

/// The configuration chooses the profile; the codecs speak it.
pub use crate::config::Profile;

/// Session state as carried on the wire (the same two bits in both profiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum State {
    AdminDown = 0,
    Down = 1,
    Init = 2,
    Up = 3,
}

impl State {
    /// From the two state bits; every value is valid.
    pub fn from_bits(bits: u8) -> State {
        match bits & 0b11 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            State::AdminDown => "admin_down",
            State::Down => "down",
            State::Init => "init",
            State::Up => "up",
        }
    }
}

/// RFC 5880 4.1 diagnostic codes. Codes 9-31 are reserved and kept as-is so a
/// newer peer's reason still shows up in `guardian sessions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Diag {
    None,
    ControlDetectionTimeExpired,
    EchoFunctionFailed,
    NeighborSignaledSessionDown,
    ForwardingPlaneReset,
    PathDown,
    ConcatenatedPathDown,
    AdministrativelyDown,
    ReverseConcatenatedPathDown,
    Reserved(u8),
}

impl Diag {
    /// From the five diagnostic bits.
    pub fn from_bits(bits: u8) -> Diag {
        match bits & 0x1f {
            0 => Diag::None,
            1 => Diag::ControlDetectionTimeExpired,
            2 => Diag::EchoFunctionFailed,
            3 => Diag::NeighborSignaledSessionDown,
            4 => Diag::ForwardingPlaneReset,
            5 => Diag::PathDown,
            6 => Diag::ConcatenatedPathDown,
            7 => Diag::AdministrativelyDown,
            8 => Diag::ReverseConcatenatedPathDown,
            other => Diag::Reserved(other),
        }
    }

    pub fn bits(self) -> u8 {
        match self {
            Diag::None => 0,
            Diag::ControlDetectionTimeExpired => 1,
            Diag::EchoFunctionFailed => 2,
            Diag::NeighborSignaledSessionDown => 3,
            Diag::ForwardingPlaneReset => 4,
            Diag::PathDown => 5,
            Diag::ConcatenatedPathDown => 6,
            Diag::AdministrativelyDown => 7,
            Diag::ReverseConcatenatedPathDown => 8,
            Diag::Reserved(bits) => bits & 0x1f,
        }
    }
}

/// The sender's software version (doublezero profile only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SenderVersion {
    pub major: u8,
    pub minor: u8,
    pub patch: u8,
    /// 0 stable .. 4 dev, 5 other; kept raw, it is only displayed.
    pub channel: u8,
}

/// One control packet, decoded. Intervals are in microseconds, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    pub state: State,
    /// `bfd` only (always `Diag::None` in `doublezero`).
    pub diag: Diag,
    /// `bfd` only: Poll (P) and Final (F) bits, RFC 5880 6.5.
    pub poll: bool,
    pub final_: bool,
    /// `bfd` only: Control Plane Independent (C), Demand (D). guardian never
    /// sets them; they are decoded so the peer's choice can be seen.
    pub control_plane_independent: bool,
    pub demand: bool,
    pub detect_mult: u8,
    /// The sender's discriminator (never 0 in a valid packet).
    pub my_discriminator: u32,
    /// The receiver's discriminator as the sender last learned it, or 0.
    pub your_discriminator: u32,
    pub desired_min_tx_us: u32,
    pub required_min_rx_us: u32,
    /// `bfd` only; guardian does not do echo and sends 0.
    pub required_min_echo_rx_us: u32,
    /// `doublezero` only: the sender is passive (it never withdraws routes).
    pub passive: bool,
    /// `doublezero` only.
    pub sender_version: Option<SenderVersion>,
    /// `bfd` only: the Authentication Present (A) bit. Whether the section
    /// is right is [`auth::verify`]'s to say; [`bfd::encode`] never sets it
    /// ([`auth::sign`] does).
    pub auth_present: bool,
    /// `bfd` only: the keyed MD5 / SHA1 section's sequence number; on a
    /// packet to send, the one to sign it with (`None`: unauthenticated).
    pub auth_sequence: Option<u32>,
}

impl Control {
    /// A packet with every optional field neutral; callers fill in the rest.
    pub fn new(state: State, my_discriminator: u32, your_discriminator: u32) -> Control {
        Control {
            state,
            diag: Diag::None,
            poll: false,
            final_: false,
            control_plane_independent: false,
            demand: false,
            detect_mult: 3,
            my_discriminator,
            your_discriminator,
            desired_min_tx_us: 1_000_000,
            required_min_rx_us: 1_000_000,
            required_min_echo_rx_us: 0,
            passive: false,
            sender_version: None,
            auth_present: false,
            auth_sequence: None,
        }
    }
}

/// Why a received control packet was dropped, in either profile.
///
/// One variant per reason; [`DecodeError::reason`] is the `reason` label of
/// the received-invalid packet counter, so it should not change once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the fixed part of the packet.
    #[error("packet is {len} bytes, expected at least {min}")]
    Short { len: usize, min: usize },
    /// The length field is impossible: below the minimum, beyond the bytes
    /// received (`bfd`), or not exactly 40 (`doublezero`).
    #[error("length field is {length}, {received} bytes received")]
    BadLength { length: u8, received: usize },
    #[error("version {0}, expected 1")]
    BadVersion(u8),
    #[error("detect multiplier is 0")]
    ZeroDetectMult,
    /// The sender's own discriminator (My / local discriminator) is 0.
    #[error("sender discriminator is 0")]
    ZeroDiscriminator,
    /// `bfd`: Your Discriminator is 0 although the sender is Init or Up.
    #[error("your discriminator is 0 in state {}", .state.label())]
    BadYourDiscriminator { state: State },
    /// `bfd`: the Multipoint (M) bit is set.
    #[error("multipoint bit set")]
    Multipoint,
}

impl DecodeError {
    /// A short snake_case label for the received-invalid metric.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Short { .. } => "short",
            DecodeError::BadLength { .. } => "bad_length",
            DecodeError::BadVersion(_) => "bad_version",
            DecodeError::ZeroDetectMult => "zero_detect_mult",
            DecodeError::ZeroDiscriminator => "zero_discriminator",
            DecodeError::BadYourDiscriminator { .. } => "bad_your_discriminator",
            DecodeError::Multipoint => "multipoint",
        }
    }
}
