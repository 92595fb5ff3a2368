//! The Session Focus service (issue 12; product.md §3; reference/scaling.md): executes what the
//! core's sans-IO brain (`pairux_core::focus::brain`) decides.
//!
//! - this file — [`FocusService`]: the brain under a lock, the node registry, the store; what
//!   `/api/access` asks of it ([`FocusService::access`]); commits (compare-and-set in the store,
//!   the loser adopts the winner's decision) and effects (broadcast on the session channel,
//!   room on the node); the periodic work (health, load, tick, leadership).
//! - `nodes.rs` — the registry (`janus-0`, … from `--sfu-nodes`, or `nodes.json`).
//! - `health.rs` — admin `ping` every 2 s (1 s timeout, a re-probe 500 ms after a miss; the
//!   supervisor's process-exit knowledge counts at once), load from `list_sessions` +
//!   `list_handles` every 5 s.
//! - `rooms.rs` — a session's room on its node: stored spec, VideoRoom `exists` before every
//!   token (a restarted Janus has no rooms), created again under the same id and pin.
//! - `realtime.rs` — the tokio driver of the core's Realtime client: the focus watches session
//!   channels (no presence of its own), counts presence, broadcasts signed decisions.
//! - `store.rs` — memory or PostgreSQL; `key.rs` — the signing key file; `http.rs` — the
//!   loopback-only admin endpoints (drain, status); `standalone.rs` — `pairux-server focus`.
//!
//! Who decides the periodic things (failover, drain moves, threshold upgrades): the leader —
//! always, with the memory store; with PostgreSQL, the holder of an advisory lock. Standbys
//! serve `/api/access` (their decisions there are committed with compare-and-set like the
//! leader's), keep channel membership and presence counts, and learn the leader's decisions
//! from its broadcasts (and from the store on every access request). A process that becomes
//! leader rebuilds its brain from the store, as a restarted one does: nodes Unknown until
//! probed, nobody moved until a probe says Down.
//!
//! Idle sessions: once the focus has left a session's channel (presence empty for
//! `--focus-empty-leave-secs`, 60 s) — or never watches it (P2P mode) — and no access request
//! for it came for `--focus-idle-secs` (10 min), the leader closes it: in the store (its row
//! stays with its seq, compare-and-set), in its brain (which keeps the seq, so a reopen
//! continues it), and on the nodes (rooms destroyed, tokens removed, best effort). Standbys
//! learn closures from the store; a later access request reopens the session at seq + 1.

pub mod health;
pub mod http;
pub mod key;
pub mod nodes;
pub mod realtime;
pub mod rooms;
pub mod standalone;
pub mod store;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pairux_core::access::{SfuGrant, Want};
use pairux_core::focus::brain::{Focus, FocusConfig, NodeHealth, NodeSpec};
use pairux_core::focus::{Decision, FocusKey, SignedDecision, FOCUS_EVENT};
use pairux_core::link::SessionId;
use pairux_core::session::{StartMode, Topology};
use serde_json::json;

use self::nodes::NodeEntry;
use self::realtime::{ChannelEvent, RealtimeHandle};
use self::store::{SessionRow, Store, StoreError};

/// Longest time between two looks for idle sessions.
const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// How often the leader runs `tick` and a standby tries to lead.
const TICK_EVERY: Duration = Duration::from_millis(500);
/// Least time between two announcements of the decision in force for late joiners of one
/// session: joins in a burst (or a socket rejoining on purpose, over and over) get one on the
/// next tick instead of one each, which would spend the focus socket's event budget.
const REBROADCAST_GAP: Duration = Duration::from_millis(400);

/// Flags of the in-process focus (part of `pairux-server`'s command line).
#[derive(Debug, Clone, clap::Args)]
pub struct FocusArgs {
    /// Where the Session Focus runs: `internal` (in this process, whenever it runs SFU nodes)
    /// or `external` (standalone `pairux-server focus` processes, named by --focus-url; this
    /// server then only writes <run-dir>/nodes.json for them).
    #[arg(long, value_enum, default_value_t = FocusMode::Internal)]
    pub focus: FocusMode,
    /// With --focus external: base URL of a focus process (repeat for fallbacks, in order);
    /// config.json's accessUrl is the first's /api/access, accessFallbackUrls the others'.
    #[arg(long = "focus-url", value_name = "URL")]
    pub focus_urls: Vec<String>,
    /// An Auto session moves from P2P to an SFU when it has this many participants.
    #[arg(long, default_value_t = 10)]
    pub sfu_threshold: u32,
    /// PostgreSQL URL of the focus's store (default: in memory). Focus processes sharing one
    /// database make consistent decisions.
    #[arg(long, env = "PAIRUX_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Region of this server's SFU nodes (sessions prefer nodes of their host's region).
    #[arg(long, default_value = "local")]
    pub region: String,
    /// The focus's Ed25519 signing key (base64url seed; created 0600 when missing). Default:
    /// <run-dir>/focus.key. With --focus external: the external processes' key, whose public
    /// half goes into config.json.
    #[arg(long)]
    pub focus_key_file: Option<PathBuf>,
    /// Participants one SFU node is sized for (stress 1.0).
    #[arg(long, default_value_t = 100, hide = true)]
    pub sfu_capacity: u32,
    #[command(flatten)]
    pub idle: IdleArgs,
}

