//! The agent's decisions, sans-IO: who may pair, which input reaches the OS, what must be let
//! go. The binary (crates/agent) owns the socket, the clock, the randomness and the injector;
//! it feeds events in and executes the [`Action`]s that come out.
//!
//! Invariants:
//! - At most one page is paired; every other socket gets `refused` and is closed.
//! - A page from an origin not configured is refused before it may say anything.
//! - Input is applied only from a participant the paired page lists as a holder, only while a
//!   screen is shared that maps to a display, and within a rate.
//! - Whatever a participant holds down (keys, buttons) is released when it stops being a
//!   holder, when the page goes, and on the emergency hotkey; nothing stays held. An ordinary
//!   key not heard of (no key-down, no repeat) for [`HELD_KEY_SILENCE_MS`] is let go.
//! - Control ending starts with [`Action::Cut`]: nothing queued before it presses, moves or
//!   types afterwards.
//! - Ctrl+Shift+Esc is the host's emergency revoke and is never typed for a controller.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::keymap::{self, ESCAPE};
use super::pairing::{answer_proof, resume_verify, Answer, PairingCode, CODE_RANDOM_LEN};
use super::wire::{AgentMsg, FrameError, PageMsg, PointersOnly, Refusal, SurfaceKind};
use crate::control::{Button, InputEvent, InputKind, Modifiers, TokenBucket};

/// A socket, numbered by the binary.
pub type ConnId = u64;

/// Wrong codes in a row before the code is retired and a new one shown.
pub const MAX_WRONG_CODES: u8 = 3;
/// Pixels of wheel delta per notch (Chrome's wheel step).
pub const WHEEL_NOTCH_PX: f64 = 100.0;
/// Longest composed text typed at once (what the host's tab lets through,
/// `control::gate`).
pub const MAX_TEXT_CHARS: usize = 256;
/// Characters typed per second at most, per holder, in a burst of one longest text: each costs
/// the display server a key mapping and events, so a holder's flood of texts would keep the
/// host's computer typing long after its control ended.
const TEXT_RATE: TokenBucket = TokenBucket::new(100.0, MAX_TEXT_CHARS as f64);
/// An ordinary key held with no key-down heard for this long (its first, or the controller's
/// repeats, which come every few tens of ms after a delay of at most ~2 s) is let go: the
/// controller's key-up may be stuck behind a stalled connection, and the host's OS would repeat
/// the key (Backspace, Delete, Enter) until it comes. A repeat heard later presses it again.
/// Modifiers do not repeat everywhere, so they wait for their key-up.
pub const HELD_KEY_SILENCE_MS: u64 = 2_500;
/// Most wheel notches one event scrolls (more is dropped, not kept for later): each is a
/// click of the display server's wheel buttons.
pub const MAX_NOTCHES: i32 = 10;
/// Input events applied per second at most, per holder (pointer at 120 Hz and typing fit well
/// inside; one holder's flood does not spend another's). Releasing what is held is never
/// refused: a dropped key-up would leave the host's OS repeating the key.
const INPUT_RATE: TokenBucket = TokenBucket::new(500.0, 250.0);
/// No key (evdev `KEY_RESERVED`): what [`Agent::reserved`] is asked about for modifiers alone.
const NO_KEY: u16 = 0;
/// Random bytes `text` needs (a resume token and perhaps a new code).
pub const TEXT_RANDOM_LEN: usize = 32 + CODE_RANDOM_LEN;

/// A display the agent can inject into, in the OS's global pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Display {
    pub x: i32,
    pub y: i32,
    pub w: u32,
    pub h: u32,
}

/// One thing to do to the OS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inject {
    MoveTo {
        x: i32,
        y: i32,
    },
    Button {
        b: Button,
        down: bool,
    },
    /// A physical key by evdev code (see `keymap`).
    Key {
        evdev: u16,
        down: bool,
    },
    Text(String),
    /// Wheel notches; positive `dy` scrolls down, positive `dx` right.
    Scroll {
        dx: i32,
        dy: i32,
    },
}

