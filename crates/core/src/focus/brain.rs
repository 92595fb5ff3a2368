//! The focus's decision logic: node health, stress, assignment, upgrade, failover and drain,
//! sans-IO (time passed in as unix milliseconds). pairux-server's focus service feeds it probe
//! results, Janus load reports, presence counts and start modes, and only executes (signs,
//! stores, broadcasts) the [`Decision`]s it returns.
//!
//! Rules (reference/scaling.md for where they come from):
//! - **Stress** of a node = max(Janus-reported participants + participants we added within the
//!   last `rampup_ms`, participants of the sessions we have on it) ÷ capacity. Janus's figure
//!   lags (Jicofo's rampup correction: without it a burst of joins piles onto the node whose
//!   report is oldest); our own sum covers sessions Janus has not seen yet. A session weighs its
//!   last known participant count (at least 1).
//! - **Choice**: only nodes that are Up and not draining; first the session's region below
//!   `stress_limit`, then any region below it, then — every candidate overloaded — the least
//!   stressed anyway (never refuse while a node is up). Ties go to the smaller node id.
//! - **Health**: `misses_down` failed probes in a row mark a node Down and move each of its
//!   sessions once (Failover; node `None` when nothing can take it, placed as soon as a node
//!   comes Up). A node is Unknown until probed: never chosen, but its sessions stay — a focus
//!   restarted from the database moves nobody until probes say Down.
//! - **Drain**: a draining node takes nothing new and its sessions move (Drain). A session
//!   with nowhere to go stays on the draining node (it still works) and moves once a node can
//!   take it.
//! - **Upgrade**: an Auto session reaching `threshold` participants moves to SFU once and never
//!   back — no downgrade, so a count flapping around the threshold makes one decision (going
//!   back would cost every viewer a renegotiation for nothing). With no node up it stays P2P
//!   and is upgraded when one comes up. P2P-mode sessions never move.
//!
//! Every decision increments its session's `seq` by one. Several focus processes sharing a
//! store commit decisions with compare-and-set on `seq` and [`Focus::adopt`] the winner's.
//!
//! **Closing**: [`Focus::close`] forgets a session (its load leaves its node) but remembers its
//! last `seq` for `closed_keep_ms` — a session opened again continues after it, never at 1
//! again (clients act only on a larger `seq`). A session closed by another process or before a
//! restart is told with [`Focus::closed_elsewhere`] (the server's store keeps the last `seq`
//! for longer than the brain does).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::link::{SessionId, SESSION_ID_LEN};
use crate::session::{StartMode, Topology};

use super::{Decision, Reason};

/// Tuning of the focus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FocusConfig {
    /// Participants (everyone, host included) at which an Auto session moves to SFU.
    pub threshold: u32,
    /// A node at or over this stress is overloaded (Jicofo: 0.8).
    pub stress_limit: f64,
    /// Consecutive failed probes that mark a node Down.
    pub misses_down: u32,
    /// How long participants we added to a node count on top of its (lagging) Janus report.
    pub rampup_ms: u64,
    /// How long a closed session's last `seq` is remembered (a reopen continues after it).
    pub closed_keep_ms: u64,
    /// The `seq` of a session's first decision when no earlier one is known. The server gives
    /// its start time (wall ms): a focus that restarted without a shared store knows no seq of
    /// the sessions it decided before, and open tabs act only on a larger seq than they hold
    /// (1 again left them on a drained or dead node). Above 1, a first decision takes the
    /// later of it and the decision's time, so a session forgotten while the process runs
    /// starts after every seq it was given too.
    pub first_seq: u64,
}

impl Default for FocusConfig {
    fn default() -> Self {
        FocusConfig {
            threshold: 10,
            stress_limit: 0.8,
            misses_down: 2,
            rampup_ms: 20_000,
            closed_keep_ms: 24 * 3600 * 1000,
            first_seq: 1,
        }
    }
}

/// An SFU (Janus) node the focus may assign sessions to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// The node's id in decisions (at most 64 bytes on the wire).
    pub id: String,
    pub region: String,
    /// Participants the node is sized for (stress 1.0); 0 counts as 1.
    pub capacity: u32,
}

