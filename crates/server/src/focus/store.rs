//! Where the focus keeps what must outlive a process or be shared by several: each session's
//! start mode and decision (and whether it is closed), its rooms per node, the Janus tokens
//! handed out for it, the access verifier pinned per session and the access nonces already
//! used. In memory by default; PostgreSQL with `--database-url`
//! (migrations in `crates/server/migrations/`, applied at start).
//!
//! Consistency between focus processes: a decision is committed with compare-and-set on its
//! `seq` (`INSERT … ON CONFLICT DO NOTHING` for the first, `UPDATE … WHERE seq = new - 1` for
//! the next ones); the loser reloads the winner's and adopts it. Rooms are get-or-insert, so
//! every process hands out the same room. The leader of the periodic work holds a session-level
//! advisory lock on a connection of its own ([`Leadership`]).
//!
//! Idle sessions: [`Store::close`] marks a session closed — compare-and-set on its seq, and
//! only while no access request came since the cutoff (the pin's `last_used`) — deletes its
//! room and token rows and returns them (to destroy on the nodes). The row stays with its
//! seq: the next commit (seq + 1) reopens it. Closed rows go after [`CLOSED_KEEP_SECS`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use pairux_core::focus::{Decision, Reason};
use pairux_core::link::SessionId;
use pairux_core::session::{StartMode, Topology};
use tokio_postgres::NoTls;

/// The migrations, in order (name, SQL).
const MIGRATIONS: &[(&str, &str)] = &[
    ("001_focus", include_str!("../../migrations/001_focus.sql")),
    ("002_idle", include_str!("../../migrations/002_idle.sql")),
    (
        "003_token_client",
        include_str!("../../migrations/003_token_client.sql"),
    ),
];

/// The advisory lock key of the focus leader ("pairux-focus" as a number).
const LEADER_LOCK: i64 = 0x7061_6972_7578_0f0c;

/// Most sessions (pins) remembered in memory at once.
const MAX_SESSIONS: usize = 100_000;
/// Most Janus tokens one session holds on one node. A token is made per client address (an
/// IPv6 address's /48, `client_key::token_client`) and handed to that address again for as
/// long as the session lives, so a link holder asking over and over holds one, and this many
/// addresses would have to ask to use up the session's places (they live until the session
/// closes; Janus's token table and the store cannot grow without end). Across focus
/// processes on one database the count is read, not locked: two adding at once may pass it
/// by one.
pub const MAX_TOKENS: usize = 1_000;
/// When the pins are full, one used once and not for this long may make room for a new one:
/// a flood of one-off requests cannot keep the table full for the pins' whole day.
const ONE_OFF_PIN_SECS: u64 = 600;
/// When the pins are still full, one not used for this long (longer than a page in a session
/// waits between requests: its TURN credentials are renewed every 15 minutes) may make room.
const IDLE_PIN_SECS: u64 = 20 * 60;

/// A closed session's row (its last seq) is deleted this long after it closed.
pub const CLOSED_KEEP_SECS: u64 = 30 * 24 * 3600;

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub decision: Decision,
    pub mode: StartMode,
    pub region: Option<String>,
    /// When the session was closed for idling (unix seconds); None: open.
    pub closed_at: Option<u64>,
}

/// What a closed session leaves to destroy on the nodes: its rooms and tokens, per node id.
#[derive(Default)]
pub struct ClosedSession {
    pub rooms: Vec<(String, RoomRow)>,
    pub tokens: Vec<(String, String)>,
}

/// What [`Store::token_for`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSlot {
    /// The token this client was given before.
    Held(String),
    /// The fresh token, now this client's.
    Added,
    /// The session holds [`MAX_TOKENS`] on the node.
    Full,
}

/// A session's room on one node.
#[derive(Clone, PartialEq, Eq)]
pub struct RoomRow {
    pub room: u64,
    pub pin: String,
    pub secret: String,
}

/// What the store says about an access request's verifier and nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOutcome {
    /// Pinned (now or before) to this verifier; the nonce is new and now used.
    Accepted,
    WrongVerifier,
    Replayed,
    /// Memory bound reached, every pin in use.
    Busy,
}

