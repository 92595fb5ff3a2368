//! Host side of remote control: challenges, requests, grants, validated input handed to the
//! browser input sink, and cursor relay. The decisions are the core's ([`ControlLeases`],
//! [`InputGate`], [`CursorRelay`]); this module keeps them and their signals together.

use pairux_core::vecmap::VecMap;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use leptos::prelude::*;
use pairux_core::control::{
    ActionGuard, Answered, Asked, BudgetStats, ChannelBinding, ControlLeases, ControlMsg,
    CursorRelay, GateStats, Guarded, InputEvent, InputGate, InputKind, InputSink, LeaseEvent,
    MessageBudget, Modifiers, Question, StateEchoes,
};
use pairux_core::display::{colour_for, display_name};
use pairux_core::link::ControllerSecret;

use super::agent_link::AgentLink;
use crate::platform::frame::Frame;
use crate::platform::overlay::Overlay;
use crate::platform::timer::Timer;

/// Most recent input events kept for the diagnostics panel (its list shows the latest ~50; the
/// JSON export has them all): a minute of a busy controller.
const LOG_LEN: usize = 1000;

/// A remote pointer drawn over the preview / video.
#[derive(Debug, Clone, PartialEq)]
pub struct CursorView {
    pub x: f64,
    pub y: f64,
    pub name: String,
    pub color: String,
}

/// A transient mark: a click ripple or a key badge.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// Unique, for keyed rendering and expiry.
    pub n: u64,
    pub id: String,
    pub x: f64,
    pub y: f64,
    pub label: String,
}

/// One line of the input log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Unique and increasing.
    pub n: u64,
    pub from: String,
    pub event: InputEvent,
    /// When the sink got it: ms since the Unix epoch, sub-millisecond (latency measurements).
    pub received: f64,
}

/// The log lines drawn in one update (oldest first), shown and dropped together: the log is
/// rendered keyed by batch, so an update adds one keyed item at the top — rendering it keyed by
/// line moved every line of the list in the DOM whenever two lines came in one update.
#[derive(Debug, Clone, PartialEq)]
pub struct LogBatch {
    /// Unique: its first line's number.
    pub n: u64,
    pub lines: Vec<LogLine>,
}

/// What the host page shows about control.
#[derive(Clone, Copy)]
pub struct ControlSignals {
    pub requests: RwSignal<Vec<String>>,
    pub holders: RwSignal<Vec<String>>,
    pub stats: RwSignal<GateStats>,
    /// Data-channel messages dropped before parsing (floods, oversize, ping/request limits).
    pub budget: RwSignal<BudgetStats>,
    pub cursors: RwSignal<VecMap<String, CursorView>>,
    pub marks: RwSignal<Vec<Mark>>,
    /// The input log, oldest batch first, about the latest [`LOG_LEN`] lines.
    pub log: RwSignal<VecDeque<LogBatch>>,
    /// The drawing worker of the cursors over the preview, while that is on the page
    /// (`HostSurface`): a move is posted to it as it arrives.
    pub overlay: StoredValue<Option<Overlay>, LocalStorage>,
}

impl ControlSignals {
    pub fn new() -> Self {
        ControlSignals {
            requests: RwSignal::new(Vec::new()),
            holders: RwSignal::new(Vec::new()),
            stats: RwSignal::new(GateStats::default()),
            budget: RwSignal::new(BudgetStats::default()),
            cursors: RwSignal::new(VecMap::new()),
            marks: RwSignal::new(Vec::new()),
            log: RwSignal::new(VecDeque::new()),
            overlay: StoredValue::new_local(None),
        }
    }
}

impl Default for ControlSignals {
    fn default() -> Self {
        Self::new()
    }
}

/// The most recent marks shown: a burst of clicks or keys shows the latest few, not a pile.
pub const MARKS_SHOWN: usize = 12;

/// How often the diagnostics (input log, counters) catch up: they are read by people, for whom
/// five times a second is plenty, and each update is layout and paint of the page.
const DIAGNOSTICS_MS: u64 = 200;