/// What the probes say about a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeHealth {
    /// Not probed yet (e.g. after a restart): not chosen, but its sessions are not moved.
    Unknown,
    Up,
    Down,
}

type Key = [u8; SESSION_ID_LEN];

#[derive(Debug, Clone)]
struct Node {
    spec: NodeSpec,
    health: NodeHealth,
    /// Failed probes in a row.
    misses: u32,
    draining: bool,
    /// Janus's own participant count (last report).
    reported: u32,
    /// Participants added to the node by us: (unix ms, count), in time order, one entry per
    /// millisecond; entries older than `rampup_ms` are pruned as time passes.
    recent: VecDeque<(u64, u64)>,
    /// Sum of the counts in `recent`.
    recent_sum: u64,
    /// Sum of the weights of `sessions`.
    assigned: u64,
    sessions: BTreeSet<Key>,
}

impl Node {
    fn new(spec: NodeSpec) -> Self {
        Node {
            spec,
            health: NodeHealth::Unknown,
            misses: 0,
            draining: false,
            reported: 0,
            recent: VecDeque::new(),
            recent_sum: 0,
            assigned: 0,
            sessions: BTreeSet::new(),
        }
    }

    /// Takes new sessions.
    fn candidate(&self) -> bool {
        self.health == NodeHealth::Up && !self.draining
    }

    /// Participants added at `at` (kept in time order: an adopted decision may be older than
    /// the newest entry).
    fn add_recent(&mut self, at: u64, count: u64) {
        if count == 0 {
            return;
        }
        self.recent_sum = self.recent_sum.saturating_add(count);
        match self.recent.back_mut() {
            Some(last) if last.0 == at => last.1 = last.1.saturating_add(count),
            Some(last) if last.0 > at => {
                let i = self.recent.partition_point(|e| e.0 <= at);
                if i > 0 && self.recent[i - 1].0 == at {
                    self.recent[i - 1].1 = self.recent[i - 1].1.saturating_add(count);
                } else {
                    self.recent.insert(i, (at, count));
                }
            }
            _ => self.recent.push_back((at, count)),
        }
    }

    /// Forgets additions that are out of the rampup window at `now`.
    fn prune(&mut self, now: u64, rampup_ms: u64) {
        while let Some(&(at, count)) = self.recent.front() {
            if at.saturating_add(rampup_ms) > now {
                break;
            }
            self.recent.pop_front();
            self.recent_sum = self.recent_sum.saturating_sub(count);
        }
    }

    /// Participants added within the rampup window at `now` (cheap once pruned).
    fn recent(&self, now: u64, rampup_ms: u64) -> u64 {
        let expired: u64 = self
            .recent
            .iter()
            .take_while(|(at, _)| at.saturating_add(rampup_ms) <= now)
            .map(|&(_, n)| n)
            .sum();
        self.recent_sum.saturating_sub(expired)
    }

    fn stress(&self, now: u64, rampup_ms: u64) -> f64 {
        let recent = self.recent(now, rampup_ms);
        let load = u64::from(self.reported)
            .saturating_add(recent)
            .max(self.assigned);
        load as f64 / f64::from(self.spec.capacity.max(1))
    }
}

#[derive(Debug, Clone)]
struct Session {
    mode: StartMode,
    region: Option<String>,
    /// Last presence count, if any arrived.
    count: Option<u32>,
    /// The decision in force (every known session has one).
    decision: Decision,
}

impl Session {
    /// What the session adds to its node's load.
    fn weight(&self) -> u32 {
        self.count.unwrap_or(1).max(1)
    }

    fn node(&self) -> Option<&str> {
        self.decision.node.as_deref()
    }
}

/// What is kept of a closed session: its last `seq`, and when it closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Closed {
    seq: u64,
    at: u64,
}

