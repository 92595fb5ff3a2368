//! The host's side of a session: who gets a peer connection (soft limits, in order of
//! arrival), who is refused, what everyone is told about the share, and ending it.
//!
//! Participants arrive here only once their signed presence verified (see `roster`), so a
//! claimed role cannot take a seat before the host can see who it is. An admitted peer is
//! closed when its link is down **and** it is gone from presence — never on a presence blip
//! alone (presence empties while Realtime reconnects; media keeps flowing peer to peer).

use crate::vecmap::{VecMap, VecSet};

use super::{RefusalReason, SfuRoute, SignalBody, SignalEnvelope};
use crate::identity::PublicKey;
use crate::roster::Participant;
use crate::Role;

/// Soft limits of a P2P session (product.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub controllers: usize,
    pub viewers: usize,
}

impl Limits {
    pub const P2P: Limits = Limits {
        controllers: 3,
        viewers: 25,
    };
    /// Viewers cost the host nothing in SFU mode (Janus fans out); the bound is the room's.
    pub const SFU: Limits = Limits {
        controllers: 3,
        viewers: 200,
    };
}

/// What the host picks before starting (product.md §6: `mode-p2p`, `mode-sfu`, `mode-auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartMode {
    P2p,
    Sfu,
    /// Peer to peer until the Session Focus moves the session (Auto is the default).
    #[default]
    Auto,
}

impl StartMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StartMode::P2p => "p2p",
            StartMode::Sfu => "sfu",
            StartMode::Auto => "auto",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "p2p" => Some(StartMode::P2p),
            "sfu" => Some(StartMode::Sfu),
            "auto" => Some(StartMode::Auto),
            _ => None,
        }
    }

    /// How the session starts (`sfu_available`: config.json names an SFU).
    pub fn topology(self, sfu_available: bool) -> Topology {
        match self {
            StartMode::Sfu if sfu_available => Topology::Sfu,
            _ => Topology::P2p,
        }
    }
}

/// How the screen reaches guests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// A peer connection with the screen to every guest.
    P2p,
    /// The screen is published once to Janus; only controllers get a (data-only) peer
    /// connection, for control and input, which never cross the SFU.
    Sfu,
}

impl Topology {
    /// `session-mode`'s text and the focus wire's.
    pub fn as_str(self) -> &'static str {
        match self {
            Topology::P2p => "p2p",
            Topology::Sfu => "sfu",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "p2p" => Some(Topology::P2p),
            "sfu" => Some(Topology::Sfu),
            _ => None,
        }
    }
}

/// Whether the host's screen is being shared right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareState {
    Sharing,
    /// Stopped from the browser's own bar; the session goes on and resumes when shared again.
    Paused,
}

/// What the glue must do for the host.
#[derive(Debug, Clone, PartialEq)]
pub enum HostAction {
    /// Create a peer connection for this participant and start negotiating (host offers);
    /// `video`: whether it carries the screen (not in SFU mode, where it is data only).
    OpenPeer { id: String, role: Role, video: bool },
    /// Close and forget this participant's peer connection.
    ClosePeer { id: String },
    /// Broadcast this signal.
    Send(SignalEnvelope),
    /// Stop sending this participant the screen peer to peer (its picture comes from the SFU
    /// now); `close`: it has no other use for the connection (a viewer), so close it — the
    /// participant stays admitted.
    DropVideo { id: String, close: bool },
}

/// Someone waiting for the host's OK (after a removal, nobody new is let in without it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asking {
    pub id: String,
    pub role: Role,
    /// Their verified identity is one the host removed earlier (e.g. the removed person's
    /// reloaded tab).
    pub removed_before: bool,
}