/// A store failure (the database is unreachable or answered an error).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("database: stored row is not understood ({0})")]
    Row(&'static str),
    #[error("database migration {0} failed: {1}")]
    Migration(&'static str, tokio_postgres::Error),
}

/// The focus's store.
pub enum Store {
    Memory(Mutex<Memory>),
    Postgres(Postgres),
}

#[derive(Default)]
pub struct Memory {
    sessions: HashMap<SessionId, SessionRow>,
    /// Per session: node id → room.
    rooms: HashMap<SessionId, HashMap<String, RoomRow>>,
    /// Per session: (node id, token, client).
    tokens: HashMap<SessionId, Vec<(String, String, String)>>,
    /// Per session: verifier, last use, and whether it was used more than once.
    pins: HashMap<SessionId, (String, u64, bool)>,
    nonces: HashMap<(SessionId, String), u64>,
    last_prune: u64,
}

impl Memory {
    fn prune(&mut self, now: u64) {
        self.last_prune = now;
        self.pins
            .retain(|_, (_, used, _)| now.saturating_sub(*used) < crate::access::PIN_IDLE_SECS);
        self.nonces.retain(|_, until| *until >= now);
        self.sessions.retain(|_, row| {
            row.closed_at
                .is_none_or(|at| now.saturating_sub(at) < CLOSED_KEEP_SECS)
        });
        // At most MAX_SESSIONS closed rows, the oldest going first: every fresh session id a
        // client asks about leaves one, for a month. (A session whose row went starts over
        // at a seq after every one a tab can hold: new seqs start from the clock.)
        let mut closed: Vec<(u64, SessionId)> = self
            .sessions
            .values()
            .filter_map(|r| r.closed_at.map(|at| (at, r.decision.session)))
            .collect();
        if closed.len() > MAX_SESSIONS {
            closed.sort_unstable_by_key(|(at, _)| *at);
            for (_, session) in &closed[..closed.len() - MAX_SESSIONS] {
                self.sessions.remove(session);
            }
        }
    }

    /// No access request for `session` at or after `since` (its pin's last use).
    fn unused_since(&self, session: &SessionId, since: u64) -> bool {
        self.pins
            .get(session)
            .is_none_or(|(_, used, _)| *used < since)
    }
}

impl Store {
    pub fn memory() -> Store {
        Store::Memory(Mutex::new(Memory::default()))
    }

    /// Connects and applies the migrations not applied yet.
    pub async fn postgres(url: &str) -> Result<Store, StoreError> {
        let pg = Postgres::connect(url).await?;
        pg.migrate().await?;
        Ok(Store::Postgres(pg))
    }

    pub fn is_shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    fn mem(&self) -> Option<std::sync::MutexGuard<'_, Memory>> {
        match self {
            Store::Memory(m) => Some(m.lock().unwrap_or_else(|e| e.into_inner())),
            Store::Postgres(_) => None,
        }
    }

    /// Pins `verifier` for `session` unless another is pinned, and uses `nonce` once.
    pub async fn pin_and_use_nonce(
        &self,
        session: SessionId,
        verifier: &str,
        nonce: &str,
        nonce_expires: u64,
        now: u64,
    ) -> Result<PinOutcome, StoreError> {
        if let Some(mut m) = self.mem() {
            if now >= m.last_prune + 10 {
                m.prune(now);
            }
            if !m.pins.contains_key(&session) && m.pins.len() >= MAX_SESSIONS {
                // Full: pins used once, long enough ago, make room (the sessions people use
                // ask again and are kept).
                m.pins.retain(|_, (_, used, again)| {
                    *again || now.saturating_sub(*used) < ONE_OFF_PIN_SECS
                });
            }
            if !m.pins.contains_key(&session) && m.pins.len() >= MAX_SESSIONS {
                // Still full — asking twice is cheap, so a flood can look like sessions in
                // use: of the pins unused for IDLE_PIN_SECS, the least recently used go, a
                // hundredth at a time. A page in a session asks at least every 15 minutes
                // (its TURN credentials), so no session in use loses its pin (which someone
                // who knows only the session id could then take); a flood must keep ~100,000
                // pins in use, ~85 requests a second from many addresses, to keep new
                // sessions out.
                let mut idle: Vec<(u64, SessionId)> = m
                    .pins
                    .iter()
                    .filter(|(_, (_, used, _))| now.saturating_sub(*used) >= IDLE_PIN_SECS)
                    .map(|(id, (_, used, _))| (*used, *id))
                    .collect();
                let evict = (MAX_SESSIONS / 100).min(idle.len());
                if evict > 0 {
                    idle.select_nth_unstable_by_key(evict - 1, |(used, _)| *used);
                    for (_, id) in &idle[..evict] {
                        m.pins.remove(id);
                    }
                }
            }
            match m.pins.get(&session) {
                Some((pinned, _, _)) if pinned != verifier => return Ok(PinOutcome::WrongVerifier),
                Some(_) => {}
                None if m.pins.len() >= MAX_SESSIONS => return Ok(PinOutcome::Busy),
                None => {}
            }
            let key = (session, nonce.to_owned());
            if m.nonces.contains_key(&key) {
                return Ok(PinOutcome::Replayed);
            }
            m.nonces.insert(key, nonce_expires);
            match m.pins.get_mut(&session) {
                Some(pin) => {
                    pin.1 = now;
                    pin.2 = true;
                }
                None => {
                    m.pins.insert(session, (verifier.to_owned(), now, false));
                }
            }
            return Ok(PinOutcome::Accepted);
        }
        let Store::Postgres(pg) = self else {
            unreachable!("memory handled above")
        };
        let db = pg.client().await?;
        let id = session.to_string();
        let now_i = to_i64(now);
        let pinned = db
            .query_opt(
                "INSERT INTO pairux_access_pins (session, verifier, last_used) VALUES ($1, $2, $3) \
                 ON CONFLICT (session) DO UPDATE SET last_used = EXCLUDED.last_used \
                 WHERE pairux_access_pins.verifier = EXCLUDED.verifier RETURNING session",
                &[&id, &verifier, &now_i],
            )
            .await?;
        if pinned.is_none() {
            return Ok(PinOutcome::WrongVerifier);
        }
        let used = db
            .execute(
                "INSERT INTO pairux_access_nonces (session, nonce, expires) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&id, &nonce, &to_i64(nonce_expires)],
            )
            .await?;
        Ok(if used == 1 {
            PinOutcome::Accepted
        } else {
            PinOutcome::Replayed
        })
    }

    /// Forgets expired nonces, pins idle for `PIN_IDLE_SECS` and sessions closed for
    /// [`CLOSED_KEEP_SECS`] (`now` in unix seconds; memory also prunes as requests come).
    pub async fn prune(&self, now: u64) -> Result<(), StoreError> {
        if let Some(mut m) = self.mem() {
            m.prune(now);
            return Ok(());
        }
        if let Store::Postgres(pg) = self {
            let db = pg.client().await?;
            db.execute(
                "DELETE FROM pairux_access_nonces WHERE expires < $1",
                &[&to_i64(now)],
            )
            .await?;
            db.execute(
                "DELETE FROM pairux_access_pins WHERE last_used < $1",
                &[&to_i64(now.saturating_sub(crate::access::PIN_IDLE_SECS))],
            )
            .await?;
            db.execute(
                "DELETE FROM pairux_sessions WHERE closed_at <= $1",
                &[&to_i64(now.saturating_sub(CLOSED_KEEP_SECS))],
            )
            .await?;
        }
        Ok(())
    }

    pub async fn session(&self, session: &SessionId) -> Result<Option<SessionRow>, StoreError> {
        if let Some(m) = self.mem() {
            return Ok(m.sessions.get(session).cloned());
        }
        let Store::Postgres(pg) = self else {
            unreachable!()
        };
        let row = pg
            .client()
            .await?
            .query_opt(
                "SELECT id, mode, region, seq, topology, node, reason, decided_at, closed_at \
                 FROM pairux_sessions WHERE id = $1",
                &[&session.to_string()],
            )
            .await?;
        row.map(|r| session_row(&r)).transpose()
    }

    /// Every open stored session (a focus starting or taking the lead resumes them).
    pub async fn sessions(&self) -> Result<Vec<SessionRow>, StoreError> {
        if let Some(m) = self.mem() {
            return Ok(m
                .sessions
                .values()
                .filter(|r| r.closed_at.is_none())
                .cloned()
                .collect());
        }
        let Store::Postgres(pg) = self else {
            unreachable!()
        };
        let rows = pg
            .client()
            .await?
            .query(
                "SELECT id, mode, region, seq, topology, node, reason, decided_at, closed_at \
                 FROM pairux_sessions WHERE closed_at IS NULL",
                &[],
            )
            .await?;
        rows.iter().map(session_row).collect()
    }

    /// Commits `row.decision` if the stored one is its predecessor (`seq - 1`), or — for
    /// `seq == 1` — if the session has none. False: another focus committed first. A closed
    /// session is reopened by its next decision (with `row`'s mode and region).
    pub async fn commit(&self, row: &SessionRow) -> Result<bool, StoreError> {
        let d = &row.decision;
        if let Some(mut m) = self.mem() {
            let current = m.sessions.get(&d.session).map(|r| r.decision.seq);
            // A session's first decision starts wherever this process starts its seqs (its
            // start time: `FocusConfig::first_seq`); nobody else writes here.
            let wins = match current {
                None => d.seq >= 1,
                Some(seq) => seq + 1 == d.seq,
            };
            if wins {
                let mut row = row.clone();
                row.closed_at = None;
                if let Some(open) = m.sessions.get(&d.session).filter(|r| r.closed_at.is_none()) {
                    // The first mode and region stay (a reopen takes the new ones).
                    row.mode = open.mode;
                    row.region.clone_from(&open.region);
                }
                m.sessions.insert(d.session, row);
            }
            return Ok(wins);
        }
        let Store::Postgres(pg) = self else {
            unreachable!()
        };
        let db = pg.client().await?;
        let id = d.session.to_string();
        let seq = to_i64(d.seq);
        let reason = reason_str(d.reason);
        let at = to_i64(d.at);
        let changed = if d.seq == 1 {
            db.execute(
                "INSERT INTO pairux_sessions (id, mode, region, seq, topology, node, reason, decided_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
                &[&id, &row.mode.as_str(), &row.region, &seq, &d.topology.as_str(), &d.node, &reason, &at],
            )
            .await?
        } else {
            db.execute(
                "UPDATE pairux_sessions SET seq = $2, topology = $3, node = $4, reason = $5, \
                 decided_at = $6, updated_at = now(), \
                 mode = CASE WHEN closed_at IS NULL THEN mode ELSE $8 END, \
                 region = CASE WHEN closed_at IS NULL THEN region ELSE $9 END, \
                 closed_at = NULL WHERE id = $1 AND seq = $7",
                &[
                    &id,
                    &seq,
                    &d.topology.as_str(),
                    &d.node,
                    &reason,
                    &at,
                    &(seq - 1),
                    &row.mode.as_str(),
                    &row.region,
                ],
            )
            .await?
        };
        Ok(changed == 1)
    }

    /// The session's room on `node`: the stored one, else `fresh` (stored now).
    pub async fn room(
        &self,
        session: &SessionId,
        node: &str,
        fresh: RoomRow,
    ) -> Result<RoomRow, StoreError> {
        if let Some(mut m) = self.mem() {
            return Ok(m
                .rooms
                .entry(*session)
                .or_default()
                .entry(node.to_owned())
                .or_insert(fresh)
                .clone());
        }
        let Store::Postgres(pg) = self else {
            unreachable!()
        };
        let db = pg.client().await?;
        let id = session.to_string();
        db.execute(
            "INSERT INTO pairux_rooms (session, node, room, pin, secret) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
            &[&id, &node, &to_i64(fresh.room), &fresh.pin, &fresh.secret],
        )
        .await?;
        let row = db
            .query_one(
                "SELECT room, pin, secret FROM pairux_rooms WHERE session = $1 AND node = $2",
                &[&id, &node],
            )
            .await?;
        let room: i64 = row.try_get(0)?;
        Ok(RoomRow {
            room: u64::try_from(room).map_err(|_| StoreError::Row("room"))?,
            pin: row.try_get(1)?,
            secret: row.try_get(2)?,
        })
    }
}