/// When the focus forgets a session (hidden flags: tests shorten them).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct IdleArgs {
    /// A watched session channel is left once its presence stayed empty this long (seconds).
    #[arg(long, default_value_t = 60, hide = true)]
    pub focus_empty_leave_secs: u64,
    /// A session whose channel was left (or a P2P one) is closed once no access request came
    /// for it this long (seconds): rooms destroyed, tokens removed, its seq kept.
    #[arg(long, default_value_t = 600, hide = true)]
    pub focus_idle_secs: u64,
}

impl Default for IdleArgs {
    fn default() -> Self {
        IdleArgs {
            focus_empty_leave_secs: 60,
            focus_idle_secs: 600,
        }
    }
}

impl IdleArgs {
    fn empty_leave(&self) -> Duration {
        Duration::from_secs(self.focus_empty_leave_secs)
    }

    /// How often the store is asked for idle sessions.
    fn sweep_every(&self) -> Duration {
        (Duration::from_secs(self.focus_idle_secs) / 4).clamp(TICK_EVERY, SWEEP_EVERY)
    }
}

/// Where the focus runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FocusMode {
    Internal,
    External,
}

/// Why the focus did not start.
#[derive(Debug, thiserror::Error)]
pub enum FocusError {
    #[error(transparent)]
    Key(#[from] key::KeyError),
    #[error("focus store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Nodes(#[from] nodes::NodesError),
    #[error("{0}")]
    Config(String),
}

/// What `/api/access` cannot have from the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FocusRefusal {
    /// The session is peer to peer (P2P-pinned, or Auto and not upgraded).
    P2p,
    /// No SFU node can take the session right now.
    NoNode,
    /// The node did not answer the room or token calls.
    NodeDown,
    /// The store is unreachable.
    Store,
    /// The session asked for more than it may hold (`store::MAX_TOKENS`).
    Busy,
}

/// What a participant gets from the focus.
#[derive(Debug, Default)]
pub struct FocusGrant {
    pub focus: Option<SignedDecision>,
    pub sfu: Option<SfuGrant>,
}

/// Counters, for `/focus/status` and tests.
#[derive(Debug, Default)]
pub struct FocusCounters {
    pub decisions: AtomicU64,
    pub lost_races: AtomicU64,
    pub broadcasts: AtomicU64,
    pub probe_failures: AtomicU64,
    pub store_errors: AtomicU64,
    pub foreign_focus_messages: AtomicU64,
    /// Idle sessions this process closed.
    pub closed: AtomicU64,
}

struct Core {
    brain: Focus,
    regions: HashMap<SessionId, Option<String>>,
    /// Watched channels: presence count and since when it is empty.
    watched: HashMap<SessionId, Watched>,
    /// Channels left after their presence stayed empty (until watched again or closed).
    left: HashSet<SessionId>,
}

impl Core {
    /// Takes the stored state of a session: a closed row closes it here (its seq kept), an
    /// open one is adopted (when newer, see `Focus::adopt`).
    fn learn(&mut self, row: SessionRow) {
        let session = row.decision.session;
        if row.closed_at.is_some() {
            self.brain
                .closed_elsewhere(now_ms(), &session, row.decision.seq);
            self.regions.remove(&session);
            self.left.remove(&session);
        } else {
            self.regions.insert(session, row.region.clone());
            self.brain.adopt(row.decision, row.mode, row.region);
        }
    }
}

struct Watched {
    count: u32,
    empty_since: Option<Instant>,
    /// When the decision in force was last announced again for a late joiner.
    rebroadcast_at: Option<Instant>,
    /// A late joiner came within [`REBROADCAST_GAP`] of that: announce again on a tick.
    rebroadcast_due: bool,
}

