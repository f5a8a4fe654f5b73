//! The public types of [`super::session`]: its configuration, inputs and
//! outputs. Split from the state machine to keep each file readable;
//! everything is re-exported from `session`.

use std::time::{Duration, Instant};

use super::packet::auth::AuthType;
use super::packet::{Control, Diag, Profile, State};

/// A session's parameters (the config section for its route, resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    pub profile: Profile,
    /// Desired min TX interval we advertise (in `bfd`, at least 1 s while
    /// the session is not Up).
    pub desired_min_tx: Duration,
    /// Required min RX interval we advertise.
    pub required_min_rx: Duration,
    pub detect_mult: u8,
    /// The peer's advertised intervals are clamped to
    /// `[min_tx_floor, max_tx_ceil]` (in `bfd` the peer's required RX only
    /// from below: RFC 5880 6.8.7 forbids sending faster than it asks).
    pub min_tx_floor: Duration,
    pub max_tx_ceil: Duration,
    /// `doublezero`: cap of the transmit backoff while Down.
    pub backoff_max: Duration,
    /// Global passive mode: routes are installed at registration by the
    /// caller and never withdrawn by liveness; the session only observes.
    pub passive: bool,
    /// Keep routes on Down when the peer advertises passive mode.
    pub honour_peer_passive: bool,
    /// `bfd`: authentication in use (RFC 5880 6.7). The key and the digest
    /// are the driver's ([`super::packet::auth`]); the session keeps the
    /// sequence numbers: it requires one on every packet, checks it against
    /// the last accepted, and numbers what it sends.
    pub auth: Option<AuthType>,
}

impl SessionConfig {
    /// The defaults of `docs/liveness.md`: 1 s / 1 s / 3, clamps 50 ms..3 s,
    /// backoff up to 1 min, active, peer passive honoured.
    pub fn new(profile: Profile) -> SessionConfig {
        SessionConfig {
            profile,
            desired_min_tx: Duration::from_secs(1),
            required_min_rx: Duration::from_secs(1),
            detect_mult: 3,
            min_tx_floor: Duration::from_millis(50),
            max_tx_ceil: Duration::from_secs(3),
            backoff_max: Duration::from_secs(60),
            passive: false,
            honour_peer_passive: true,
            auth: None,
        }
    }
}

/// What happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// A decoded control packet, already matched to this session.
    Received(&'a Control),
    /// A deadline from [`Output::timers`] passed. A stale expiry (the
    /// deadline moved since) is ignored, so the driver may delete lazily.
    TimerExpired(Timer),
    AdminDown,
    AdminUp,
    /// New parameters (config reload). The profile of a session never
    /// changes: the one given here is ignored. In `bfd` an interval change
    /// runs a Poll sequence (RFC 5880 6.8.3).
    Reconfigure(SessionConfig),
}

/// A session's two timers; the driver keeps one deadline per (session, timer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    Transmit,
    Detect,
}

impl Timer {
    pub fn label(self) -> &'static str {
        match self {
            Timer::Transmit => "transmit",
            Timer::Detect => "detect",
        }
    }
}

/// Why a session changed state (the `reason` label of the transitions metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Down -> Init, Down/Init -> Up: the three-way handshake advanced.
    Handshake,
    /// No valid packet for a detection time.
    Timeout,
    /// The peer said Down.
    RemoteDown,
    /// The peer said AdminDown.
    RemoteAdmin,
    /// Local administrative disable.
    AdminDown,
    /// Local administrative enable (AdminDown -> Down).
    AdminUp,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::Handshake => "handshake",
            Reason::Timeout => "timeout",
            Reason::RemoteDown => "remote_down",
            Reason::RemoteAdmin => "remote_admin",
            Reason::AdminDown => "admin_down",
            Reason::AdminUp => "admin_up",
        }
    }

    /// The diagnostic code we send after this transition (`bfd` only).
    pub fn diag(self) -> Diag {
        match self {
            Reason::Handshake | Reason::AdminUp => Diag::None,
            Reason::Timeout => Diag::ControlDetectionTimeExpired,
            // RFC 5880 6.8.6 uses 3 for a peer's AdminDown as well as Down.
            Reason::RemoteDown | Reason::RemoteAdmin => Diag::NeighborSignaledSessionDown,
            Reason::AdminDown => Diag::AdministrativelyDown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub reason: Reason,
}

/// What to do with the routes that depend on the session. Withdraw may be
/// emitted for a route that is not installed (AdminDown from Init): the
/// route writer ignores "no such route". Per-route `no_uninstall` is the
/// caller's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAction {
    Install,
    Withdraw,
}

/// Why a received packet was not accepted (the `reason` label of the
/// received-invalid counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// My Discriminator is 0 (the codecs drop it first; checked again here).
    ZeroMyDiscriminator,
    /// Detect Mult is 0 (likewise).
    ZeroDetectMult,
    /// Your Discriminator is non-zero and not ours.
    UnknownDiscriminator,
    /// `bfd`: Your Discriminator is 0 while the state is Init or Up (RFC
    /// 5880 6.8.6).
    ZeroYourDiscriminator,
    /// We are locally AdminDown.
    LocalAdminDown,
    /// `doublezero`: a Down within one detection time of our going Up,
    /// left over from the peer's previous incarnation.
    StaleDown,
    /// Authentication is in use and the packet carries no sequence number
    /// (the driver drops unauthenticated packets first; checked again here).
    AuthMissing,
    /// The sequence number is outside the window after the last accepted
    /// one (RFC 5880 6.7.3, 6.7.4): a replay, or too many packets lost.
    AuthSequence,
}

impl DropReason {
    pub fn label(self) -> &'static str {
        match self {
            DropReason::ZeroMyDiscriminator => "zero_my_discriminator",
            DropReason::ZeroDetectMult => "zero_detect_mult",
            DropReason::UnknownDiscriminator => "unknown_discriminator",
            DropReason::ZeroYourDiscriminator => "zero_your_discriminator",
            DropReason::LocalAdminDown => "local_admin_down",
            DropReason::StaleDown => "stale_down",
            DropReason::AuthMissing => "auth_missing",
            DropReason::AuthSequence => "auth_sequence",
        }
    }
}

/// What the driver must do after [`Session::new`] or [`Session::process`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub transition: Option<Transition>,
    /// At most one packet per call: a state change and a Final share it.
    pub send: Option<Control>,
    /// The deadline each timer must have after this call (`None`: not
    /// armed, cancel it). Always both timers; an unchanged deadline may be
    /// left alone.
    pub timers: [(Timer, Option<Instant>); 2],
    pub routes: Option<RouteAction>,
    pub dropped: Option<DropReason>,
    /// The peer's discriminator changed (it restarted); adopted in place.
    pub peer_restarted: bool,
}

impl Output {
    pub(super) fn empty() -> Output {
        Output {
            transition: None,
            send: None,
            timers: [(Timer::Transmit, None), (Timer::Detect, None)],
            routes: None,
            dropped: None,
            peer_restarted: false,
        }
    }

    /// The deadline of one timer after this call.
    pub fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.timers.iter().find(|(t, _)| *t == timer).and_then(|(_, at)| *at)
    }
}