impl Store {
    /// The Janus token of `client` (an opaque key of its address) for `session` on `node`:
    /// the one it was given before, else `fresh`, remembered (before it is added on the node,
    /// so that closing the session removes it; a node that did not take it gets it again at
    /// the client's next request) — unless the session already has
    /// [`MAX_TOKENS`] there. Refused rather than making room: Janus checks a token on every
    /// request, keepalives included, so removing the oldest would cut off whoever still uses
    /// it (the host's publication, most likely).
    pub async fn token_for(
        &self,
        session: &SessionId,
        node: &str,
        client: &str,
        fresh: &str,
    ) -> Result<TokenSlot, StoreError> {
        if let Some(mut m) = self.mem() {
            let tokens = m.tokens.entry(*session).or_default();
            if let Some((_, token, _)) = tokens.iter().find(|(n, _, c)| n == node && c == client) {
                return Ok(TokenSlot::Held(token.clone()));
            }
            if tokens.iter().filter(|(n, _, _)| n == node).count() >= MAX_TOKENS {
                return Ok(TokenSlot::Full);
            }
            tokens.push((node.to_owned(), fresh.to_owned(), client.to_owned()));
            return Ok(TokenSlot::Added);
        }
        let Store::Postgres(pg) = self else {
            unreachable!()
        };
        let db = pg.client().await?;
        let held = |db: std::sync::Arc<tokio_postgres::Client>| async move {
            let row = db
                .query_opt(
                    "SELECT token FROM pairux_tokens WHERE session = $1 AND node = $2 \
                     AND client = $3",
                    &[&session.to_string(), &node, &client],
                )
                .await?;
            row.map(|r| r.try_get::<_, String>(0))
                .transpose()
                .map_err(StoreError::from)
        };
        if let Some(token) = held(db.clone()).await? {
            return Ok(TokenSlot::Held(token));
        }
        let added = db
            .execute(
                "INSERT INTO pairux_tokens (session, node, token, client) SELECT $1, $2, $3, $4 \
                 WHERE (SELECT count(*) FROM pairux_tokens WHERE session = $1 AND node = $2) < $5 \
                 ON CONFLICT DO NOTHING",
                &[
                    &session.to_string(),
                    &node,
                    &fresh,
                    &client,
                    &(MAX_TOKENS as i64),
                ],
            )
            .await?;
        if added == 1 {
            return Ok(TokenSlot::Added);
        }
        // Another focus process gave this client one a moment ago (the unique index), or the
        // session is full.
        Ok(match held(db).await? {
            Some(token) => TokenSlot::Held(token),
            None => TokenSlot::Full,
        })
    }

