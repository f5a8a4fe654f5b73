//! One neighbor's BGP session as a state machine (RFC 4271 8), sans-IO:
//! [`Session::handle`] takes an event and the time, and returns the actions
//! the caller carries out (send, connect, close, hand an UPDATE to the RIB).
//! Nothing here reads a clock, a socket or the kernel.
//!
//! | state | event | next, and what is done |
//! |---|---|---|
//! | Idle | ManualStart, or the restart delay ran out | Connect (connect) / Active when passive |
//! | Connect | TCP up | OpenSent (send OPEN, hold 240 s as 8.2.2 suggests) |
//! | Connect | TCP fails | Active, wait for ConnectRetry |
//! | Connect, Active | ConnectRetry expires | Connect (connect again; back-off doubles, capped) |
//! | Active | TCP up (the peer's connection) | OpenSent (send OPEN) |
//! | OpenSent | OPEN accepted (open.rs) | OpenConfirm (send KEEPALIVE) |
//! | OpenSent | OPEN refused | Idle (send OPEN Message Error) |
//! | OpenConfirm | KEEPALIVE | Established (SessionUp, End-of-RIB per family) |
//! | Established | KEEPALIVE, UPDATE, ROUTE-REFRESH | restart hold timer; UPDATE to the RIB |
//! | Established | malformed UPDATE, reset verdict (update.rs) | Idle (UPDATE Message Error, SessionDown) |
//! | OpenSent/OpenConfirm/Established | unexpected message | Idle (FSM Error, RFC 6608 subcode by state) |
//! | any with a connection | hold timer expires | Idle (Hold Timer Expired) |
//! | any with a connection | NOTIFICATION received | Idle |
//! | Established | TCP fails | Idle (SessionDown, graceful when the peer does graceful restart) |
//! | Established | MaxPrefixesExceeded (from the RIB) | Idle for `max_prefixes_idle` (Cease 1) |
//! | any | ManualStop / AdminReset | Idle (Cease 2 / Cease 4; reset restarts) |
//!
//! Timers are deadlines kept here, not timer actions: every KEEPALIVE and
//! UPDATE restarts the hold timer, and a million UPDATEs must not become a
//! million timer actions. The caller sleeps until [`Session::next_deadline`]
//! and then hands in [`Event::Timer`]. DelayOpen and connection collision
//! (two TCP connections to one peer) are not handled here: the caller
//! keeps one connection per neighbor and closes any second one.

use super::message::{self, Kind, Notification};
use super::open::{self, Local, Negotiated};
use super::update::{self, Update};
use crate::route::Family;
use netgauze_bgp_pkt::notification::{
    BgpNotificationMessage, CeaseError, FiniteStateMachineError, HoldTimerExpiredError,
};
use std::fmt;
use std::time::{Duration, Instant};

/// RFC 4271 8.2.2: the hold timer while waiting for the peer's OPEN.
pub const OPEN_HOLD_TIME: Duration = Duration::from_secs(240);

/// A neighbor's session parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    pub local: Local,
    /// Never connect: wait for the peer's connection.
    pub passive: bool,
    /// After Cease "maximum number of prefixes reached".
    pub max_prefixes_idle: Duration,
    /// The first delay before connecting again; doubles on every failure
    /// up to `retry_max`, and is back at `retry_min` once Established.
    pub retry_min: Duration,
    pub retry_max: Duration,
}

impl SessionConfig {
    /// From a validated `[[bgp.neighbor]]`.
    pub fn new(bgp: &crate::config::BgpConfig, n: &crate::config::NeighborConfig) -> SessionConfig {
        SessionConfig {
            local: Local {
                local_as: bgp.local_as,
                router_id: bgp.router_id,
                remote_as: n.remote_as,
                // Validated to fit 0-65535.
                hold_time: u16::try_from(n.hold_time.as_secs()).unwrap_or(u16::MAX),
                families: vec![Family::V4, Family::V6],
                graceful_restart: n.graceful_restart,
                restart_time_max: n.restart_time_max,
            },
            passive: n.passive,
            max_prefixes_idle: n.max_prefixes_idle,
            // RFC 4271 suggests 120 s for ConnectRetryTime; starting lower
            // gets a session up quickly after a peer's short outage.
            retry_min: Duration::from_secs(5),
            retry_max: Duration::from_secs(120),
        }
    }
}

/// RFC 4271 8.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Connect => "connect",
            State::Active => "active",
            State::OpenSent => "opensent",
            State::OpenConfirm => "openconfirm",
            State::Established => "established",
        }
    }
}