/// What the sink has taken but the page does not show yet. Input is handled as it arrives
/// (gated, stamped, handed to the agent, relayed to viewers); what it shows is drawn later, in
/// one go however many events came: cursors and marks at the next animation frame, the
/// diagnostics every [`DIAGNOSTICS_MS`] at most. A data-channel message then never waits behind
/// the rendering of the one before it. Bounded while the page is hidden (no frames come, timers
/// slow down): the latest position per holder, the latest marks, the latest log lines.
#[derive(Default)]
struct Undrawn {
    cursors: VecMap<String, CursorView>,
    marks: Vec<Mark>,
    /// The frame that will draw cursors and marks, once asked for.
    frame: Option<Frame>,
    log: Vec<LogLine>,
    stats: Option<GateStats>,
    budget: Option<BudgetStats>,
    /// The timer that will draw the diagnostics, once armed.
    diagnostics: Option<Timer>,
    /// Moves of cursors already on screen, for the drawing worker once the message that
    /// brought them is handled (the latest per cursor).
    moves: VecMap<String, CursorView>,
}

/// Posts the moves taken to the drawing worker.
fn post_moves(undrawn: &RefCell<Undrawn>, view: ControlSignals) {
    let moves = std::mem::take(&mut undrawn.borrow_mut().moves);
    view.overlay.try_with_value(|o| {
        if let Some(o) = o {
            for (id, c) in moves.iter() {
                o.cursor(id, c.x, c.y, &c.name, &c.color);
            }
        }
    });
}

/// Shows the cursors and marks taken so far (and forgets the frame that was to do it).
fn draw_pointers(undrawn: &RefCell<Undrawn>, view: ControlSignals) {
    let (cursors, marks, frame) = {
        let mut u = undrawn.borrow_mut();
        (
            std::mem::take(&mut u.cursors),
            std::mem::take(&mut u.marks),
            u.frame.take(),
        )
    };
    if !cursors.is_empty() {
        view.cursors.try_update(|c| c.extend(cursors));
    }
    if !marks.is_empty() {
        view.marks.try_update(|m| {
            m.extend(marks);
            let excess = m.len().saturating_sub(MARKS_SHOWN);
            m.drain(..excess);
        });
    }
    // Dropped last: when this runs in that frame's own callback, nothing is left to cancel.
    drop(frame);
}

/// Shows the log lines and counters taken so far (and forgets the timer that was to do it).
fn draw_diagnostics(undrawn: &RefCell<Undrawn>, view: ControlSignals) {
    let (log, stats, budget, timer, cursors) = {
        let mut u = undrawn.borrow_mut();
        (
            std::mem::take(&mut u.log),
            u.stats.take(),
            u.budget.take(),
            u.diagnostics.take(),
            std::mem::take(&mut u.cursors),
        )
    };
    // Positions of cursors already drawn (the worker has them): their `data-x` / `data-y`.
    if !cursors.is_empty() {
        view.cursors.try_update(|c| c.extend(cursors));
    }
    if let Some(first) = log.first() {
        let batch = LogBatch {
            n: first.n,
            lines: log,
        };
        view.log.try_update(|l| {
            l.push_back(batch);
            // Whole batches go, the oldest first, while the rest hold LOG_LEN lines.
            let mut total: usize = l.iter().map(|b| b.lines.len()).sum();
            while l.len() > 1 && total - l[0].lines.len() >= LOG_LEN {
                total -= l[0].lines.len();
                l.pop_front();
            }
        });
    }
    if let Some(stats) = stats {
        view.stats.try_set(stats);
    }
    if let Some(budget) = budget {
        view.budget.try_set(budget);
    }
    drop(timer);
}

/// The browser's input sink: draws cursors, click ripples and key badges over the preview, and
/// keeps an input log, at the next animation frame (see [`Undrawn`]). When the PairUX agent is
/// paired, accepted input also goes to it (see `agent_link`), which applies it to the OS.
pub struct BrowserSink {
    view: ControlSignals,
    undrawn: Rc<RefCell<Undrawn>>,
    /// Sanitised display names by participant id.
    names: VecMap<String, String>,
    next_mark: u64,
    next_line: u64,
}