/// The focus.
pub struct FocusService {
    core: Mutex<Core>,
    cfg: FocusConfig,
    key: FocusKey,
    nodes: Vec<NodeEntry>,
    store: Arc<Store>,
    realtime: RealtimeHandle,
    leader: AtomicBool,
    pub counters: FocusCounters,
    rooms: rooms::RoomLocks,
    idle: IdleArgs,
    me: std::sync::Weak<FocusService>,
    /// What each node was last told of `accept_new_sessions` by this process (absent: not
    /// known — never told since this process started, or the node went down since — so it is
    /// told whatever is wanted), under one lock so calls for a node go out in the order they
    /// were decided.
    accepting: tokio::sync::Mutex<HashMap<String, bool>>,
}

/// What starts a focus.
pub struct FocusSetup {
    pub threshold: u32,
    pub key: FocusKey,
    pub nodes: Vec<NodeEntry>,
    pub store: Arc<Store>,
    /// The Realtime endpoint and anon key the focus watches session channels with.
    pub realtime_url: String,
    pub anon_key: String,
    /// Process-exit knowledge from the supervisor, per node id.
    pub exits: Vec<(
        String,
        tokio::sync::watch::Receiver<crate::supervise::Health>,
    )>,
    pub idle: IdleArgs,
}

/// Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn session_of(topic: &str) -> Option<SessionId> {
    SessionId::parse(topic.strip_prefix("realtime:pairux:")?).ok()
}

impl FocusService {
    /// Starts the focus: resumes stored sessions (adopted, nobody moved), rejoins their
    /// channels, and starts probing nodes.
    pub async fn start(setup: FocusSetup) -> Result<Arc<FocusService>, FocusError> {
        let cfg = FocusConfig {
            threshold: setup.threshold.max(1),
            // Alone with a memory store, a restart forgets every seq: start after any an open
            // tab holds. With a shared store the seqs are stored, and processes race on them
            // from 1 (compare-and-set).
            first_seq: if setup.store.is_shared() { 1 } else { now_ms() },
            ..FocusConfig::default()
        };
        let (realtime, events) = RealtimeHandle::start(&setup.realtime_url, &setup.anon_key);
        let leader = !setup.store.is_shared();
        let focus = Arc::new_cyclic(|me| FocusService {
            core: Mutex::new(Core {
                brain: Focus::new(cfg),
                regions: HashMap::new(),
                watched: HashMap::new(),
                left: HashSet::new(),
            }),
            cfg,
            key: setup.key,
            nodes: setup.nodes,
            store: setup.store,
            realtime,
            leader: AtomicBool::new(leader),
            counters: FocusCounters::default(),
            rooms: rooms::RoomLocks::default(),
            accepting: tokio::sync::Mutex::default(),
            idle: setup.idle,
            me: me.clone(),
        });
        focus.rebuild().await?;
        // A first probe of every node before serving, so the first requests find nodes Up.
        let probes = focus.nodes.iter().map(|n| {
            let admin = n.admin();
            async move { admin.ping_within(Duration::from_secs(1)).await }
        });
        let results = futures_util::future::join_all(probes).await;
        for (node, ok) in focus.nodes.iter().zip(results) {
            focus.probed(&node.id, ok).await;
        }
        tokio::spawn(events_loop(Arc::downgrade(&focus), events));
        for node in &focus.nodes {
            let exit = setup
                .exits
                .iter()
                .find(|(id, _)| *id == node.id)
                .map(|(_, rx)| rx.clone());
            tokio::spawn(health::probe_loop(
                Arc::downgrade(&focus),
                node.clone(),
                exit,
            ));
            tokio::spawn(health::load_loop(Arc::downgrade(&focus), node.clone()));
        }
        tokio::spawn(tick_loop(Arc::downgrade(&focus)));
        tracing::info!(
            "focus: {} SFU node(s), threshold {}, store {}, {}",
            focus.nodes.len(),
            cfg.threshold,
            if focus.store.is_shared() {
                "PostgreSQL"
            } else {
                "in memory"
            },
            if leader { "leader" } else { "standby" }
        );
        Ok(focus)
    }

    fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// config.json's `focusKey`.
    pub fn public_key(&self) -> String {
        self.key.public().encode()
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    pub fn nodes(&self) -> &[NodeEntry] {
        &self.nodes
    }

    /// The signed decision in force for `session`.
    pub fn current(&self, session: &SessionId) -> Option<SignedDecision> {
        self.core()
            .brain
            .decision(session)
            .map(|d| self.key.sign(d))
    }

    /// A fresh brain with the registry's nodes and every open stored session adopted (a start,
    /// or a standby taking the lead); channels of sessions that may move are (re)joined. Closed
    /// sessions are learnt from the store when asked for again.
    async fn rebuild(&self) -> Result<(), StoreError> {
        let rows = self.store.sessions().await?;
        let mut brain = Focus::new(self.cfg);
        for node in &self.nodes {
            brain.add_node(NodeSpec {
                id: node.id.clone(),
                region: node.region.clone(),
                capacity: node.capacity,
            });
        }
        let mut watch = Vec::new();
        let mut carried = Vec::new();
        let counts: Vec<(SessionId, u32)> = {
            let mut core = self.core();
            for row in rows {
                let session = row.decision.session;
                if row.mode != StartMode::P2p {
                    watch.push(session);
                }
                core.regions.insert(session, row.region.clone());
                brain.adopt(row.decision, row.mode, row.region);
            }
            // What this process's own probes found so far carries over (a standby taking the
            // lead has probed all along; a node it saw Down is failed over now).
            let now = now_ms();
            for node in &self.nodes {
                let probes = match core.brain.health(&node.id) {
                    Some(NodeHealth::Up) => vec![true],
                    Some(NodeHealth::Down) => vec![false; self.cfg.misses_down.max(1) as usize],
                    _ => Vec::new(),
                };
                for ok in probes {
                    carried.extend(brain.probe(now, &node.id, ok));
                }
            }
            core.brain = brain;
            core.watched.iter().map(|(s, w)| (*s, w.count)).collect()
        };
        for session in watch {
            self.watch(session);
        }
        self.periodic(carried).await;
        // Presence seen while standby (the counts a leader acts on).
        if self.is_leader() {
            let now = now_ms();
            let decisions: Vec<Decision> = {
                let mut core = self.core();
                counts
                    .into_iter()
                    .filter(|(_, c)| *c > 0)
                    .filter_map(|(s, c)| core.brain.participants(now, &s, c))
                    .collect()
            };
            self.commit_all(decisions).await;
        }
        Ok(())
    }

    fn watch(&self, session: SessionId) {
        let mut core = self.core();
        if core.watched.contains_key(&session) {
            return;
        }
        core.left.remove(&session);
        core.watched.insert(
            session,
            Watched {
                count: 0,
                // Counted from our join: a channel we could not join is not an empty one.
                empty_since: None,
                rebroadcast_at: None,
                rebroadcast_due: false,
            },
        );
        drop(core);
        self.realtime.watch(&session.topic());
    }

    /// Adopts the stored decision when it is newer than ours (another focus made it), and
    /// learns that the session was closed (its seq continues). With the memory store (this
    /// process only) the store is read for sessions the brain does not know (closed ones).
    async fn refresh(&self, session: &SessionId) -> Result<(), StoreError> {
        if !self.store.is_shared() && self.core().brain.decision(session).is_some() {
            return Ok(());
        }
        if let Some(row) = self.store.session(session).await? {
            let mut core = self.core();
            let ours = core.brain.decision(session).map(|d| d.seq);
            if row.closed_at.is_some() || ours.is_none_or(|seq| seq < row.decision.seq) {
                core.learn(row);
            }
        }
        Ok(())
    }

    /// What `/api/access` asks: the session's start mode pinned (Auto, P2p, Sfu), and for
    /// `Want::Sfu` a room on its node and `client`'s token (an opaque key of the asking
    /// address, [`crate::client_key::token_client`]); every grant carries the current decision.
    pub async fn access(
        &self,
        session: SessionId,
        want: Want,
        region: Option<String>,
        client: &str,
    ) -> Result<FocusGrant, FocusRefusal> {
        let store_error = |err: StoreError| {
            self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("focus: {err}");
            FocusRefusal::Store
        };
        self.refresh(&session).await.map_err(store_error)?;
        let now = now_ms();
        let decision = {
            let mut core = self.core();
            let region = region
                .clone()
                .or_else(|| core.regions.get(&session).cloned().flatten());
            let decision = match want {
                Want::Ice => None,
                Want::Auto => core
                    .brain
                    .open(now, session, StartMode::Auto, region.clone()),
                Want::P2p => core
                    .brain
                    .open(now, session, StartMode::P2p, region.clone()),
                Want::Sfu => core.brain.want_sfu(now, session, region.clone()),
            };
            if decision.is_some() {
                core.regions.entry(session).or_insert(region);
            }
            decision
        };
        if let Some(decision) = decision {
            self.commit(decision).await.map_err(store_error)?;
        }
        let (mode, current) = {
            let core = self.core();
            (
                core.brain.mode(&session),
                core.brain.decision(&session).cloned(),
            )
        };
        if mode.is_some_and(|m| m != StartMode::P2p) {
            self.watch(session);
        }
        let mut grant = FocusGrant {
            focus: current.as_ref().map(|d| self.key.sign(d)),
            sfu: None,
        };
        if want == Want::Sfu {
            let Some(current) = current else {
                return Err(FocusRefusal::NoNode);
            };
            if current.topology != Topology::Sfu {
                return Err(FocusRefusal::P2p);
            }
            let node = current.node.as_deref().ok_or(FocusRefusal::NoNode)?;
            let entry = self
                .nodes
                .iter()
                .find(|n| n.id == node)
                .ok_or(FocusRefusal::NoNode)?;
            grant.sfu = Some(
                rooms::ticket(&self.rooms, &self.store, &session, entry, client)
                    .await
                    .map_err(|err| {
                        tracing::warn!("focus: no room on {node}: {err}");
                        match err {
                            rooms::RoomError::Store(_) => FocusRefusal::Store,
                            rooms::RoomError::TooManyTokens => FocusRefusal::Busy,
                            _ => FocusRefusal::NodeDown,
                        }
                    })?,
            );
        }
        Ok(grant)
    }

    /// Commits one decision (compare-and-set on seq). Lost: the winner's is adopted. Won: it
    /// is announced on the session channel and its room prepared.
    async fn commit(&self, decision: Decision) -> Result<(), StoreError> {
        let session = decision.session;
        let (mode, region) = {
            let core = self.core();
            (
                core.brain.mode(&session).unwrap_or_default(),
                core.regions.get(&session).cloned().flatten(),
            )
        };
        let row = SessionRow {
            decision: decision.clone(),
            mode,
            region,
            closed_at: None,
        };
        if self.store.commit(&row).await? {
            self.counters.decisions.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                "focus: session decision seq {} {}{} ({})",
                decision.seq,
                decision.topology.as_str(),
                decision
                    .node
                    .as_deref()
                    .map(|n| format!(" on {n}"))
                    .unwrap_or_default(),
                store::reason_str(decision.reason)
            );
            self.announce(&decision);
            if let Some(entry) = decision
                .node
                .as_deref()
                .and_then(|n| self.nodes.iter().find(|e| e.id == n))
            {
                // Make the room before anyone asks: a failover's republish finds it ready.
                rooms::prepare_later(self, session, entry.clone());
            }
            return Ok(());
        }
        self.counters.lost_races.fetch_add(1, Ordering::Relaxed);
        if let Some(winner) = self.store.session(&session).await? {
            let mut core = self.core();
            core.brain.forget(&session);
            core.learn(winner);
        }
        Ok(())
    }