/// The decision logic of the Session Focus for all sessions and nodes of one focus process.
#[derive(Debug, Clone)]
pub struct Focus {
    cfg: FocusConfig,
    nodes: BTreeMap<String, Node>,
    sessions: BTreeMap<Key, Session>,
    /// Sessions with something to place once a node can take them: SFU topology waiting with
    /// node `None`, or Auto sessions at the threshold still P2P. Kept so `tick` stays cheap.
    waiting: BTreeSet<Key>,
    /// Closed sessions' last seq (a reopen continues after it), forgotten `closed_keep_ms`
    /// after closing; `closed_order` holds (closed at, id) in the order they were recorded.
    closed: BTreeMap<Key, Closed>,
    closed_order: VecDeque<(u64, Key)>,
}

impl Focus {
    pub fn new(cfg: FocusConfig) -> Self {
        Focus {
            cfg,
            nodes: BTreeMap::new(),
            sessions: BTreeMap::new(),
            waiting: BTreeSet::new(),
            closed: BTreeMap::new(),
            closed_order: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &FocusConfig {
        &self.cfg
    }

    /// Registers a node (health Unknown until probed). Adding a known id again updates its
    /// region and capacity only. Sessions adopted earlier that name the node are attached to it.
    pub fn add_node(&mut self, spec: NodeSpec) {
        if let Some(node) = self.nodes.get_mut(&spec.id) {
            node.spec = spec;
            return;
        }
        let mut node = Node::new(spec);
        for (key, s) in &self.sessions {
            if s.node() == Some(node.spec.id.as_str()) {
                node.sessions.insert(*key);
                node.assigned += u64::from(s.weight());
            }
        }
        self.nodes.insert(node.spec.id.clone(), node);
    }

    /// A health probe's outcome (admin ping/info). `misses_down` consecutive failures → Down →
    /// every session on it gets a Failover decision to another node (or node None if none can
    /// take it). A node coming Up lets sessions waiting with node None be placed
    /// (Failover/Requested decisions), pending Auto upgrades happen, and sessions left on
    /// draining nodes move. One success is enough for Up.
    pub fn probe(&mut self, now: u64, node: &str, ok: bool) -> Vec<Decision> {
        let misses_down = self.cfg.misses_down.max(1);
        if !self.nodes.contains_key(node) {
            return Vec::new();
        }
        self.prune(now);
        let Some(n) = self.nodes.get_mut(node) else {
            return Vec::new();
        };
        if ok {
            n.misses = 0;
            if n.health == NodeHealth::Up {
                return Vec::new();
            }
            n.health = NodeHealth::Up;
            return self.settle(now);
        }
        n.misses = n.misses.saturating_add(1);
        if n.misses < misses_down || n.health == NodeHealth::Down {
            return Vec::new();
        }
        n.health = NodeHealth::Down;
        self.evacuate(now, node, Reason::Failover, true)
    }

    /// Janus's own participant count on the node (from its admin API), for stress.
    pub fn report_load(&mut self, _now: u64, node: &str, participants: u32) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.reported = participants;
        }
    }

    /// Drain on/off: no new assignments; with on, every session on it moves (Reason::Drain) —
    /// except when no other node can take it: then it stays (a draining node still works) and
    /// moves as soon as one can. Off lets the node take sessions again (and places waiting ones).
    pub fn drain(&mut self, now: u64, node: &str, on: bool) -> Vec<Decision> {
        self.prune(now);
        let Some(n) = self.nodes.get_mut(node) else {
            return Vec::new();
        };
        n.draining = on;
        if on {
            self.evacuate(now, node, Reason::Drain, false)
        } else {
            self.settle(now)
        }
    }

    /// A session's start mode becomes known (first time: its first decision, seq 1 — or the
    /// closed session's last seq + 1 —: P2p for Auto/P2p, Sfu + least-stressed node for Sfu with
    /// reason Start; node None when no node is up). Again for a known session: None (the first
    /// mode wins).
    pub fn open(
        &mut self,
        now: u64,
        session: SessionId,
        mode: StartMode,
        region: Option<String>,
    ) -> Option<Decision> {
        if self.sessions.contains_key(session.as_bytes()) {
            return None;
        }
        self.prune(now);
        let (topology, node) = match mode {
            StartMode::P2p | StartMode::Auto => (Topology::P2p, None),
            StartMode::Sfu => (Topology::Sfu, self.choose(now, region.as_deref())),
        };
        Some(self.start(now, session, mode, region, topology, node, Reason::Start))
    }

