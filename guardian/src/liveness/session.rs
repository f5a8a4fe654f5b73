//! The sans-IO liveness session state machine.
//!
//! One [`Session`] per (profile, peer address, local address, interface).
//! The driver feeds it [`Input`]s with the current time and carries out the
//! [`Output`]: send a packet, (re)arm or cancel the session's two timers,
//! install or withdraw the routes that depend on it, count drops and
//! transitions. Nothing here reads a clock, a socket or the kernel.
//!
//! Both wire profiles drive this one machine. `doublezero` follows
//! `docs/liveness.md`; `bfd` follows RFC 5880 where the two differ:
//!
//! | rule | `doublezero` | `bfd` |
//! |---|---|---|
//! | state table | `docs/liveness.md` | RFC 5880 6.8.6 |
//! | peer Down while Up | Down, unless Up < one detection time (stale) | Down (diag 3) |
//! | peer Down while Init | Down | stays Init |
//! | detection time | local mult x RX interval | remote mult x RX interval (6.8.4) |
//! | jitter | +/-10 % | -0..25 %, -10..25 % with mult 1 (6.8.7) |
//! | rate while not Up | configured, doubling while Down | at least 1 s (6.8.3), no backoff |
//! | parameter change | applied at once | Poll sequence (6.5, 6.8.3) |
//! | local AdminDown | one AdminDown packet, then silence | AdminDown at the slow rate |
//! | detection expiry | peer discriminator kept | peer discriminator reset (6.8.1) |

use std::time::{Duration, Instant};

use fastrand::Rng;

use super::packet::auth::AuthType;
use super::packet::{Control, Diag, Profile, SenderVersion, State};
pub use super::session_types::{DropReason, Input, Output, Reason, RouteAction, SessionConfig, Timer, Transition};
use super::timers::{self, Backoff};

/// One liveness session. See the module documentation.
#[derive(Debug)]
pub struct Session {
    cfg: SessionConfig,
    local_discriminator: u32,
    rng: Rng,
    state: State,
    local_diag: Diag,

    // What the peer last told us (RFC 5880 6.8.1 bfd.Remote*).
    remote_discriminator: u32,
    remote_state: State,
    remote_diag: Diag,
    remote_detect_mult: Option<u8>,
    /// Clamped; `None` before the first packet.
    remote_desired_tx: Option<Duration>,
    /// Clamped; `None` when the peer asked for no periodic packets (0).
    remote_min_rx: Option<Duration>,
    peer_passive: bool,
    peer_version: Option<SenderVersion>,

    // Our interval parameters: what we advertise (bfd.DesiredMinTxInterval,
    // bfd.RequiredMinRxInterval) and what we use, which in `bfd` may lag the
    // advertised values until a Poll sequence ends (RFC 5880 6.8.3).
    adv_tx: Duration,
    adv_rx: Duration,
    tx_in_use: Duration,
    rx_in_use: Duration,
    /// `bfd`: a Poll sequence is in progress (P set until a Final arrives).
    polling: bool,
    backoff: Backoff,

    /// The last paced (periodic or state-change) transmission. A Final is
    /// not paced and does not count.
    last_tx: Option<Instant>,
    last_rx: Option<Instant>,
    tx_deadline: Option<Instant>,
    detect_deadline: Option<Instant>,
    up_since: Option<Instant>,
    last_down_reason: Option<Reason>,

    // Authentication sequence numbers (RFC 5880 6.8.1 bfd.RcvAuthSeq,
    // bfd.XmitAuthSeq, bfd.AuthSeqKnown); unused without `cfg.auth`.
    rcv_auth_seq: u32,
    auth_seq_known: bool,
    xmit_auth_seq: u32,
}