    async fn commit_all(&self, decisions: Vec<Decision>) {
        for decision in decisions {
            if let Err(err) = self.commit(decision).await {
                self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("focus: {err}");
            }
        }
    }

    /// Periodic-work decisions: committed by the leader; a standby drops them and goes back to
    /// the stored state of those sessions (the leader decides).
    async fn periodic(&self, decisions: Vec<Decision>) {
        if decisions.is_empty() {
            return;
        }
        if self.is_leader() {
            self.commit_all(decisions).await;
            return;
        }
        for d in decisions {
            let stored = self.store.session(&d.session).await;
            let mut core = self.core();
            core.brain.forget(&d.session);
            if let Ok(Some(row)) = stored {
                core.learn(row);
            }
        }
    }

    /// Broadcasts the decision on its session's channel (watched sessions only).
    fn announce(&self, decision: &Decision) {
        if !self.core().watched.contains_key(&decision.session) {
            return;
        }
        self.counters.broadcasts.fetch_add(1, Ordering::Relaxed);
        let payload = serde_json::to_value(self.key.sign(decision)).unwrap_or_default();
        self.realtime
            .broadcast(&decision.session.topic(), FOCUS_EVENT, payload);
    }

    /// A probe result (health.rs).
    pub(crate) async fn probed(&self, node: &str, ok: bool) {
        if !ok {
            self.counters.probe_failures.fetch_add(1, Ordering::Relaxed);
        }
        let decisions = self.core().brain.probe(now_ms(), node, ok);
        self.periodic(decisions).await;
    }