/// What happens to a session.
#[derive(Debug)]
pub enum Event<'a> {
    ManualStart,
    /// `guardian bgp` stop, or the neighbor left the configuration.
    ManualStop,
    /// `guardian bgp reset`: close and start again at once.
    AdminReset,
    /// Our connection succeeded, or we accepted the peer's.
    TcpConnectionConfirmed,
    TcpConnectionFails,
    /// One whole message, as [`message::frame`] cut it from the stream.
    Message(&'a [u8]),
    /// [`message::frame`] refused the stream: send this and close.
    FramingError(Notification),
    /// The RIB counted more prefixes than `max_prefixes`.
    MaxPrefixesExceeded,
    /// [`Session::next_deadline`] has passed.
    Timer,
}

/// What the caller does, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a TCP connection to the neighbor.
    Connect,
    /// Close the connection (after sending what came before).
    Close,
    Send(Vec<u8>),
    SessionUp(Negotiated),
    /// The session left Established. `graceful`: the peer does graceful
    /// restart and the session ended without a NOTIFICATION, so its routes
    /// stay as stale (RFC 4724 4.2) for the families of `SessionUp`'s
    /// capabilities.
    SessionDown {
        reason: DownReason,
        graceful: bool,
    },
    /// An UPDATE for the RIB.
    Update(Update),
}

/// Why a session went down (or never came up), for logs and `guardian bgp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    HoldTimerExpired,
    NotificationSent { code: u8, subcode: u8 },
    NotificationReceived { code: u8, subcode: u8 },
    ConnectionLost,
    MaxPrefixes,
    Stopped,
    Reset,
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownReason::HoldTimerExpired => f.write_str("hold timer expired"),
            DownReason::NotificationSent { code, subcode } => {
                write!(f, "sent NOTIFICATION {}", message::describe(*code, *subcode))
            }
            DownReason::NotificationReceived { code, subcode } => {
                write!(f, "received NOTIFICATION {}", message::describe(*code, *subcode))
            }
            DownReason::ConnectionLost => f.write_str("connection lost"),
            DownReason::MaxPrefixes => f.write_str("maximum number of prefixes reached"),
            DownReason::Stopped => f.write_str("stopped by the administrator"),
            DownReason::Reset => f.write_str("reset by the administrator"),
        }
    }
}

/// One neighbor's session.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    /// Started and not stopped: failures restart it after the back-off.
    started: bool,
    backoff: Duration,
    connect_retry: Option<Instant>,
    hold: Option<Instant>,
    keepalive: Option<Instant>,
    /// When the session starts again by itself (RFC 4271's IdleHoldTimer).
    restart: Option<Instant>,
    negotiated: Option<Negotiated>,
    last_error: Option<DownReason>,
}