impl Session {
    /// A new session: Down, sending at once; detection is armed by the
    /// peer's first valid packet. `local_discriminator` must be non-zero
    /// and unique among the daemon's sessions; `seed` seeds the jitter.
    pub fn new(cfg: SessionConfig, local_discriminator: u32, seed: u64, now: Instant) -> (Session, Output) {
        debug_assert_ne!(local_discriminator, 0, "a discriminator is never 0");
        let mut session = Session {
            cfg,
            local_discriminator,
            rng: Rng::with_seed(seed),
            state: State::Down,
            local_diag: Diag::None,
            remote_discriminator: 0,
            remote_state: State::Down,
            remote_diag: Diag::None,
            remote_detect_mult: None,
            remote_desired_tx: None,
            remote_min_rx: Some(timers::REMOTE_MIN_RX_INITIAL),
            peer_passive: false,
            peer_version: None,
            adv_tx: Duration::ZERO,
            adv_rx: Duration::ZERO,
            tx_in_use: Duration::ZERO,
            rx_in_use: Duration::ZERO,
            polling: false,
            backoff: Backoff::new(),
            last_tx: None,
            last_rx: None,
            tx_deadline: None,
            detect_deadline: None,
            up_since: None,
            last_down_reason: None,
            rcv_auth_seq: 0,
            auth_seq_known: false,
            xmit_auth_seq: 0,
        };
        // 6.8.1: initialized to a random 32-bit value.
        session.xmit_auth_seq = session.rng.u32(..);
        (session.adv_tx, session.adv_rx) = session.target_parameters();
        (session.tx_in_use, session.rx_in_use) = (session.adv_tx, session.adv_rx);
        let mut out = Output::empty();
        session.send_paced(now, &mut out);
        out.timers = session.timers();
        (session, out)
    }

    pub fn process(&mut self, input: Input<'_>, now: Instant) -> Output {
        let mut out = Output::empty();
        match input {
            Input::Received(packet) => self.received(packet, now, &mut out),
            Input::TimerExpired(Timer::Transmit) => self.transmit_due(now, &mut out),
            Input::TimerExpired(Timer::Detect) => self.detect_due(now, &mut out),
            Input::AdminDown => {
                if self.state != State::AdminDown {
                    // The peer is ignored from now on: nothing to detect.
                    self.detect_deadline = None;
                    self.transition(State::AdminDown, Reason::AdminDown, now, &mut out);
                }
            }
            Input::AdminUp => {
                if self.state == State::AdminDown {
                    // A fresh start: what the peer said before is stale.
                    self.reset_remote();
                    self.transition(State::Down, Reason::AdminUp, now, &mut out);
                }
            }
            Input::Reconfigure(cfg) => self.reconfigure(cfg, now),
        }
        out.timers = self.timers();
        out
    }

    // --- receive (RFC 5880 6.8.6; docs/liveness.md "Session state machine") ---

    fn received(&mut self, packet: &Control, now: Instant, out: &mut Output) {
        // 6.8.6 ends a Poll sequence on a Final before it discards packets
        // in AdminDown: without this, the Poll started by the slow-down on
        // entering AdminDown would be repeated in every packet forever.
        if self.state == State::AdminDown
            && self.polling
            && packet.final_
            && packet.your_discriminator == self.local_discriminator
        {
            self.poll_finished();
        }
        if let Some(reason) = self.drop_reason(packet, now) {
            out.dropped = Some(reason);
            return;
        }
        let schedule = self.tx_schedule();
        let new_discriminator = self.remote_discriminator != 0 && self.remote_discriminator != packet.my_discriminator;
        let was_up = self.state == State::Up;
        self.learn(packet, now);
        if self.cfg.profile == Profile::Bfd && self.polling && packet.final_ {
            self.poll_finished();
        }
        match self.next_state(packet) {
            Some((to, reason)) => self.transition(to, reason, now, out),
            None if self.tx_schedule() != schedule => self.reschedule(now),
            None => {}
        }
        // Only news while the session rides it out: a packet that takes the
        // session Down, or one received outside Up, is a state change (or
        // a handshake) of its own, not a restart kept up.
        out.peer_restarted = new_discriminator && was_up && self.state == State::Up;
        // Every accepted packet restarts detection (the last step of 6.8.6),
        // with the detection time as it stands after the packet.
        self.detect_deadline = Some(now + self.detection_time());
        if self.cfg.profile == Profile::Bfd && packet.poll {
            // 6.8.7: a Final goes out at once, regardless of pacing; if a
            // state change is being sent now, the same packet carries it.
            match &mut out.send {
                Some(sent) => {
                    sent.poll = false;
                    sent.final_ = true;
                }
                None => out.send = Some(self.packet(true)),
            }
        }
    }