    /// Janus's own participant count on a node (health.rs).
    pub(crate) fn load(&self, node: &str, participants: u32) {
        self.core().brain.report_load(now_ms(), node, participants);
    }

    /// Drain on/off (the admin endpoint): the focus moves sessions off the node and places
    /// none there, and Janus stops accepting new sessions — unless sessions stay on the node for
    /// want of another that can take them: then their participants (newcomers, reconnections,
    /// retries) must still get in, so Janus keeps accepting (the focus grants that node to
    /// nobody else). Sent to one focus process; with several, send it to each.
    pub async fn drain(&self, node: &str, on: bool) -> Result<usize, String> {
        if !self.nodes.iter().any(|n| n.id == node) {
            return Err(format!("no node {node}"));
        }
        let decisions = self.core().brain.drain(now_ms(), node, on);
        let moved = decisions.len();
        self.commit_all(decisions).await;
        let stranded = self.core().brain.sessions_on(node).len();
        if self.is_leader() {
            self.reconcile_accepting().await;
        }
        if on && stranded > 0 {
            tracing::warn!(
                "focus: drain {node}: {stranded} session(s) have no other node to go to; \
                 they stay, and {node} keeps taking their participants"
            );
        }
        tracing::info!("focus: drain {node} {on}: {moved} session(s) moved");
        Ok(moved)
    }

    /// Tells each node whether it takes new Janus sessions: not while it drains with no
    /// session left on it, yes otherwise (sessions that had nowhere else to go still get
    /// their people in). The leader's work (a standby knows fewer sessions), decided again on
    /// every drain and every tick, so a drained node whose stranded sessions later moved stops
    /// accepting then; sent once after this process starts or the node comes back (what Janus
    /// was told before is not known), then only on a change, and again after a failed call.
    async fn reconcile_accepting(&self) {
        let mut accepting = self.accepting.lock().await;
        let wanted: Vec<(&NodeEntry, bool)> = {
            let core = self.core();
            self.nodes
                .iter()
                .filter(|n| {
                    // A Down node cannot be told; a Janus that comes back accepts again
                    // (its own default), so what it was told is forgotten.
                    let down = core.brain.health(&n.id) == Some(NodeHealth::Down);
                    if down {
                        accepting.remove(&n.id);
                    }
                    !down
                })
                .map(|n| {
                    let drained =
                        core.brain.is_draining(&n.id) && core.brain.sessions_on(&n.id).is_empty();
                    (n, !drained)
                })
                .collect()
        };
        for (entry, accept) in wanted {
            if accepting.get(&entry.id) == Some(&accept) {
                continue;
            }
            let sent = entry
                .admin()
                .call(&pairux_core::janus::admin::AdminRequest::AcceptNewSessions { accept })
                .await;
            match sent {
                Ok(_) => {
                    accepting.insert(entry.id.clone(), accept);
                }
                Err(err) => {
                    tracing::warn!(
                        "focus: {} did not take accept_new_sessions: {err}",
                        entry.id
                    )
                }
            }
        }
    }

    /// What `/focus/status` shows.
    pub fn status(&self) -> serde_json::Value {
        let now = now_ms();
        let core = self.core();
        let nodes: Vec<serde_json::Value> = self
            .nodes
            .iter()
            .map(|n| {
                json!({
                    "id": n.id,
                    "region": n.region,
                    "janusUrl": n.janus_url,
                    "health": match core.brain.health(&n.id) {
                        Some(NodeHealth::Up) => "up",
                        Some(NodeHealth::Down) => "down",
                        _ => "unknown",
                    },
                    "draining": core.brain.is_draining(&n.id),
                    "stress": core.brain.stress(now, &n.id),
                    "sessions": core.brain.sessions_on(&n.id).len(),
                })
            })
            .collect();
        let c = &self.counters;
        json!({
            "leader": self.is_leader(),
            "threshold": self.cfg.threshold,
            "watched": core.watched.len(),
            "sessions": core.brain.sessions().count(),
            "nodes": nodes,
            "counters": {
                "decisions": c.decisions.load(Ordering::Relaxed),
                "lostRaces": c.lost_races.load(Ordering::Relaxed),
                "broadcasts": c.broadcasts.load(Ordering::Relaxed),
                "probeFailures": c.probe_failures.load(Ordering::Relaxed),
                "storeErrors": c.store_errors.load(Ordering::Relaxed),
                "foreignFocusMessages": c.foreign_focus_messages.load(Ordering::Relaxed),
                "closed": c.closed.load(Ordering::Relaxed),
            }
        })
    }