#[derive(Debug)]
pub struct HostSession {
    me: String,
    limits: Limits,
    admitted: VecMap<String, Role>,
    /// The verified identity (signing key) of each admitted or asking participant.
    signers: VecMap<String, PublicKey>,
    /// Participant ids refused for good (removed, or denied entry): never served again, whatever
    /// their presence does.
    barred: VecMap<String, RefusalReason>,
    /// Identities the host removed: if one comes back (a new join), the host is told so.
    removed: VecSet<PublicKey>,
    /// Once the host removed someone, nobody is let in without the host's OK.
    admission_required: bool,
    /// Waiting for the host's OK, in order of arrival (each was told so once).
    asking: Vec<(String, Role)>,
    /// Newcomers told that the session has ended.
    told_ended: VecSet<String>,
    /// Admitted participants whose peer link is up.
    link_up: VecSet<String>,
    /// Admitted participants missing from presence (closed once their link is down too).
    absent: VecSet<String>,
    refused: VecSet<String>,
    share: ShareState,
    ended: bool,
    topology: Topology,
    route: Option<SfuRoute>,
    /// Admitted participants whose connection carries the screen.
    video: VecSet<String>,
}

impl HostSession {
    pub fn new(me: impl Into<String>, limits: Limits, share: ShareState) -> Self {
        HostSession {
            me: me.into(),
            limits,
            admitted: VecMap::new(),
            signers: VecMap::new(),
            barred: VecMap::new(),
            removed: VecSet::new(),
            admission_required: false,
            asking: Vec::new(),
            told_ended: VecSet::new(),
            link_up: VecSet::new(),
            absent: VecSet::new(),
            refused: VecSet::new(),
            share,
            ended: false,
            topology: Topology::P2p,
            route: None,
            video: VecSet::new(),
        }
    }

    /// A host whose screen goes through the SFU.
    pub fn sfu(me: impl Into<String>, share: ShareState) -> Self {
        HostSession {
            topology: Topology::Sfu,
            ..HostSession::new(me, Limits::SFU, share)
        }
    }

    pub fn topology(&self) -> Topology {
        self.topology
    }

    /// The focus moved the session (P2P → SFU). Newcomers are admitted the SFU way from now
    /// on; everyone already watching keeps the screen peer to peer until it reports that the
    /// SFU's picture decodes ([`Self::on_sfu_live`]), so nobody sees a frozen frame.
    pub fn set_topology(&mut self, topology: Topology) {
        if self.ended || self.topology == topology {
            return;
        }
        self.topology = topology;
        self.limits = match topology {
            Topology::P2p => Limits::P2P,
            Topology::Sfu => Limits::SFU,
        };
    }

    /// `id`'s picture comes from the SFU now (its `SfuLive` signal).
    pub fn on_sfu_live(&mut self, id: &str) -> Vec<HostAction> {
        if self.topology != Topology::Sfu || !self.video.remove(id) {
            return Vec::new();
        }
        let close = self.admitted.get(id) != Some(&Role::Controller);
        if close {
            self.link_up.remove(id);
            self.absent.remove(id);
        }
        vec![HostAction::DropVideo {
            id: id.to_owned(),
            close,
        }]
    }

    /// Whether `id`'s connection carries the screen.
    pub fn sends_video(&self, id: &str) -> bool {
        self.video.contains(id)
    }

    /// The screen is (or is no longer) published on the SFU: everyone is told where.
    pub fn set_route(&mut self, route: Option<SfuRoute>) -> Vec<HostAction> {
        if self.ended || self.route == route {
            return Vec::new();
        }
        self.route = route;
        vec![self.signal(None, SignalBody::Sfu(route))]
    }