    fn drop_reason(&self, packet: &Control, now: Instant) -> Option<DropReason> {
        if packet.my_discriminator == 0 {
            return Some(DropReason::ZeroMyDiscriminator);
        }
        if packet.detect_mult == 0 {
            return Some(DropReason::ZeroDetectMult);
        }
        if packet.your_discriminator != 0 && packet.your_discriminator != self.local_discriminator {
            return Some(DropReason::UnknownDiscriminator);
        }
        if self.cfg.profile == Profile::Bfd
            && packet.your_discriminator == 0
            && matches!(packet.state, State::Init | State::Up)
        {
            return Some(DropReason::ZeroYourDiscriminator);
        }
        if let Some(auth) = self.cfg.auth {
            let Some(seq) = packet.auth_sequence else {
                return Some(DropReason::AuthMissing);
            };
            if self.auth_seq_known(now) && !in_window(auth, self.rcv_auth_seq, seq, packet.detect_mult) {
                return Some(DropReason::AuthSequence);
            }
        }
        if self.state == State::AdminDown {
            return Some(DropReason::LocalAdminDown);
        }
        if self.cfg.profile == Profile::DoubleZero && self.state == State::Up && packet.state == State::Down {
            let up_for = self.up_since.map_or(Duration::MAX, |since| now.saturating_duration_since(since));
            if up_for < self.detection_time() {
                // Not even a sign of life: it may carry the peer's previous
                // discriminator, which must not replace the current one.
                return Some(DropReason::StaleDown);
            }
        }
        None
    }

    fn learn(&mut self, packet: &Control, now: Instant) {
        let (floor, ceil) = (self.cfg.min_tx_floor, self.cfg.max_tx_ceil);
        self.remote_discriminator = packet.my_discriminator;
        self.remote_state = packet.state;
        self.remote_diag = packet.diag;
        self.remote_detect_mult = Some(packet.detect_mult);
        // The ceiling keeps a peer from stretching our detection time to
        // hours; a peer really sending slower than it goes Down.
        let desired_tx = timers::from_wire_us(packet.desired_min_tx_us);
        self.remote_desired_tx = Some(timers::clamp_peer_interval(desired_tx, floor, ceil));
        // 0: send no periodic packets (RFC 5880 6.8.7), in both profiles.
        self.remote_min_rx = match packet.required_min_rx_us {
            0 => None,
            us => {
                let rx = timers::from_wire_us(us);
                Some(match self.cfg.profile {
                    Profile::DoubleZero => timers::clamp_peer_interval(rx, floor, ceil),
                    // Sending faster than the peer's required RX would break
                    // RFC 5880 6.8.7: only the floor applies.
                    Profile::Bfd => rx.max(floor),
                })
            }
        };
        self.peer_passive = packet.passive;
        if packet.sender_version.is_some() {
            self.peer_version = packet.sender_version;
        }
        if let (Some(_), Some(seq)) = (self.cfg.auth, packet.auth_sequence) {
            self.rcv_auth_seq = seq;
            self.auth_seq_known = true;
        }
        self.last_rx = Some(now);
    }

    /// 6.8.1: bfd.AuthSeqKnown returns to zero once no packet has been
    /// accepted for twice the detection time (a restarted peer starts from
    /// a new random number). Taken lazily, when the next packet arrives.
    fn auth_seq_known(&self, now: Instant) -> bool {
        let quiet = self.last_rx.is_none_or(|at| now.saturating_duration_since(at) >= 2 * self.detection_time());
        self.auth_seq_known && !quiet
    }