    /// A participant asks for an SFU room: a session without a mode is opened in Sfu mode
    /// (reason Requested; seq as for `open`); a session in SFU topology waiting with node None is retried (a
    /// decision only if a node can take it now); otherwise None.
    pub fn want_sfu(
        &mut self,
        now: u64,
        session: SessionId,
        region: Option<String>,
    ) -> Option<Decision> {
        let key = *session.as_bytes();
        self.prune(now);
        let Some(s) = self.sessions.get(&key) else {
            let node = self.choose(now, region.as_deref());
            return Some(self.start(
                now,
                session,
                StartMode::Sfu,
                region,
                Topology::Sfu,
                node,
                Reason::Requested,
            ));
        };
        if s.decision.topology != Topology::Sfu || s.decision.node.is_some() {
            return None;
        }
        let reason = resumed(s.decision.reason);
        let region = s.region.clone().or(region);
        let node = self.choose(now, region.as_deref())?;
        Some(self.decide(now, key, Topology::Sfu, Some(node), reason))
    }

    /// Presence count of a session changed (everyone incl. the host). Auto sessions at or over
    /// `threshold` move to SFU (reason Threshold) once and never back: there is no downgrade,
    /// so a count flapping around the threshold yields one decision. With no node up the
    /// session stays P2P until one comes up (`probe`/`tick` then upgrade it).
    pub fn participants(&mut self, now: u64, session: &SessionId, count: u32) -> Option<Decision> {
        let key = *session.as_bytes();
        if !self.sessions.contains_key(&key) {
            return None;
        }
        self.prune(now);
        let s = self.sessions.get_mut(&key)?;
        let before = s.weight();
        s.count = Some(count);
        let after = s.weight();
        if let Some(n) = s
            .decision
            .node
            .as_deref()
            .and_then(|n| self.nodes.get_mut(n))
        {
            n.assigned = (n.assigned + u64::from(after)).saturating_sub(u64::from(before));
            if after > before {
                n.add_recent(now, u64::from(after - before));
            }
        }
        let upgrade = pending_upgrade(self.cfg.threshold, s);
        let region = s.region.clone();
        self.refresh_waiting(key);
        if !upgrade {
            return None;
        }
        let node = self.choose(now, region.as_deref())?;
        Some(self.decide(now, key, Topology::Sfu, Some(node), Reason::Threshold))
    }

    /// Time-based work, call every second or so: forgets rampup entries older than `rampup_ms`
    /// and places whatever waits for a node (sessions with node None, pending upgrades,
    /// sessions left on draining nodes, sessions adopted onto a node we know is Down or do not
    /// know at all).
    pub fn tick(&mut self, now: u64) -> Vec<Decision> {
        self.prune(now);
        self.settle(now)
    }