    pub fn share(&self) -> ShareState {
        self.share
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Participants with a peer connection, by role.
    pub fn admitted(&self, role: Role) -> usize {
        self.admitted.values().filter(|r| **r == role).count()
    }

    /// Whether `id` may negotiate with us (signals from anyone else are dropped).
    pub fn is_admitted(&self, id: &str) -> bool {
        self.admitted.contains_key(id)
    }

    /// The roster changed (participants sorted host first, then by join time).
    pub fn on_roster(&mut self, participants: &[&Participant]) -> Vec<HostAction> {
        let mut actions = Vec::new();
        if self.ended {
            // Someone arriving at an ended session is told so at once rather than left waiting.
            for p in participants {
                if p.id != self.me && p.role != Role::Host && self.told_ended.insert(p.id.clone()) {
                    actions.push(self.signal(Some(&p.id), SignalBody::Ended));
                }
            }
            return actions;
        }
        let present: VecSet<&str> = participants.iter().map(|p| p.id.as_str()).collect();
        self.asking.retain(|(id, _)| present.contains(id.as_str()));
        let gone: Vec<String> = self
            .admitted
            .keys()
            .filter(|id| !present.contains(id.as_str()))
            .cloned()
            .collect();
        self.absent.retain(|id| !present.contains(id.as_str()));
        for id in gone {
            if self.link_up.contains(&id) {
                self.absent.insert(id);
            } else {
                actions.extend(self.close(&id));
            }
        }
        self.refused.retain(|id| present.contains(id.as_str()));
        let asking: VecSet<String> = self.asking.iter().map(|(id, _)| id.clone()).collect();
        self.signers
            .retain(|id, _| self.admitted.contains_key(id) || asking.contains(id));

        for p in participants {
            if p.id == self.me
                || self.admitted.contains_key(&p.id)
                || self.refused.contains(&p.id)
                || self.barred.contains_key(&p.id)
                || asking.contains(&p.id)
            {
                continue;
            }
            // Another tab claiming to host this session gets nothing from us.
            if p.role == Role::Host {
                continue;
            }
            if let Some(key) = p.signer {
                self.signers.insert(p.id.clone(), key);
            }
            if self.admission_required {
                self.asking.push((p.id.clone(), p.role));
                actions.push(self.signal(Some(&p.id), SignalBody::Waiting));
                continue;
            }
            actions.extend(self.seat(&p.id, p.role));
        }
        actions
    }

    /// Gives `id` a seat if its role has room (P2P: a peer connection with the screen; SFU: the
    /// route, and a data-only peer for a controller), or refuses it as full.
    fn seat(&mut self, id: &str, role: Role) -> Vec<HostAction> {
        let limit = match role {
            Role::Controller => self.limits.controllers,
            Role::Viewer => self.limits.viewers,
            Role::Host => return Vec::new(),
        };
        if self.admitted(role) >= limit {
            self.refused.insert(id.to_owned());
            self.signers.remove(id);
            return vec![self.signal(Some(id), SignalBody::Refused(RefusalReason::Full))];
        }
        let mut actions = Vec::new();
        self.admitted.insert(id.to_owned(), role);
        let sfu = self.topology == Topology::Sfu;
        if !sfu {
            self.video.insert(id.to_owned());
        }
        if !sfu || role == Role::Controller {
            actions.push(HostAction::OpenPeer {
                id: id.to_owned(),
                role,
                video: !sfu,
            });
        }
        actions.push(self.signal(Some(id), self.share_signal()));
        if sfu {
            actions.push(self.signal(Some(id), SignalBody::Sfu(self.route)));
        }
        actions
    }

    /// Whether nobody new gets in without the host's OK (true once the host removed someone).
    pub fn admission_required(&self) -> bool {
        self.admission_required
    }

    /// Who is waiting for the host's OK, in order of arrival.
    pub fn asking(&self) -> Vec<Asking> {
        self.asking
            .iter()
            .map(|(id, role)| Asking {
                id: id.clone(),
                role: *role,
                removed_before: self
                    .signers
                    .get(id)
                    .is_some_and(|key| self.removed.contains(key)),
            })
            .collect()
    }

    /// The host removes `id`: its peer closes now (and with it any control it held), it is told
    /// "removed" and served nothing more under this id; its identity is remembered, and from
    /// now on everyone not yet admitted waits for the host's OK (a fresh tab of the removed
    /// person cannot be told apart from a newcomer).
    pub fn remove(&mut self, id: &str) -> Vec<HostAction> {
        if self.ended || id == self.me {
            return Vec::new();
        }
        let known = self.admitted.contains_key(id)
            || self.refused.contains(id)
            || self.asking.iter().any(|(a, _)| a == id);
        if !known || self.barred.contains_key(id) {
            return Vec::new();
        }
        self.admission_required = true;
        if let Some(key) = self.signers.get(id) {
            self.removed.insert(*key);
        }
        self.asking.retain(|(a, _)| a != id);
        self.refused.remove(id);
        self.barred.insert(id.to_owned(), RefusalReason::Removed);
        let mut actions = vec![self.signal(Some(id), SignalBody::Refused(RefusalReason::Removed))];
        if self.admitted.contains_key(id) {
            actions.extend(self.close(id));
        }
        self.signers.remove(id);
        actions
    }

    /// The host lets `id` in (it was waiting): seated as on arrival, limits permitting.
    pub fn admit(&mut self, id: &str) -> Vec<HostAction> {
        if self.ended {
            return Vec::new();
        }
        let Some(at) = self.asking.iter().position(|(a, _)| a == id) else {
            return Vec::new();
        };
        let (id, role) = self.asking.remove(at);
        self.seat(&id, role)
    }

    /// The host turns `id` away (it was waiting): told so, and never served under this id.
    pub fn deny(&mut self, id: &str) -> Vec<HostAction> {
        if self.ended {
            return Vec::new();
        }
        let Some(at) = self.asking.iter().position(|(a, _)| a == id) else {
            return Vec::new();
        };
        let (id, _) = self.asking.remove(at);
        self.signers.remove(&id);
        self.barred.insert(id.clone(), RefusalReason::Denied);
        vec![self.signal(Some(&id), SignalBody::Refused(RefusalReason::Denied))]
    }

    /// `id`'s peer link (its data channel) went up or down.
    pub fn on_link(&mut self, id: &str, up: bool) -> Vec<HostAction> {
        if !self.admitted.contains_key(id) {
            return Vec::new();
        }
        if up {
            self.link_up.insert(id.to_owned());
            return Vec::new();
        }
        self.link_up.remove(id);
        if self.absent.contains(id) {
            return self.close(id);
        }
        Vec::new()
    }

    fn close(&mut self, id: &str) -> Vec<HostAction> {
        self.admitted.remove(id);
        self.signers.remove(id);
        self.video.remove(id);
        self.link_up.remove(id);
        self.absent.remove(id);
        vec![HostAction::ClosePeer { id: id.to_owned() }]
    }

    /// The browser started or stopped the capture.
    pub fn set_share(&mut self, share: ShareState) -> Vec<HostAction> {
        if self.ended || self.share == share {
            return Vec::new();
        }
        self.share = share;
        vec![self.signal(None, self.share_signal())]
    }

    /// End the session for everyone.
    pub fn end(&mut self) -> Vec<HostAction> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        let mut actions = vec![self.signal(None, SignalBody::Ended)];
        // Everyone present heard the broadcast; only later arrivals are told one by one.
        self.told_ended.extend(self.admitted.keys().cloned());
        self.told_ended.extend(self.refused.iter().cloned());
        self.told_ended.extend(self.barred.keys().cloned());
        self.told_ended
            .extend(self.asking.drain(..).map(|(id, _)| id));
        self.link_up.clear();
        self.absent.clear();
        self.video.clear();
        for id in std::mem::take(&mut self.admitted).into_keys() {
            actions.push(HostAction::ClosePeer { id });
        }
        actions
    }