    /// The state table; `None`: no change. Packets the table never sees
    /// (local AdminDown, stale Down, ...) were dropped before.
    fn next_state(&self, packet: &Control) -> Option<(State, Reason)> {
        use State::*;
        let echoes_us = packet.your_discriminator != 0 && packet.your_discriminator == self.local_discriminator;
        match self.cfg.profile {
            // docs/liveness.md "Session state machine".
            Profile::DoubleZero => match (self.state, packet.state) {
                (AdminDown, _) | (Down, AdminDown) => None,
                (_, AdminDown) => Some((Down, Reason::RemoteAdmin)),
                (Init | Up, Down) => Some((Down, Reason::RemoteDown)),
                (Down, Init | Up) if echoes_us => Some((Up, Reason::Handshake)),
                (Down, _) => Some((Init, Reason::Handshake)),
                (Init, Init | Up) if echoes_us => Some((Up, Reason::Handshake)),
                _ => None,
            },
            // RFC 5880 6.8.6. Init + Down stays Init (the RFC's diagram has
            // DOWN as a self-loop on Init), unlike doublezero.
            Profile::Bfd => match (self.state, packet.state) {
                (AdminDown, _) | (Down, AdminDown) => None,
                (_, AdminDown) => Some((Down, Reason::RemoteAdmin)),
                (Down, Down) => Some((Init, Reason::Handshake)),
                (Down, Init) | (Init, Init | Up) => Some((Up, Reason::Handshake)),
                (Up, Down) => Some((Down, Reason::RemoteDown)),
                _ => None,
            },
        }
    }

    // --- timers ---

    fn transmit_due(&mut self, now: Instant, out: &mut Output) {
        if self.tx_deadline.is_some_and(|at| at <= now) {
            self.send_paced(now, out);
        }
    }

    fn detect_due(&mut self, now: Instant, out: &mut Output) {
        if self.detect_deadline.is_none_or(|at| at > now) {
            return;
        }
        self.detect_deadline = None;
        let schedule = self.tx_schedule();
        if self.cfg.profile == Profile::Bfd {
            // RFC 5880 6.8.1: bfd.RemoteDiscr is reset when a detection
            // time passes without a packet (and 6.8.18: RemoteMinRxInterval
            // too). doublezerod keeps the peer's discriminator; so do we in
            // that profile: a restarted peer is relearned from its packets.
            self.reset_remote();
        }
        if matches!(self.state, State::Init | State::Up) {
            self.transition(State::Down, Reason::Timeout, now, out);
        } else if self.tx_schedule() != schedule {
            self.reschedule(now);
        }
    }

    // --- transitions ---

    fn transition(&mut self, to: State, reason: Reason, now: Instant, out: &mut Output) {
        let from = self.state;
        let interval_before = self.nominal_tx_interval();
        self.state = to;
        self.local_diag = reason.diag();
        out.transition = Some(Transition { from, to, reason });
        out.routes = self.route_action(from, to);
        if to == State::Up {
            self.up_since = Some(now);
        } else if from == State::Up {
            self.up_since = None;
        }
        // AdminDown -> Down (admin-up) is the way back up, not a way down:
        // the reason the session went down stays what it was.
        if matches!(to, State::Down | State::AdminDown) && reason != Reason::AdminUp {
            self.last_down_reason = Some(reason);
        }
        self.backoff.reset();
        self.retarget_parameters();
        self.reschedule(now);
        // A state change goes out at once, but never sooner than last TX +
        // TX interval: a peer that flips our state on every packet cannot
        // drive our send rate. The interval is the shorter of the old and
        // the new one: leaving a fast Up for the slow rate of Down must not
        // hold the news back for a second while the peer, still expecting
        // the fast rate, times out; and the old rate was negotiated anyway.
        let interval = interval_before.min(self.nominal_tx_interval());
        let earliest = self.last_tx.map_or(now, |at| at + interval);
        if earliest <= now {
            self.send_paced(now, out);
        } else {
            self.tx_deadline = Some(self.tx_deadline.map_or(earliest, |at| at.min(earliest)));
        }
    }