    /// Open sessions without an access request at or after `since` (unix seconds).
    pub async fn idle(&self, since: u64) -> Result<Vec<SessionRow>, StoreError> {
        if let Some(m) = self.mem() {
            return Ok(m
                .sessions
                .values()
                .filter(|r| r.closed_at.is_none() && m.unused_since(&r.decision.session, since))
                .cloned()
                .collect());
        }
        let Store::Postgres(pg) = self else {
            unreachable!()
        };
        let rows = pg
            .client()
            .await?
            .query(
                "SELECT s.id, s.mode, s.region, s.seq, s.topology, s.node, s.reason, \
                 s.decided_at, s.closed_at FROM pairux_sessions s WHERE s.closed_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM pairux_access_pins p \
                 WHERE p.session = s.id AND p.last_used >= $1)",
                &[&to_i64(since)],
            )
            .await?;
        rows.iter().map(session_row).collect()
    }

    /// Closes `session` at `now` (unix seconds) if its stored seq is `seq`, it is open and no
    /// access request came at or after `since`; deletes its rooms and tokens and returns them.
    /// None: not closed (a newer decision, already closed, or used again).
    pub async fn close(
        &self,
        session: &SessionId,
        seq: u64,
        now: u64,
        since: u64,
    ) -> Result<Option<ClosedSession>, StoreError> {
        if let Some(mut m) = self.mem() {
            let m = &mut *m;
            let unused = m.unused_since(session, since);
            let Some(row) = m.sessions.get_mut(session) else {
                return Ok(None);
            };
            if row.decision.seq != seq || row.closed_at.is_some() || !unused {
                return Ok(None);
            }
            row.closed_at = Some(now);
            return Ok(Some(ClosedSession {
                rooms: m
                    .rooms
                    .remove(session)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                tokens: m
                    .tokens
                    .remove(session)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(node, token, _)| (node, token))
                    .collect(),
            }));
        }
        let Store::Postgres(pg) = self else {
            unreachable!()
        };
        // One statement: the close and the deletions happen together or not at all.
        let rows = pg
            .client()
            .await?
            .query(
                "WITH closed AS ( \
                   UPDATE pairux_sessions SET closed_at = $3, updated_at = now() \
                   WHERE id = $1 AND seq = $2 AND closed_at IS NULL AND NOT EXISTS ( \
                     SELECT 1 FROM pairux_access_pins p WHERE p.session = $1 AND p.last_used >= $4) \
                   RETURNING id), \
                 rooms AS (DELETE FROM pairux_rooms WHERE session IN (SELECT id FROM closed) \
                   RETURNING node, room, pin, secret), \
                 tokens AS (DELETE FROM pairux_tokens WHERE session IN (SELECT id FROM closed) \
                   RETURNING node, token) \
                 SELECT 'closed'::text, id, NULL::bigint, NULL::text, NULL::text FROM closed \
                 UNION ALL SELECT 'room', node, room, pin, secret FROM rooms \
                 UNION ALL SELECT 'token', node, NULL, token, NULL FROM tokens",
                &[
                    &session.to_string(),
                    &to_i64(seq),
                    &to_i64(now),
                    &to_i64(since),
                ],
            )
            .await?;
        let mut closed = None;
        let mut out = ClosedSession::default();
        for r in &rows {
            let kind: String = r.try_get(0)?;
            let node: String = r.try_get(1)?;
            match kind.as_str() {
                "closed" => closed = Some(()),
                "room" => {
                    let room: i64 = r.try_get(2)?;
                    out.rooms.push((
                        node,
                        RoomRow {
                            room: u64::try_from(room).map_err(|_| StoreError::Row("room"))?,
                            pin: r.try_get(3)?,
                            secret: r.try_get(4)?,
                        },
                    ));
                }
                _ => out.tokens.push((node, r.try_get(3)?)),
            }
        }
        Ok(closed.map(|()| out))
    }

    /// Which of `sessions` are closed in the store, with their last seq.
    pub async fn closed_among(
        &self,
        sessions: &[SessionId],
    ) -> Result<Vec<(SessionId, u64)>, StoreError> {
        if let Some(m) = self.mem() {
            return Ok(sessions
                .iter()
                .filter_map(|s| m.sessions.get(s))
                .filter(|r| r.closed_at.is_some())
                .map(|r| (r.decision.session, r.decision.seq))
                .collect());
        }
        let Store::Postgres(pg) = self else {
            unreachable!()
        };
        if sessions.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = sessions.iter().map(ToString::to_string).collect();
        let rows = pg
            .client()
            .await?
            .query(
                "SELECT id, seq FROM pairux_sessions WHERE id = ANY($1) AND closed_at IS NOT NULL",
                &[&ids],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let seq: i64 = r.try_get(1)?;
                Ok((
                    SessionId::parse(&id).map_err(|_| StoreError::Row("id"))?,
                    u64::try_from(seq).map_err(|_| StoreError::Row("seq"))?,
                ))
            })
            .collect()
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub fn reason_str(reason: Reason) -> &'static str {
    match reason {
        Reason::Start => "start",
        Reason::Threshold => "threshold",
        Reason::Requested => "requested",
        Reason::Failover => "failover",
        Reason::Drain => "drain",
    }
}