impl Inject {
    /// Lets go of something (a key or button up): never dropped, or it would stay held.
    pub fn is_release(&self) -> bool {
        matches!(
            self,
            Inject::Button { down: false, .. } | Inject::Key { down: false, .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(ConnId, String),
    Close(ConnId),
    Inject(Inject),
    /// What was handed to the injector before this and not applied yet must not be: presses,
    /// moves, scrolls and text are dropped, releases still apply. Comes before the releases of
    /// a revoke, an unpairing, the emergency hotkey or a screen no longer driven, so that input
    /// queued behind a slow display server never lands after control ended.
    Cut,
    /// A new pairing code to show the person at the computer (after a pairing or too many
    /// wrong codes), as displayed.
    NewCode(String),
}

/// Counts, never contents: what was applied and what was refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentStats {
    pub moves: u64,
    pub buttons: u64,
    pub keys: u64,
    pub texts: u64,
    pub scrolls: u64,
    pub not_holder: u64,
    /// Held keys let go after [`HELD_KEY_SILENCE_MS`] without a key-down of theirs.
    pub keys_let_go: u64,
    pub not_driving: u64,
    pub over_rate: u64,
    pub reserved: u64,
    pub malformed: u64,
    pub refused_origin: u64,
    pub refused_code: u64,
    pub refused_busy: u64,
    pub pairings: u64,
}

impl AgentStats {
    pub fn injected(&self) -> u64 {
        self.moves + self.buttons + self.keys + self.texts + self.scrolls
    }
}

pub struct AgentConfig {
    /// Origins whose pages may pair, e.g. `http://localhost:8080`.
    pub origins: Vec<String>,
    /// Shown to the page in `hello`.
    pub version: String,
    /// The port the agent listens on: its answer names it (a page that reached another
    /// program there, relaying to this agent, does not believe it).
    pub port: u16,
}

struct Conn {
    origin: String,
    nonce: String,
}

/// The paired tab's way back after a reload: its token, the origin it was given to, and
/// (once that tab's socket closed) until when it may be used.
#[derive(Debug)]
struct Resume {
    token: String,
    origin: String,
    until: Option<u64>,
}

/// How long after the paired tab's socket closes its resume token still works: a reload, or
/// the agent's socket dropped and retried, is seconds; later it takes the code again.
pub const RESUME_TTL_MS: u64 = 60_000;

pub struct Agent {
    config: AgentConfig,
    code: PairingCode,
    wrong: u8,
    resume: Option<Resume>,
    conns: BTreeMap<ConnId, Conn>,
    paired: Option<ConnId>,
    displays: Vec<Display>,
    surface: Option<(SurfaceKind, u32, u32)>,
    holders: Vec<String>,
    keys: BTreeMap<u16, String>,
    /// Modifier keys pressed for a click or a wheel event (the page saw no key-down of them:
    /// its focus was elsewhere as the controller pressed them), let go with that click's
    /// release or after the scroll, unless a key-down of theirs came meanwhile.
    pointer_mods: Vec<u16>,
    /// When a key-down (its first, or a repeat) of each held ordinary key last came.
    key_heard: BTreeMap<u16, u64>,
    buttons: Vec<(Button, String)>,
    wheel: BTreeMap<String, (f64, f64)>,
    rates: BTreeMap<String, TokenBucket>,
    /// Per holder: characters it may type ([`TEXT_RATE`]).
    text_rates: BTreeMap<String, TokenBucket>,
    last_status: Option<Result<Display, PointersOnly>>,
    stats: AgentStats,
}

impl Agent {
    pub fn new(
        config: AgentConfig,
        code_random: &[u8; CODE_RANDOM_LEN],
        displays: Vec<Display>,
    ) -> Agent {
        Agent {
            config,
            code: PairingCode::generate(code_random),
            wrong: 0,
            resume: None,
            conns: BTreeMap::new(),
            paired: None,
            displays,
            surface: None,
            holders: Vec::new(),
            keys: BTreeMap::new(),
            pointer_mods: Vec::new(),
            key_heard: BTreeMap::new(),
            buttons: Vec::new(),
            wheel: BTreeMap::new(),
            rates: BTreeMap::new(),
            text_rates: BTreeMap::new(),
            last_status: None,
            stats: AgentStats::default(),
        }
    }

    /// The code to show, as displayed (`ABCDE-FGHJK`).
    pub fn code(&self) -> String {
        self.code.display()
    }

    pub fn stats(&self) -> AgentStats {
        self.stats
    }

    pub fn is_paired(&self) -> bool {
        self.paired.is_some()
    }

    /// Whether `origin` may pair (the binary also checks it before the WebSocket upgrade).
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        origin.is_some_and(|o| self.config.origins.iter().any(|a| a == o))
    }

    /// A socket opened from a page at `origin` (the browser's `Origin` header).
    pub fn open(&mut self, conn: ConnId, origin: Option<&str>, nonce: &[u8; 16]) -> Vec<Action> {
        if !self.origin_allowed(origin) {
            self.stats.refused_origin += 1;
            return refuse(conn, Refusal::Origin);
        }
        if self.paired.is_some() {
            self.stats.refused_busy += 1;
            return refuse(conn, Refusal::Busy);
        }
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let hello = AgentMsg::Hello {
            agent: self.config.version.clone(),
            nonce: nonce.clone(),
        };
        self.conns.insert(
            conn,
            Conn {
                origin: origin.unwrap_or_default().to_owned(),
                nonce,
            },
        );
        vec![Action::Send(conn, hello.encode())]
    }

    /// A text frame from `conn`.
    pub fn text(
        &mut self,
        now: u64,
        conn: ConnId,
        text: &str,
        random: &[u8; TEXT_RANDOM_LEN],
    ) -> Vec<Action> {
        if !self.conns.contains_key(&conn) {
            return Vec::new();
        }
        let msg = match PageMsg::decode(text) {
            Ok(msg) => msg,
            Err(FrameError::Version(_)) => {
                self.stats.malformed += 1;
                let mut out = self.close(now, conn);
                out.splice(0..0, refuse(conn, Refusal::Version));
                return out;
            }
            Err(_) => {
                self.stats.malformed += 1;
                // An unpaired socket that cannot speak the protocol is dropped.
                return if self.paired == Some(conn) {
                    Vec::new()
                } else {
                    self.close(now, conn)
                        .into_iter()
                        .chain([Action::Close(conn)])
                        .collect()
                };
            }
        };
        if self.paired != Some(conn) {
            return self.pairing(now, conn, msg, random);
        }
        match msg {
            PageMsg::Pair { .. } | PageMsg::Resume { .. } => {
                self.stats.malformed += 1;
                Vec::new()
            }
            PageMsg::Surface { kind, w, h } => {
                self.surface = Some((kind, w, h));
                self.status_change()
            }
            PageMsg::Holders { ids } => {
                let lost = self.holders.iter().any(|h| !ids.contains(h));
                self.holders = ids;
                let releases = self.release_non_holders();
                if !lost {
                    return releases;
                }
                // The cut drops every press still queued, those of holders who keep control
                // too: what they hold is pressed again behind it (a press of a key already
                // down is one more repeat), so the OS holds what we think is held.
                let again = self
                    .keys
                    .keys()
                    .map(|&evdev| Action::Inject(Inject::Key { evdev, down: true }));
                std::iter::once(Action::Cut)
                    .chain(releases)
                    .chain(again)
                    .collect()
            }
            PageMsg::Input { from, e } => self.input(now, &from, &e),
        }
    }

    fn pairing(
        &mut self,
        now: u64,
        conn: ConnId,
        msg: PageMsg,
        random: &[u8; TEXT_RANDOM_LEN],
    ) -> Vec<Action> {
        if self.paired.is_some() {
            self.stats.refused_busy += 1;
            self.conns.remove(&conn);
            return refuse(conn, Refusal::Busy);
        }
        let Some(c) = self.conns.get(&conn) else {
            return Vec::new();
        };
        // The secret the page proved, which the answer proves back: the code, or the token.
        let (ok, key, page_nonce) = match &msg {
            PageMsg::Pair { proof, nonce } => (
                self.code.verify(&c.nonce, &c.origin, proof),
                self.code.key().to_vec(),
                nonce,
            ),
            // Only from the origin it was given to, and not long after that tab went.
            PageMsg::Resume { proof, nonce } => match &self.resume {
                Some(r) => (
                    r.origin == c.origin
                        && r.until.is_none_or(|until| now <= until)
                        && resume_verify(&r.token, &c.nonce, &c.origin, self.config.port, proof),
                    r.token.as_bytes().to_vec(),
                    nonce,
                ),
                None => (false, Vec::new(), nonce),
            },
            _ => {
                self.stats.malformed += 1;
                self.conns.remove(&conn);
                return vec![Action::Close(conn)];
            }
        };
        let ok = ok && !page_nonce.is_empty();
        let (c_origin, agent_nonce) = (c.origin.clone(), c.nonce.clone());
        let (token, code) = random.split_at(32);
        let code: &[u8; CODE_RANDOM_LEN] = code.try_into().expect("split at 32");
        if !ok && matches!(msg, PageMsg::Resume { .. }) {
            // A token is 256 random bits: no guessing it, so a wrong one retires no code
            // (a page could otherwise retire the host's code at will).
            self.stats.refused_code += 1;
            self.conns.remove(&conn);
            return refuse(conn, Refusal::BadCode);
        }
        if !ok {
            self.stats.refused_code += 1;
            self.conns.remove(&conn);
            self.wrong += 1;
            if self.wrong >= MAX_WRONG_CODES {
                self.wrong = 0;
                self.code = PairingCode::generate(code);
                let mut out = refuse(conn, Refusal::CodeRetired);
                out.push(Action::NewCode(self.code()));
                return out;
            }
            return refuse(conn, Refusal::BadCode);
        }
        self.wrong = 0;
        self.stats.pairings += 1;
        self.paired = Some(conn);
        // Whoever saw the code or an older token cannot pair again with it.
        let fresh = URL_SAFE_NO_PAD.encode(token);
        let proof = answer_proof(
            &key,
            Answer {
                agent_nonce: &agent_nonce,
                page_nonce,
                origin: &c_origin,
                port: self.config.port,
                resume: &fresh,
            },
        );
        self.resume = Some(Resume {
            token: fresh.clone(),
            origin: c_origin,
            until: None,
        });
        self.code = PairingCode::generate(code);
        self.last_status = None;
        let mut out = vec![Action::Send(
            conn,
            AgentMsg::Paired {
                resume: fresh,
                proof,
            }
            .encode(),
        )];
        out.extend(self.status_change());
        out.push(Action::NewCode(self.code()));
        out
    }

    /// The socket closed (or the binary closes it): a paired page takes everything with it.
    pub fn close(&mut self, now: u64, conn: ConnId) -> Vec<Action> {
        self.conns.remove(&conn);
        if self.paired != Some(conn) {
            return Vec::new();
        }
        if let Some(r) = &mut self.resume {
            r.until = Some(now.saturating_add(RESUME_TTL_MS));
        }
        self.unpair()
    }

    /// No page is paired any more: nobody holds control, and whatever was held is let go.
    fn unpair(&mut self) -> Vec<Action> {
        self.paired = None;
        self.surface = None;
        self.holders.clear();
        self.last_status = None;
        self.release_all()
    }

    /// When to call [`Agent::handle_timeout`] next: a held ordinary key's silence ends.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.silent_keys()
            .map(|(_, heard)| heard.saturating_add(HELD_KEY_SILENCE_MS))
            .min()
    }

