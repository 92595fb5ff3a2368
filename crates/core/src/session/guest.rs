//! A participant's side of a session: waiting for the host, waiting for the host's OK,
//! waiting for the host to share, connecting, live, paused, and the ways it ends (full, ended
//! by the host, host gone, never live, removed, not let in, left).
//!
//! Nothing waits forever without a sentence: no host → "not live" after [`HOST_WAIT_MS`]; a
//! host that does not share → a late notice after [`SHARE_WAIT_MS`]; a connection that does
//! not come up (or does not come back) → a late notice after [`CONNECT_WAIT_MS`]. Waiting for
//! the host's OK has no deadline: the person is told exactly what they wait for.
//!
//! "The host has left" must not be said falsely while signaling reconnects (presence is
//! briefly empty after a Realtime restart, but media flows peer to peer): it needs the host
//! gone from the roster **and** the peer link down, or the host gone for a long grace period.

use super::{RefusalReason, SfuRoute, SignalBody, SignalEnvelope};
use crate::roster::Participant;
use crate::Role;

/// How long a guest waits for a host to appear before saying the session is not live.
pub const HOST_WAIT_MS: u64 = 10_000;
/// How long the host may be missing from the roster while our peer link is still up.
pub const HOST_GONE_GRACE_MS: u64 = 20_000;
/// How long a host may be there without sharing before the guest is told it may take a while.
pub const SHARE_WAIT_MS: u64 = 10_000;
/// How long connecting (or reconnecting) may take before the guest is told it is not working.
pub const CONNECT_WAIT_MS: u64 = 15_000;

/// What the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestPhase {
    WaitingForHost,
    /// The host must let us in first (it removed someone earlier).
    WaitingForAdmission,
    /// The host is there but has not shared (as far as we saw) yet.
    WaitingForShare,
    /// … for longer than [`SHARE_WAIT_MS`].
    ShareLate,
    Connecting,
    /// Connecting (or reconnecting) for longer than [`CONNECT_WAIT_MS`]; still trying.
    ConnectLate,
    Live,
    /// The host stopped sharing; media resumes when they share again.
    Paused,
    /// The host's tab cannot send media at all (its E2EE worker failed) until it is
    /// reloaded; a reloaded host is a new presence, and we start over with it.
    HostUnable,
    Full,
    Ended,
    HostLeft,
    /// No host appeared: the link is for a session that is not running.
    NotLive,
    /// We left on purpose ("Leave").
    Left,
    /// The host removed us.
    Removed,
    /// The host did not let us in.
    Denied,
}

impl GuestPhase {
    /// Phases from which nothing comes back.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            GuestPhase::Full
                | GuestPhase::Ended
                | GuestPhase::HostLeft
                | GuestPhase::NotLive
                | GuestPhase::Left
                | GuestPhase::Removed
                | GuestPhase::Denied
        )
    }
}

/// A wait with a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    Share,
    Connect,
}

impl Wait {
    fn limit(self) -> u64 {
        match self {
            Wait::Share => SHARE_WAIT_MS,
            Wait::Connect => CONNECT_WAIT_MS,
        }
    }
}

/// What the glue must do for the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestAction {
    /// Create a (polite) peer connection for the host and wait for its offer.
    ExpectPeer { host: String },
    /// Close the peer connection (and any SFU subscription).
    ClosePeer,
    /// Receive the host's screen from the SFU (replacing any earlier subscription).
    Subscribe(SfuRoute),
    /// Stop receiving from the SFU (the host went back to peer to peer).
    Unsubscribe,
}

#[derive(Debug)]
pub struct GuestSession {
    me: String,
    host: Option<String>,
    /// Since when we have been looking for the host: the first presence we were given (a
    /// page whose socket cannot connect learns nothing of the session, and must not say it
    /// is not live).
    started_at: u64,
    synced: bool,
    host_missing_since: Option<u64>,
    /// What the host last said about sharing (`None`: nothing yet).
    sharing: Option<bool>,
    /// … and that it cannot send at all (`Share`'s `unable`).
    unable: bool,
    /// We saw the host share at some point (a stop then reads as "paused").
    shared_once: bool,
    /// The host told us to wait for its OK.
    waiting_admission: bool,
    /// The wait in progress and when it began.
    wait: Option<(Wait, u64)>,
    /// That wait passed its deadline.
    late: bool,
    playing: bool,
    link_up: bool,
    /// The link was up and went down (media may be frozen until it recovers).
    link_lost: bool,
    ended: Option<GuestPhase>,
    /// `ended` is `HostLeft` because the host went from presence (not by its `Leaving`): the
    /// same host back in presence is taken back ([`Self::away`]).
    host_away: bool,
    /// The host's SFU publication we follow.
    route: Option<SfuRoute>,
}