impl BrowserSink {
    fn new(view: ControlSignals) -> Self {
        BrowserSink {
            view,
            undrawn: Rc::new(RefCell::new(Undrawn::default())),
            names: VecMap::new(),
            next_mark: 0,
            next_line: 0,
        }
    }

    /// Posts `id`'s move to the drawing worker once the task at hand is done (a microtask).
    fn moves_soon(&self, id: &str, cursor: CursorView) {
        let first = {
            let mut undrawn = self.undrawn.borrow_mut();
            let first = undrawn.moves.is_empty();
            undrawn.moves.insert(id.to_owned(), cursor);
            first
        };
        if first {
            let weak = Rc::downgrade(&self.undrawn);
            let view = self.view;
            leptos::task::spawn_local(async move {
                if let Some(undrawn) = weak.upgrade() {
                    post_moves(&undrawn, view);
                }
            });
        }
    }

    /// Asks for the next animation frame to draw cursors and marks, unless already asked.
    fn pointers_soon(&self) {
        let mut undrawn = self.undrawn.borrow_mut();
        if undrawn.frame.is_some() {
            return;
        }
        let weak = Rc::downgrade(&self.undrawn);
        let view = self.view;
        undrawn.frame = Frame::next(move || {
            if let Some(undrawn) = weak.upgrade() {
                draw_pointers(&undrawn, view);
            }
        });
        if undrawn.frame.is_none() {
            // No frames to be had: draw at once rather than never.
            drop(undrawn);
            draw_pointers(&self.undrawn, self.view);
        }
    }

    /// Arms the timer that brings the diagnostics up to date, unless already armed.
    fn diagnostics_soon(&self) {
        let mut undrawn = self.undrawn.borrow_mut();
        if undrawn.diagnostics.is_some() {
            return;
        }
        let weak = Rc::downgrade(&self.undrawn);
        let view = self.view;
        undrawn.diagnostics = Some(Timer::after(DIAGNOSTICS_MS, move || {
            if let Some(undrawn) = weak.upgrade() {
                draw_diagnostics(&undrawn, view);
            }
        }));
    }

    /// Shows everything taken so far now.
    fn draw_now(&self) {
        post_moves(&self.undrawn, self.view);
        draw_pointers(&self.undrawn, self.view);
        draw_diagnostics(&self.undrawn, self.view);
    }

    fn stats(&self, stats: GateStats) {
        self.undrawn.borrow_mut().stats = Some(stats);
        self.diagnostics_soon();
    }

    fn budget(&self, budget: BudgetStats) {
        self.undrawn.borrow_mut().budget = Some(budget);
        self.diagnostics_soon();
    }

    /// Where `id`'s pointer is (taken or shown), if anywhere.
    fn pointer(&self, id: &str) -> Option<(f64, f64)> {
        let undrawn = self.undrawn.borrow().cursors.get(id).map(|c| (c.x, c.y));
        undrawn.or_else(|| {
            self.view
                .cursors
                .with_untracked(|c| c.get(id).map(|c| (c.x, c.y)))
        })
    }

    fn mark(&mut self, id: &str, x: f64, y: f64, label: String) {
        self.next_mark += 1;
        let mark = Mark {
            n: self.next_mark,
            id: id.to_owned(),
            x,
            y,
            label,
        };
        {
            let marks = &mut self.undrawn.borrow_mut().marks;
            marks.push(mark);
            let excess = marks.len().saturating_sub(MARKS_SHOWN);
            marks.drain(..excess);
        }
        self.pointers_soon();
    }

    fn log(&mut self, from: &str, event: &InputEvent) {
        self.next_line += 1;
        let line = LogLine {
            n: self.next_line,
            from: from.to_owned(),
            event: event.clone(),
            received: crate::platform::clock::precise_wall_ms(),
        };
        {
            let log = &mut self.undrawn.borrow_mut().log;
            log.push(line);
            let excess = log.len().saturating_sub(LOG_LEN);
            log.drain(..excess);
        }
        self.diagnostics_soon();
    }
}