    async fn channel_event(&self, event: ChannelEvent) {
        match event {
            ChannelEvent::Presence {
                topic,
                count,
                joined,
            } => {
                let Some(session) = session_of(&topic) else {
                    return;
                };
                let count = u32::try_from(count).unwrap_or(u32::MAX);
                let decision = {
                    let mut core = self.core();
                    if let Some(w) = core.watched.get_mut(&session) {
                        w.count = count;
                        w.empty_since = if count == 0 {
                            w.empty_since.or(Some(Instant::now()))
                        } else {
                            None
                        };
                    }
                    if self.is_leader() {
                        core.brain.participants(now_ms(), &session, count)
                    } else {
                        None
                    }
                };
                if let Some(decision) = decision {
                    self.commit_all(vec![decision]).await;
                } else if joined > 0 {
                    // A late joiner learns the decision in force.
                    self.rebroadcast(&session);
                }
            }
            ChannelEvent::Joined { topic } => {
                if let Some(session) = session_of(&topic) {
                    if let Some(w) = self.core().watched.get_mut(&session) {
                        if w.count == 0 {
                            w.empty_since = w.empty_since.or(Some(Instant::now()));
                        }
                    }
                    self.rebroadcast(&session);
                }
            }
            ChannelEvent::Broadcast {
                topic,
                event,
                payload,
            } => {
                if event != FOCUS_EVENT {
                    return;
                }
                let Some(session) = session_of(&topic) else {
                    return;
                };
                // Another focus process's decision (same key): adopt when newer.
                let decision = serde_json::from_value::<SignedDecision>(payload)
                    .ok()
                    .and_then(|s| s.verify(&self.key.public()).ok())
                    .filter(|d| d.session == session);
                let Some(decision) = decision else {
                    self.counters
                        .foreign_focus_messages
                        .fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let mut core = self.core();
                if let Some(mode) = core.brain.mode(&session) {
                    let region = core.regions.get(&session).cloned().flatten();
                    core.brain.adopt(decision, mode, region);
                }
            }
        }
    }

    fn rebroadcast(&self, session: &SessionId) {
        let decision = {
            let mut core = self.core();
            if let Some(w) = core.watched.get_mut(session) {
                if w.rebroadcast_at
                    .is_some_and(|t| t.elapsed() < REBROADCAST_GAP)
                {
                    w.rebroadcast_due = true;
                    return;
                }
                w.rebroadcast_at = Some(Instant::now());
                w.rebroadcast_due = false;
            }
            core.brain.decision(session).cloned()
        };
        if let Some(decision) = decision {
            self.announce(&decision);
        }
    }

    /// The announcements held back by [`REBROADCAST_GAP`], once it has passed.
    fn rebroadcast_due(&self) {
        let due: Vec<SessionId> = self
            .core()
            .watched
            .iter()
            .filter(|(_, w)| {
                w.rebroadcast_due
                    && w.rebroadcast_at
                        .is_none_or(|t| t.elapsed() >= REBROADCAST_GAP)
            })
            .map(|(s, _)| *s)
            .collect();
        for session in due {
            self.rebroadcast(&session);
        }
    }

    /// One round of the periodic work.
    async fn tick(&self, leadership: &mut Option<store::Leadership>) {
        self.rebroadcast_due();
        if let Some(leadership) = leadership {
            let leads = leadership.poll().await;
            let was = self.leader.swap(leads, Ordering::Relaxed);
            if leads && !was {
                tracing::info!("focus: this process leads now; resuming from the store");
                if let Err(err) = self.rebuild().await {
                    tracing::warn!("focus: {err}");
                }
            } else if !leads && was {
                tracing::warn!("focus: no longer the leader");
            }
        }
        // Channels whose presence stayed empty are left.
        let empty_leave = self.idle.empty_leave();
        let gone: Vec<SessionId> = {
            let mut core = self.core();
            let gone: Vec<SessionId> = core
                .watched
                .iter()
                .filter(|(_, w)| w.empty_since.is_some_and(|t| t.elapsed() >= empty_leave))
                .map(|(s, _)| *s)
                .collect();
            for s in &gone {
                core.watched.remove(s);
                core.left.insert(*s);
            }
            gone
        };
        for session in gone {
            self.realtime.leave(&session.topic());
        }
        if self.is_leader() {
            let decisions = self.core().brain.tick(now_ms());
            self.commit_all(decisions).await;
            self.reconcile_accepting().await;
        }
    }
}

impl FocusService {
    /// Idle sessions. The leader closes the open sessions without an access request for
    /// `--focus-idle-secs` whose channel it has left (or never watches: P2P mode); one it does
    /// not watch yet (opened by another process, or before a restart) is watched first, so
    /// its presence is known. A standby learns, from the store, which of its sessions are
    /// closed.
    async fn sweep(&self) {
        let now = crate::jwt::now_secs();
        let since = now.saturating_sub(self.idle.focus_idle_secs);
        if !self.is_leader() {
            let quiet: Vec<SessionId> = {
                let core = self.core();
                core.brain
                    .sessions()
                    .filter(|s| !core.watched.contains_key(s))
                    .collect()
            };
            match self.store.closed_among(&quiet).await {
                Ok(closed) => {
                    let at = now_ms();
                    let mut core = self.core();
                    for (session, seq) in closed {
                        core.brain.closed_elsewhere(at, &session, seq);
                        core.regions.remove(&session);
                        core.left.remove(&session);
                    }
                }
                Err(err) => {
                    self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("focus: {err}");
                }
            }
            return;
        }
        let rows = match self.store.idle(since).await {
            Ok(rows) => rows,
            Err(err) => {
                self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("focus: {err}");
                return;
            }
        };
        for row in rows {
            let session = row.decision.session;
            let (watched, left) = {
                let core = self.core();
                (
                    core.watched.contains_key(&session),
                    core.left.contains(&session),
                )
            };
            if watched {
                // Present, or not empty for long enough yet.
                continue;
            }
            if row.mode != StartMode::P2p && !left {
                {
                    let mut core = self.core();
                    let ours = core.brain.decision(&session).map(|d| d.seq);
                    if ours.is_none_or(|seq| seq < row.decision.seq) {
                        core.learn(row);
                    }
                }
                self.watch(session);
                continue;
            }
            self.close_idle(row, now, since).await;
        }
    }