fn parse_reason(text: &str) -> Option<Reason> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
}

fn session_row(r: &tokio_postgres::Row) -> Result<SessionRow, StoreError> {
    let id: String = r.try_get(0)?;
    let mode: String = r.try_get(1)?;
    let seq: i64 = r.try_get(3)?;
    let topology: String = r.try_get(4)?;
    let reason: String = r.try_get(6)?;
    let at: i64 = r.try_get(7)?;
    Ok(SessionRow {
        decision: Decision {
            session: SessionId::parse(&id).map_err(|_| StoreError::Row("id"))?,
            seq: u64::try_from(seq).map_err(|_| StoreError::Row("seq"))?,
            topology: Topology::parse(&topology).ok_or(StoreError::Row("topology"))?,
            node: r.try_get(5)?,
            reason: parse_reason(&reason).ok_or(StoreError::Row("reason"))?,
            at: u64::try_from(at).map_err(|_| StoreError::Row("decided_at"))?,
        },
        mode: StartMode::parse(&mode).ok_or(StoreError::Row("mode"))?,
        region: r.try_get(2)?,
        closed_at: r
            .try_get::<_, Option<i64>>(8)?
            .map(|at| u64::try_from(at).map_err(|_| StoreError::Row("closed_at")))
            .transpose()?,
    })
}

