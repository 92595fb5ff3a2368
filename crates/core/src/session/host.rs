//! The host's side of a session: who gets a peer connection (soft limits, in order of
//! arrival), who is refused, what everyone is told about the share, and ending it.
//!
//! Participants arrive here only once their signed presence verified (see `roster`), so a
//! claimed role cannot take a seat before the host can see who it is. An admitted peer is
//! closed when its link is down **and** it is gone from presence — never on a presence blip
//! alone (presence empties while Realtime reconnects; media keeps flowing peer to peer).

use crate::vecmap::{VecMap, VecSet};

use super::{RefusalReason, SfuRoute, SignalBody, SignalEnvelope};
use crate::e2ee::rekey::{self, WrapContext, AGREEMENT_KEY_LEN};
use crate::identity::PublicKey;
use crate::link::RoomKey;
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
    /// Give the transform worker the media secret of a new epoch (it decrypts in it at once).
    InstallKey { epoch: u32, secret: RoomKey },
    /// Encrypt our frames (and seal what goes through the SFU) in `epoch`, whose secret this
    /// is, from now on; older epochs can be retired a little later.
    SendIn { epoch: u32, secret: RoomKey },
    /// Call [`HostSession::on_key_deadline`] with `epoch` after `after_ms`
    /// ([`KEY_ACK_DEADLINE_MS`], or [`KEY_SLOW_RESEND_MS`] once the quick resends are spent):
    /// who has not confirmed the new secret by then gets a frozen frame rather than hold up
    /// the change for everyone, and the secret again.
    KeyDeadline { epoch: u32, after_ms: u64 },
    /// Keep this in the tab's `sessionStorage`: a reload of the host's tab starts from it.
    Remember(HostMemory),
}

/// How long the host waits for everyone to confirm a new media secret before encrypting in it.
pub const KEY_ACK_DEADLINE_MS: u64 = 2_000;
/// How long a seated participant's connection may take to come up before its seat stops
/// counting against the limits ([`HostSession::on_seat_deadline`]); a guest tells its person
/// after 15 s (`guest::CONNECT_WAIT_MS`) and keeps trying.
pub const SEAT_CONNECT_MS: u64 = 30_000;
/// How long after a change of epoch the older epochs' secrets are kept (frames in flight).
pub const RETIRE_AFTER_MS: u64 = 5_000;

/// What the host's tab keeps across its own reload once it has removed someone: who it
/// removed, whom it let in (they come back without asking), and the media epoch reached (the
/// reloaded tab moves on to a new one; it never keeps a secret).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostMemory {
    pub removed: Vec<PublicKey>,
    pub allowed: Vec<PublicKey>,
    pub admission_required: bool,
    pub epoch: u32,
}

impl HostMemory {
    pub fn to_json(&self) -> serde_json::Value {
        let keys = |k: &[PublicKey]| k.iter().map(|k| k.encode()).collect::<Vec<_>>();
        serde_json::json!({
            "removed": keys(&self.removed),
            "allowed": keys(&self.allowed),
            "admission": self.admission_required,
            "epoch": self.epoch,
        })
    }

    /// `None` for anything that is not what [`Self::to_json`] wrote.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        let keys = |field: &str| -> Option<Vec<PublicKey>> {
            value
                .get(field)?
                .as_array()?
                .iter()
                .map(|k| k.as_str().and_then(PublicKey::parse))
                .collect()
        };
        Some(HostMemory {
            removed: keys("removed")?,
            allowed: keys("allowed")?,
            admission_required: value.get("admission")?.as_bool()?,
            epoch: u32::try_from(value.get("epoch")?.as_u64()?).ok()?,
        })
    }
}

/// The host's media epochs (`e2ee::rekey`).
#[derive(Debug)]
struct Epochs {
    session: String,
    seed: Seed,
    /// The newest epoch (0: the room key, nobody removed).
    current: u32,
    /// The epoch our frames are encrypted in.
    sending: u32,
    /// Who has yet to confirm `current`'s secret.
    waiting: VecSet<String>,
    /// Times `current`'s secret was sent again to those who had not confirmed it.
    resends: u32,
}

/// What every epoch's secret comes from: never printed (`Debug` of the session shows it
/// redacted), wiped when dropped.
struct Seed([u8; 32]);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(<redacted>)")
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// How often the host sends a new epoch's secret again to someone who has not confirmed it (a
/// lost signal, a socket that was reconnecting), one [`KEY_ACK_DEADLINE_MS`] apart; then
/// every [`KEY_SLOW_RESEND_MS`] for as long as they hold a seat and have not confirmed.
const KEY_RESENDS: u32 = 15;