    /// Lets go of ordinary keys held and not heard of for [`HELD_KEY_SILENCE_MS`].
    pub fn handle_timeout(&mut self, now: u64) -> Vec<Action> {
        let due: Vec<u16> = self
            .silent_keys()
            .filter(|(_, heard)| heard.saturating_add(HELD_KEY_SILENCE_MS) <= now)
            .map(|(k, _)| k)
            .collect();
        let mut out = Vec::new();
        for k in due {
            self.keys.remove(&k);
            self.key_heard.remove(&k);
            self.stats.keys_let_go += 1;
            out.push(Action::Inject(Inject::Key {
                evdev: k,
                down: false,
            }));
        }
        out
    }

    /// Held ordinary keys, with when a key-down of theirs was last heard.
    fn silent_keys(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.keys
            .keys()
            .filter(|k| keymap::modifier_bit(**k).is_none())
            .map(|k| (*k, self.key_heard.get(k).copied().unwrap_or(0)))
    }

    /// The host pressed Ctrl+Shift+Esc on its computer.
    pub fn emergency(&mut self) -> Vec<Action> {
        self.holders.clear();
        let mut out = self.release_all();
        if let Some(conn) = self.paired {
            out.push(Action::Send(conn, AgentMsg::Emergency.encode()));
        }
        out
    }