impl Session {
    pub fn new(config: SessionConfig) -> Session {
        let backoff = config.retry_min;
        Session {
            config,
            state: State::Idle,
            started: false,
            backoff,
            connect_retry: None,
            hold: None,
            keepalive: None,
            restart: None,
            negotiated: None,
            last_error: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// What both sides agreed on, while OpenConfirm or Established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// Why the session last went down or failed to come up.
    pub fn last_error(&self) -> Option<&DownReason> {
        self.last_error.as_ref()
    }

    /// When the caller must hand in [`Event::Timer`] next.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.connect_retry, self.hold, self.keepalive, self.restart].into_iter().flatten().min()
    }

    pub fn handle(&mut self, event: Event<'_>, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::ManualStart => {
                if self.state == State::Idle {
                    self.started = true;
                    self.start(now, &mut out);
                }
            }
            Event::ManualStop => {
                self.started = false;
                let cease = CeaseError::AdministrativeShutdown { value: Box::new([]) };
                self.stop(now, &mut out, Some(BgpNotificationMessage::CeaseError(cease)), DownReason::Stopped, None);
            }
            Event::AdminReset => {
                let cease = CeaseError::AdministrativeReset { value: Box::new([]) };
                let after = self.started.then_some(Duration::ZERO);
                self.stop(now, &mut out, Some(BgpNotificationMessage::CeaseError(cease)), DownReason::Reset, after);
                self.backoff = self.config.retry_min;
            }
            Event::TcpConnectionConfirmed => self.connected(now, &mut out),
            Event::TcpConnectionFails => self.connection_failed(now, &mut out),
            Event::Message(msg) => self.message(msg, now, &mut out),
            Event::FramingError(n) => {
                if self.has_connection() {
                    self.fail_with(now, &mut out, n);
                }
            }
            Event::MaxPrefixesExceeded => {
                if self.state == State::Established {
                    let cease = CeaseError::MaximumNumberOfPrefixesReached { value: Box::new([]) };
                    let idle = Some(self.config.max_prefixes_idle);
                    let n = Some(BgpNotificationMessage::CeaseError(cease));
                    self.stop(now, &mut out, n, DownReason::MaxPrefixes, idle);
                }
            }
            Event::Timer => self.timers(now, &mut out),
        }
        out
    }

    fn has_connection(&self) -> bool {
        matches!(self.state, State::OpenSent | State::OpenConfirm | State::Established)
    }

    fn start(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.restart = None;
        if self.config.passive {
            self.state = State::Active;
        } else {
            self.state = State::Connect;
            self.connect_retry = Some(now + self.backoff);
            out.push(Action::Connect);
        }
    }

    fn connected(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !matches!(self.state, State::Connect | State::Active) {
            // A second connection, or one while stopped: not ours to take.
            return;
        }
        self.connect_retry = None;
        let l = &self.config.local;
        let params = message::OpenParams {
            local_as: l.local_as,
            hold_time: l.hold_time,
            router_id: l.router_id,
            families: l.families.clone(),
            graceful_restart: l.graceful_restart,
        };
        out.push(Action::Send(message::encode(&message::open(&params))));
        self.hold = Some(now + OPEN_HOLD_TIME);
        self.state = State::OpenSent;
    }

    fn connection_failed(&mut self, now: Instant, out: &mut Vec<Action>) {
        match self.state {
            State::Idle | State::Active => {}
            State::Connect | State::OpenSent => {
                // Wait for ConnectRetry, then try again (8.2.2).
                self.hold = None;
                self.keepalive = None;
                self.state = State::Active;
                self.connect_retry = Some(now + self.bump_backoff());
                if self.config.passive {
                    self.connect_retry = None;
                }
            }
            State::OpenConfirm => self.stop(now, out, None, DownReason::ConnectionLost, None),
            State::Established => {
                // RFC 4724 4.2: the end of the TCP session, not a
                // NOTIFICATION, is what a restarting peer looks like.
                let graceful = self
                    .negotiated
                    .as_ref()
                    .and_then(|n| n.graceful_restart.as_ref())
                    .is_some_and(|gr| !gr.families.is_empty());
                self.last_error = Some(DownReason::ConnectionLost);
                out.push(Action::Close);
                out.push(Action::SessionDown { reason: DownReason::ConnectionLost, graceful });
                self.enter_idle(now, None);
            }
        }
    }

    fn message(&mut self, msg: &[u8], now: Instant, out: &mut Vec<Action>) {
        if !self.has_connection() {
            return;
        }
        let kind = match message::frame(msg) {
            Ok(Some((kind, len))) if len == msg.len() => kind,
            Ok(_) => {
                let error = netgauze_bgp_pkt::notification::MessageHeaderError::BadMessageLength {
                    value: Box::new([msg.get(16).copied().unwrap_or(0), msg.get(17).copied().unwrap_or(0)]),
                };
                return self.fail_with(now, out, BgpNotificationMessage::MessageHeaderError(error));
            }
            Err(n) => return self.fail_with(now, out, n),
        };
        if kind == Kind::Notification {
            let received = message::Received::decode(msg);
            let reason = DownReason::NotificationReceived { code: received.code, subcode: received.subcode };
            return self.stop(now, out, None, reason, None);
        }
        match (self.state, kind) {
            (State::OpenSent, Kind::Open) => {
                let negotiated = message::decode_open(msg).and_then(|o| open::negotiate(&o, &self.config.local));
                match negotiated {
                    Err(n) => self.fail_with(now, out, n),
                    Ok(neg) => {
                        out.push(Action::Send(message::keepalive()));
                        self.hold = (!neg.hold_time.is_zero()).then(|| now + neg.hold_time);
                        self.keepalive = (!neg.keepalive.is_zero()).then(|| now + neg.keepalive);
                        self.negotiated = Some(neg);
                        self.state = State::OpenConfirm;
                    }
                }
            }
            (State::OpenConfirm, Kind::Keepalive) => {
                self.restart_hold(now);
                self.state = State::Established;
                self.backoff = self.config.retry_min;
                let neg = self.negotiated.clone().expect("OpenConfirm has negotiated");
                // Nothing to advertise: our initial update is complete.
                for family in &neg.families {
                    out.push(Action::Send(message::end_of_rib(*family)));
                }
                self.restart_keepalive(now);
                out.push(Action::SessionUp(neg));
            }
            (State::Established, Kind::Keepalive | Kind::RouteRefresh) => self.restart_hold(now),
            (State::Established, Kind::Update) => {
                self.restart_hold(now);
                let neg = self.negotiated.as_ref().expect("Established has negotiated");
                let peer = update::Peer { remote_as: neg.peer_as, ibgp: self.config.local.ibgp(), asn4: neg.asn4 };
                match update::decode(msg, peer) {
                    Ok(update) => out.push(Action::Update(update)),
                    Err(n) => self.fail_with(now, out, n),
                }
            }
            (state, _) => {
                // RFC 6608: which state the unexpected message came in.
                let value = Box::new([]);
                let error = match state {
                    State::OpenSent => FiniteStateMachineError::ReceiveUnexpectedMessageInOpenSentState { value },
                    State::OpenConfirm => FiniteStateMachineError::ReceiveUnexpectedMessageInOpenConfirmState { value },
                    _ => FiniteStateMachineError::ReceiveUnexpectedMessageInEstablishedState { value },
                };
                self.fail_with(now, out, BgpNotificationMessage::FiniteStateMachineError(error));
            }
        }
    }

    fn timers(&mut self, now: Instant, out: &mut Vec<Action>) {
        let due = |d: Option<Instant>| d.is_some_and(|d| d <= now);
        if due(self.restart) && self.state == State::Idle {
            self.start(now, out);
            return;
        }
        if due(self.hold) && self.has_connection() {
            let expired = HoldTimerExpiredError::Unspecific { sub_code: 0, value: Box::new([]) };
            let n = BgpNotificationMessage::HoldTimerExpiredError(expired);
            let after = self.started.then(|| self.bump_backoff());
            return self.stop(now, out, Some(n), DownReason::HoldTimerExpired, after);
        }
        if due(self.keepalive) && matches!(self.state, State::OpenConfirm | State::Established) {
            out.push(Action::Send(message::keepalive()));
            self.restart_keepalive(now);
        }
        if due(self.connect_retry) && matches!(self.state, State::Connect | State::Active) {
            if self.state == State::Connect {
                // The attempt took too long: drop it and try again.
                out.push(Action::Close);
            }
            self.state = State::Connect;
            self.connect_retry = Some(now + self.bump_backoff());
            out.push(Action::Connect);
        }
    }

    fn restart_hold(&mut self, now: Instant) {
        if let Some(neg) = &self.negotiated {
            self.hold = (!neg.hold_time.is_zero()).then(|| now + neg.hold_time);
        }
    }

    fn restart_keepalive(&mut self, now: Instant) {
        if let Some(neg) = &self.negotiated {
            self.keepalive = (!neg.keepalive.is_zero()).then(|| now + neg.keepalive);
        }
    }

    /// The current back-off, doubled for next time up to the cap.
    fn bump_backoff(&mut self) -> Duration {
        let now = self.backoff;
        self.backoff = (self.backoff * 2).min(self.config.retry_max);
        now
    }

    /// Sends `n`, closes, and restarts after the back-off.
    fn fail_with(&mut self, now: Instant, out: &mut Vec<Action>, n: Notification) {
        let (code, subcode) = message::codes(&n);
        let after = self.started.then(|| self.bump_backoff());
        self.stop(now, out, Some(n), DownReason::NotificationSent { code, subcode }, after);
    }

    /// Leaves any state for Idle: the NOTIFICATION (when there is a
    /// connection to send it on), Close, SessionDown when it was
    /// Established, and a restart `after` this long if started.
    fn stop(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
        n: Option<Notification>,
        reason: DownReason,
        after: Option<Duration>,
    ) {
        if self.has_connection() {
            if let Some(n) = n {
                out.push(Action::Send(message::notification(&n)));
            }
        }
        if self.state != State::Idle {
            out.push(Action::Close);
        }
        if self.state == State::Established {
            out.push(Action::SessionDown { reason: reason.clone(), graceful: false });
        }
        if self.state != State::Idle || matches!(reason, DownReason::Stopped) {
            self.last_error = Some(reason);
        }
        let after = if self.started { after.or_else(|| Some(self.bump_backoff())) } else { None };
        self.enter_idle(now, after);
    }

    fn enter_idle(&mut self, now: Instant, restart_after: Option<Duration>) {
        self.state = State::Idle;
        self.connect_retry = None;
        self.hold = None;
        self.keepalive = None;
        self.negotiated = None;
        self.restart = match restart_after {
            Some(d) => Some(now + d),
            None if self.started => Some(now + self.bump_backoff()),
            None => None,
        };
    }
}

#[cfg(test)]
mod tests;