    /// Closes one idle session (compare-and-set in the store, then here, then on the nodes).
    async fn close_idle(&self, row: SessionRow, now: u64, since: u64) {
        let session = row.decision.session;
        let seq = row.decision.seq;
        let closed = match self.store.close(&session, seq, now, since).await {
            Ok(Some(closed)) => closed,
            // A newer decision, already closed, or asked for again meanwhile.
            Ok(None) => return,
            Err(err) => {
                self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("focus: {err}");
                return;
            }
        };
        {
            let mut core = self.core();
            core.brain.closed_elsewhere(now_ms(), &session, seq);
            core.regions.remove(&session);
            core.left.remove(&session);
        }
        self.counters.closed.fetch_add(1, Ordering::Relaxed);
        let (rooms, tokens) = (closed.rooms.len(), closed.tokens.len());
        let nodes = self.nodes.clone();
        tokio::spawn(async move {
            let failed = rooms::teardown(&nodes, closed).await;
            tracing::info!(
                "focus: an idle session closed at seq {seq}: {rooms} room(s) and {tokens} \
                 token(s) to remove, {failed} call(s) failed"
            );
        });
    }
}

async fn events_loop(
    focus: std::sync::Weak<FocusService>,
    mut events: tokio::sync::mpsc::UnboundedReceiver<ChannelEvent>,
) {
    while let Some(event) = events.recv().await {
        let Some(focus) = focus.upgrade() else { break };
        focus.channel_event(event).await;
    }
}

async fn tick_loop(focus: std::sync::Weak<FocusService>) {
    let mut leadership = match focus.upgrade().map(|f| match &*f.store {
        Store::Postgres(pg) => Some(pg.leadership()),
        Store::Memory(_) => None,
    }) {
        Some(l) => l,
        None => return,
    };
    let mut last_prune = 0u64;
    let mut last_sweep = Instant::now();
    loop {
        tokio::time::sleep(TICK_EVERY).await;
        let Some(focus) = focus.upgrade() else { break };
        focus.tick(&mut leadership).await;
        if last_sweep.elapsed() >= focus.idle.sweep_every() {
            last_sweep = Instant::now();
            focus.sweep().await;
        }
        let now = crate::jwt::now_secs();
        if now >= last_prune + 60 {
            last_prune = now;
            if let Err(err) = focus.store.prune(now).await {
                tracing::warn!("focus: {err}");
            }
        }
    }
}