    /// The mode table of `docs/liveness.md` ("Route policy").
    fn route_action(&self, from: State, to: State) -> Option<RouteAction> {
        if self.cfg.passive {
            return None; // installed at registration, never withdrawn by liveness
        }
        if to == State::Up {
            return Some(RouteAction::Install);
        }
        let leaves_up = from == State::Up || to == State::AdminDown;
        if leaves_up && !(self.cfg.honour_peer_passive && self.peer_passive) {
            return Some(RouteAction::Withdraw);
        }
        None
    }

    fn reset_remote(&mut self) {
        self.remote_discriminator = 0;
        self.remote_state = State::Down;
        self.remote_detect_mult = None;
        self.remote_desired_tx = None;
        self.remote_min_rx = Some(timers::REMOTE_MIN_RX_INITIAL);
    }

    // --- interval parameters and the bfd Poll sequence ---

    /// The (desired TX, required RX) we want to advertise now.
    fn target_parameters(&self) -> (Duration, Duration) {
        let tx = match self.cfg.profile {
            Profile::Bfd if self.state != State::Up => {
                timers::startup_tx_interval(Profile::Bfd, self.cfg.desired_min_tx)
            }
            _ => self.cfg.desired_min_tx,
        };
        (tx, self.cfg.required_min_rx)
    }

    fn retarget_parameters(&mut self) {
        let (tx, rx) = self.target_parameters();
        if (tx, rx) == (self.adv_tx, self.adv_rx) {
            return;
        }
        match self.cfg.profile {
            // The doublezero packet has no Poll bit: changes apply at once.
            Profile::DoubleZero => {
                (self.adv_tx, self.adv_rx) = (tx, rx);
                (self.tx_in_use, self.rx_in_use) = (tx, rx);
            }
            // RFC 5880 6.8.3: any change starts a Poll sequence; the
            // constraints on using the new values only apply while Up.
            Profile::Bfd if self.state != State::Up => {
                (self.adv_tx, self.adv_rx) = (tx, rx);
                (self.tx_in_use, self.rx_in_use) = (tx, rx);
                self.polling = true;
            }
            Profile::Bfd => {
                if self.polling {
                    // One Poll sequence at a time: this change is picked up
                    // when the Final of the current one arrives.
                    return;
                }
                (self.adv_tx, self.adv_rx) = (tx, rx);
                self.polling = true;
                // 6.8.3: a slower TX waits for the Final, so that the peer
                // has lengthened its detection time first. A faster TX is
                // used at once: the peer shortens its detection time as
                // soon as it sees the advertised value, and waiting for a
                // Final that may be lost would let it time out.
                if tx < self.tx_in_use {
                    self.tx_in_use = tx;
                }
                // 6.8.3: a reduced required RX keeps the old value in our
                // detection time until the Final (the peer must be sending
                // faster first); a larger one applies at once, since the
                // peer may slow down as soon as it sees it.
                if rx > self.rx_in_use {
                    self.rx_in_use = rx;
                }
            }
        }
    }

    /// A Final ended our Poll sequence: the advertised values are now in
    /// use, and a change that waited for this one starts its own.
    fn poll_finished(&mut self) {
        self.polling = false;
        (self.tx_in_use, self.rx_in_use) = (self.adv_tx, self.adv_rx);
        self.retarget_parameters();
    }

    fn reconfigure(&mut self, cfg: SessionConfig, now: Instant) {
        let schedule = self.tx_schedule();
        if cfg.auth != self.cfg.auth {
            // Another type or none: the peer's numbering starts over for us.
            self.auth_seq_known = false;
        }
        self.cfg = SessionConfig { profile: self.cfg.profile, ..cfg };
        self.retarget_parameters();
        if self.tx_schedule() != schedule {
            self.reschedule(now);
        }
    }

    // --- transmission ---

    /// The TX interval before jitter: max(desired TX in use, peer required
    /// RX), doubled while Down in `doublezero`.
    fn nominal_tx_interval(&self) -> Duration {
        let base = timers::tx_interval(self.tx_in_use, self.remote_min_rx.unwrap_or(Duration::ZERO));
        match (self.cfg.profile, self.state) {
            (Profile::DoubleZero, State::Down) => self.backoff.interval(base, self.cfg.backoff_max),
            _ => base,
        }
    }