impl GuestSession {
    pub fn new(me: impl Into<String>, now: u64) -> Self {
        GuestSession {
            me: me.into(),
            host: None,
            started_at: now,
            synced: false,
            host_missing_since: None,
            sharing: None,
            unable: false,
            shared_once: false,
            waiting_admission: false,
            wait: None,
            late: false,
            playing: false,
            link_up: false,
            link_lost: false,
            ended: None,
            host_away: false,
            route: None,
        }
    }

    /// The host's participant id once known.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// Whether the host is away ([`Self::away`]): the connection is kept, nothing is retried.
    pub fn host_away(&self) -> bool {
        self.host_away
    }

    pub fn phase(&self) -> GuestPhase {
        if let Some(end) = self.ended {
            return end;
        }
        match (self.base_phase(), self.late) {
            (GuestPhase::WaitingForShare, true) => GuestPhase::ShareLate,
            (GuestPhase::Connecting, true) => GuestPhase::ConnectLate,
            (phase, _) => phase,
        }
    }

    /// The phase before deadlines.
    fn base_phase(&self) -> GuestPhase {
        if self.host.is_none() {
            return GuestPhase::WaitingForHost;
        }
        if self.waiting_admission {
            return GuestPhase::WaitingForAdmission;
        }
        match self.sharing {
            Some(false) if self.unable => GuestPhase::HostUnable,
            Some(false) if self.shared_once => GuestPhase::Paused,
            Some(false) => GuestPhase::WaitingForShare,
            _ if self.playing && !self.link_lost => GuestPhase::Live,
            _ => GuestPhase::Connecting,
        }
    }

    /// Starts (or stops) the clock of the wait the current phase is.
    fn track(&mut self, now: u64) {
        let wait = match self.base_phase() {
            _ if self.ended.is_some() => None,
            GuestPhase::WaitingForShare => Some(Wait::Share),
            GuestPhase::Connecting => Some(Wait::Connect),
            _ => None,
        };
        match (self.wait, wait) {
            (Some((current, _)), Some(next)) if current == next => {}
            (_, next) => {
                self.wait = next.map(|w| (w, now));
                self.late = false;
            }
        }
    }

    /// The roster changed (host first, then by join time). A `host` here is one whose meta
    /// verified under the link's host key, so a host that appears after the old one left (or
    /// after the wait ran out) is the same person — a reloaded tab — and we start over with it.
    /// The session channel's presence reached us for the first time: the wait for a host
    /// starts now (until then nothing is known of the session; the page says so by the
    /// connection's state).
    pub fn presence_synced(&mut self, now: u64) {
        if !self.synced {
            self.synced = true;
            self.started_at = now;
        }
    }

    pub fn on_roster(&mut self, now: u64, participants: &[&Participant]) -> Vec<GuestAction> {
        let actions = self.roster_changed(now, participants);
        self.track(now);
        actions
    }

    fn roster_changed(&mut self, now: u64, participants: &[&Participant]) -> Vec<GuestAction> {
        let host = participants
            .iter()
            .find(|p| p.role == Role::Host && p.id != self.me)
            .map(|p| p.id.clone());
        match self.ended {
            // The host we followed is back (its socket reconnected: a laptop opened again, a
            // server restarted): it was away, not gone. Its connection was kept for this.
            Some(GuestPhase::HostLeft) if self.host_away && host.is_some() && host == self.host => {
                self.ended = None;
                self.host_away = false;
                self.host_missing_since = None;
                // Through the SFU, a subscription that failed meanwhile was not retried (it
                // asked Janus for a feed its host was not there to publish): made again now.
                return match self.route {
                    Some(route) if !self.link_up => vec![GuestAction::Subscribe(route)],
                    _ => Vec::new(),
                };
            }
            Some(GuestPhase::HostLeft | GuestPhase::NotLive)
                if host.is_some() && host != self.host =>
            {
                // The connection kept for a host that was away goes: another one hosts.
                let close = std::mem::take(&mut self.host_away);
                self.ended = None;
                self.sharing = None;
                self.unable = false;
                self.waiting_admission = false;
                self.host = None;
                self.host_missing_since = None;
                self.playing = false;
                self.link_up = false;
                self.link_lost = false;
                self.route = None;
                if close {
                    let mut actions = vec![GuestAction::ClosePeer];
                    actions.extend(self.roster_changed(now, participants));
                    return actions;
                }
            }
            Some(_) => return Vec::new(),
            None => {}
        }
        match (&self.host, host) {
            (Some(known), Some(seen)) if *known == seen => {
                self.host_missing_since = None;
                Vec::new()
            }
            (Some(_), Some(other)) => {
                // A different host (the old one is gone): start over with it.
                self.host = Some(other.clone());
                self.host_missing_since = None;
                self.playing = false;
                self.link_up = false;
                self.route = None;
                self.sharing = None;
                self.unable = false;
                self.waiting_admission = false;
                vec![
                    GuestAction::ClosePeer,
                    GuestAction::ExpectPeer { host: other },
                ]
            }
            (None, Some(seen)) => {
                self.host = Some(seen.clone());
                vec![GuestAction::ExpectPeer { host: seen }]
            }
            (Some(_), None) => {
                self.host_missing_since.get_or_insert(now);
                self.check_host_gone(now)
            }
            (None, None) => Vec::new(),
        }
    }