    /// The agent is stopping (a signal): everything held is let go, and every page's socket
    /// closes (the tab then reads the agent as absent at once).
    pub fn shutdown(&mut self) -> Vec<Action> {
        let mut out = self.unpair();
        out.extend(
            std::mem::take(&mut self.conns)
                .into_keys()
                .map(Action::Close),
        );
        out
    }

    /// The displays changed (a monitor plugged in or out).
    pub fn set_displays(&mut self, displays: Vec<Display>) -> Vec<Action> {
        self.displays = displays;
        self.status_change()
    }

    /// Where input goes now, or why it does not.
    pub fn target(&self) -> Result<Display, PointersOnly> {
        let (kind, w, h) = self.surface.ok_or(PointersOnly::NoSurface)?;
        if kind != SurfaceKind::Monitor {
            return Err(PointersOnly::NotAScreen);
        }
        match self.displays.as_slice() {
            [] => Err(PointersOnly::NoDisplay),
            [only] => Ok(*only),
            many => {
                // A capture is the display's picture, perhaps scaled down (the page caps it
                // at 1920×1080), never up, and it keeps the display's aspect ratio. Only one
                // display that could have made it is an answer: input sent to another screen
                // than the one everyone sees — perhaps with private windows on it — is worse
                // than pointers only. (An exact size is no proof: a 2560×1440 screen captured
                // at 1920×1080 has the size of a 1080p neighbour.)
                let could: Vec<&Display> = many
                    .iter()
                    .filter(|d| u64::from(d.w) * u64::from(h) == u64::from(d.h) * u64::from(w))
                    .filter(|d| d.w >= w && d.h >= h)
                    .collect();
                match could.as_slice() {
                    [one] => Ok(**one),
                    _ => Err(PointersOnly::WhichDisplay),
                }
            }
        }
    }