    fn periodic(&self) -> bool {
        // `doublezero` AdminDown: one packet, then silence (docs/liveness.md).
        // `bfd` AdminDown keeps sending at the slow rate instead (RFC 5880
        // 6.8.16 asks for at least a detection time, allows forever): a
        // single lost packet would otherwise leave the peer waiting for its
        // detection time instead of learning at once that we are down.
        let silenced = self.cfg.profile == Profile::DoubleZero && self.state == State::AdminDown;
        self.remote_min_rx.is_some() && !silenced
    }

    /// What the periodic schedule depends on; a change reschedules it.
    fn tx_schedule(&self) -> (Duration, bool) {
        (self.nominal_tx_interval(), self.periodic())
    }

    fn jittered(&mut self, nominal: Duration) -> Duration {
        timers::jittered(self.cfg.profile, nominal, self.cfg.detect_mult, &mut self.rng)
    }

    /// Sends now (a periodic or state-change packet) and schedules the next.
    fn send_paced(&mut self, now: Instant, out: &mut Output) {
        out.send = Some(self.packet(false));
        self.last_tx = Some(now);
        if !self.periodic() {
            self.tx_deadline = None;
            return;
        }
        let interval = self.jittered(self.nominal_tx_interval());
        self.tx_deadline = Some(now + interval);
        if self.cfg.profile == Profile::DoubleZero && self.state == State::Down {
            let base = timers::tx_interval(self.tx_in_use, self.remote_min_rx.unwrap_or(Duration::ZERO));
            self.backoff.after_transmit(base, self.cfg.backoff_max);
        }
    }

    /// Re-draws the next periodic deadline from the last TX after the
    /// interval changed (RFC 5880 6.8.7: recalculated whenever either side
    /// of it changes).
    fn reschedule(&mut self, now: Instant) {
        if !self.periodic() {
            self.tx_deadline = None;
            return;
        }
        let interval = self.jittered(self.nominal_tx_interval());
        self.tx_deadline = Some(self.last_tx.map_or(now, |at| (at + interval).max(now)));
    }

    /// The packet to send now; with authentication, numbered with the next
    /// sequence number (every packet, meticulous or not: the plain variants
    /// allow it, and it keeps a replayed packet out of the meticulous
    /// window either way).
    fn packet(&mut self, final_: bool) -> Control {
        let bfd = self.cfg.profile == Profile::Bfd;
        let mut packet = Control::new(self.state, self.local_discriminator, self.remote_discriminator);
        packet.diag = if bfd { self.local_diag } else { Diag::None };
        // A packet never has both P and F (RFC 5880 6.5).
        packet.poll = bfd && self.polling && !final_;
        packet.final_ = final_;
        packet.detect_mult = self.cfg.detect_mult.max(1);
        packet.desired_min_tx_us = timers::to_wire_us(self.adv_tx);
        packet.required_min_rx_us = timers::to_wire_us(self.adv_rx);
        packet.required_min_echo_rx_us = 0;
        packet.passive = !bfd && self.cfg.passive;
        // The daemon's version is the codec's to fill in.
        packet.sender_version = None;
        if bfd && self.cfg.auth.is_some() {
            packet.auth_sequence = Some(self.xmit_auth_seq);
            self.xmit_auth_seq = self.xmit_auth_seq.wrapping_add(1);
        }
        packet
    }

    /// The packet describing the session as it stands, outside the TX
    /// schedule: the farewell of a session being deleted (after
    /// `Input::AdminDown`), which would otherwise wait for its pacing and
    /// never leave.
    pub fn current_packet(&mut self) -> Control {
        self.packet(false)
    }

    fn timers(&self) -> [(Timer, Option<Instant>); 2] {
        [(Timer::Transmit, self.tx_deadline), (Timer::Detect, self.detect_deadline)]
    }