impl InputSink for BrowserSink {
    fn input(&mut self, from: &str, event: &InputEvent) {
        match &event.kind {
            InputKind::Move { x, y } => {
                let name = self
                    .names
                    .get(from)
                    .cloned()
                    .unwrap_or_else(|| display_name(None));
                let colour = colour_for(from);
                // A cursor on screen already is drawn by the worker, without a frame of this
                // page, as soon as this message is handled (receipt, agent, relay to viewers:
                // waking the worker's thread holds this one 0.1-0.2 ms); its `data-x` /
                // `data-y` catch up with the diagnostics. A new one gets its canvas at the
                // next frame.
                let shown = self.view.cursors.with_untracked(|c| c.contains_key(from));
                let cursor = CursorView {
                    x: *x,
                    y: *y,
                    name,
                    color: colour.to_owned(),
                };
                if shown {
                    self.moves_soon(from, cursor.clone());
                }
                self.undrawn
                    .borrow_mut()
                    .cursors
                    .insert(from.to_owned(), cursor);
                if shown {
                    self.diagnostics_soon();
                } else {
                    self.pointers_soon();
                }
            }
            InputKind::Down { x, y, .. } | InputKind::Dbl { x, y, .. } => {
                self.mark(from, *x, *y, String::new());
            }
            InputKind::KeyDown { key, m, .. } => {
                if matches!(key.as_str(), "Shift" | "Control" | "Alt" | "Meta") {
                    return self.log(from, event);
                }
                // Shift is visible in a printed character; name it only for named keys.
                let named = key.chars().count() > 1;
                let mut label = String::new();
                for (bit, prefix) in [
                    (Modifiers::CTRL, "Ctrl+"),
                    (Modifiers::ALT, "Alt+"),
                    (Modifiers::META, "Meta+"),
                    (Modifiers::SHIFT, "Shift+"),
                ] {
                    if m.0 & bit != 0 && (bit != Modifiers::SHIFT || named) {
                        label.push_str(prefix);
                    }
                }
                label.push_str(key);
                let (x, y) = self.pointer(from).unwrap_or((0.5, 0.95));
                self.mark(from, x, y, label);
            }
            InputKind::Text { text } => {
                let (x, y) = self.pointer(from).unwrap_or((0.5, 0.95));
                self.mark(from, x, y, text.clone());
            }
            InputKind::Up { .. } | InputKind::Wheel { .. } | InputKind::KeyUp { .. } => {}
        }
        self.log(from, event);
    }

    fn holders(&mut self, holders: &[String]) {
        // At once: a revoked holder's cursor goes now, taken or shown.
        {
            let mut undrawn = self.undrawn.borrow_mut();
            undrawn.cursors.retain(|id, _| holders.contains(id));
            undrawn.moves.retain(|id, _| holders.contains(id));
        }
        self.view
            .cursors
            .update(|c| c.retain(|id, _| holders.contains(id)));
    }
}

/// What to send where after a control step.
pub enum Outgoing {
    To(String, ControlMsg),
    /// Pointer-rate traffic to one participant (unreliable channel).
    FastTo(String, ControlMsg),
    All(ControlMsg),
    /// Pointer-rate traffic to everyone but one participant (a controller's own cursor is
    /// not echoed back to it).
    FastAllBut(String, ControlMsg),
    /// Only through the SFU, to the viewers who have no connection to us.
    Sfu(ControlMsg),
    /// Not a message: a controller's answer to the host's offer of its role (true: it takes
    /// it), for the runtime (`HostRuntime::on_answer`).
    Answer(String, bool),
}

pub struct HostControl {
    budget: MessageBudget,
    leases: ControlLeases,
    gate: InputGate,
    relay: CursorRelay,
    sink: BrowserSink,
    view: ControlSignals,
    /// The agent on this computer, which applies accepted input to the OS when paired.
    agent: Option<AgentLink>,
    /// Who holds control, again through the SFU after each change ([`StateEchoes`]).
    echoes: StateEchoes,
    /// The acts asked twice while a controller drives this computer; control pauses while
    /// one is asked.
    guard: ActionGuard,
}