/// The PostgreSQL store: one connection for queries (re-opened when it drops).
pub struct Postgres {
    url: String,
    client: tokio::sync::Mutex<std::sync::Arc<tokio_postgres::Client>>,
}

async fn open(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::warn!("focus store: database connection ended: {err}");
        }
    });
    Ok(client)
}

impl Postgres {
    async fn connect(url: &str) -> Result<Postgres, StoreError> {
        let client = open(url).await?;
        Ok(Postgres {
            url: url.to_owned(),
            client: tokio::sync::Mutex::new(std::sync::Arc::new(client)),
        })
    }

    async fn client(&self) -> Result<std::sync::Arc<tokio_postgres::Client>, StoreError> {
        let mut client = self.client.lock().await;
        if client.is_closed() {
            *client = std::sync::Arc::new(open(&self.url).await?);
        }
        Ok(client.clone())
    }

    /// Applies every migration not recorded in `pairux_migrations`, each in a transaction;
    /// concurrent starts serialise on an advisory transaction lock.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut db = open(&self.url).await?;
        db.batch_execute(
            "CREATE TABLE IF NOT EXISTS pairux_migrations (name text PRIMARY KEY, \
             applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .or_else(|e| {
            // Two processes creating the table at once: one of them sees a unique violation.
            if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        for (name, sql) in MIGRATIONS {
            let tx = db.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&(LEADER_LOCK + 1)])
                .await?;
            let done = tx
                .query_opt("SELECT 1 FROM pairux_migrations WHERE name = $1", &[name])
                .await?
                .is_some();
            if !done {
                tx.batch_execute(sql)
                    .await
                    .map_err(|e| StoreError::Migration(name, e))?;
                tx.execute("INSERT INTO pairux_migrations (name) VALUES ($1)", &[name])
                    .await?;
                tracing::info!("focus store: applied migration {name}");
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// A leadership contender on a connection of its own.
    pub fn leadership(&self) -> Leadership {
        Leadership {
            url: self.url.clone(),
            held: None,
        }
    }
}

/// Who does the periodic work (failover, drain moves, threshold upgrades): the process holding
/// a session-level advisory lock. A dead leader's connection ends, Postgres releases its lock,
/// and the next [`Leadership::poll`] of a standby takes it.
pub struct Leadership {
    url: String,
    held: Option<tokio_postgres::Client>,
}

impl Leadership {
    /// Whether this process leads now (tries to become leader when it does not).
    pub async fn poll(&mut self) -> bool {
        if let Some(client) = &self.held {
            let alive =
                tokio::time::timeout(Duration::from_secs(1), client.simple_query("SELECT 1"))
                    .await
                    .is_ok_and(|r| r.is_ok());
            if alive {
                return true;
            }
            tracing::warn!("focus: lost the leader lock's connection");
            self.held = None;
        }
        let Ok(Ok(client)) = tokio::time::timeout(Duration::from_secs(2), open(&self.url)).await
        else {
            return false;
        };
        let got = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])
            .await
            .ok()
            .and_then(|row| row.try_get::<_, bool>(0).ok())
            .unwrap_or(false);
        if got {
            self.held = Some(client);
        }
        got
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64, node: Option<&str>) -> SessionRow {
        SessionRow {
            decision: Decision {
                session: SessionId::from_bytes([1; 16]),
                seq,
                topology: if node.is_some() {
                    Topology::Sfu
                } else {
                    Topology::P2p
                },
                node: node.map(str::to_owned),
                reason: Reason::Start,
                at: 5,
            },
            mode: StartMode::Auto,
            region: None,
            closed_at: None,
        }
    }

    #[tokio::test]
    async fn memory_commits_compare_and_set_on_seq() {
        let store = Store::memory();
        // A session's first decision takes any seq (this process's start); each later one
        // exactly the next.
        assert!(store.commit(&row(1, None)).await.unwrap());
        assert!(!store.commit(&row(1, Some("a"))).await.unwrap());
        assert!(!store.commit(&row(3, Some("a"))).await.unwrap());
        assert!(store.commit(&row(2, Some("a"))).await.unwrap());
        assert!(!store.commit(&row(2, Some("b"))).await.unwrap());
        let s = store
            .session(&SessionId::from_bytes([1; 16]))
            .await
            .unwrap();
        assert_eq!(s.unwrap().decision.node.as_deref(), Some("a"));
    }

    #[tokio::test]
    async fn memory_closes_idle_sessions_and_a_reopen_continues_the_seq() {
        let store = Store::memory();
        let s = SessionId::from_bytes([1; 16]);
        assert!(store.commit(&row(1, None)).await.unwrap());
        assert!(store.commit(&row(2, Some("a"))).await.unwrap());
        let fresh = RoomRow {
            room: 7,
            pin: "p".into(),
            secret: "x".into(),
        };
        store.room(&s, "a", fresh.clone()).await.unwrap();
        store.token_for(&s, "a", "c1", "t1").await.unwrap();
        store.token_for(&s, "a", "c2", "t2").await.unwrap();
        // Used at 100: not idle since 100, idle since 101.
        let used = store
            .pin_and_use_nonce(s, "v", "n", 200, 100)
            .await
            .unwrap();
        assert_eq!(used, PinOutcome::Accepted);
        assert!(store.idle(100).await.unwrap().is_empty());
        assert_eq!(store.idle(101).await.unwrap().len(), 1);
        assert!(store.close(&s, 2, 110, 100).await.unwrap().is_none());
        assert!(
            store.close(&s, 1, 110, 101).await.unwrap().is_none(),
            "not its seq"
        );
        let closed = store.close(&s, 2, 110, 101).await.unwrap().unwrap();
        assert_eq!(closed.rooms.len(), 1);
        assert!(closed.rooms[0] == ("a".to_owned(), fresh));
        assert_eq!(closed.tokens.len(), 2);
        assert!(
            store.close(&s, 2, 111, 101).await.unwrap().is_none(),
            "once"
        );
        assert!(store.sessions().await.unwrap().is_empty());
        assert!(store.idle(101).await.unwrap().is_empty());
        let kept = store.session(&s).await.unwrap().unwrap();
        assert_eq!((kept.decision.seq, kept.closed_at), (2, Some(110)));
        assert_eq!(store.closed_among(&[s]).await.unwrap(), vec![(s, 2)]);
        // The next decision reopens it, in its new mode; the room is a new one.
        assert!(!store.commit(&row(1, None)).await.unwrap());
        let mut again = row(3, Some("b"));
        again.mode = StartMode::Sfu;
        assert!(store.commit(&again).await.unwrap());
        let reopened = store.session(&s).await.unwrap().unwrap();
        assert_eq!(
            (reopened.decision.seq, reopened.mode, reopened.closed_at),
            (3, StartMode::Sfu, None)
        );
        assert!(store.closed_among(&[s]).await.unwrap().is_empty());
        let other = RoomRow {
            room: 8,
            pin: "q".into(),
            secret: "y".into(),
        };
        assert_eq!(store.room(&s, "a", other.clone()).await.unwrap().room, 8);
        // Closed rows go after CLOSED_KEEP_SECS; nonces and pins expire too.
        assert!(store.close(&s, 3, 1_000, 1_000).await.unwrap().is_some());
        store.prune(1_000 + CLOSED_KEEP_SECS - 1).await.unwrap();
        assert!(store.session(&s).await.unwrap().is_some());
        store.prune(1_000 + CLOSED_KEEP_SECS).await.unwrap();
        assert!(store.session(&s).await.unwrap().is_none());
        let m = store.mem().unwrap();
        assert!(m.pins.is_empty() && m.nonces.is_empty());
    }

    #[tokio::test]
    async fn full_pins_make_room_from_one_off_requests_not_from_sessions_in_use() {
        let store = Store::memory();
        let id = |n: u32| {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&n.to_be_bytes());
            SessionId::from_bytes(b)
        };
        // A session in use (asked twice), then the table filled with one-off pins.
        let used = id(u32::MAX);
        for nonce in ["n1", "n2"] {
            let out = store.pin_and_use_nonce(used, "v", nonce, 2_000, 100).await;
            assert_eq!(out.unwrap(), PinOutcome::Accepted);
        }
        {
            let mut m = store.mem().unwrap();
            for n in 0..(MAX_SESSIONS as u32 - 1) {
                m.pins.insert(id(n), ("flood".into(), 100, false));
            }
        }
        // Ten minutes on, the one-off pins make room; the session in use keeps its pin.
        let new = |n: u32, nonce: &'static str, now| {
            store.pin_and_use_nonce(id(u32::MAX - n), "w", nonce, now + 60, now)
        };
        assert_eq!(
            new(1, "b", 100 + ONE_OFF_PIN_SECS).await.unwrap(),
            PinOutcome::Accepted
        );
        let m = store.mem().unwrap();
        assert_eq!(m.pins.len(), 2);
        assert_eq!(m.pins.get(&used).map(|p| p.0.as_str()), Some("v"));
    }

    /// Asking twice is cheap: a flood of pins asked for twice still leaves room for a new
    /// session once they are idle, made from the least recently used — never from a session
    /// in use, whose id someone could otherwise pin first.
    #[tokio::test]
    async fn full_pins_asked_twice_make_room_from_the_least_recently_used_idle_ones() {
        let store = Store::memory();
        let id = |n: u32| {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&n.to_be_bytes());
            SessionId::from_bytes(b)
        };
        {
            let mut m = store.mem().unwrap();
            for n in 0..(MAX_SESSIONS as u32 - 1) {
                m.pins
                    .insert(id(n), ("flood".into(), 100 + u64::from(n % 7), true));
            }
        }
        let used = id(u32::MAX);
        let out = store.pin_and_use_nonce(used, "v", "n1", 2_000, 105).await;
        assert_eq!(out.unwrap(), PinOutcome::Accepted);
        let new = |n: u32, nonce: &'static str, now: u64| {
            store.pin_and_use_nonce(id(u32::MAX - n), "w", nonce, now + 60, now)
        };
        // Every pin in use: a new session waits.
        assert_eq!(new(1, "a", 200).await.unwrap(), PinOutcome::Busy);
        // The session in use asks again (its TURN renewal); later the flood is idle.
        let later = 100 + IDLE_PIN_SECS + 10;
        let out = store
            .pin_and_use_nonce(used, "v", "n2", later + 60, later - 5)
            .await;
        assert_eq!(out.unwrap(), PinOutcome::Accepted);
        assert_eq!(new(2, "b", later).await.unwrap(), PinOutcome::Accepted);
        let m = store.mem().unwrap();
        assert_eq!(m.pins.len(), MAX_SESSIONS - MAX_SESSIONS / 100 + 1);
        assert_eq!(m.pins.get(&used).map(|p| p.0.as_str()), Some("v"));
        // Those that went were the flood's oldest (used at 100: every seventh).
        let oldest = m.pins.values().filter(|(_, at, _)| *at == 100).count();
        assert_eq!(oldest, (MAX_SESSIONS - 1).div_ceil(7) - MAX_SESSIONS / 100);
    }

    #[tokio::test]
    async fn memory_keeps_at_most_max_sessions_closed_rows_the_oldest_going_first() {
        let store = Store::memory();
        let row = |n: u32| {
            let mut bytes = [0; 16];
            bytes[..4].copy_from_slice(&n.to_be_bytes());
            SessionRow {
                decision: Decision {
                    session: SessionId::from_bytes(bytes),
                    seq: 1,
                    topology: Topology::P2p,
                    node: None,
                    reason: Reason::Start,
                    at: 1,
                },
                mode: StartMode::Auto,
                region: None,
                closed_at: Some(1_000 + u64::from(n)),
            }
        };
        let open = {
            let mut r = row(u32::MAX);
            r.closed_at = None;
            r
        };
        {
            let mut m = store.mem().unwrap();
            for n in 0..(MAX_SESSIONS as u32 + 2) {
                let r = row(n);
                m.sessions.insert(r.decision.session, r);
            }
            m.sessions.insert(open.decision.session, open.clone());
        }
        store.prune(5_000).await.unwrap();
        let m = store.mem().unwrap();
        assert_eq!(m.sessions.len(), MAX_SESSIONS + 1);
        assert!(!m.sessions.contains_key(&row(0).decision.session));
        assert!(!m.sessions.contains_key(&row(1).decision.session));
        assert!(m.sessions.contains_key(&row(2).decision.session));
        assert!(
            m.sessions.contains_key(&open.decision.session),
            "an open row stays"
        );
    }

    #[tokio::test]
    async fn a_session_holds_at_most_max_tokens_per_node_one_per_client() {
        let store = Store::memory();
        let s = SessionId::from_bytes([4; 16]);
        let added = TokenSlot::Added;
        // A client asking again and again keeps the token it was given.
        assert_eq!(store.token_for(&s, "a", "c0", "t0").await.unwrap(), added);
        for n in 0..5 {
            assert_eq!(
                store
                    .token_for(&s, "a", "c0", &format!("again{n}"))
                    .await
                    .unwrap(),
                TokenSlot::Held("t0".into())
            );
        }
        for n in 1..MAX_TOKENS {
            let (c, t) = (format!("c{n}"), format!("t{n}"));
            assert_eq!(store.token_for(&s, "a", &c, &t).await.unwrap(), added);
        }
        assert_eq!(
            store.token_for(&s, "a", "one-more", "x").await.unwrap(),
            TokenSlot::Full
        );
        // Those who have one still get it; another node has its own places.
        assert_eq!(
            store.token_for(&s, "a", "c7", "y").await.unwrap(),
            TokenSlot::Held("t7".into())
        );
        assert_eq!(store.token_for(&s, "b", "c7", "z").await.unwrap(), added);
    }

    #[tokio::test]
    async fn memory_pins_and_uses_nonces_once() {
        let store = Store::memory();
        let s = SessionId::from_bytes([2; 16]);
        let ok = store.pin_and_use_nonce(s, "v", "n1", 100, 1).await.unwrap();
        assert_eq!(ok, PinOutcome::Accepted);
        let again = store.pin_and_use_nonce(s, "v", "n1", 100, 1).await.unwrap();
        assert_eq!(again, PinOutcome::Replayed);
        let other = store.pin_and_use_nonce(s, "w", "n2", 100, 1).await.unwrap();
        assert_eq!(other, PinOutcome::WrongVerifier);
        for r in [
            Reason::Start,
            Reason::Threshold,
            Reason::Requested,
            Reason::Failover,
            Reason::Drain,
        ] {
            assert_eq!(parse_reason(reason_str(r)), Some(r));
        }
    }
}