    // --- accessors (for the driver and `guardian sessions`) ---

    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    pub fn profile(&self) -> Profile {
        self.cfg.profile
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn local_discriminator(&self) -> u32 {
        self.local_discriminator
    }

    /// 0 until the peer's first packet (and, in `bfd`, after a detection
    /// time without one).
    pub fn remote_discriminator(&self) -> u32 {
        self.remote_discriminator
    }

    pub fn remote_state(&self) -> State {
        self.remote_state
    }

    /// The diagnostic we send (`bfd`), the reason of our last change.
    pub fn local_diag(&self) -> Diag {
        self.local_diag
    }

    /// The diagnostic the peer last sent (`bfd`).
    pub fn remote_diag(&self) -> Diag {
        self.remote_diag
    }

    pub fn remote_detect_mult(&self) -> Option<u8> {
        self.remote_detect_mult
    }

    /// The peer advertised passive mode (`doublezero`).
    pub fn peer_passive(&self) -> bool {
        self.peer_passive
    }

    /// The peer's software version (`doublezero`), once it sent one.
    pub fn peer_version(&self) -> Option<SenderVersion> {
        self.peer_version
    }

    /// The reason of the last transition to Down or AdminDown.
    pub fn last_down_reason(&self) -> Option<Reason> {
        self.last_down_reason
    }

    pub fn up_since(&self) -> Option<Instant> {
        self.up_since
    }

    pub fn last_rx(&self) -> Option<Instant> {
        self.last_rx
    }

    pub fn last_tx(&self) -> Option<Instant> {
        self.last_tx
    }

    /// `bfd`: a Poll sequence is waiting for its Final.
    pub fn polling(&self) -> bool {
        self.polling
    }

    /// A timer's current deadline.
    pub fn deadline(&self, timer: Timer) -> Option<Instant> {
        match timer {
            Timer::Transmit => self.tx_deadline,
            Timer::Detect => self.detect_deadline,
        }
    }

    /// The nominal (unjittered) TX interval in use, backoff included.
    pub fn tx_interval(&self) -> Duration {
        self.nominal_tx_interval()
    }

    /// The interval we expect the peer's packets at.
    pub fn rx_interval(&self) -> Duration {
        timers::rx_interval(self.remote_desired_tx.unwrap_or(Duration::ZERO), self.rx_in_use)
    }

    /// How long without a valid packet before Init/Up goes Down: the local
    /// (`doublezero`) or the peer's (`bfd`, RFC 5880 6.8.4) detect
    /// multiplier x [`Self::rx_interval`]. Before the peer's first packet,
    /// `bfd` uses the local multiplier.
    pub fn detection_time(&self) -> Duration {
        let mult = match self.cfg.profile {
            Profile::Bfd => self.remote_detect_mult.unwrap_or(self.cfg.detect_mult),
            Profile::DoubleZero => self.cfg.detect_mult,
        };
        timers::detection_time(mult.max(1), self.rx_interval())
    }

    /// For restart grace: how long a route adopted from the kernel is kept
    /// while this session has not come Up. See
    /// [`timers::startup_detection_time`] for the margin.
    pub fn startup_detection_time(&self) -> Duration {
        let cfg = &self.cfg;
        timers::startup_detection_time(cfg.profile, cfg.desired_min_tx, cfg.required_min_rx, cfg.detect_mult)
    }
}

/// RFC 5880 6.7.3 / 6.7.4: a sequence number is accepted when it lies in
/// `last ..= last + 3 x Detect Mult` (plain keyed) or `last + 1 ..= last +
/// 3 x Detect Mult` (meticulous), in 32-bit circular arithmetic. The
/// multiplier is the packet's own, the sender's: the window is how far its
/// numbering may run ahead while its packets are lost.
fn in_window(auth: AuthType, last: u32, seq: u32, detect_mult: u8) -> bool {
    let ahead = seq.wrapping_sub(last);
    let span = 3 * u32::from(detect_mult);
    let first = u32::from(auth.meticulous());
    (first..=span).contains(&ahead)
}

#[cfg(test)]
mod tests;