impl HostControl {
    pub fn new(secret: ControllerSecret, view: ControlSignals) -> Self {
        HostControl {
            budget: MessageBudget::new(),
            leases: ControlLeases::new(secret),
            gate: InputGate::new(),
            relay: CursorRelay::new(),
            sink: BrowserSink::new(view),
            view,
            agent: None,
            echoes: StateEchoes::default(),
            guard: ActionGuard::new(),
        }
    }

    pub fn set_agent(&mut self, agent: AgentLink) {
        agent.holders(self.for_agent(&self.leases.drives()));
        self.agent = Some(agent);
    }

    /// Of those whose input applies (`drives`), whose the agent applies: nobody's while a
    /// question is open.
    fn for_agent<'a>(&self, drives: &'a [String]) -> &'a [String] {
        match self.guard.paused() {
            true => &[],
            false => drives,
        }
    }

    /// The host clicked a guarded act (`now`: monotonic ms), made by a press at `pressed_at`
    /// (`keyboard`: with a key, on what had focus). What it did ([`ActionGuard::ask`]): done
    /// now, or asked first — control pauses meanwhile, the question is
    /// [`HostControl::question`] — or, against another act asked already, neither.
    pub fn ask(
        &mut self,
        now: u64,
        pressed_at: u64,
        keyboard: bool,
        act: Guarded,
    ) -> (Asked, Vec<Outgoing>) {
        let was = self.guard.paused();
        let asked = self.guard.ask(now, pressed_at, keyboard, act);
        (asked, self.paused_changed(was))
    }

    /// The host answered the open question, by a press at `pressed_at` (monotonic ms).
    pub fn answer(&mut self, pressed_at: u64, yes: bool) -> (Answered, Vec<Outgoing>) {
        let was = self.guard.paused();
        let answered = self.guard.answer(pressed_at, yes);
        (answered, self.paused_changed(was))
    }

    pub fn question(&self) -> Option<Question> {
        self.guard.question().cloned()
    }

    /// Control paused or resumed: the agent lets go or takes up again, and everyone hears
    /// whether control drives this computer.
    fn paused_changed(&mut self, was: bool) -> Vec<Outgoing> {
        if self.guard.paused() == was {
            return Vec::new();
        }
        self.tell_drives();
        vec![Outgoing::All(self.state())]
    }

    /// `id`'s connection went down or came back: while it is down, whatever it holds on this
    /// computer is let go (`ControlLeases::drives`); its lease stays.
    pub fn link(&mut self, id: &str, up: bool) {
        if self.leases.link(id, up) {
            self.tell_drives();
        }
    }

    /// The agent and the sink learn whose input applies now; the host's panel shows every
    /// holder of a lease, whose connection is down too (it drives again when it comes back,
    /// so the host must still be able to revoke it).
    fn tell_drives(&mut self) {
        let drives = self.leases.drives();
        let holders = self.for_agent(&drives);
        if let Some(agent) = &self.agent {
            agent.holders(holders);
        }
        self.note_driving(!holders.is_empty());
        self.sink.holders(&drives);
        crate::platform::el::set_if_changed(self.view.holders, self.leases.holders());
    }

    pub fn agent(&self) -> Option<AgentLink> {
        self.agent.clone()
    }

    /// The agent was paired or unpaired, or started or stopped driving the OS: everyone hears
    /// of it with the holders.
    pub fn drives_changed(&mut self) -> Vec<Outgoing> {
        let anyone = !self.for_agent(&self.leases.drives()).is_empty();
        self.note_driving(anyone);
        vec![Outgoing::All(self.state())]
    }

    /// The guard learns whether control may drive this computer now: someone's input goes
    /// (`anyone`) to a paired agent. Paired, not "drives": the agent starts applying input (a
    /// screen shared again, a monitor plugged in) before its word that it drives reaches this
    /// page.
    fn note_driving(&mut self, anyone: bool) {
        let on = anyone && self.agent.as_ref().is_some_and(AgentLink::paired);
        self.guard
            .driving(crate::platform::clock::monotonic_ms(), on);
    }

    fn state(&self) -> ControlMsg {
        ControlMsg::State {
            holders: self.leases.holders(),
            agent: self.agent.as_ref().is_some_and(AgentLink::drives) && !self.guard.paused(),
        }
    }

    /// Names for cursors, from the roster (sanitised).
    pub fn set_names(&mut self, names: VecMap<String, String>) {
        self.sink.names = names;
    }

    /// `id`'s channel opened: tell it who holds control, and challenge it if it was seated
    /// as a controller (`nonce`). Anyone else has no challenge, so a request of theirs is
    /// refused, whatever proof it carries: a controller link's holder seated as a viewer (a
    /// modified page, or one refused a controller's seat) cannot ask past the seats.
    pub fn opened(&mut self, id: &str, nonce: Option<String>) -> Vec<Outgoing> {
        let mut out = Vec::new();
        if let Some(nonce) = nonce {
            self.leases.issue_challenge(id, nonce.clone());
            out.push(Outgoing::To(id.to_owned(), ControlMsg::Challenge { nonce }));
        }
        out.push(Outgoing::To(id.to_owned(), self.state()));
        out
    }

    /// `id` is gone (channel closed or left).
    pub fn gone(&mut self, id: &str) -> Vec<Outgoing> {
        self.gate.forget(id);
        self.budget.forget(id);
        self.relay.forget(id);
        let event = self.leases.disconnect(id);
        self.apply(event.into_iter().collect())
    }

    /// A data-channel message from `id`; `binding` reads the DTLS fingerprints of the
    /// connection it arrived on (`None` while either description is missing), asked only for a
    /// control request: reading both descriptions for every input event cost the host's main
    /// thread for nothing.
    pub fn message(
        &mut self,
        now: u64,
        id: &str,
        text: &str,
        binding: &dyn Fn() -> Option<ChannelBinding>,
    ) -> Vec<Outgoing> {
        // Abuse limits come first: a flood never reaches the parser.
        if !self.budget.admit(now, id, text.len()) {
            self.sink.budget(self.budget.stats());
            return Vec::new();
        }
        let msg = match ControlMsg::decode(text) {
            Ok(msg) => msg,
            Err(_) => {
                self.gate.malformed();
                self.sink.stats(self.gate.stats());
                return Vec::new();
            }
        };
        if !self.budget.admit_parsed(now, id, &msg) {
            self.sink.budget(self.budget.stats());
            // Someone who asked again too soon hears "no" (and may ask later) rather than
            // waiting on a toast that will never come.
            if matches!(msg, ControlMsg::Request { .. }) {
                return vec![Outgoing::To(id.to_owned(), ControlMsg::Deny)];
            }
            return Vec::new();
        }
        match msg {
            ControlMsg::Request { proof } => {
                let verdict = match binding() {
                    Some(binding) => self.leases.on_request(now, id, &binding, &proof),
                    None => Err(pairux_core::control::LeaseError::BadProof),
                };
                match verdict {
                    Ok(event) => self.apply(vec![event]),
                    Err(err) => {
                        leptos::logging::warn!("control request from {id} refused: {err}");
                        self.gate.malformed();
                        self.sink.stats(self.gate.stats());
                        vec![Outgoing::To(id.to_owned(), ControlMsg::Deny)]
                    }
                }
            }
            ControlMsg::Cancel => {
                let event = self.leases.cancel(id);
                self.apply(event.into_iter().collect())
            }
            ControlMsg::Release => {
                let event = self.leases.release(id);
                self.apply(event.into_iter().collect())
            }
            ControlMsg::Input(event) => self.input(now, id, event),
            ControlMsg::Ping { id: n, ts } => {
                // A pong means everything that came before the ping is handled and on the page.
                self.sink.draw_now();
                vec![Outgoing::To(id.to_owned(), ControlMsg::Pong { id: n, ts })]
            }
            // A controller answers the host's offer of its role (the runtime decides whether
            // an offer still stands for it).
            ControlMsg::HostTake => vec![Outgoing::Answer(id.to_owned(), true)],
            ControlMsg::HostOfferOff => vec![Outgoing::Answer(id.to_owned(), false)],
            // Host-to-participant messages are not for us to receive.
            _ => {
                self.gate.malformed();
                self.sink.stats(self.gate.stats());
                Vec::new()
            }
        }
    }

    fn input(&mut self, now: u64, id: &str, event: InputEvent) -> Vec<Outgoing> {
        let verdict = self.gate.check(now, id, self.leases.is_holder(id), &event);
        self.sink.stats(self.gate.stats());
        if verdict.is_err() {
            return Vec::new();
        }
        // The agent first: it is what the controller is waiting for (none while paused; the
        // agent, told of no holders, would drop it too).
        if let (Some(agent), false) = (&self.agent, self.guard.paused()) {
            agent.input(id, &event);
        }
        self.sink.input(id, &event);
        if let InputKind::Move { x, y } = event.kind {
            if let Some((x, y)) = self.relay.on_move(now, id, x, y) {
                return vec![self.cursor(id, x, y)];
            }
        }
        Vec::new()
    }

    fn cursor(&self, id: &str, x: f64, y: f64) -> Outgoing {
        let name = self
            .sink
            .names
            .get(id)
            .cloned()
            .unwrap_or_else(|| display_name(None));
        Outgoing::FastAllBut(
            id.to_owned(),
            ControlMsg::Cursor {
                id: id.to_owned(),
                x,
                y,
                name,
            },
        )
    }

    pub fn grant(&mut self, id: &str) -> Vec<Outgoing> {
        match self.leases.grant(id) {
            Ok(event) => self.apply(vec![event]),
            Err(err) => {
                leptos::logging::warn!("cannot grant {id}: {err}");
                Vec::new()
            }
        }
    }

    pub fn deny(&mut self, id: &str) -> Vec<Outgoing> {
        let event = self.leases.deny(id);
        self.apply(event.into_iter().collect())
    }

    pub fn revoke(&mut self, id: &str) -> Vec<Outgoing> {
        let event = self.leases.revoke(id);
        self.apply(event.into_iter().collect())
    }

    pub fn revoke_all(&mut self) -> Vec<Outgoing> {
        let events = self.leases.revoke_all();
        self.apply(events)
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        [
            self.leases.poll_timeout(),
            self.relay.poll_timeout(),
            self.echoes.poll_timeout(),
            self.guard.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn handle_timeout(&mut self, now: u64) -> Vec<Outgoing> {
        let events = self.leases.handle_timeout(now);
        let mut out = self.apply(events);
        for (id, x, y) in self.relay.handle_timeout(now) {
            out.push(self.cursor(&id, x, y));
        }
        if self.echoes.handle_timeout(now) {
            out.push(Outgoing::Sfu(self.state()));
        }
        let was = self.guard.paused();
        if self.guard.handle_timeout(now) {
            out.extend(self.paused_changed(was));
        }
        out
    }

    /// Publishes a lease change and says who must hear of it.
    fn apply(&mut self, events: Vec<LeaseEvent>) -> Vec<Outgoing> {
        let mut out = Vec::new();
        let mut holders_changed = false;
        for event in events {
            holders_changed |= event.changes_holders();
            match event {
                LeaseEvent::Requested { .. } => {}
                LeaseEvent::Granted { id } => out.push(Outgoing::To(id, ControlMsg::Grant)),
                LeaseEvent::Denied { id, .. } => out.push(Outgoing::To(id, ControlMsg::Deny)),
                LeaseEvent::Revoked { id } => out.push(Outgoing::To(id, ControlMsg::Revoke)),
                LeaseEvent::Released { .. }
                | LeaseEvent::Cancelled { .. }
                | LeaseEvent::Dropped { .. } => {}
            }
        }
        self.view.requests.set(self.leases.requests());
        if holders_changed {
            let holders = self.leases.holders();
            self.relay.keep_only(&holders);
            self.tell_drives();
            out.push(Outgoing::All(self.state()));
            self.echoes.changed(crate::platform::clock::monotonic_ms());
        }
        out
    }
}