    /// A signal addressed to us (or to all). Only the host's count.
    pub fn on_signal(&mut self, now: u64, envelope: &SignalEnvelope) -> Vec<GuestAction> {
        let actions = self.signalled(envelope);
        self.track(now);
        actions
    }

    fn signalled(&mut self, envelope: &SignalEnvelope) -> Vec<GuestAction> {
        // Away, what the host still says counts (it ends, or leaves: the connection kept
        // closes) — though a page hears only senders in presence, so this is the narrow case
        // of a signal that overtook the host's presence coming back.
        let over = self.ended.is_some() && !self.host_away;
        if over || self.host.as_deref() != Some(envelope.from.as_str()) {
            return Vec::new();
        }
        match envelope.body {
            SignalBody::Refused(RefusalReason::Full) => self.finish(GuestPhase::Full),
            SignalBody::Refused(RefusalReason::Removed) => self.finish(GuestPhase::Removed),
            SignalBody::Refused(RefusalReason::Denied) => self.finish(GuestPhase::Denied),
            SignalBody::Ended => self.finish(GuestPhase::Ended),
            SignalBody::Leaving => self.finish(GuestPhase::HostLeft),
            SignalBody::Waiting => {
                self.waiting_admission = true;
                Vec::new()
            }
            SignalBody::Share { sharing, unable } => {
                // Being told the share state on our own is being let in (`HostSession::seat`);
                // a broadcast is for those already in (a host back from a gap says it again).
                if envelope.to.is_some() {
                    self.waiting_admission = false;
                }
                self.sharing = Some(sharing);
                self.unable = unable && !sharing;
                self.shared_once |= sharing;
                Vec::new()
            }
            SignalBody::Sfu(route) => {
                // A broadcast route is for those already in: someone waiting for the host's OK
                // subscribes (and publishes its voice) only once its seat names the route.
                if self.route == route || (self.waiting_admission && envelope.to.is_none()) {
                    return Vec::new();
                }
                self.route = route;
                match route {
                    Some(route) => vec![GuestAction::Subscribe(route)],
                    None => vec![GuestAction::Unsubscribe],
                }
            }
            SignalBody::Description(_)
            | SignalBody::Candidate(_)
            | SignalBody::SfuLive
            | SignalBody::Voice(_)
            // The glue's: only it holds the agreement key and the worker.
            | SignalBody::MediaKey { .. }
            | SignalBody::MediaKeyAck { .. } => Vec::new(),
        }
    }

    /// The person leaves: the peer closes and nothing brings us back but a new join.
    pub fn leave(&mut self) -> Vec<GuestAction> {
        // Away, the connection kept for the host goes with us.
        if self.ended.is_some() && !self.host_away {
            return Vec::new();
        }
        self.finish(GuestPhase::Left)
    }

    /// Whether frames are being presented.
    pub fn on_playing(&mut self, now: u64, playing: bool) {
        self.playing = playing;
        // Frames mean the host shared: a later stop reads as "paused".
        self.shared_once |= playing;
        self.track(now);
    }

    /// The peer link (data channel / connection) went up or down.
    pub fn on_link(&mut self, now: u64, up: bool) -> Vec<GuestAction> {
        if up {
            self.link_lost = false;
        } else if self.link_up {
            self.link_lost = true;
        }
        self.link_up = up;
        let actions = if up || self.ended.is_some() {
            Vec::new()
        } else {
            self.check_host_gone(now)
        };
        self.track(now);
        actions
    }