    fn status_change(&mut self) -> Vec<Action> {
        let now = self.target();
        if self.last_status == Some(now) {
            return Vec::new();
        }
        self.last_status = Some(now);
        let mut out = Vec::new();
        if now.is_err() {
            // Not driving any more: let go of whatever was held.
            out.extend(self.release_all());
        }
        if let Some(conn) = self.paired {
            out.push(Action::Send(
                conn,
                AgentMsg::Status {
                    drives: now.is_ok(),
                    why: now.err(),
                }
                .encode(),
            ));
        }
        out
    }

    fn input(&mut self, now: u64, from: &str, e: &InputEvent) -> Vec<Action> {
        if !self.holders.iter().any(|h| h == from) {
            self.stats.not_holder += 1;
            return Vec::new();
        }
        let Ok(display) = self.target() else {
            self.stats.not_driving += 1;
            return Vec::new();
        };
        let releases = match &e.kind {
            InputKind::Up { b, .. } => self.buttons.iter().any(|(held, _)| held == b),
            InputKind::KeyUp { code, .. } => {
                keymap::evdev(code).is_some_and(|ev| !self.held_alike(ev, from).is_empty())
            }
            _ => false,
        };
        let rate = self.rates.entry(from.to_owned()).or_insert(INPUT_RATE);
        if !releases && !rate.take(now) {
            self.stats.over_rate += 1;
            return Vec::new();
        }
        let at = |x: f64, y: f64| {
            let px = |n: f64, size: u32| {
                (n.clamp(0.0, 1.0) * f64::from(size.saturating_sub(1))).round() as i32
            };
            Inject::MoveTo {
                x: display.x + px(x, display.w),
                y: display.y + px(y, display.h),
            }
        };
        let mut out = Vec::new();
        match &e.kind {
            InputKind::Move { x, y } => {
                self.stats.moves += 1;
                out.push(Action::Inject(at(*x, *y)));
            }
            InputKind::Down { x, y, b, m } => {
                self.stats.buttons += 1;
                out.push(Action::Inject(at(*x, *y)));
                if !self.buttons.iter().any(|(held, _)| held == b) {
                    out.extend(self.pointer_modifiers(from, *m, Modifiers::ALL));
                    self.buttons.push((*b, from.to_owned()));
                    out.push(Action::Inject(Inject::Button { b: *b, down: true }));
                }
            }
            InputKind::Up { x, y, b, .. } => {
                out.push(Action::Inject(at(*x, *y)));
                if let Some(i) = self.buttons.iter().position(|(held, _)| held == b) {
                    self.stats.buttons += 1;
                    let (_, who) = self.buttons.remove(i);
                    out.push(Action::Inject(Inject::Button { b: *b, down: false }));
                    if !self.buttons.iter().any(|(_, other)| *other == who) {
                        out.extend(self.release_pointer_modifiers(&who));
                    }
                }
            }
            // The OS makes a double click out of two clicks in quick succession, which the
            // downs and ups before `dblclick` already are.
            InputKind::Dbl { .. } => {}
            InputKind::Wheel { x, y, dx, dy, m } => {
                let acc = self.wheel.entry(from.to_owned()).or_insert((0.0, 0.0));
                acc.0 += dx.clamp(-10_000.0, 10_000.0);
                acc.1 += dy.clamp(-10_000.0, 10_000.0);
                let notches = |v: &mut f64| {
                    let n = (*v / WHEEL_NOTCH_PX).trunc();
                    *v -= n * WHEEL_NOTCH_PX;
                    n as i32
                };
                let (mut nx, mut ny) = (notches(&mut acc.0), notches(&mut acc.1));
                if nx.abs() > MAX_NOTCHES || ny.abs() > MAX_NOTCHES {
                    *acc = (0.0, 0.0);
                    nx = nx.clamp(-MAX_NOTCHES, MAX_NOTCHES);
                    ny = ny.clamp(-MAX_NOTCHES, MAX_NOTCHES);
                }
                if nx != 0 || ny != 0 {
                    self.stats.scrolls += 1;
                    out.push(Action::Inject(at(*x, *y)));
                    // Ctrl+wheel zooms: as the controller held it. Shift is left as the host
                    // has it: the controller's browser already turned Shift+wheel into the
                    // sideways deltas, which Shift again would turn back in some apps. A
                    // button held meanwhile (a drag) keeps what its press synced.
                    let dragging = self.buttons.iter().any(|(_, who)| who == from);
                    if !dragging {
                        let care = Modifiers::ALL & !Modifiers::SHIFT;
                        out.extend(self.pointer_modifiers(from, *m, care));
                    }
                    out.push(Action::Inject(Inject::Scroll { dx: nx, dy: ny }));
                    if !dragging {
                        out.extend(self.release_pointer_modifiers(from));
                    }
                }
            }
            InputKind::KeyDown { key, code, m, .. } => match keymap::evdev(code) {
                Some(ev) if self.reserved(ev, *m) => {
                    self.stats.reserved += 1;
                }
                Some(ev) => {
                    self.stats.keys += 1;
                    match keymap::modifier_bit(ev) {
                        None => {
                            out.extend(self.sync_modifiers(from, *m, Modifiers::ALL));
                            self.key_heard.insert(ev, now);
                        }
                        // Pressed for a click and now by its key: held until its key-up.
                        Some(bit) => self
                            .pointer_mods
                            .retain(|k| keymap::modifier_bit(*k) != Some(bit)),
                    }
                    // A repeat is the OS's business once the key is down.
                    if let std::collections::btree_map::Entry::Vacant(slot) = self.keys.entry(ev) {
                        slot.insert(from.to_owned());
                        out.push(Action::Inject(Inject::Key {
                            evdev: ev,
                            down: true,
                        }));
                    }
                }
                // A key with no physical equivalent here: type what it produced.
                None if key.chars().count() == 1 && !key.chars().any(char::is_control) => {
                    if self.may_type(now, from, 1) {
                        self.stats.texts += 1;
                        out.push(Action::Inject(Inject::Text(key.clone())));
                    }
                }
                None => self.stats.malformed += 1,
            },
            InputKind::KeyUp { code, .. } => {
                if let Some(ev) = keymap::evdev(code) {
                    for k in self.held_alike(ev, from) {
                        self.keys.remove(&k);
                        self.stats.keys += 1;
                        out.push(Action::Inject(Inject::Key {
                            evdev: k,
                            down: false,
                        }));
                    }
                }
            }
            InputKind::Text { text } => {
                let text: String = text
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_TEXT_CHARS)
                    .collect();
                let chars = text.chars().count();
                if chars > 0 && self.may_type(now, from, chars) {
                    self.stats.texts += 1;
                    out.push(Action::Inject(Inject::Text(text)));
                }
            }
        }
        out
    }

    /// What a key-up of `ev` from `from` lets go: the key itself if held, and for a modifier
    /// every key of the same modifier `from` holds — `sync_modifiers` presses the left one,
    /// which a right-hand key-up (the key held before the picture had focus) must release too.
    fn held_alike(&self, ev: u16, from: &str) -> Vec<u16> {
        let bit = keymap::modifier_bit(ev);
        self.keys
            .iter()
            .filter(|(k, who)| {
                **k == ev || (bit.is_some() && keymap::modifier_bit(**k) == bit && *who == from)
            })
            .map(|(k, _)| *k)
            .collect()
    }

    /// Takes `chars` from `from`'s typing budget; counted as over the rate when it has not.
    fn may_type(&mut self, now: u64, from: &str, chars: usize) -> bool {
        let budget = self.text_rates.entry(from.to_owned()).or_insert(TEXT_RATE);
        let ok = budget.take_n(now, chars as f64);
        if !ok {
            self.stats.over_rate += 1;
        }
        ok
    }

    /// Chords a controller must never make on the host's computer: the emergency revoke
    /// Ctrl+Shift+Esc, and the display server's own Ctrl+Alt chords with F1–F12 (switch to a
    /// text console), Backspace (kill the X server where enabled) and Delete. A key-down is
    /// refused when the keys down after it — every holder's, the key itself, and the modifiers
    /// the event says (which `sync_modifiers` would press) — would make one, in whatever order
    /// they came: a key held while the modifiers come last makes the chord by its repeat.
    fn reserved(&self, ev: u16, m: Modifiers) -> bool {
        let mut bits = m.0 | keymap::modifier_bit(ev).unwrap_or(0);
        for k in self.keys.keys() {
            bits |= keymap::modifier_bit(*k).unwrap_or(0);
        }
        let down = |key: u16| key == ev || self.keys.contains_key(&key);
        let has = |bit: u8| bits & bit != 0;
        // F1–F10, F11, F12, Backspace, Delete.
        let console = (59..=68).chain([87, 88, 14, 111]).any(down);
        // Ctrl or Shift while Escape is held: half the emergency chord, which the repeat of
        // Escape and one more key would complete.
        let escape_half = self.keys.contains_key(&ESCAPE)
            && matches!(
                keymap::modifier_bit(ev),
                Some(Modifiers::CTRL | Modifiers::SHIFT)
            );
        escape_half
            || (down(ESCAPE) && has(Modifiers::CTRL) && has(Modifiers::SHIFT))
            || (console && has(Modifiers::CTRL) && has(Modifiers::ALT))
    }

    /// Modifiers for a click or a wheel event: as for a key ([`Self::sync_modifiers`]), and
    /// those it presses are let go with the click's release or after the scroll
    /// ([`Self::release_pointer_modifiers`]), since the controller's page may not see their
    /// key-up either. Nothing when the page did not say (`None`: an older version), and nothing
    /// pressed that would make a chord a key-down could not ([`Self::reserved`]). Only the
    /// modifiers in `care` are synced; the others stay as the host has them.
    fn pointer_modifiers(&mut self, from: &str, m: Option<Modifiers>, care: u8) -> Vec<Action> {
        let Some(m) = m else {
            return Vec::new();
        };
        let m = Modifiers(m.0 & care);
        if self.reserved(NO_KEY, m) {
            self.stats.reserved += 1;
            return Vec::new();
        }
        let out = self.sync_modifiers(from, m, care);
        for action in &out {
            if let Action::Inject(Inject::Key { evdev, down: true }) = action {
                self.pointer_mods.push(*evdev);
            }
        }
        out
    }

    /// Lets go of the modifiers [`Self::pointer_modifiers`] pressed for `from`.
    fn release_pointer_modifiers(&mut self, from: &str) -> Vec<Action> {
        let mut out = Vec::new();
        for k in std::mem::take(&mut self.pointer_mods) {
            if self.keys.get(&k).is_some_and(|who| who == from) {
                self.keys.remove(&k);
                out.push(Action::Inject(Inject::Key {
                    evdev: k,
                    down: false,
                }));
            } else if self.keys.contains_key(&k) {
                self.pointer_mods.push(k);
            }
        }
        out
    }

    /// Presses or releases modifiers so the OS sees the ones the controller held for this key
    /// (a key-up lost on the way must not leave Shift down); of those in `care` only.
    fn sync_modifiers(&mut self, from: &str, m: Modifiers, care: u8) -> Vec<Action> {
        let mut out = Vec::new();
        for bit in [
            Modifiers::SHIFT,
            Modifiers::CTRL,
            Modifiers::ALT,
            Modifiers::META,
        ]
        .into_iter()
        .filter(|bit| care & bit != 0)
        {
            let held: Vec<u16> = self
                .keys
                .keys()
                .copied()
                .filter(|k| keymap::modifier_bit(*k) == Some(bit))
                .collect();
            let want = m.0 & bit != 0;
            if want && held.is_empty() {
                let k = keymap::modifier_key(bit);
                self.pointer_mods.retain(|p| *p != k);
                self.keys.insert(k, from.to_owned());
                out.push(Action::Inject(Inject::Key {
                    evdev: k,
                    down: true,
                }));
            } else if !want {
                for k in held {
                    self.keys.remove(&k);
                    out.push(Action::Inject(Inject::Key {
                        evdev: k,
                        down: false,
                    }));
                }
            }
        }
        out
    }

    fn release_non_holders(&mut self) -> Vec<Action> {
        let holders = self.holders.clone();
        let keep = |who: &String| holders.contains(who);
        self.wheel.retain(|who, _| keep(who));
        self.rates.retain(|who, _| keep(who));
        self.text_rates.retain(|who, _| keep(who));
        self.release_where(|who| !keep(who))
    }

    fn release_all(&mut self) -> Vec<Action> {
        self.wheel.clear();
        self.rates.clear();
        self.text_rates.clear();
        std::iter::once(Action::Cut)
            .chain(self.release_where(|_| true))
            .collect()
    }

    fn release_where(&mut self, gone: impl Fn(&String) -> bool) -> Vec<Action> {
        let mut out = Vec::new();
        let keys: Vec<u16> = self
            .keys
            .iter()
            .filter(|(_, who)| gone(who))
            .map(|(k, _)| *k)
            .collect();
        // Ordinary keys before modifiers, so nothing types as a shortcut on the way out.
        let (mods, plain): (Vec<u16>, Vec<u16>) = keys
            .into_iter()
            .partition(|k| keymap::modifier_bit(*k).is_some());
        for k in plain.into_iter().chain(mods) {
            self.keys.remove(&k);
            out.push(Action::Inject(Inject::Key {
                evdev: k,
                down: false,
            }));
        }
        let mut kept = Vec::new();
        for (b, who) in std::mem::take(&mut self.buttons) {
            if gone(&who) {
                out.push(Action::Inject(Inject::Button { b, down: false }));
            } else {
                kept.push((b, who));
            }
        }
        self.buttons = kept;
        out
    }
}

fn refuse(conn: ConnId, reason: Refusal) -> Vec<Action> {
    vec![
        Action::Send(conn, AgentMsg::Refused { reason }.encode()),
        Action::Close(conn),
    ]
}
