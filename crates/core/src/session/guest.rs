//! A participant's side of a session: waiting for the host, connecting, live, paused, and the
//! ways it ends (full, ended by the host, host gone, never live).
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

/// What the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestPhase {
    WaitingForHost,
    Connecting,
    Live,
    /// The host stopped sharing; media resumes when they share again.
    Paused,
    Full,
    Ended,
    HostLeft,
    /// No host appeared: the link is for a session that is not running.
    NotLive,
    /// We left on purpose ("Leave").
    Left,
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
        )
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
    started_at: u64,
    host_missing_since: Option<u64>,
    sharing: bool,
    playing: bool,
    link_up: bool,
    /// The link was up and went down (media may be frozen until it recovers).
    link_lost: bool,
    ended: Option<GuestPhase>,
    /// The host's SFU publication we follow.
    route: Option<SfuRoute>,
}

impl GuestSession {
    pub fn new(me: impl Into<String>, now: u64) -> Self {
        GuestSession {
            me: me.into(),
            host: None,
            started_at: now,
            host_missing_since: None,
            sharing: true,
            playing: false,
            link_up: false,
            link_lost: false,
            ended: None,
            route: None,
        }
    }

    /// The host's participant id once known.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    pub fn phase(&self) -> GuestPhase {
        if let Some(end) = self.ended {
            return end;
        }
        match (&self.host, self.sharing, self.playing && !self.link_lost) {
            (None, _, _) => GuestPhase::WaitingForHost,
            (Some(_), false, _) => GuestPhase::Paused,
            (Some(_), true, false) => GuestPhase::Connecting,
            (Some(_), true, true) => GuestPhase::Live,
        }
    }

    /// The roster changed (host first, then by join time). A `host` here is one whose meta
    /// verified under the link's host key, so a host that appears after the old one left (or
    /// after the wait ran out) is the same person — a reloaded tab — and we start over with it.
    pub fn on_roster(&mut self, now: u64, participants: &[&Participant]) -> Vec<GuestAction> {
        let host = participants
            .iter()
            .find(|p| p.role == Role::Host && p.id != self.me)
            .map(|p| p.id.clone());
        match self.ended {
            Some(GuestPhase::HostLeft | GuestPhase::NotLive)
                if host.is_some() && host != self.host =>
            {
                self.ended = None;
                self.sharing = true;
                self.host = None;
                self.host_missing_since = None;
                self.playing = false;
                self.link_up = false;
                self.link_lost = false;
                self.route = None;
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
    pub fn on_signal(&mut self, envelope: &SignalEnvelope) -> Vec<GuestAction> {
        if self.ended.is_some() || self.host.as_deref() != Some(envelope.from.as_str()) {
            return Vec::new();
        }
        match envelope.body {
            SignalBody::Refused(RefusalReason::Full) => self.finish(GuestPhase::Full),
            SignalBody::Ended => self.finish(GuestPhase::Ended),
            SignalBody::Leaving => self.finish(GuestPhase::HostLeft),
            SignalBody::Share { sharing } => {
                self.sharing = sharing;
                Vec::new()
            }
            SignalBody::Sfu(route) => {
                if self.route == route {
                    return Vec::new();
                }
                self.route = route;
                match route {
                    Some(route) => vec![GuestAction::Subscribe(route)],
                    None => vec![GuestAction::Unsubscribe],
                }
            }
            SignalBody::Description(_) | SignalBody::Candidate(_) | SignalBody::SfuLive => {
                Vec::new()
            }
        }
    }

    /// The person leaves: the peer closes and nothing brings us back but a new join.
    pub fn leave(&mut self) -> Vec<GuestAction> {
        if self.ended.is_some() {
            return Vec::new();
        }
        self.finish(GuestPhase::Left)
    }

    /// Whether frames are being presented.
    pub fn on_playing(&mut self, playing: bool) {
        self.playing = playing;
    }

    /// The peer link (data channel / connection) went up or down.
    pub fn on_link(&mut self, now: u64, up: bool) -> Vec<GuestAction> {
        if up {
            self.link_lost = false;
        } else if self.link_up {
            self.link_lost = true;
        }
        self.link_up = up;
        if up || self.ended.is_some() {
            return Vec::new();
        }
        self.check_host_gone(now)
    }

    /// The next time [`Self::handle_timeout`] has something to decide.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.ended.is_some() {
            return None;
        }
        if self.host.is_none() {
            return Some(self.started_at + HOST_WAIT_MS);
        }
        self.host_missing_since.map(|t| t + HOST_GONE_GRACE_MS)
    }

    pub fn handle_timeout(&mut self, now: u64) -> Vec<GuestAction> {
        if self.ended.is_some() {
            return Vec::new();
        }
        if self.host.is_none() && now >= self.started_at + HOST_WAIT_MS {
            self.ended = Some(GuestPhase::NotLive);
            return Vec::new();
        }
        self.check_host_gone(now)
    }

    fn check_host_gone(&mut self, now: u64) -> Vec<GuestAction> {
        let Some(since) = self.host_missing_since else {
            return Vec::new();
        };
        if !self.link_up || now >= since + HOST_GONE_GRACE_MS {
            return self.finish(GuestPhase::HostLeft);
        }
        Vec::new()
    }

    fn finish(&mut self, phase: GuestPhase) -> Vec<GuestAction> {
        self.ended = Some(phase);
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
        }
    }

    fn from_host(body: SignalBody) -> SignalEnvelope {
        SignalEnvelope {
            from: "h".into(),
            to: Some("g".into()),
            body,
        }
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
        g.on_playing(true);
        assert_eq!(g.phase(), GuestPhase::Live);
        g.on_signal(&from_host(SignalBody::Share { sharing: false }));
        assert_eq!(g.phase(), GuestPhase::Paused);
        g.on_signal(&from_host(SignalBody::Share { sharing: true }));
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
        assert!(g.on_signal(&forged).is_empty());
        assert_eq!(
            g.on_signal(&from_host(SignalBody::Refused(RefusalReason::Full))),
            vec![GuestAction::ClosePeer]
        );
        assert_eq!(g.phase(), GuestPhase::Full);
        assert!(g.on_signal(&from_host(SignalBody::Ended)).is_empty());
        assert_eq!(g.phase(), GuestPhase::Full);
    }

    #[test]
    fn host_leaving_needs_the_link_down_or_a_long_absence() {
        let host = p("h", Role::Host);
        // Realtime restart: the host is briefly missing, media still flows → no false alarm.
        let mut g = GuestSession::new("g", 0);
        g.on_roster(0, &[&host]);
        g.on_link(5, true);
        assert!(g.on_roster(100, &[]).is_empty());
        assert_eq!(g.poll_timeout(), Some(100 + HOST_GONE_GRACE_MS));
        assert!(g.on_roster(3_000, &[&host]).is_empty());
        assert_eq!(g.poll_timeout(), None);
        assert_eq!(g.phase(), GuestPhase::Connecting);

        // Tab closed: presence leave, then the data channel closes → host left at once.
        assert!(g.on_roster(4_000, &[]).is_empty());
        assert_eq!(g.on_link(4_100, false), vec![GuestAction::ClosePeer]);
        assert_eq!(g.phase(), GuestPhase::HostLeft);

        // Link never came up: the grace period decides.
        let mut g = GuestSession::new("g", 0);
        g.on_roster(0, &[&host]);
        g.on_link(1, true);
        g.on_roster(10, &[]);
        assert!(g.handle_timeout(10 + HOST_GONE_GRACE_MS - 1).is_empty());
        assert_eq!(
            g.handle_timeout(10 + HOST_GONE_GRACE_MS),
            vec![GuestAction::ClosePeer]
        );
        assert_eq!(g.phase(), GuestPhase::HostLeft);
    }

    #[test]
    fn a_lost_link_shows_as_connecting_and_recovers() {
        let mut g = GuestSession::new("g", 0);
        g.on_roster(0, &[&p("h", Role::Host)]);
        g.on_link(1, true);
        g.on_playing(true);
        assert_eq!(g.phase(), GuestPhase::Live);
        assert!(g.on_link(2, false).is_empty());
        assert_eq!(g.phase(), GuestPhase::Connecting);
        g.on_link(3, true);
        assert_eq!(g.phase(), GuestPhase::Live);
        // The host says it is leaving: no waiting for timeouts.
        assert_eq!(
            g.on_signal(&from_host(SignalBody::Leaving)),
            vec![GuestAction::ClosePeer]
        );
        assert_eq!(g.phase(), GuestPhase::HostLeft);
    }

    #[test]
    fn a_session_without_host_is_not_live_after_the_wait() {
        let mut g = GuestSession::new("g", 1_000);
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
        g.on_signal(&from_host(SignalBody::Leaving));
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
        g.on_signal(&ended);
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
        };
        g.on_roster(1, &[&host]);
        let sfu = |route| SignalEnvelope {
            from: "h".into(),
            to: None,
            body: SignalBody::Sfu(route),
        };
        let r = SfuRoute { room: 1, feed: 2 };
        assert_eq!(g.on_signal(&sfu(Some(r))), vec![GuestAction::Subscribe(r)]);
        assert!(g.on_signal(&sfu(Some(r))).is_empty());
        let r2 = SfuRoute { room: 3, feed: 4 };
        assert_eq!(
            g.on_signal(&sfu(Some(r2))),
            vec![GuestAction::Subscribe(r2)]
        );
        assert_eq!(g.on_signal(&sfu(None)), vec![GuestAction::Unsubscribe]);
        // Only the host's routes count.
        let mut forged = sfu(Some(r));
        forged.from = "x".into();
        assert!(g.on_signal(&forged).is_empty());
    }
}