    /// The host's page is going away: tell everyone now rather than let them time out.
    pub fn leave(&mut self) -> Vec<HostAction> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        vec![self.signal(None, SignalBody::Leaving)]
    }

    fn share_signal(&self) -> SignalBody {
        SignalBody::Share {
            sharing: self.share == ShareState::Sharing,
        }
    }

    fn signal(&self, to: Option<&str>, body: SignalBody) -> HostAction {
        HostAction::Send(SignalEnvelope {
            from: self.me.clone(),
            to: to.map(str::to_owned),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, role: Role, joined_at: u64) -> Participant {
        Participant {
            id: id.into(),
            role,
            joined_at,
            profile: serde_json::Value::Null,
            sig: None,
            signer: None,
        }
    }

    fn opened(actions: &[HostAction]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                HostAction::OpenPeer { id, .. } => Some(id.clone()),
                _ => None,
            })
            .collect()
    }

    fn refused(actions: &[HostAction]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                HostAction::Send(SignalEnvelope {
                    to: Some(to),
                    body: SignalBody::Refused(RefusalReason::Full),
                    ..
                }) => Some(to.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn admits_in_order_of_arrival_up_to_the_soft_limits() {
        let mut host = HostSession::new("h", Limits::P2P, ShareState::Sharing);
        let people = [
            p("h", Role::Host, 0),
            p("c1", Role::Controller, 1),
            p("v1", Role::Viewer, 2),
            p("c2", Role::Controller, 3),
            p("c3", Role::Controller, 4),
            p("c4", Role::Controller, 5),
        ];
        let refs: Vec<&Participant> = people.iter().collect();
        let actions = host.on_roster(&refs);
        assert_eq!(opened(&actions), ["c1", "v1", "c2", "c3"]);
        assert_eq!(refused(&actions), ["c4"]);
        assert_eq!(host.admitted(Role::Controller), 3);
        // Each admitted participant learns the share state.
        assert!(actions.contains(&HostAction::Send(SignalEnvelope {
            from: "h".into(),
            to: Some("v1".into()),
            body: SignalBody::Share { sharing: true },
        })));
        // Nothing new on the same roster: no repeated offers or refusals.
        assert!(host.on_roster(&refs).is_empty());

        // c1 leaves (its link never came up): its peer closes; c4 stays refused (it was told),
        // a newcomer gets the seat.
        let people2: Vec<Participant> = people
            .iter()
            .filter(|x| x.id != "c1")
            .cloned()
            .chain([p("c5", Role::Controller, 6)])
            .collect();
        let refs2: Vec<&Participant> = people2.iter().collect();
        let actions = host.on_roster(&refs2);
        assert!(actions.contains(&HostAction::ClosePeer { id: "c1".into() }));
        assert_eq!(opened(&actions), ["c5"]);
        assert!(!host.is_admitted("c4"));
    }

    #[test]
    fn viewer_limit_and_impostor_hosts() {
        let mut host = HostSession::new(
            "h",
            Limits {
                controllers: 0,
                viewers: 1,
            },
            ShareState::Sharing,
        );
        let people = [
            p("h", Role::Host, 0),
            p("fake", Role::Host, 1),
            p("v1", Role::Viewer, 2),
            p("v2", Role::Viewer, 3),
            p("c1", Role::Controller, 4),
        ];
        let refs: Vec<&Participant> = people.iter().collect();
        let actions = host.on_roster(&refs);
        assert_eq!(opened(&actions), ["v1"]);
        assert_eq!(refused(&actions), ["v2", "c1"]);
        assert!(!host.is_admitted("fake"));
    }

    #[test]
    fn share_changes_are_announced_once_and_end_closes_everything() {
        let mut host = HostSession::new("h", Limits::P2P, ShareState::Sharing);
        let people = [p("v1", Role::Viewer, 1)];
        host.on_roster(&people.iter().collect::<Vec<_>>());
        assert_eq!(host.set_share(ShareState::Sharing), vec![]);
        let paused = host.set_share(ShareState::Paused);
        assert_eq!(
            paused,
            vec![HostAction::Send(SignalEnvelope {
                from: "h".into(),
                to: None,
                body: SignalBody::Share { sharing: false }
            })]
        );
        let end = host.end();
        assert_eq!(end.len(), 2);
        assert!(end.contains(&HostAction::ClosePeer { id: "v1".into() }));
        assert!(host.end().is_empty());
        assert!(host
            .on_roster(&people.iter().collect::<Vec<_>>())
            .is_empty());
        assert!(host.set_share(ShareState::Sharing).is_empty());
        assert!(host.leave().is_empty());
    }

    #[test]
    fn a_presence_blip_closes_nobody_but_gone_and_down_does() {
        let mut host = HostSession::new("h", Limits::P2P, ShareState::Sharing);
        let people = [p("v1", Role::Viewer, 1), p("v2", Role::Viewer, 2)];
        host.on_roster(&people.iter().collect::<Vec<_>>());
        assert!(host.on_link("v1", true).is_empty());
        host.on_link("v2", true);
        // Realtime restarts: presence is empty for a moment, links stay up.
        assert!(host.on_roster(&[]).is_empty());
        assert!(host.is_admitted("v1"));
        // Back in presence: nothing happens; later v1's link drops (ICE hiccup): still kept.
        assert!(host
            .on_roster(&people.iter().collect::<Vec<_>>())
            .is_empty());
        assert!(host.on_link("v1", false).is_empty());
        host.on_link("v1", true);
        // v2 closes its tab: presence leave, then its channel closes.
        let only_v1 = [p("v1", Role::Viewer, 1)];
        assert!(host
            .on_roster(&only_v1.iter().collect::<Vec<_>>())
            .is_empty());
        assert_eq!(
            host.on_link("v2", false),
            vec![HostAction::ClosePeer { id: "v2".into() }]
        );
        assert!(!host.is_admitted("v2"));
        assert!(host.on_link("v2", false).is_empty());
    }

    #[test]
    fn leaving_tells_everyone_once() {
        let mut host = HostSession::new("h", Limits::P2P, ShareState::Sharing);
        assert_eq!(
            host.leave(),
            vec![HostAction::Send(SignalEnvelope {
                from: "h".into(),
                to: None,
                body: SignalBody::Leaving
            })]
        );
        assert!(host.leave().is_empty());
        assert!(host.end().is_empty());
    }

    #[test]
    fn in_sfu_mode_only_controllers_get_a_data_only_peer_and_everyone_learns_the_route() {
        let mut host = HostSession::sfu("h", ShareState::Sharing);
        let route = SfuRoute { room: 7, feed: 9 };
        let a = host.set_route(Some(route));
        assert_eq!(
            a,
            vec![HostAction::Send(SignalEnvelope {
                from: "h".into(),
                to: None,
                body: SignalBody::Sfu(Some(route))
            })]
        );
        assert!(host.set_route(Some(route)).is_empty());
        let people = [
            p("h", Role::Host, 0),
            p("c1", Role::Controller, 1),
            p("v1", Role::Viewer, 2),
        ];
        let refs: Vec<&Participant> = people.iter().collect();
        let actions = host.on_roster(&refs);
        assert!(actions.contains(&HostAction::OpenPeer {
            id: "c1".into(),
            role: Role::Controller,
            video: false
        }));
        assert_eq!(opened(&actions), vec!["c1".to_owned()]);
        assert!(host.is_admitted("v1"));
        for id in ["c1", "v1"] {
            assert!(actions.contains(&HostAction::Send(SignalEnvelope {
                from: "h".into(),
                to: Some(id.into()),
                body: SignalBody::Sfu(Some(route))
            })));
        }
        // 30 viewers fit (P2P stops at 25).
        let many: Vec<Participant> = (0..30)
            .map(|i| p(&format!("w{i}"), Role::Viewer, 10 + i))
            .collect();
        let refs: Vec<&Participant> = many.iter().collect();
        assert!(refused(&host.on_roster(&refs)).is_empty());
        // A viewer that leaves presence is forgotten at once (it has no link to wait for).
        let actions = host.on_roster(&[&people[0]]);
        assert!(actions.contains(&HostAction::ClosePeer { id: "w0".into() }));
        assert!(!host.is_admitted("w0"));
    }

    #[test]
    fn an_upgrade_keeps_each_guests_p2p_picture_until_its_sfu_picture_decodes() {
        let mut host = HostSession::new("h", Limits::P2P, ShareState::Sharing);
        let people = [
            p("h", Role::Host, 0),
            p("c1", Role::Controller, 1),
            p("v1", Role::Viewer, 2),
        ];
        let actions = host.on_roster(&people.iter().collect::<Vec<_>>());
        assert_eq!(opened(&actions), ["c1", "v1"]);
        host.on_link("v1", true);
        // Nothing to stop before the move, nor for someone unknown.
        assert!(host.on_sfu_live("v1").is_empty());
        host.set_topology(Topology::Sfu);
        assert!(host.on_sfu_live("stranger").is_empty());
        // The move itself closes nothing; the route reaches everyone once published.
        let route = SfuRoute { room: 1, feed: 2 };
        let a = host.set_route(Some(route));
        assert!(matches!(
            &a[..],
            [HostAction::Send(SignalEnvelope { to: None, .. })]
        ));
        // A newcomer gets no P2P picture; a viewer gets no connection at all.
        let more = [
            p("h", Role::Host, 0),
            p("c1", Role::Controller, 1),
            p("v1", Role::Viewer, 2),
            p("v2", Role::Viewer, 3),
            p("c2", Role::Controller, 4),
        ];
        let a = host.on_roster(&more.iter().collect::<Vec<_>>());
        assert_eq!(opened(&a), ["c2"]);
        assert!(a.contains(&HostAction::OpenPeer {
            id: "c2".into(),
            role: Role::Controller,
            video: false
        }));
        assert!(!host.sends_video("c2"));
        // Each guest that decodes from the SFU stops its P2P picture: a viewer's connection
        // closes (it stays admitted), a controller's stays for control.
        assert_eq!(
            host.on_sfu_live("v1"),
            vec![HostAction::DropVideo {
                id: "v1".into(),
                close: true
            }]
        );
        assert!(host.is_admitted("v1"));
        assert_eq!(
            host.on_sfu_live("c1"),
            vec![HostAction::DropVideo {
                id: "c1".into(),
                close: false
            }]
        );
        // Once only.
        assert!(host.on_sfu_live("v1").is_empty());
        assert!(host.on_sfu_live("c2").is_empty());
        // 26 viewers now fit.
        let many: Vec<Participant> = (0..26)
            .map(|i| p(&format!("w{i}"), Role::Viewer, 10 + i))
            .collect();
        assert!(refused(&host.on_roster(&many.iter().collect::<Vec<_>>())).is_empty());
    }

    fn signed(id: &str, role: Role, joined_at: u64, seed: u8) -> Participant {
        Participant {
            signer: Some(crate::identity::Signer::from_seed([seed; 32]).public()),
            ..p(id, role, joined_at)
        }
    }

    fn sent_to(actions: &[HostAction], to: &str) -> Vec<SignalBody> {
        actions
            .iter()
            .filter_map(|a| match a {
                HostAction::Send(SignalEnvelope {
                    to: Some(t), body, ..
                }) if t == to => Some(body.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_removed_participant_is_cut_off_and_nobody_new_gets_in_without_the_hosts_ok() {
        let mut host = HostSession::new("h", Limits::P2P, ShareState::Sharing);
        let v1 = signed("v1", Role::Viewer, 1, 1);
        let v2 = signed("v2", Role::Viewer, 2, 2);
        let hp = p("h", Role::Host, 0);
        host.on_roster(&[&hp, &v1, &v2]);
        host.on_link("v1", true);
        assert!(!host.admission_required());

        // Removing: told why, peer closed now (link up or not), barred for good.
        let actions = host.remove("v1");
        assert_eq!(
            sent_to(&actions, "v1"),
            [SignalBody::Refused(RefusalReason::Removed)]
        );
        assert!(actions.contains(&HostAction::ClosePeer { id: "v1".into() }));
        assert!(!host.is_admitted("v1"));
        assert!(host.admission_required());
        assert!(host.remove("v1").is_empty(), "once");
        // Its page ignoring that and staying (or coming back under the same id) gets nothing.
        assert!(host.on_roster(&[&hp, &v1, &v2]).is_empty());
        assert!(host.on_roster(&[&hp, &v2]).is_empty());
        assert!(host.on_roster(&[&hp, &v1, &v2]).is_empty());
        assert!(!host.is_admitted("v1"));
        // v2 is untouched.
        assert!(host.is_admitted("v2"));

        // The removed person's reloaded tab (new id, same identity) and a newcomer both wait.
        let again = signed("v1b", Role::Viewer, 5, 1);
        let fresh = signed("v3", Role::Controller, 6, 3);
        let actions = host.on_roster(&[&hp, &v2, &again, &fresh]);
        assert!(opened(&actions).is_empty());
        assert_eq!(sent_to(&actions, "v1b"), [SignalBody::Waiting]);
        assert_eq!(sent_to(&actions, "v3"), [SignalBody::Waiting]);
        assert_eq!(
            host.asking(),
            [
                Asking {
                    id: "v1b".into(),
                    role: Role::Viewer,
                    removed_before: true
                },
                Asking {
                    id: "v3".into(),
                    role: Role::Controller,
                    removed_before: false
                }
            ]
        );
        assert!(!host.is_admitted("v1b"));
        // Told once, not on every roster change.
        assert!(host.on_roster(&[&hp, &v2, &again, &fresh]).is_empty());

        // The host admits the reloaded tab: seated exactly as on arrival.
        let actions = host.admit("v1b");
        assert_eq!(opened(&actions), ["v1b"]);
        assert_eq!(
            sent_to(&actions, "v1b"),
            [SignalBody::Share { sharing: true }]
        );
        assert!(host.is_admitted("v1b"));
        assert!(host.admit("v1b").is_empty(), "once");
        // And denies the newcomer: told so, barred under that id.
        let actions = host.deny("v3");
        assert_eq!(
            sent_to(&actions, "v3"),
            [SignalBody::Refused(RefusalReason::Denied)]
        );
        assert!(host.asking().is_empty());
        assert!(host.on_roster(&[&hp, &v2, &again, &fresh]).is_empty());
        assert!(!host.is_admitted("v3"));
        assert!(
            host.admit("v3").is_empty(),
            "a denied id cannot be admitted later"
        );
        assert!(
            host.deny("v2").is_empty(),
            "only someone asking can be denied"
        );
        // Someone asking who leaves is forgotten.
        let v4 = signed("v4", Role::Viewer, 7, 4);
        host.on_roster(&[&hp, &v2, &again, &v4]);
        assert_eq!(host.asking().len(), 1);
        host.on_roster(&[&hp, &v2, &again]);
        assert!(host.asking().is_empty());
        assert!(host.admit("v4").is_empty());
    }

    #[test]
    fn remove_refuses_unknowns_the_host_and_after_the_end() {
        let mut host = HostSession::new("h", Limits::P2P, ShareState::Sharing);
        assert!(host.remove("nobody").is_empty());
        assert!(host.remove("h").is_empty());
        assert!(!host.admission_required());
        let v1 = signed("v1", Role::Viewer, 1, 1);
        host.on_roster(&[&v1]);
        host.end();
        assert!(host.remove("v1").is_empty());
        assert!(host.admit("v1").is_empty());
        assert!(host.deny("v1").is_empty());
    }

    #[test]
    fn admission_still_honours_the_soft_limits() {
        let mut host = HostSession::new(
            "h",
            Limits {
                controllers: 1,
                viewers: 1,
            },
            ShareState::Paused,
        );
        let v1 = signed("v1", Role::Viewer, 1, 1);
        host.on_roster(&[&v1]);
        host.remove("v1");
        let v2 = signed("v2", Role::Viewer, 2, 2);
        let v3 = signed("v3", Role::Viewer, 3, 3);
        host.on_roster(&[&v2, &v3]);
        assert_eq!(opened(&host.admit("v2")), ["v2"]);
        let actions = host.admit("v3");
        assert_eq!(refused(&actions), ["v3"]);
        assert!(!host.is_admitted("v3"));
    }

    #[test]
    fn someone_arriving_after_the_end_is_told_it_ended() {
        let mut host = HostSession::new("h", Limits::P2P, ShareState::Sharing);
        let v1 = p("v1", Role::Viewer, 1);
        host.on_roster(&[&v1]);
        host.end();
        // v1 heard the broadcast; a latecomer is told directly, once.
        let late = p("v2", Role::Viewer, 2);
        let actions = host.on_roster(&[&v1, &late]);
        assert_eq!(
            actions,
            vec![HostAction::Send(SignalEnvelope {
                from: "h".into(),
                to: Some("v2".into()),
                body: SignalBody::Ended
            })]
        );
        assert!(host.on_roster(&[&v1, &late]).is_empty());
        assert!(opened(&actions).is_empty());
    }
}