    /// Take a decision made elsewhere (restored from the database at start, or another focus
    /// process's newer decision) without making a new one; ignored unless newer (seq) than
    /// ours — or of the same seq but different: ours then lost the store's compare-and-set and
    /// the stored one replaces it. Pass committed decisions only. `mode` and `region` are used
    /// for a session we did not know (the first mode wins). For a closed session only a
    /// decision after its last seq counts (another process reopened it).
    pub fn adopt(&mut self, decision: Decision, mode: StartMode, region: Option<String>) {
        let key = *decision.session.as_bytes();
        if let Some(closed) = self.closed.get(&key) {
            if decision.seq <= closed.seq {
                return;
            }
            self.closed.remove(&key);
        }
        match self.sessions.get_mut(&key) {
            Some(s) => {
                if decision.seq < s.decision.seq || decision == s.decision {
                    return;
                }
                if s.region.is_none() {
                    s.region = region;
                }
                self.detach(key);
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.decision = decision;
                }
            }
            None => {
                self.sessions.insert(
                    key,
                    Session {
                        mode,
                        region,
                        count: None,
                        decision,
                    },
                );
            }
        }
        if let Some(s) = self.sessions.get(&key) {
            let at = s.decision.at;
            self.attach(at, key);
        }
        self.refresh_waiting(key);
    }

    /// The session ended: forget it (its load leaves its node) but remember its last seq for
    /// `closed_keep_ms`, so that a later `open`/`want_sfu`/`adopt` of the same id continues
    /// after it. Closing again, or an unknown id, changes nothing.
    pub fn close(&mut self, now: u64, session: &SessionId) {
        let Some(seq) = self
            .sessions
            .get(session.as_bytes())
            .map(|s| s.decision.seq)
        else {
            return;
        };
        self.closed_elsewhere(now, session, seq);
    }

    /// The session was closed by another focus process, or before this one started, with
    /// `last_seq` as its last decision: forgotten like [`Focus::close`] (known or not), and its
    /// next decision has a larger seq than both `last_seq` and ours. Ignored when we hold a
    /// decision after `last_seq` (it was reopened since).
    pub fn closed_elsewhere(&mut self, now: u64, session: &SessionId, last_seq: u64) {
        let key = *session.as_bytes();
        let ours = self.sessions.get(&key).map(|s| s.decision.seq);
        if ours.is_some_and(|seq| seq > last_seq) {
            return;
        }
        self.prune(now);
        self.detach(key);
        self.sessions.remove(&key);
        self.waiting.remove(&key);
        let seq = ours.unwrap_or(0).max(last_seq);
        let before = self.closed.get(&key).map_or(0, |c| c.seq);
        if seq == 0 || seq <= before {
            return;
        }
        self.closed.insert(key, Closed { seq, at: now });
        self.closed_order.push_back((now, key));
    }

    /// Drops everything about a session, its closed seq included: for a process going back to
    /// the store's state of it (adopted next), e.g. after a decision of its own that it did not
    /// commit. Not a close: a later `open` starts at seq 1 unless the store's state is adopted.
    pub fn forget(&mut self, session: &SessionId) {
        let key = *session.as_bytes();
        self.detach(key);
        self.sessions.remove(&key);
        self.waiting.remove(&key);
        self.closed.remove(&key);
    }

    /// The last seq of a closed session still remembered (None: open, unknown or forgotten).
    pub fn closed_seq(&self, session: &SessionId) -> Option<u64> {
        self.closed.get(session.as_bytes()).map(|c| c.seq)
    }

    /// Ids of the sessions known (open), in id byte order.
    pub fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys().map(|k| SessionId::from_bytes(*k))
    }

    /// The decision in force for a session.
    pub fn decision(&self, session: &SessionId) -> Option<&Decision> {
        self.sessions.get(session.as_bytes()).map(|s| &s.decision)
    }

    pub fn mode(&self, session: &SessionId) -> Option<StartMode> {
        self.sessions.get(session.as_bytes()).map(|s| s.mode)
    }

    pub fn health(&self, node: &str) -> Option<NodeHealth> {
        self.nodes.get(node).map(|n| n.health)
    }

    pub fn is_draining(&self, node: &str) -> bool {
        self.nodes.get(node).is_some_and(|n| n.draining)
    }

    /// Corrected stress of a node at `now` (None: unknown node).
    pub fn stress(&self, now: u64, node: &str) -> Option<f64> {
        self.nodes
            .get(node)
            .map(|n| n.stress(now, self.cfg.rampup_ms))
    }

    /// Sessions assigned to a node, in id byte order.
    pub fn sessions_on(&self, node: &str) -> Vec<SessionId> {
        self.nodes
            .get(node)
            .map(|n| {
                n.sessions
                    .iter()
                    .map(|k| SessionId::from_bytes(*k))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Participants of the sessions assigned to a node (the focus's own count, without Janus's
    /// report or the rampup correction; None: unknown node).
    pub fn assigned(&self, node: &str) -> Option<u64> {
        self.nodes.get(node).map(|n| n.assigned)
    }

    /// Registered node ids, in order.
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.nodes.keys().map(String::as_str)
    }

    /// The node a new assignment in `region` would get at `now` (None: no node is Up and not
    /// draining).
    pub fn choose(&self, now: u64, region: Option<&str>) -> Option<String> {
        let limit = self.cfg.stress_limit;
        // Rank: 0 = in region and below the limit, 1 = below the limit, 2 = overloaded.
        let mut best: Option<(u8, f64, &str)> = None;
        for (id, n) in &self.nodes {
            if !n.candidate() {
                continue;
            }
            let stress = n.stress(now, self.cfg.rampup_ms);
            let rank = match (stress < limit, region == Some(n.spec.region.as_str())) {
                (true, true) => 0,
                (true, false) => 1,
                (false, _) => 2,
            };
            // Strictly better only: ties keep the smaller id (BTreeMap order).
            if best.is_none_or(|(r, s, _)| rank < r || (rank == r && stress < s)) {
                best = Some((rank, stress, id));
            }
        }
        best.map(|(_, _, id)| id.to_owned())
    }

    /// Forgets rampup entries that are out of the window at `now` (keeps `choose` cheap), and
    /// closed sessions kept for `closed_keep_ms`.
    fn prune(&mut self, now: u64) {
        let rampup = self.cfg.rampup_ms;
        for n in self.nodes.values_mut() {
            n.prune(now, rampup);
        }
        let keep = self.cfg.closed_keep_ms;
        while let Some(&(at, key)) = self.closed_order.front() {
            if at.saturating_add(keep) > now {
                break;
            }
            self.closed_order.pop_front();
            // A later record of the same id (closed again after a reopen) is its own entry.
            if self.closed.get(&key).is_some_and(|c| c.at == at) {
                self.closed.remove(&key);
            }
        }
    }

    /// A new session's first decision: after the seq it closed with, else `first_seq`.
    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        now: u64,
        session: SessionId,
        mode: StartMode,
        region: Option<String>,
        topology: Topology,
        node: Option<String>,
        reason: Reason,
    ) -> Decision {
        let key = *session.as_bytes();
        // From the clock (a server without a shared store): a session this process decided
        // before and has since forgotten (its closed seq went after `closed_keep_ms`, or the
        // store's row was evicted) starts after every seq it gave, which a tab may hold.
        let first = match self.cfg.first_seq {
            0 | 1 => 1,
            clock => clock.max(now),
        };
        let seq = self
            .closed
            .remove(&key)
            .map_or(first, |c| c.seq.saturating_add(1));
        let decision = Decision {
            session,
            seq,
            topology,
            node,
            reason,
            at: now,
        };
        self.sessions.insert(
            key,
            Session {
                mode,
                region,
                count: None,
                decision: decision.clone(),
            },
        );
        self.attach(now, key);
        self.refresh_waiting(key);
        decision
    }

    /// A new decision for a known session: seq + 1, load moved from its old node to the new.
    fn decide(
        &mut self,
        now: u64,
        key: Key,
        topology: Topology,
        node: Option<String>,
        reason: Reason,
    ) -> Decision {
        self.detach(key);
        let s = self
            .sessions
            .get_mut(&key)
            .expect("decide is called for known sessions");
        s.decision = Decision {
            session: s.decision.session,
            seq: s.decision.seq.saturating_add(1),
            topology,
            node,
            reason,
            at: now,
        };
        let decision = s.decision.clone();
        self.attach(now, key);
        self.refresh_waiting(key);
        decision
    }

    /// Adds a session's weight to the node its decision names (if registered), counted as
    /// added at `at` for the rampup correction.
    fn attach(&mut self, at: u64, key: Key) {
        let Some(s) = self.sessions.get(&key) else {
            return;
        };
        let weight = s.weight();
        if let Some(n) = s.node().and_then(|id| self.nodes.get_mut(id)) {
            if n.sessions.insert(key) {
                n.assigned += u64::from(weight);
                n.add_recent(at, u64::from(weight));
            }
        }
    }

    /// Removes a session's weight from the node its decision names.
    fn detach(&mut self, key: Key) {
        let Some(s) = self.sessions.get(&key) else {
            return;
        };
        let weight = s.weight();
        if let Some(n) = s.node().and_then(|id| self.nodes.get_mut(id)) {
            if n.sessions.remove(&key) {
                n.assigned = n.assigned.saturating_sub(u64::from(weight));
            }
        }
    }

    fn refresh_waiting(&mut self, key: Key) {
        let waits = self.sessions.get(&key).is_some_and(|s| {
            (s.decision.topology == Topology::Sfu && s.decision.node.is_none())
                || pending_upgrade(self.cfg.threshold, s)
        });
        if waits {
            self.waiting.insert(key);
        } else {
            self.waiting.remove(&key);
        }
    }

    /// Moves every session off `node` (Down or draining) with `reason`; with `to_none`, a
    /// session no node can take gets node None, otherwise it stays.
    fn evacuate(&mut self, now: u64, node: &str, reason: Reason, to_none: bool) -> Vec<Decision> {
        let keys: Vec<Key> = self
            .nodes
            .get(node)
            .map(|n| n.sessions.iter().copied().collect())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let region = self.sessions.get(&key).and_then(|s| s.region.clone());
            match self.choose(now, region.as_deref()) {
                Some(to) => out.push(self.decide(now, key, Topology::Sfu, Some(to), reason)),
                None if to_none => out.push(self.decide(now, key, Topology::Sfu, None, reason)),
                None => {}
            }
        }
        out
    }

    /// Places everything that waits for a node, if any node can take sessions: sessions on Down
    /// or draining nodes, sessions with node None, pending Auto upgrades.
    fn settle(&mut self, now: u64) -> Vec<Decision> {
        if !self.nodes.values().any(Node::candidate) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let leaving: Vec<(String, Reason)> = self
            .nodes
            .iter()
            .filter(|(_, n)| !n.sessions.is_empty())
            .filter_map(|(id, n)| match (n.health, n.draining) {
                (NodeHealth::Down, _) => Some((id.clone(), Reason::Failover)),
                (_, true) => Some((id.clone(), Reason::Drain)),
                _ => None,
            })
            .collect();
        for (id, reason) in leaving {
            out.extend(self.evacuate(now, &id, reason, false));
        }
        // Sessions adopted onto a node this process has no entry for (a restart with fewer
        // nodes, another process's registry): nobody could reach them there, so they move
        // as off a failed node.
        let strays: Vec<(Key, Option<String>)> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.node().is_some_and(|id| !self.nodes.contains_key(id)))
            .map(|(key, s)| (*key, s.region.clone()))
            .collect();
        for (key, region) in strays {
            if let Some(to) = self.choose(now, region.as_deref()) {
                out.push(self.decide(now, key, Topology::Sfu, Some(to), Reason::Failover));
            }
        }
        let waiting: Vec<Key> = self.waiting.iter().copied().collect();
        for key in waiting {
            let Some(s) = self.sessions.get(&key) else {
                continue;
            };
            let reason = if s.decision.topology == Topology::Sfu {
                resumed(s.decision.reason)
            } else if pending_upgrade(self.cfg.threshold, s) {
                Reason::Threshold
            } else {
                continue;
            };
            let region = s.region.clone();
            if let Some(to) = self.choose(now, region.as_deref()) {
                out.push(self.decide(now, key, Topology::Sfu, Some(to), reason));
            }
        }
        out
    }
}

/// An Auto session at the threshold that has not moved to SFU yet.
fn pending_upgrade(threshold: u32, s: &Session) -> bool {
    s.mode == StartMode::Auto
        && s.decision.topology == Topology::P2p
        && s.count.is_some_and(|c| c >= threshold)
}

/// The reason of the decision that places a session which waited with node None: it completes
/// the move that left it waiting (a first SFU decision that found no node counts as Requested).
fn resumed(waited: Reason) -> Reason {
    match waited {
        Reason::Start => Reason::Requested,
        other => other,
    }
}