/// The resends' pace once [`KEY_RESENDS`] quick ones went unconfirmed. They never stop: a
/// participant left on the old epoch (a server that dropped its copies for a while) would go on
/// encrypting its voice in a secret the removed person has. At most one sealed signal per
/// seat every 30 s.
pub const KEY_SLOW_RESEND_MS: u64 = 30_000;

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
    /// Seated participants whose connection did not come up within [`SEAT_CONNECT_MS`]: they
    /// may still connect, but hold no seat against the limits meanwhile. Otherwise a meta
    /// replayed under a departed participant's id — anyone who saw it can track it again —
    /// would hold a seat for as long as its socket stays.
    stalled: VecSet<String>,
    /// Admitted participants missing from presence (closed once their link is down too).
    absent: VecSet<String>,
    refused: VecSet<String>,
    share: ShareState,
    /// This tab cannot send media at all ([`Self::set_unable`]).
    unable: bool,
    ended: bool,
    /// Ended by our page going ([`Self::leave`]), not by the host ending the session.
    left: bool,
    topology: Topology,
    route: Option<SfuRoute>,
    /// Admitted participants whose connection carries the screen.
    video: VecSet<String>,
    /// The agreement key (profile `kx`) of each admitted or asking participant.
    agreement: VecMap<String, [u8; AGREEMENT_KEY_LEN]>,
    /// Identities the host let in (they come back without asking, even after a host reload).
    allowed: VecSet<PublicKey>,
    /// `None` until the glue gives a seed ([`Self::enable_epochs`]).
    epochs: Option<Epochs>,
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
            stalled: VecSet::new(),
            absent: VecSet::new(),
            refused: VecSet::new(),
            share,
            unable: false,
            ended: false,
            left: false,
            topology: Topology::P2p,
            route: None,
            video: VecSet::new(),
            agreement: VecMap::new(),
            allowed: VecSet::new(),
            epochs: None,
        }
    }

    /// Turns on media epochs: `seed` (32 random bytes, never leaving this tab) derives every
    /// epoch's secret; `memory` is what this tab remembered before a reload. A host that had
    /// moved past epoch 0 moves on to a fresh epoch at once (it kept no secret).
    pub fn enable_epochs(
        &mut self,
        session: impl Into<String>,
        seed: [u8; 32],
        memory: Option<HostMemory>,
    ) -> Vec<HostAction> {
        let memory = memory.unwrap_or_default();
        // Disjoint as written: a removal takes the identity out of `allowed`, and letting it in
        // again puts it back (it stays in `removed`, so the host is told if it asks again).
        self.removed.extend(memory.removed.iter().copied());
        self.allowed.extend(memory.allowed);
        self.admission_required |= memory.admission_required;
        self.epochs = Some(Epochs {
            session: session.into(),
            seed: Seed(seed),
            current: memory.epoch,
            sending: memory.epoch,
            waiting: VecSet::new(),
            resends: 0,
        });
        // Never the room key: a session's media starts in an epoch whose secret goes only to
        // those the host seats, with their seat. In epoch 0 any holder of the link could take
        // a Janus grant without ever joining presence — invisible to the host, who could not
        // remove it — and open an SFU session's screen and voices.
        self.rotate()
    }

    /// The epoch our frames are encrypted in (0 without epochs).
    pub fn send_epoch(&self) -> u32 {
        self.epochs.as_ref().map_or(0, |e| e.sending)
    }

    /// What a reload of this tab must start from.
    pub fn memory(&self) -> HostMemory {
        HostMemory {
            removed: self.removed.iter().copied().collect(),
            allowed: self.allowed.iter().copied().collect(),
            admission_required: self.admission_required,
            epoch: self.epochs.as_ref().map_or(0, |e| e.current),
        }
    }

    /// Moves to a new epoch: its secret to the worker and to every admitted participant alone.
    /// We encrypt in it once each has confirmed (or at the deadline) — at once if nobody is
    /// there to wait for.
    fn rotate(&mut self) -> Vec<HostAction> {
        let Some(epochs) = self.epochs.as_mut() else {
            return Vec::new();
        };
        // A switch still waiting for its deadline keeps it: removals in quick succession
        // must not hold our frames in an older epoch, a deadline at a time.
        let pending = epochs.sending != epochs.current;
        epochs.current += 1;
        epochs.resends = 0;
        let epoch = epochs.current;
        let secret = rekey::epoch_secret(&epochs.seed.0, epoch);
        let mut actions = vec![HostAction::InstallKey {
            epoch,
            secret: secret.clone(),
        }];
        let mut waiting = VecSet::new();
        for id in self.admitted.keys() {
            if let Some(send) = self.key_for(id) {
                actions.push(send);
                waiting.insert(id.clone());
            }
        }
        if waiting.is_empty() {
            actions.push(HostAction::SendIn { epoch, secret });
        } else if !pending {
            actions.push(HostAction::KeyDeadline {
                epoch,
                after_ms: KEY_ACK_DEADLINE_MS,
            });
        }
        if let Some(epochs) = self.epochs.as_mut() {
            if waiting.is_empty() {
                epochs.sending = epoch;
            }
            epochs.waiting = waiting;
        }
        actions.push(HostAction::Remember(self.memory()));
        actions
    }

    /// Encrypt in `epoch` from now on (its secret, for what the glue seals with it too).
    fn send_in(epochs: &mut Epochs, epoch: u32) -> HostAction {
        epochs.sending = epoch;
        HostAction::SendIn {
            epoch,
            secret: rekey::epoch_secret(&epochs.seed.0, epoch),
        }
    }

    /// The current epoch's secret, wrapped for `id` (nothing in epoch 0, which everyone with
    /// the link has, or for a participant without a usable agreement key).
    fn key_for(&self, id: &str) -> Option<HostAction> {
        let epochs = self.epochs.as_ref().filter(|e| e.current > 0)?;
        let to = self.agreement.get(id)?;
        let secret = rekey::epoch_secret(&epochs.seed.0, epochs.current);
        let ctx = WrapContext {
            session: &epochs.session,
            recipient: id,
            epoch: epochs.current,
        };
        let key = rekey::wrap_text(&secret, to, ctx)?;
        Some(self.signal(
            Some(id),
            SignalBody::MediaKey {
                epoch: epochs.current,
                key,
            },
        ))
    }

    /// The current epoch's secret for `id`, confirmed like everyone's and sent again until it
    /// is: one whose copy was lost would stay without the picture and mute. A newcomer puts
    /// the resends back on their quick pace; anyone else joins them at the pace they are at.
    fn give_key(&mut self, id: &str, newcomer: bool) -> Vec<HostAction> {
        let Some(send) = self.key_for(id) else {
            return Vec::new();
        };
        let mut actions = vec![send];
        if let Some(epochs) = self.epochs.as_mut() {
            let deadline_set =
                !epochs.waiting.is_empty() && (!newcomer || epochs.resends < KEY_RESENDS);
            epochs.waiting.insert(id.to_owned());
            if !deadline_set {
                epochs.resends = 0;
                actions.push(HostAction::KeyDeadline {
                    epoch: epochs.current,
                    after_ms: KEY_ACK_DEADLINE_MS,
                });
            }
        }
        actions
    }

    /// `id` confirms it holds `epoch`'s secret (a late confirmation of an earlier epoch
    /// changes nothing). One that holds none (epoch 0: its keys started over, as a guest's do
    /// when it follows another host join and comes back to us, still seated) is given the
    /// current secret again at once, and waited for like everyone — without restarting
    /// anyone's quick resends: asking again and again gets one wrapped secret per ask (its own
    /// signals are rate-limited by the server) and moves nobody else's resends.
    pub fn on_key_ack(&mut self, id: &str, epoch: u32) -> Vec<HostAction> {
        let Some(epochs) = self.epochs.as_ref() else {
            return Vec::new();
        };
        if epoch == 0 && epochs.current > 0 {
            let seated = !self.ended && self.admitted.contains_key(id);
            return if seated {
                self.give_key(id, false)
            } else {
                Vec::new()
            };
        }
        let Some(epochs) = self.epochs.as_mut() else {
            return Vec::new();
        };
        if epoch != epochs.current || !epochs.waiting.remove(id) {
            return Vec::new();
        }
        if epochs.waiting.is_empty() && epochs.sending != epoch {
            return vec![Self::send_in(epochs, epoch)];
        }
        Vec::new()
    }

    /// The wait for confirmations of `epoch` is over: encrypt in the current epoch now (a
    /// deadline set for an earlier one covers the epochs made since).
    pub fn on_key_deadline(&mut self, epoch: u32) -> Vec<HostAction> {
        if self.ended {
            return Vec::new();
        }
        let Some(epochs) = self.epochs.as_mut() else {
            return Vec::new();
        };
        if epoch > epochs.current {
            return Vec::new();
        }
        let epoch = epochs.current;
        let mut actions = Vec::new();
        if epochs.sending != epoch {
            actions.push(Self::send_in(epochs, epoch));
        }
        // Whoever has not confirmed gets the secret again (and again, a deadline apart): a
        // participant left on the old epoch would freeze, and would keep encrypting its voice
        // in a secret the removed person has.
        if epochs.waiting.is_empty() {
            return actions;
        }
        epochs.resends = epochs.resends.saturating_add(1);
        let after_ms = if epochs.resends >= KEY_RESENDS {
            KEY_SLOW_RESEND_MS
        } else {
            KEY_ACK_DEADLINE_MS
        };
        let waiting: Vec<String> = epochs.waiting.iter().cloned().collect();
        actions.extend(waiting.iter().filter_map(|id| self.key_for(id)));
        actions.push(HostAction::KeyDeadline { epoch, after_ms });
        actions
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

    /// Seats held, by role: participants admitted, less those whose connection did not come up
    /// in time ([`Self::on_seat_deadline`]).
    pub fn admitted(&self, role: Role) -> usize {
        self.admitted
            .iter()
            .filter(|(id, r)| **r == role && !self.stalled.contains(*id))
            .count()
    }

    /// [`SEAT_CONNECT_MS`] after `id` was given a peer connection ([`HostAction::OpenPeer`]):
    /// if its link is not up by now, its seat stops counting against the limits until it is.
    pub fn on_seat_deadline(&mut self, id: &str) {
        if self.admitted.contains_key(id) && !self.link_up.contains(id) {
            self.stalled.insert(id.to_owned());
        }
    }

    /// Whether `id` may negotiate with us (signals from anyone else are dropped).
    pub fn is_admitted(&self, id: &str) -> bool {
        self.admitted.contains_key(id)
    }

    /// The role `id` was seated in, if it holds a seat.
    pub fn seated_as(&self, id: &str) -> Option<Role> {
        self.admitted.get(id).copied()
    }

    /// Who holds a seat: admitted, and not gone, refused or removed since.
    pub fn seated(&self) -> impl Iterator<Item = &str> {
        self.admitted.keys().map(String::as_str)
    }

    /// The participant ids this host removed: every tab of a removed identity.
    pub fn removed(&self) -> impl Iterator<Item = &str> {
        self.barred
            .iter()
            .filter(|(_, why)| **why == RefusalReason::Removed)
            .map(|(id, _)| id.as_str())
    }

    /// The roster changed (participants sorted host first, then by join time).
    pub fn on_roster(&mut self, participants: &[&Participant]) -> Vec<HostAction> {
        let mut actions = Vec::new();
        // A page that left (or whose session went on in another tab) tells nobody anything.
        if self.left {
            return actions;
        }
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
        // Back from a presence gap (a reconnecting socket): what was broadcast meanwhile may
        // have been missed — the share state and the SFU route (each is idempotent for the
        // guest: a pause resumed meanwhile would stay "paused" over a live picture, a route
        // moved meanwhile would leave it subscribing to a gone feed), and a secret.
        let back: Vec<String> = self
            .absent
            .iter()
            .filter(|id| present.contains(id.as_str()))
            .cloned()
            .collect();
        for id in &back {
            actions.push(self.signal(Some(id), self.share_signal()));
            if self.topology == Topology::Sfu {
                actions.push(self.signal(Some(id), SignalBody::Sfu(self.route)));
            }
            let waiting = self.epochs.as_ref().is_some_and(|e| e.waiting.contains(id));
            if waiting {
                actions.extend(self.key_for(id));
            }
        }
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
        self.agreement
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
            if let Some(kx) = p.kx() {
                self.agreement.insert(p.id.clone(), kx);
            }
            let let_in_before = p.signer.is_some_and(|k| self.allowed.contains(&k));
            if self.admission_required && !let_in_before {
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
        if role == Role::Host {
            return Vec::new();
        }
        if self.full(role) {
            self.signers.remove(id);
            return vec![self.refuse_full(id)];
        }
        let mut actions = Vec::new();
        self.admitted.insert(id.to_owned(), role);
        // The media secret first, ahead of the offer (a spare connection's goes at once):
        // nothing the newcomer receives can be opened without it.
        actions.extend(self.give_key(id, true));
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
        if let Some(key) = self.signers.get(id).copied() {
            if self.allowed.insert(key) && self.admission_required {
                actions.push(HostAction::Remember(self.memory()));
            }
        }
        actions
    }

    /// Whether every seat of `role` (a guest's) is held.
    fn full(&self, role: Role) -> bool {
        let limit = match role {
            Role::Controller => self.limits.controllers,
            Role::Viewer | Role::Host => self.limits.viewers,
        };
        self.admitted(role) >= limit
    }

    /// `id` is refused as full, and not seated again while it stays.
    fn refuse_full(&mut self, id: &str) -> HostAction {
        self.refused.insert(id.to_owned());
        self.signal(Some(id), SignalBody::Refused(RefusalReason::Full))
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
        // The identity, not only this id: another tab with the same key (a duplicated tab
        // shares its sessionStorage) goes too.
        let mut ids = vec![id.to_owned()];
        if let Some(key) = self.signers.get(id).copied() {
            self.removed.insert(key);
            self.allowed.remove(&key);
            ids.extend(
                self.signers
                    .iter()
                    .filter(|(other, k)| other.as_str() != id && **k == key)
                    .map(|(other, _)| other.clone()),
            );
        }
        let mut actions = Vec::new();
        for id in &ids {
            self.asking.retain(|(a, _)| a != id);
            self.refused.remove(id);
            self.barred.insert(id.clone(), RefusalReason::Removed);
            actions.push(self.signal(Some(id), SignalBody::Refused(RefusalReason::Removed)));
            if self.admitted.contains_key(id) {
                actions.extend(self.close(id));
            }
            self.signers.remove(id);
            self.agreement.remove(id);
        }
        // Everyone left moves to a media secret the removed person never gets (it holds the
        // room key, so it could otherwise still decrypt, e.g. from the SFU).
        let rotated = self.rotate();
        if rotated.is_empty() {
            actions.push(HostAction::Remember(self.memory()));
        }
        actions.extend(rotated);
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
        self.agreement.remove(&id);
        self.barred.insert(id.clone(), RefusalReason::Denied);
        vec![self.signal(Some(&id), SignalBody::Refused(RefusalReason::Denied))]
    }

    /// `id`'s peer link (its data channel) went up or down.
    pub fn on_link(&mut self, id: &str, up: bool) -> Vec<HostAction> {
        if !self.admitted.contains_key(id) {
            return Vec::new();
        }
        if up {
            if self.stalled.contains(id) {
                // Its seat went to nobody or to a newcomer meanwhile: back only if there is
                // still room (counted without it: it is stalled), else refused as full like
                // anyone past the limits.
                let role = self.admitted.get(id).copied().unwrap_or(Role::Viewer);
                if self.full(role) {
                    let mut actions = self.close(id);
                    actions.push(self.refuse_full(id));
                    return actions;
                }
                self.stalled.remove(id);
            }
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
        self.agreement.remove(id);
        let mut actions = Vec::new();
        if let Some(e) = self.epochs.as_mut() {
            // The last one we waited for is gone: nothing left to wait for.
            if e.waiting.remove(id) && e.waiting.is_empty() && e.sending != e.current {
                let current = e.current;
                actions.push(Self::send_in(e, current));
            }
        }
        self.video.remove(id);
        self.link_up.remove(id);
        self.stalled.remove(id);
        self.absent.remove(id);
        actions.push(HostAction::ClosePeer { id: id.to_owned() });
        actions
    }

    /// The browser started or stopped the capture.
    pub fn set_share(&mut self, share: ShareState) -> Vec<HostAction> {
        if self.ended || self.unable || self.share == share {
            return Vec::new();
        }
        self.share = share;
        vec![self.signal(None, self.share_signal())]
    }

    /// This tab cannot send media at all (its E2EE worker failed): the share is paused for
    /// good, and everyone — and each newcomer — is told why, so that nobody waits for a
    /// picture that cannot come. Only a reload (a new host presence) shares again.
    pub fn set_unable(&mut self) -> Vec<HostAction> {
        if self.ended || self.unable {
            return Vec::new();
        }
        self.unable = true;
        self.share = ShareState::Paused;
        vec![self.signal(None, self.share_signal())]
    }

    /// End the session for everyone.
    pub fn end(&mut self) -> Vec<HostAction> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        self.stop_waiting_for_keys();
        let mut actions = vec![self.signal(None, SignalBody::Ended)];
        // Everyone present heard the broadcast; only later arrivals are told one by one.
        self.told_ended.extend(self.admitted.keys().cloned());
        self.told_ended.extend(self.refused.iter().cloned());
        self.told_ended.extend(self.barred.keys().cloned());
        self.told_ended
            .extend(self.asking.drain(..).map(|(id, _)| id));
        actions.extend(self.close_every_seat());
        actions
    }

    /// Every seat's connection closes (the session is over for this page).
    fn close_every_seat(&mut self) -> Vec<HostAction> {
        self.link_up.clear();
        self.absent.clear();
        self.video.clear();
        std::mem::take(&mut self.admitted)
            .into_keys()
            .map(|id| HostAction::ClosePeer { id })
            .collect()
    }

    /// Another tab of this host (a duplicated tab: the same key and chain, joined later) is
    /// the host guests follow now: this one hosts no more. Every connection closes; nobody is
    /// told anything (a `Leaving` or `Ended` from us would be about a session that goes on).
    /// What this tab remembers for a reload asks the host's OK for everyone: the other tab
    /// may remove people meanwhile, and its memory is its own.
    pub fn moved_on(&mut self) -> Vec<HostAction> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        self.left = true;
        self.stop_waiting_for_keys();
        self.asking.clear();
        self.allowed.clear();
        self.admission_required = true;
        let mut actions = self.close_every_seat();
        actions.push(HostAction::Remember(self.memory()));
        actions
    }

    /// The host's page is going away: tell everyone now rather than let them time out.
    pub fn leave(&mut self) -> Vec<HostAction> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        self.left = true;
        self.stop_waiting_for_keys();
        vec![self.signal(None, SignalBody::Leaving)]
    }

    /// Nobody is sent a secret again once the session is over for this page.
    fn stop_waiting_for_keys(&mut self) {
        if let Some(epochs) = self.epochs.as_mut() {
            epochs.waiting.clear();
        }
    }

    /// Our own socket is back after a gap (a network change, a closed laptop). What we
    /// broadcast while it was down waited in the client's queue and expired unsent after
    /// 10 s, so everyone is told again what holds now: the share state and, in SFU mode, the
    /// route — or that the session ended. Each is idempotent for a guest that heard it.
    pub fn on_rejoined(&mut self) -> Vec<HostAction> {
        if self.left {
            return Vec::new();
        }
        if self.ended {
            return vec![self.signal(None, SignalBody::Ended)];
        }
        let mut actions = vec![self.signal(None, self.share_signal())];
        if self.topology == Topology::Sfu {
            actions.push(self.signal(None, SignalBody::Sfu(self.route)));
        }
        actions
    }

    fn share_signal(&self) -> SignalBody {
        SignalBody::Share {
            sharing: self.share == ShareState::Sharing,
            unable: self.unable,
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

    /// A sharing host with these soft limits.
    fn with_limits(controllers: usize, viewers: usize) -> HostSession {
        HostSession::new(
            "h",
            Limits {
                controllers,
                viewers,
            },
            ShareState::Sharing,
        )
    }

    fn p(id: &str, role: Role, joined_at: u64) -> Participant {
        Participant {
            id: id.into(),
            role,
            joined_at,
            profile: serde_json::Value::Null,
            sig: None,
            signer: None,
            wire: crate::session::WIRE_VERSION,
            wire_sig: None,
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
            body: SignalBody::Share {
                sharing: true,
                unable: false
            },
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
        let mut host = with_limits(0, 1);
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
    fn a_seat_whose_connection_never_comes_up_stops_counting() {
        let mut host = with_limits(2, 25);
        // Two controllers' metas tracked again under their departed ids (a replay): seated,
        // but nobody answers.
        let replayed = [p("c1", Role::Controller, 1), p("c2", Role::Controller, 2)];
        let refs: Vec<&Participant> = replayed.iter().collect();
        assert_eq!(opened(&host.on_roster(&refs)), ["c1", "c2"]);
        assert_eq!(host.admitted(Role::Controller), 2);
        // c2 connects in time; c1 does not.
        host.on_link("c2", true);
        host.on_seat_deadline("c1");
        host.on_seat_deadline("c2");
        assert_eq!(host.admitted(Role::Controller), 1);
        // The real controller who comes now gets a seat.
        let people = [
            replayed[0].clone(),
            replayed[1].clone(),
            p("c3", Role::Controller, 3),
        ];
        let actions = host.on_roster(&people.iter().collect::<Vec<_>>());
        assert_eq!(opened(&actions), ["c3"]);
        assert_eq!(host.admitted(Role::Controller), 2);
        // A late connection finds its seat taken: refused as full, like anyone past the limits.
        let late = host.on_link("c1", true);
        assert_eq!(refused(&late), ["c1"]);
        assert!(late.contains(&HostAction::ClosePeer { id: "c1".into() }));
        assert_eq!(host.admitted(Role::Controller), 2);
        assert!(!host.is_admitted("c1"));
        // One whose seat is still free takes it back — the last free one included.
        let mut small = with_limits(3, 1);
        let people = [
            p("v1", Role::Viewer, 5),
            p("c1", Role::Controller, 6),
            p("c2", Role::Controller, 7),
            p("c3", Role::Controller, 8),
        ];
        small.on_roster(&people.iter().collect::<Vec<_>>());
        small.on_link("c1", true);
        small.on_link("c2", true);
        small.on_seat_deadline("v1");
        small.on_seat_deadline("c3");
        assert_eq!(small.admitted(Role::Viewer), 0);
        assert_eq!(small.on_link("v1", true), vec![]);
        assert_eq!(small.on_link("c3", true), vec![]);
        assert_eq!(small.admitted(Role::Viewer), 1);
        assert_eq!(small.admitted(Role::Controller), 3);
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
                body: SignalBody::Share {
                    sharing: false,
                    unable: false
                }
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
    fn a_tab_that_cannot_send_tells_everyone_and_each_newcomer_and_never_shares_again() {
        let mut host = HostSession::new("h", Limits::P2P, ShareState::Sharing);
        let first = [p("v1", Role::Viewer, 1)];
        host.on_roster(&first.iter().collect::<Vec<_>>());
        let unable = SignalBody::Share {
            sharing: false,
            unable: true,
        };
        assert_eq!(
            host.set_unable(),
            vec![HostAction::Send(SignalEnvelope {
                from: "h".into(),
                to: None,
                body: unable.clone(),
            })]
        );
        assert!(host.set_unable().is_empty());
        assert_eq!(host.share(), ShareState::Paused);
        assert!(
            host.set_share(ShareState::Sharing).is_empty(),
            "a capture made later is not announced"
        );
        assert_eq!(host.share(), ShareState::Paused);
        let both = [p("v1", Role::Viewer, 1), p("v2", Role::Viewer, 2)];
        let actions = host.on_roster(&both.iter().collect::<Vec<_>>());
        assert!(
            actions.contains(&HostAction::Send(SignalEnvelope {
                from: "h".into(),
                to: Some("v2".into()),
                body: unable,
            })),
            "{actions:?}"
        );
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
        // Back in presence: each is told the share state again (a change broadcast during
        // the gap may not have reached it); later v1's link drops (ICE hiccup): still kept.
        let back = host.on_roster(&people.iter().collect::<Vec<_>>());
        let told: Vec<_> = back
            .iter()
            .map(|a| match a {
                HostAction::Send(SignalEnvelope {
                    to: Some(to),
                    body: SignalBody::Share { sharing: true, .. },
                    ..
                }) => to.as_str(),
                other => panic!("only the share state: {other:?}"),
            })
            .collect();
        assert_eq!(told, ["v1", "v2"]);
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
    fn back_from_a_presence_gap_a_guest_hears_again_what_changed_meanwhile() {
        let mut host = HostSession::sfu("h", ShareState::Sharing);
        let people = [p("v1", Role::Viewer, 1), p("c1", Role::Controller, 2)];
        host.on_roster(&people.iter().collect::<Vec<_>>());
        host.set_route(Some(SfuRoute { room: 1, feed: 1 }));
        host.on_link("c1", true);
        // c1's socket reconnects (its data link stays up); meanwhile the host pauses and the
        // route moves (a failover), each broadcast once, to those present.
        let only_v1 = [p("v1", Role::Viewer, 1)];
        host.on_roster(&only_v1.iter().collect::<Vec<_>>());
        host.set_share(ShareState::Paused);
        let moved = Some(SfuRoute { room: 2, feed: 7 });
        host.set_route(moved);
        let back = host.on_roster(&people.iter().collect::<Vec<_>>());
        let to_c1: Vec<&SignalBody> = back
            .iter()
            .filter_map(|a| match a {
                HostAction::Send(SignalEnvelope {
                    to: Some(to), body, ..
                }) if to == "c1" => Some(body),
                _ => None,
            })
            .collect();
        assert_eq!(
            to_c1,
            [
                &SignalBody::Share {
                    sharing: false,
                    unable: false
                },
                &SignalBody::Sfu(moved)
            ],
            "{back:?}"
        );
        assert!(host.is_admitted("c1"));
        // v1 never left: nothing for it.
        assert!(back.iter().all(
            |a| !matches!(a, HostAction::Send(SignalEnvelope { to: Some(to), .. }) if to == "v1")
        ));
    }

    #[test]
    fn back_from_a_gap_of_its_own_the_host_tells_everyone_again_what_holds() {
        let broadcasts = |actions: Vec<HostAction>| -> Vec<SignalBody> {
            actions
                .into_iter()
                .map(|a| match a {
                    HostAction::Send(SignalEnvelope { to: None, body, .. }) => body,
                    other => panic!("not a broadcast: {other:?}"),
                })
                .collect()
        };
        let mut host = HostSession::sfu("h", ShareState::Sharing);
        let people = [p("v1", Role::Viewer, 1)];
        host.on_roster(&people.iter().collect::<Vec<_>>());
        // While our socket is down the share pauses and the route moves: both broadcasts may
        // have expired unsent.
        host.set_share(ShareState::Paused);
        let moved = Some(SfuRoute { room: 2, feed: 7 });
        host.set_route(moved);
        let paused = SignalBody::Share {
            sharing: false,
            unable: false,
        };
        assert_eq!(
            broadcasts(host.on_rejoined()),
            [paused, SignalBody::Sfu(moved)]
        );
        // Peer to peer there is no route to tell.
        let mut p2p = HostSession::new("h", Limits::P2P, ShareState::Sharing);
        assert_eq!(
            broadcasts(p2p.on_rejoined()),
            [SignalBody::Share {
                sharing: true,
                unable: false
            }]
        );
        // Ended during the gap: everyone present then is told again (newcomers one by one
        // already are); a page that left says nothing more.
        p2p.end();
        assert_eq!(broadcasts(p2p.on_rejoined()), [SignalBody::Ended]);
        host.leave();
        assert!(host.on_rejoined().is_empty());
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
            [SignalBody::Share {
                sharing: true,
                unable: false
            }]
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

    /// A P2P host with media epochs on (session "s", seed 42): in epoch 1, never the room key.
    fn epoch_host() -> HostSession {
        let mut host = HostSession::new("h", Limits::P2P, ShareState::Sharing);
        host.enable_epochs("s", [42; 32], None);
        host
    }

    /// Seats `people` (each gets the current secret with its seat) and confirms each one's.
    fn seat_confirmed(host: &mut HostSession, people: &[&Participant]) -> Vec<HostAction> {
        let actions = host.on_roster(people);
        let epoch = host.memory().epoch;
        for p in people {
            host.on_key_ack(&p.id, epoch);
        }
        actions
    }

    #[test]
    fn the_epoch_seed_is_never_printed() {
        let printed = format!("{:?}", epoch_host());
        assert!(printed.contains("Seed(<redacted>)"), "{printed}");
        assert!(!printed.contains("42, 42"), "{printed}");
    }

    /// The memory the last `Remember` among `actions` holds.
    fn remembered(actions: Vec<HostAction>) -> HostMemory {
        actions
            .into_iter()
            .rev()
            .find_map(|a| match a {
                HostAction::Remember(m) => Some(m),
                _ => None,
            })
            .expect("remembered")
    }

    /// A guest whose verified profile carries its agreement key, as the app's does.
    fn keyed(id: &str, role: Role, joined_at: u64, seed: u8) -> Participant {
        let signer = crate::identity::Signer::from_seed([seed; 32]);
        let kx = rekey::AgreementKey::from_signer(&signer).encode_public();
        Participant {
            profile: serde_json::json!({ "kx": kx }),
            ..signed(id, role, joined_at, seed)
        }
    }

    /// The secret in the `media_key` `actions` hold for `to`, opened with its key.
    fn opened_key(actions: &[HostAction], to: &str, seed: u8) -> Option<(u32, RoomKey)> {
        let me = rekey::AgreementKey::from_signer(&crate::identity::Signer::from_seed([seed; 32]));
        sent_to(actions, to)
            .into_iter()
            .find_map(|body| match body {
                SignalBody::MediaKey { epoch, key } => {
                    let ctx = WrapContext {
                        session: "s",
                        recipient: to,
                        epoch,
                    };
                    Some((epoch, rekey::unwrap_text(&key, &me, ctx).expect("opens")))
                }
                _ => None,
            })
    }

    fn send_in(actions: &[HostAction]) -> Option<u32> {
        actions.iter().find_map(|a| match a {
            HostAction::SendIn { epoch, .. } => Some(*epoch),
            _ => None,
        })
    }

    #[test]
    fn a_removal_moves_everyone_else_to_a_secret_the_removed_never_gets() {
        let mut host = HostSession::new("h", Limits::P2P, ShareState::Sharing);
        // From the start: epoch 1, never the room key (epoch 0), which every holder of the
        // link has; nobody to wait for.
        let first = rekey::epoch_secret(&[42; 32], 1);
        let actions = host.enable_epochs("s", [42; 32], None);
        assert!(actions.contains(&HostAction::InstallKey {
            epoch: 1,
            secret: first.clone()
        }));
        assert_eq!(send_in(&actions), Some(1));
        let hp = p("h", Role::Host, 0);
        let (v1, v2, c1) = (
            keyed("v1", Role::Viewer, 1, 1),
            keyed("v2", Role::Viewer, 2, 2),
            keyed("c1", Role::Controller, 3, 3),
        );
        // Each seat comes with the secret, ahead of the connection.
        let actions = seat_confirmed(&mut host, &[&hp, &v1, &v2, &c1]);
        assert_eq!(opened_key(&actions, "v1", 1), Some((1, first)));
        let key_at = |id: &str| sent_to(&actions, id);
        assert!(matches!(key_at("v1")[0], SignalBody::MediaKey { .. }));
        let opens = actions
            .iter()
            .position(|a| matches!(a, HostAction::OpenPeer { id, .. } if id == "v1"));
        let keyed_at = actions
            .iter()
            .position(|a| matches!(a, HostAction::Send(e) if e.to.as_deref() == Some("v1")));
        assert!(keyed_at < opens, "the secret goes before the offer");
        assert_eq!(host.send_epoch(), 1);

        let actions = host.remove("v1");
        let secret = rekey::epoch_secret(&[42; 32], 2);
        assert!(actions.contains(&HostAction::InstallKey {
            epoch: 2,
            secret: secret.clone()
        }));
        assert!(
            opened_key(&actions, "v1", 1).is_none(),
            "not to the removed"
        );
        for (id, seed) in [("v2", 2), ("c1", 3)] {
            assert_eq!(opened_key(&actions, id, seed), Some((2, secret.clone())));
        }
        // Wrapped for v2, it does not open with c1's key.
        let for_v2 = sent_to(&actions, "v2");
        let SignalBody::MediaKey { key, .. } = &for_v2[0] else {
            panic!("{for_v2:?}")
        };
        let c1_key = rekey::AgreementKey::from_signer(&crate::identity::Signer::from_seed([3; 32]));
        let ctx = WrapContext {
            session: "s",
            recipient: "v2",
            epoch: 2,
        };
        assert!(rekey::unwrap_text(key, &c1_key, ctx).is_err());
        // Still sending in epoch 1 until both confirm (or the deadline).
        assert_eq!(send_in(&actions), None);
        assert!(actions.contains(&HostAction::KeyDeadline {
            epoch: 2,
            after_ms: KEY_ACK_DEADLINE_MS
        }));
        assert_eq!(host.send_epoch(), 1);
        assert!(host.on_key_ack("v2", 1).is_empty(), "another epoch");
        assert!(host.on_key_ack("v1", 2).is_empty(), "not waited for");
        assert!(host.on_key_ack("v2", 2).is_empty());
        assert_eq!(send_in(&host.on_key_ack("c1", 2)), Some(2));
        assert_eq!(host.send_epoch(), 2);
        assert!(host.on_key_deadline(2).is_empty(), "already sending in it");

        // Someone let in later gets the current secret with its seat.
        let v3 = keyed("v3", Role::Viewer, 4, 4);
        host.on_roster(&[&hp, &v2, &c1, &v3]);
        let actions = host.admit("v3");
        assert_eq!(opened_key(&actions, "v3", 4), Some((2, secret)));

        // A second removal: epoch 3; a deadline with c1 silent switches anyway.
        let actions = host.remove("v2");
        assert!(opened_key(&actions, "v2", 2).is_none());
        let (epoch, _) = opened_key(&actions, "c1", 3).unwrap();
        assert_eq!(epoch, 3);
        assert!(host.on_key_ack("v3", 3).is_empty());
        assert_eq!(send_in(&host.on_key_deadline(3)), Some(3));
        assert_eq!(host.send_epoch(), 3);
    }

    #[test]
    fn a_newcomers_secret_is_confirmed_and_sent_again_like_everyones() {
        let mut host = epoch_host();
        let (v1, v2) = (
            keyed("v1", Role::Viewer, 1, 1),
            keyed("v2", Role::Viewer, 2, 2),
        );
        seat_confirmed(&mut host, &[&v1, &v2]);
        host.remove("v1");
        assert_eq!(send_in(&host.on_key_ack("v2", 2)), Some(2));
        // v3 is let in with the secret and a deadline for its confirmation.
        let v3 = keyed("v3", Role::Viewer, 3, 3);
        host.on_roster(&[&v2, &v3]);
        let actions = host.admit("v3");
        assert_eq!(opened_key(&actions, "v3", 3).map(|(e, _)| e), Some(2));
        assert!(actions.contains(&HostAction::KeyDeadline {
            epoch: 2,
            after_ms: KEY_ACK_DEADLINE_MS
        }));
        // That one copy was lost (a dropped signal): the deadline sends it again, and again.
        for _ in 0..3 {
            let again = host.on_key_deadline(2);
            assert_eq!(opened_key(&again, "v3", 3).map(|(e, _)| e), Some(2));
            assert_eq!(send_in(&again), None, "already sending in it");
        }
        // Back from a presence gap: at once.
        host.on_roster(&[&v2]);
        assert_eq!(
            opened_key(&host.on_roster(&[&v2, &v3]), "v3", 3).map(|(e, _)| e),
            Some(2)
        );
        // Confirmed: no more.
        assert!(host.on_key_ack("v3", 2).is_empty());
        assert!(host.on_key_deadline(2).is_empty());
    }

    #[test]
    fn a_guest_whose_keys_started_over_is_given_the_current_secret_again() {
        let mut host = epoch_host();
        let (v1, v2) = (
            keyed("v1", Role::Viewer, 1, 1),
            keyed("v2", Role::Viewer, 2, 2),
        );
        seat_confirmed(&mut host, &[&v1, &v2]);
        // v1 followed another host join and comes back to us with no secret (its seat never
        // ended here, so nothing else would send it one): it says it holds none.
        let actions = host.on_key_ack("v1", 0);
        assert_eq!(opened_key(&actions, "v1", 1).map(|(e, _)| e), Some(1));
        assert!(actions.contains(&HostAction::KeyDeadline {
            epoch: 1,
            after_ms: KEY_ACK_DEADLINE_MS
        }));
        // Asking again while the wait is on gets it again at once, and sets no new deadline.
        let again = host.on_key_ack("v1", 0);
        assert_eq!(opened_key(&again, "v1", 1).map(|(e, _)| e), Some(1));
        assert!(!again
            .iter()
            .any(|a| matches!(a, HostAction::KeyDeadline { .. })));
        assert_eq!(
            opened_key(&host.on_key_deadline(1), "v1", 1).map(|(e, _)| e),
            Some(1)
        );
        assert!(host.on_key_ack("v1", 1).is_empty());
        assert!(host.on_key_deadline(1).is_empty());
        // Someone not seated here (removed, denied, a stranger) gets nothing by asking.
        host.remove("v2");
        assert!(host.on_key_ack("v2", 0).is_empty());
        assert!(host.on_key_ack("stranger", 0).is_empty());
    }

    #[test]
    fn asking_for_the_secret_again_moves_nobody_elses_resends() {
        let mut host = epoch_host();
        let ps: Vec<Participant> = (1..=3)
            .map(|n| keyed(&format!("v{n}"), Role::Viewer, n.into(), n))
            .collect();
        seat_confirmed(&mut host, &ps.iter().collect::<Vec<_>>());
        // v3 goes; v1 confirms epoch 2, v2 never does: its resends slow down.
        host.remove("v3");
        host.on_key_ack("v1", 2);
        let mut last = Vec::new();
        for _ in 0..KEY_RESENDS {
            last = host.on_key_deadline(2);
        }
        let slow = HostAction::KeyDeadline {
            epoch: 2,
            after_ms: KEY_SLOW_RESEND_MS,
        };
        assert!(last.contains(&slow));
        // v1 asks again and again (acking 0, then 2, then 0): each ask gets the secret, and
        // v2's resends stay slow.
        for _ in 0..3 {
            let asked = host.on_key_ack("v1", 0);
            assert_eq!(opened_key(&asked, "v1", 1).map(|(e, _)| e), Some(2));
            assert!(!asked
                .iter()
                .any(|a| matches!(a, HostAction::KeyDeadline { .. })));
            host.on_key_ack("v1", 2);
        }
        assert!(host.on_key_deadline(2).contains(&slow));
    }

    #[test]
    fn removals_in_quick_succession_keep_the_first_deadline() {
        let mut host = epoch_host();
        let ps: Vec<Participant> = (1..=4)
            .map(|n| keyed(&format!("v{n}"), Role::Viewer, n.into(), n))
            .collect();
        seat_confirmed(&mut host, &ps.iter().collect::<Vec<_>>());
        // v4 never confirms anything; three removals come faster than the deadline.
        assert!(host.remove("v1").contains(&HostAction::KeyDeadline {
            epoch: 2,
            after_ms: KEY_ACK_DEADLINE_MS
        }));
        for id in ["v2", "v3"] {
            let actions = host.remove(id);
            assert!(
                !actions
                    .iter()
                    .any(|a| matches!(a, HostAction::KeyDeadline { .. })),
                "{id}: the first deadline stands"
            );
            assert_eq!(host.send_epoch(), 1);
        }
        // The first deadline: straight to the newest epoch.
        let actions = host.on_key_deadline(2);
        assert_eq!(send_in(&actions), Some(4));
        assert_eq!(opened_key(&actions, "v4", 4).map(|(e, _)| e), Some(4));
        assert!(actions.contains(&HostAction::KeyDeadline {
            epoch: 4,
            after_ms: KEY_ACK_DEADLINE_MS
        }));
    }

    #[test]
    fn an_unconfirmed_secret_is_sent_again_until_confirmed() {
        let mut host = epoch_host();
        let (v1, v2) = (
            keyed("v1", Role::Viewer, 1, 1),
            keyed("v2", Role::Viewer, 2, 2),
        );
        seat_confirmed(&mut host, &[&v1, &v2]);
        host.on_link("v2", true);
        host.remove("v1");
        // The deadline: send in the new epoch, and the secret again to v2, with another deadline.
        let actions = host.on_key_deadline(2);
        assert_eq!(send_in(&actions), Some(2));
        assert_eq!(opened_key(&actions, "v2", 2).map(|(e, _)| e), Some(2));
        assert!(actions.contains(&HostAction::KeyDeadline {
            epoch: 2,
            after_ms: KEY_ACK_DEADLINE_MS
        }));
        // v2's socket drops (presence gap, link still up) and comes back: sent again at once.
        assert!(opened_key(&host.on_roster(&[]), "v2", 2).is_none());
        assert_eq!(
            opened_key(&host.on_roster(&[&v2]), "v2", 2).map(|(e, _)| e),
            Some(2)
        );
        // Confirmed: no more.
        assert!(host.on_key_ack("v2", 2).is_empty());
        assert!(host.on_key_deadline(2).is_empty());
        // Someone who never confirms is sent it quickly KEY_RESENDS times, then every
        // KEY_SLOW_RESEND_MS for as long as it holds a seat: never left on the old epoch.
        let v3 = keyed("v3", Role::Viewer, 3, 3);
        host.on_roster(&[&v2, &v3]);
        host.admit("v3");
        host.remove("v2");
        let paces: Vec<u64> = (0..40)
            .map(|_| {
                let actions = host.on_key_deadline(3);
                assert!(opened_key(&actions, "v3", 3).is_some());
                actions
                    .iter()
                    .find_map(|a| match a {
                        HostAction::KeyDeadline { after_ms, .. } => Some(*after_ms),
                        _ => None,
                    })
                    .expect("another deadline")
            })
            .collect();
        let quick = paces
            .iter()
            .filter(|&&ms| ms == KEY_ACK_DEADLINE_MS)
            .count();
        assert_eq!(quick, KEY_RESENDS as usize - 1);
        assert!(paces[quick..].iter().all(|&ms| ms == KEY_SLOW_RESEND_MS));
        // Gone from its seat: no more.
        host.on_roster(&[&v2]);
        assert!(opened_key(&host.on_key_deadline(3), "v3", 3).is_none());
    }

    /// A duplicated tab of the host is the host guests follow now: this tab closes every
    /// connection and says nothing to anyone, then or later (no `Ended`, no `Leaving`: the
    /// session goes on).
    #[test]
    fn a_host_whose_session_went_on_in_another_tab_closes_everything_and_says_nothing() {
        let mut host = epoch_host();
        let (v, c) = (
            keyed("v", Role::Viewer, 1, 1),
            keyed("c", Role::Controller, 2, 2),
        );
        host.on_roster(&[&v, &c]);
        let actions = host.moved_on();
        let mut closed: Vec<_> = actions
            .iter()
            .filter_map(|a| match a {
                HostAction::ClosePeer { id } => Some(id.clone()),
                HostAction::Remember(_) => None,
                other => panic!("only connections close: {other:?}"),
            })
            .collect();
        closed.sort();
        assert_eq!(closed, ["c", "v"]);
        // A reload of this tab asks the host's OK for everyone: the other tab's removals are
        // not in this tab's memory.
        let memory = remembered(actions);
        assert!(memory.admission_required && memory.allowed.is_empty());
        let late = p("late", Role::Viewer, 3);
        assert!(host.on_roster(&[&v, &c, &late]).is_empty());
        assert!(host.on_rejoined().is_empty());
        // Their secrets were never confirmed: nobody is sent one again.
        assert!(host.on_key_deadline(1).is_empty());
        assert!(host.moved_on().is_empty() && host.leave().is_empty());
        assert_eq!(host.seated().count(), 0);
    }

    #[test]
    fn removing_one_tab_removes_every_tab_of_that_identity() {
        let mut host = epoch_host();
        // A duplicated tab: same key (its sessionStorage was copied), another participant id.
        let (a, a_dup, b) = (
            keyed("a", Role::Viewer, 1, 1),
            keyed("a-dup", Role::Viewer, 2, 1),
            keyed("b", Role::Viewer, 3, 2),
        );
        seat_confirmed(&mut host, &[&a, &a_dup, &b]);
        let actions = host.remove("a");
        for id in ["a", "a-dup"] {
            assert!(sent_to(&actions, id).contains(&SignalBody::Refused(RefusalReason::Removed)));
            assert!(actions.contains(&HostAction::ClosePeer { id: id.into() }));
            assert!(opened_key(&actions, id, 1).is_none());
            assert!(!host.is_admitted(id));
        }
        assert_eq!(opened_key(&actions, "b", 2).map(|(e, _)| e), Some(2));
        // The host's list marks both rows.
        assert_eq!(host.removed().collect::<Vec<_>>(), ["a", "a-dup"]);
        assert_eq!(host.seated().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn with_nobody_left_to_wait_for_the_new_epoch_starts_at_once() {
        let mut host = HostSession::sfu("h", ShareState::Sharing);
        host.enable_epochs("s", [42; 32], None);
        let v1 = keyed("v1", Role::Viewer, 1, 1);
        seat_confirmed(&mut host, &[&v1]);
        assert_eq!(send_in(&host.remove("v1")), Some(2));
        // A guest whose last confirmation is missing leaves: no need to wait for the deadline.
        let (v2, v3) = (
            keyed("v2", Role::Viewer, 2, 2),
            keyed("v3", Role::Viewer, 3, 3),
        );
        host.on_roster(&[&v2, &v3]);
        host.admit("v2");
        host.admit("v3");
        host.remove("v2");
        assert_eq!(host.send_epoch(), 2);
        assert_eq!(send_in(&host.on_roster(&[])), Some(3));
    }

    #[test]
    fn a_reloaded_host_remembers_whom_it_removed_and_let_in() {
        let mut host = epoch_host();
        let (v1, v2) = (
            keyed("v1", Role::Viewer, 1, 1),
            keyed("v2", Role::Viewer, 2, 2),
        );
        seat_confirmed(&mut host, &[&v1, &v2]);
        let memory = remembered(host.remove("v1"));
        assert_eq!(memory, host.memory());
        assert_eq!(memory.epoch, 2);
        assert!(memory.admission_required);
        assert_eq!(
            HostMemory::from_json(&memory.to_json()),
            Some(memory.clone())
        );
        assert_eq!(
            HostMemory::from_json(&serde_json::json!({"removed": 1})),
            None
        );

        // The reloaded tab: a new seed, the next epoch at once, sent in immediately.
        let mut again = HostSession::new("h2", Limits::P2P, ShareState::Sharing);
        let actions = again.enable_epochs("s", [7; 32], Some(memory));
        assert!(actions.contains(&HostAction::InstallKey {
            epoch: 3,
            secret: rekey::epoch_secret(&[7; 32], 3)
        }));
        assert_eq!(send_in(&actions), Some(3));
        assert!(again.admission_required());
        // v2 (same identity, new id after its own reload or not) is seated and keyed; the
        // removed person's new tab waits, and the host is told who it is.
        let (v2b, v1b) = (
            keyed("v2b", Role::Viewer, 5, 2),
            keyed("v1b", Role::Viewer, 6, 1),
        );
        let actions = again.on_roster(&[&v2b, &v1b]);
        assert_eq!(opened(&actions), ["v2b"]);
        assert_eq!(opened_key(&actions, "v2b", 2).map(|(e, _)| e), Some(3));
        assert_eq!(sent_to(&actions, "v1b"), [SignalBody::Waiting]);
        assert!(again.asking()[0].removed_before);
        // Let in again, the removed identity is remembered as let in by the next reload too.
        let memory = remembered(again.admit("v1b"));
        let mut third = HostSession::new("h3", Limits::P2P, ShareState::Sharing);
        third.enable_epochs("s", [8; 32], Some(memory));
        let v1c = keyed("v1c", Role::Viewer, 7, 1);
        assert_eq!(opened(&third.on_roster(&[&v1c])), ["v1c"]);
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