    /// The next time [`Self::handle_timeout`] has something to decide.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.ended.is_some() {
            return None;
        }
        if self.host.is_none() {
            return self.synced.then_some(self.started_at + HOST_WAIT_MS);
        }
        let gone = self.host_missing_since.map(|t| t + HOST_GONE_GRACE_MS);
        let late = match (self.wait, self.late) {
            (Some((wait, since)), false) => Some(since + wait.limit()),
            _ => None,
        };
        match (gone, late) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_timeout(&mut self, now: u64) -> Vec<GuestAction> {
        if self.ended.is_some() {
            return Vec::new();
        }
        if self.host.is_none() && self.synced && now >= self.started_at + HOST_WAIT_MS {
            self.ended = Some(GuestPhase::NotLive);
            return Vec::new();
        }
        let actions = self.check_host_gone(now);
        self.track(now);
        if let Some((wait, since)) = self.wait {
            if now >= since + wait.limit() {
                self.late = true;
            }
        }
        actions
    }

    fn check_host_gone(&mut self, now: u64) -> Vec<GuestAction> {
        let Some(since) = self.host_missing_since else {
            return Vec::new();
        };
        if !self.link_up || now >= since + HOST_GONE_GRACE_MS {
            return self.away();
        }
        Vec::new()
    }

    /// The host is gone from presence (with our link down, or for longer than the grace):
    /// the person reads that the host left, but the connection stays — a host whose socket
    /// comes back under the same participant id (its page never went) restarts ICE on it, and
    /// DTLS and the data channels with it are what control needs (a new connection would
    /// take both ends renegotiating). Another host, our own leaving, or the page going ends
    /// it (the runtime also closes it when no host can be followed again: a fork).
    fn away(&mut self) -> Vec<GuestAction> {
        self.ended = Some(GuestPhase::HostLeft);
        self.host_away = true;
        self.playing = false;
        Vec::new()
    }

    fn finish(&mut self, phase: GuestPhase) -> Vec<GuestAction> {
        self.ended = Some(phase);
        self.host_away = false;
        self.playing = false;
        self.route = None;
        vec![GuestAction::ClosePeer]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, role: Role) -> Participant {
        Participant {
            id: id.into(),
            role,
            joined_at: 0,
            profile: serde_json::Value::Null,
            sig: None,
            signer: None,
            wire: crate::session::WIRE_VERSION,
            wire_sig: None,
        }
    }

    fn from_host(body: SignalBody) -> SignalEnvelope {
        SignalEnvelope {
            from: "h".into(),
            to: Some("g".into()),
            body,
        }
    }

    /// The host saying whether it shares (and that it could).
    fn share(sharing: bool) -> SignalEnvelope {
        from_host(SignalBody::Share {
            sharing,
            unable: false,
        })
    }

    #[test]
    fn waits_connects_goes_live_pauses_and_resumes() {
        let mut g = GuestSession::new("g", 0);
        assert_eq!(g.phase(), GuestPhase::WaitingForHost);
        let (host, me) = (p("h", Role::Host), p("g", Role::Viewer));
        assert_eq!(
            g.on_roster(10, &[&host, &me]),
            vec![GuestAction::ExpectPeer { host: "h".into() }]
        );
        assert_eq!(g.phase(), GuestPhase::Connecting);
        g.on_link(20, true);
        g.on_playing(0, true);
        assert_eq!(g.phase(), GuestPhase::Live);
        g.on_signal(0, &share(false));
        assert_eq!(g.phase(), GuestPhase::Paused);
        g.on_signal(0, &share(true));
        assert_eq!(g.phase(), GuestPhase::Live);
        assert!(g.on_roster(30, &[&host, &me]).is_empty());
    }

    #[test]
    fn only_the_host_can_refuse_or_end() {
        let mut g = GuestSession::new("g", 0);
        g.on_roster(1, &[&p("h", Role::Host)]);
        let forged = SignalEnvelope {
            from: "v".into(),
            to: None,
            body: SignalBody::Ended,
        };
        assert!(g.on_signal(0, &forged).is_empty());
        assert_eq!(
            g.on_signal(0, &from_host(SignalBody::Refused(RefusalReason::Full))),
            vec![GuestAction::ClosePeer]
        );
        assert_eq!(g.phase(), GuestPhase::Full);
        assert!(g.on_signal(0, &from_host(SignalBody::Ended)).is_empty());
        assert_eq!(g.phase(), GuestPhase::Full);
    }

    /// A guest watching `host`'s picture (at 5 ms).
    fn live_guest(host: &Participant) -> GuestSession {
        let mut g = GuestSession::new("g", 0);
        g.on_roster(0, &[host]);
        g.on_link(5, true);
        g.on_signal(5, &share(true));
        g.on_playing(5, true);
        g
    }

    #[test]
    fn host_leaving_needs_the_link_down_or_a_long_absence() {
        let host = p("h", Role::Host);
        // Realtime restart: the host is briefly missing, media still flows → no false alarm.
        let mut g = live_guest(&host);
        assert!(g.on_roster(100, &[]).is_empty());
        assert_eq!(g.poll_timeout(), Some(100 + HOST_GONE_GRACE_MS));
        assert!(g.on_roster(3_000, &[&host]).is_empty());
        assert_eq!(g.poll_timeout(), None);
        assert_eq!(g.phase(), GuestPhase::Live);

        // Gone from presence, then the link drops (a tab killed, a laptop closed) → the host
        // left, at once; the connection is kept in case it was only away.
        assert!(g.on_roster(4_000, &[]).is_empty());
        assert!(g.on_link(4_100, false).is_empty());
        assert_eq!(g.phase(), GuestPhase::HostLeft);
        // Its "leaving" after all closes it.
        assert_eq!(
            g.on_signal(4_200, &from_host(SignalBody::Leaving)),
            vec![GuestAction::ClosePeer]
        );
        assert_eq!(g.phase(), GuestPhase::HostLeft);

        // The link stays up: the grace period decides.
        let mut g = GuestSession::new("g", 0);
        g.on_roster(0, &[&host]);
        g.on_link(1, true);
        g.on_roster(10, &[]);
        assert!(g.handle_timeout(10 + HOST_GONE_GRACE_MS - 1).is_empty());
        assert!(g.handle_timeout(10 + HOST_GONE_GRACE_MS).is_empty());
        assert_eq!(g.phase(), GuestPhase::HostLeft);
    }

    #[test]
    fn a_host_that_was_away_is_taken_back_on_the_connection_kept() {
        let host = p("h", Role::Host);
        let mut g = live_guest(&host);
        // Its laptop closes: the link drops, then presence (the server's idle timeout).
        g.on_link(1_000, false);
        assert!(g.on_roster(61_000, &[]).is_empty());
        assert_eq!(g.phase(), GuestPhase::HostLeft);
        // Signals from it still count while it is away (a share state, say).
        g.on_signal(61_500, &share(true));
        // Back under the same id (its page never went): nothing to make, the same link.
        assert!(g.on_roster(90_000, &[&host]).is_empty());
        assert_eq!(g.phase(), GuestPhase::Connecting);
        g.on_link(90_500, true);
        g.on_playing(90_600, true);
        assert_eq!(g.phase(), GuestPhase::Live);

        // Away, and another host (its reloaded tab) comes instead: the kept link goes first.
        g.on_link(100_000, false);
        g.on_roster(100_100, &[]);
        assert_eq!(g.phase(), GuestPhase::HostLeft);
        assert_eq!(
            g.on_roster(101_000, &[&p("h2", Role::Host)]),
            vec![
                GuestAction::ClosePeer,
                GuestAction::ExpectPeer { host: "h2".into() }
            ]
        );
        assert_eq!(g.phase(), GuestPhase::Connecting);

        // Leaving while the host is away closes the connection kept.
        g.on_link(110_000, false);
        g.on_roster(110_100, &[]);
        assert_eq!(g.phase(), GuestPhase::HostLeft);
        assert_eq!(g.leave(), vec![GuestAction::ClosePeer]);
        assert_eq!(g.phase(), GuestPhase::Left);

        // Through the SFU: a subscription down while the host was away is made again when it
        // is back (retries meanwhile only asked for a feed nobody published); one still up
        // is left alone.
        let route = SfuRoute { room: 1, feed: 2 };
        let mut g = live_guest(&host);
        g.on_signal(200_000, &from_host(SignalBody::Sfu(Some(route))));
        g.on_link(200_100, false);
        g.on_roster(200_200, &[]);
        assert!(g.host_away());
        assert_eq!(
            g.on_roster(230_000, &[&host]),
            vec![GuestAction::Subscribe(route)]
        );
        assert!(!g.host_away());
        g.on_link(230_500, true);
        g.on_roster(240_000, &[]);
        g.handle_timeout(240_000 + HOST_GONE_GRACE_MS);
        assert!(g.host_away());
        assert!(g.on_roster(250_000, &[&host]).is_empty());

        // A host that said it was leaving is not taken back under its old id.
        let mut g = GuestSession::new("g", 0);
        g.on_roster(0, &[&host]);
        g.on_link(1, true);
        g.on_signal(2, &from_host(SignalBody::Leaving));
        g.on_roster(3, &[]);
        assert!(g.on_roster(4, &[&host]).is_empty());
        assert_eq!(g.phase(), GuestPhase::HostLeft);
    }

    #[test]
    fn a_lost_link_shows_as_connecting_and_recovers() {
        let mut g = GuestSession::new("g", 0);
        g.on_roster(0, &[&p("h", Role::Host)]);
        g.on_link(1, true);
        g.on_playing(0, true);
        assert_eq!(g.phase(), GuestPhase::Live);
        assert!(g.on_link(2, false).is_empty());
        assert_eq!(g.phase(), GuestPhase::Connecting);
        g.on_link(3, true);
        assert_eq!(g.phase(), GuestPhase::Live);
        // The host says it is leaving: no waiting for timeouts.
        assert_eq!(
            g.on_signal(0, &from_host(SignalBody::Leaving)),
            vec![GuestAction::ClosePeer]
        );
        assert_eq!(g.phase(), GuestPhase::HostLeft);
    }

    #[test]
    fn a_session_without_host_is_not_live_after_the_wait() {
        let mut g = GuestSession::new("g", 0);
        // No presence yet (the socket cannot connect): nothing is known, nothing is said.
        assert_eq!(g.poll_timeout(), None);
        g.handle_timeout(60_000);
        assert_eq!(g.phase(), GuestPhase::WaitingForHost);
        g.presence_synced(1_000);
        g.presence_synced(5_000);
        assert_eq!(g.poll_timeout(), Some(1_000 + HOST_WAIT_MS));
        g.handle_timeout(1_000 + HOST_WAIT_MS - 1);
        assert_eq!(g.phase(), GuestPhase::WaitingForHost);
        g.handle_timeout(1_000 + HOST_WAIT_MS);
        assert_eq!(g.phase(), GuestPhase::NotLive);
        // The host starts late after all: we connect.
        assert_eq!(
            g.on_roster(20_000, &[&p("h", Role::Host)]),
            vec![GuestAction::ExpectPeer { host: "h".into() }]
        );
        assert_eq!(g.phase(), GuestPhase::Connecting);
    }

    #[test]
    fn a_reloaded_host_is_taken_back_but_an_ended_session_stays_ended() {
        let mut g = GuestSession::new("g", 0);
        g.on_roster(0, &[&p("h", Role::Host)]);
        g.on_link(1, true);
        g.on_signal(0, &from_host(SignalBody::Leaving));
        assert_eq!(g.phase(), GuestPhase::HostLeft);
        // The old id lingering in presence changes nothing.
        assert!(g.on_roster(2, &[&p("h", Role::Host)]).is_empty());
        // The host's tab is back under a new participant id (verified under the same key).
        assert_eq!(
            g.on_roster(3, &[&p("h2", Role::Host)]),
            vec![GuestAction::ExpectPeer { host: "h2".into() }]
        );
        assert_eq!(g.phase(), GuestPhase::Connecting);
        let ended = SignalEnvelope {
            from: "h2".into(),
            to: None,
            body: SignalBody::Ended,
        };
        g.on_signal(0, &ended);
        assert!(g.on_roster(4, &[&p("h3", Role::Host)]).is_empty());
        assert_eq!(g.phase(), GuestPhase::Ended);
    }

    #[test]
    fn leaving_is_final_until_a_new_join() {
        let mut g = GuestSession::new("g", 0);
        g.on_roster(0, &[&p("h", Role::Host)]);
        assert_eq!(g.leave(), vec![GuestAction::ClosePeer]);
        assert_eq!(g.phase(), GuestPhase::Left);
        assert!(g.phase().is_final());
        assert!(g.leave().is_empty());
        assert!(g.on_roster(1, &[&p("h2", Role::Host)]).is_empty());
        assert_eq!(g.poll_timeout(), None);
    }

    #[test]
    fn a_new_host_replaces_a_vanished_one() {
        let mut g = GuestSession::new("g", 0);
        g.on_roster(0, &[&p("h", Role::Host)]);
        g.on_link(1, true);
        let actions = g.on_roster(2, &[&p("h2", Role::Host)]);
        assert_eq!(
            actions,
            vec![
                GuestAction::ClosePeer,
                GuestAction::ExpectPeer { host: "h2".into() }
            ]
        );
        assert_eq!(g.host(), Some("h2"));
    }

    #[test]
    fn a_guest_follows_the_hosts_sfu_route() {
        let mut g = GuestSession::new("g", 0);
        let host = Participant {
            id: "h".into(),
            role: Role::Host,
            joined_at: 0,
            profile: serde_json::Value::Null,
            sig: None,
            signer: None,
            wire: crate::session::WIRE_VERSION,
            wire_sig: None,
        };
        g.on_roster(1, &[&host]);
        let sfu = |route| SignalEnvelope {
            from: "h".into(),
            to: None,
            body: SignalBody::Sfu(route),
        };
        let r = SfuRoute { room: 1, feed: 2 };
        assert_eq!(
            g.on_signal(0, &sfu(Some(r))),
            vec![GuestAction::Subscribe(r)]
        );
        assert!(g.on_signal(0, &sfu(Some(r))).is_empty());
        let r2 = SfuRoute { room: 3, feed: 4 };
        assert_eq!(
            g.on_signal(0, &sfu(Some(r2))),
            vec![GuestAction::Subscribe(r2)]
        );
        assert_eq!(g.on_signal(0, &sfu(None)), vec![GuestAction::Unsubscribe]);
        // Only the host's routes count.
        let mut forged = sfu(Some(r));
        forged.from = "x".into();
        assert!(g.on_signal(0, &forged).is_empty());
    }

    #[test]
    fn a_host_that_does_not_share_is_explained_by_its_deadline() {
        let mut g = GuestSession::new("g", 0);
        g.on_roster(100, &[&p("h", Role::Host)]);
        // Admitted while the host has not shared yet.
        g.on_signal(200, &share(false));
        assert_eq!(g.phase(), GuestPhase::WaitingForShare);
        assert_eq!(g.poll_timeout(), Some(200 + SHARE_WAIT_MS));
        assert!(g.handle_timeout(200 + SHARE_WAIT_MS - 1).is_empty());
        assert_eq!(g.phase(), GuestPhase::WaitingForShare);
        g.handle_timeout(200 + SHARE_WAIT_MS);
        assert_eq!(g.phase(), GuestPhase::ShareLate);
        assert_eq!(
            g.poll_timeout(),
            None,
            "late already: nothing more to decide"
        );
        // The host shares: we connect (with a fresh deadline), then play.
        g.on_signal(20_000, &share(true));
        assert_eq!(g.phase(), GuestPhase::Connecting);
        assert_eq!(g.poll_timeout(), Some(20_000 + CONNECT_WAIT_MS));
        g.on_link(20_100, true);
        g.on_playing(20_200, true);
        assert_eq!(g.phase(), GuestPhase::Live);
        assert_eq!(g.poll_timeout(), None);
        // A stop after sharing is a pause (its own sentence, no deadline).
        g.on_signal(30_000, &share(false));
        assert_eq!(g.phase(), GuestPhase::Paused);
        assert_eq!(g.poll_timeout(), None);
    }

    #[test]
    fn a_host_that_cannot_send_is_said_so_at_once_with_no_deadline_until_it_reloads() {
        let unable = SignalBody::Share {
            sharing: false,
            unable: true,
        };
        // Joining after the host's tab failed: told at once, and never "late".
        let mut g = GuestSession::new("g", 0);
        g.on_roster(100, &[&p("h", Role::Host)]);
        g.on_signal(200, &from_host(unable.clone()));
        assert_eq!(g.phase(), GuestPhase::HostUnable);
        assert!(!g.phase().is_final());
        assert_eq!(g.poll_timeout(), None);
        g.handle_timeout(200 + SHARE_WAIT_MS);
        assert_eq!(g.phase(), GuestPhase::HostUnable);
        // Watching when it failed: the same, not "paused".
        let mut w = GuestSession::new("w", 0);
        w.on_roster(100, &[&p("h", Role::Host)]);
        w.on_signal(200, &share(true));
        w.on_link(300, true);
        w.on_playing(400, true);
        assert_eq!(w.phase(), GuestPhase::Live);
        w.on_signal(500, &from_host(unable));
        assert_eq!(w.phase(), GuestPhase::HostUnable);
        // The host reloads (a new presence): we start over with it.
        w.on_roster(600, &[&p("h2", Role::Host)]);
        assert_eq!(w.phase(), GuestPhase::Connecting);
    }

    #[test]
    fn a_connection_that_does_not_come_up_or_back_is_explained_by_its_deadline() {
        let mut g = GuestSession::new("g", 0);
        g.on_roster(1_000, &[&p("h", Role::Host)]);
        g.on_signal(1_100, &share(true));
        assert_eq!(g.phase(), GuestPhase::Connecting);
        // The clock started when the host was found.
        assert_eq!(g.poll_timeout(), Some(1_000 + CONNECT_WAIT_MS));
        g.handle_timeout(1_000 + CONNECT_WAIT_MS);
        assert_eq!(g.phase(), GuestPhase::ConnectLate);
        // It works out after all.
        g.on_link(17_000, true);
        g.on_playing(17_000, true);
        assert_eq!(g.phase(), GuestPhase::Live);
        // The link drops and does not come back: reconnecting has the same deadline.
        g.on_link(20_000, false);
        assert_eq!(g.phase(), GuestPhase::Connecting);
        assert_eq!(g.poll_timeout(), Some(20_000 + CONNECT_WAIT_MS));
        g.handle_timeout(20_000 + CONNECT_WAIT_MS);
        assert_eq!(g.phase(), GuestPhase::ConnectLate);
        g.on_link(40_000, true);
        assert_eq!(g.phase(), GuestPhase::Live);
    }

    #[test]
    fn waiting_for_the_hosts_ok_then_admitted_removed_or_denied() {
        let host = p("h", Role::Host);
        let mut g = GuestSession::new("g", 0);
        g.on_roster(10, &[&host]);
        assert!(g.on_signal(20, &from_host(SignalBody::Waiting)).is_empty());
        assert_eq!(g.phase(), GuestPhase::WaitingForAdmission);
        // No deadline while the host decides: the person is told what they wait for.
        assert_eq!(g.poll_timeout(), None);
        assert!(g.handle_timeout(1_000_000).is_empty());
        assert_eq!(g.phase(), GuestPhase::WaitingForAdmission);
        // The share state said to everyone (a pause, a host back from a gap) lets no one in.
        let to_all = SignalEnvelope {
            to: None,
            ..share(true)
        };
        g.on_signal(1_000_000, &to_all);
        assert_eq!(g.phase(), GuestPhase::WaitingForAdmission);
        // Nor does a route through the SFU said to everyone: subscribing would publish our
        // voice before the host let us in (and before its secret came with our seat).
        let route = SfuRoute { room: 1, feed: 2 };
        let route_to_all = SignalEnvelope {
            to: None,
            ..from_host(SignalBody::Sfu(Some(route)))
        };
        assert!(g.on_signal(1_000_000, &route_to_all).is_empty());
        // Admitted: the share state arrives, to us, and the route with it.
        g.on_signal(1_000_001, &share(true));
        assert_eq!(g.phase(), GuestPhase::Connecting);
        assert_eq!(
            g.on_signal(1_000_001, &from_host(SignalBody::Sfu(Some(route)))),
            vec![GuestAction::Subscribe(route)]
        );
        g.on_link(1_000_002, true);
        g.on_playing(1_000_003, true);
        assert_eq!(g.phase(), GuestPhase::Live);
        // Removed: the peer closes, final, no way back but a new join.
        assert_eq!(
            g.on_signal(
                1_000_004,
                &from_host(SignalBody::Refused(RefusalReason::Removed))
            ),
            vec![GuestAction::ClosePeer]
        );
        assert_eq!(g.phase(), GuestPhase::Removed);
        assert!(g.phase().is_final());
        assert_eq!(g.poll_timeout(), None);
        assert!(g.on_roster(1_000_005, &[&p("h2", Role::Host)]).is_empty());
        assert!(g.on_signal(1_000_006, &share(true)).is_empty());
        assert_eq!(g.phase(), GuestPhase::Removed);

        // Denied while waiting.
        let mut g = GuestSession::new("g", 0);
        g.on_roster(10, &[&host]);
        g.on_signal(20, &from_host(SignalBody::Waiting));
        assert_eq!(
            g.on_signal(30, &from_host(SignalBody::Refused(RefusalReason::Denied))),
            vec![GuestAction::ClosePeer]
        );
        assert_eq!(g.phase(), GuestPhase::Denied);
        assert!(g.phase().is_final());

        // Someone else cannot remove us or make us wait.
        let mut g = GuestSession::new("g", 0);
        g.on_roster(10, &[&host]);
        for body in [
            SignalBody::Waiting,
            SignalBody::Refused(RefusalReason::Removed),
        ] {
            let forged = SignalEnvelope {
                from: "v".into(),
                to: Some("g".into()),
                body,
            };
            assert!(g.on_signal(40, &forged).is_empty());
        }
        assert_eq!(g.phase(), GuestPhase::Connecting);
    }

    #[test]
    fn a_session_ended_while_joining_says_so() {
        let mut g = GuestSession::new("g", 0);
        g.on_roster(10, &[&p("h", Role::Host)]);
        assert_eq!(g.phase(), GuestPhase::Connecting);
        assert_eq!(
            g.on_signal(20, &from_host(SignalBody::Ended)),
            vec![GuestAction::ClosePeer]
        );
        assert_eq!(g.phase(), GuestPhase::Ended);
        assert_eq!(g.poll_timeout(), None);
    }
}
