//! The host tab's link to the PairUX agent on its own computer: a loopback WebSocket driven by
//! the core's [`AgentClient`]. What to send and what it means is the core's; this keeps the
//! socket, the tab's resume token and the signals the host page reads.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use leptos::prelude::*;
use pairux_core::agent::{
    AgentClient, AgentState, ClientEvent, Credential, PageMsg, PairingTarget, SurfaceKind,
};
use pairux_core::control::InputEvent;

use crate::platform::timer::Timer;
use crate::platform::websocket::{Socket, SocketEvent};
use crate::platform::{self, location, storage};

/// sessionStorage key prefix (then the session id) of `<port> <resume token>`: this tab
/// re-pairs after a reload — for that session only (a tab that hosts another session later
/// pairs with the code again; the agent also keeps a token only a minute after its tab went).
const RESUME_KEY: &str = "pairux:agent:";
/// A paired socket that drops is retried this long after (the agent may be restarting).
const RETRY_MS: u64 = 1500;

/// What the host page shows about the agent.
#[derive(Clone, Copy)]
pub struct AgentSignals {
    pub state: RwSignal<AgentState>,
    /// The last pairing problem, in words.
    pub error: RwSignal<Option<String>>,
}

impl AgentSignals {
    pub fn new() -> Self {
        AgentSignals {
            state: RwSignal::new(AgentState::Absent),
            error: RwSignal::new(None),
        }
    }
}

impl Default for AgentSignals {
    fn default() -> Self {
        Self::new()
    }
}

struct Inner {
    /// This session's resume key in the tab's storage.
    resume_key: String,
    view: AgentSignals,
    socket: RefCell<Option<Socket>>,
    client: RefCell<Option<AgentClient>>,
    surface: RefCell<PageMsg>,
    holders: RefCell<Vec<String>>,
    on_emergency: Box<dyn Fn()>,
    on_drives: Box<dyn Fn()>,
    retry: RefCell<Option<Timer>>,
}

/// Cheap to clone; every clone drives the same link.
#[derive(Clone)]
pub struct AgentLink {
    inner: Rc<Inner>,
}

impl AgentLink {
    /// A link that is not connected yet; if this tab paired before a reload, it re-pairs.
    /// `on_drives` is called whenever [`AgentLink::drives`] or [`AgentLink::paired`] changes.
    pub fn new(
        session: &str,
        view: AgentSignals,
        on_emergency: impl Fn() + 'static,
        on_drives: impl Fn() + 'static,
    ) -> AgentLink {
        let link = AgentLink {
            inner: Rc::new(Inner {
                resume_key: format!("{RESUME_KEY}{session}"),
                view,
                socket: RefCell::new(None),
                client: RefCell::new(None),
                surface: RefCell::new(PageMsg::Surface {
                    kind: SurfaceKind::Other,
                    w: 0,
                    h: 0,
                }),
                holders: RefCell::new(Vec::new()),
                on_emergency: Box::new(on_emergency),
                on_drives: Box::new(on_drives),
                retry: RefCell::new(None),
            }),
        };
        link.resume();
        link
    }

    /// Pairs with the code a person typed (`ABCDE-FGHJK`, or `…@port`).
    pub fn pair(&self, typed: &str) {
        match PairingTarget::parse(typed) {
            Ok(target) => {
                self.inner.view.error.set(None);
                self.connect(target.port, Credential::Code(target.code));
            }
            Err(err) => self.inner.view.error.set(Some(err.to_string())),
        }
    }

    /// Unpairs this tab: the agent lets go of everything and forgets it.
    pub fn disconnect(&self) {
        storage::remove(&self.inner.resume_key);
        self.inner.retry.borrow_mut().take();
        self.inner.client.borrow_mut().take();
        if let Some(socket) = self.inner.socket.borrow_mut().take() {
            socket.close(1000, "unpaired");
        }
        self.set_state(AgentState::Absent);
    }

    fn resume(&self) {
        let Some(saved) = storage::get(&self.inner.resume_key) else {
            return;
        };
        let parsed = saved
            .split_once(' ')
            .and_then(|(port, token)| Some((port.parse::<u16>().ok()?, token.to_owned())));
        match parsed {
            Some((port, token)) => self.connect(port, Credential::Resume(token)),
            None => storage::remove(&self.inner.resume_key),
        }
    }

    fn connect(&self, port: u16, credential: Credential) {
        self.inner.retry.borrow_mut().take();
        let origin = match location::origin() {
            Ok(origin) => origin,
            Err(err) => {
                self.inner.view.error.set(Some(err.to_string()));
                return;
            }
        };
        // What the agent's answer must be proven over: without it, nothing is believed.
        let mut nonce = [0u8; 16];
        if let Err(err) = platform::random::fill(&mut nonce) {
            self.inner.view.error.set(Some(err.to_string()));
            return;
        }
        // The old socket (if any) goes first: one pairing at a time.
        self.inner.socket.borrow_mut().take();
        *self.inner.client.borrow_mut() = Some(AgentClient::new(&origin, port, credential, &nonce));
        self.set_state(AgentState::Pairing);
        let weak = Rc::downgrade(&self.inner);
        let url = format!("ws://127.0.0.1:{port}/");
        match Socket::open(&url, move |event| on_event(&weak, port, event)) {
            Ok(socket) => *self.inner.socket.borrow_mut() = Some(socket),
            Err(err) => {
                self.inner.view.error.set(Some(format!(
                    "Cannot reach the agent on this computer ({err})."
                )));
                self.set_state(AgentState::Absent);
            }
        }
    }

    fn set_state(&self, state: AgentState) {
        let was = (self.drives(), self.paired());
        if self.inner.view.state.get_untracked() != state {
            self.inner.view.state.set(state);
        }
        if (self.drives(), self.paired()) != was {
            (self.inner.on_drives)();
        }
    }

    /// Whether granted input reaches the OS now.
    pub fn drives(&self) -> bool {
        matches!(
            self.inner.view.state.get_untracked(),
            AgentState::Connected { drives: true, .. }
        )
    }

    /// Paired: the agent applies what it is sent whenever it can.
    pub fn paired(&self) -> bool {
        matches!(
            self.inner.view.state.get_untracked(),
            AgentState::Connected { .. }
        )
    }

    fn send_text(&self, text: &str) {
        if let Some(socket) = &*self.inner.socket.borrow() {
            let _ = socket.send_text(text);
        }
    }

    fn send(&self, msg: &PageMsg) {
        self.send_text(&msg.encode());
    }

    /// An input event the host's gate accepted from `from`.
    pub fn input(&self, from: &str, e: &InputEvent) {
        if self.paired() {
            self.send(&PageMsg::Input {
                from: from.to_owned(),
                e: e.clone(),
            });
        }
    }

    /// The holders changed.
    pub fn holders(&self, ids: &[String]) {
        *self.inner.holders.borrow_mut() = ids.to_vec();
        if self.paired() {
            self.send(&PageMsg::Holders { ids: ids.to_vec() });
        }
    }

    /// What is shared now (`None`: nothing, e.g. sharing stopped).
    pub fn surface(&self, surface: Option<(SurfaceKind, u32, u32)>) {
        let (kind, w, h) = surface.unwrap_or((SurfaceKind::Other, 0, 0));
        let msg = PageMsg::Surface { kind, w, h };
        *self.inner.surface.borrow_mut() = msg.clone();
        if self.paired() {
            self.send(&msg);
        }
    }
}

fn on_event(weak: &Weak<Inner>, port: u16, event: SocketEvent) {
    let Some(inner) = weak.upgrade() else { return };
    let link = AgentLink { inner };
    match event {
        SocketEvent::Open => {}
        SocketEvent::Text(text) => {
            let events = match &mut *link.inner.client.borrow_mut() {
                Some(client) => client.on_frame(&text),
                None => return,
            };
            for event in events {
                match event {
                    ClientEvent::Send(frame) => link.send_text(&frame),
                    ClientEvent::Remember(token) => {
                        let _ = storage::set(&link.inner.resume_key, &format!("{port} {token}"));
                    }
                    ClientEvent::Refused(sentence) => {
                        storage::remove(&link.inner.resume_key);
                        link.inner.view.error.set(Some(sentence.to_owned()));
                    }
                    // Not the agent: it gets nothing more, and the tab keeps its token for
                    // the agent's return (a reload, or pairing again).
                    ClientEvent::NotTheAgent(sentence) => {
                        link.inner.view.error.set(Some(sentence.to_owned()));
                        link.inner.client.borrow_mut().take();
                        if let Some(socket) = link.inner.socket.borrow_mut().take() {
                            socket.close(1000, "not the agent");
                        }
                    }
                    ClientEvent::Paired => {
                        link.inner.view.error.set(None);
                        // What the agent must know before any input: the surface and holders.
                        let surface = link.inner.surface.borrow().clone();
                        let holders = link.inner.holders.borrow().clone();
                        link.send(&surface);
                        link.send(&PageMsg::Holders { ids: holders });
                    }
                    ClientEvent::Emergency => (link.inner.on_emergency)(),
                    ClientEvent::State(state) => link.set_state(state),
                }
            }
        }
        SocketEvent::Binary(_) => {}
        SocketEvent::Closed { .. } => {
            let was_paired = link.paired();
            let never_answered =
                matches!(link.inner.view.state.get_untracked(), AgentState::Pairing);
            link.inner.socket.borrow_mut().take();
            link.inner.client.borrow_mut().take();
            link.set_state(AgentState::Absent);
            if never_answered && link.inner.view.error.get_untracked().is_none() {
                link.inner.view.error.set(Some(format!(
                    "No PairUX agent accepted this page on port {port}. Start the agent (with --origin set to this page's address if it is not the default) and enter the code it shows."
                )));
            }
            // A paired agent that went away may be restarting: try the tab's token again.
            if was_paired && storage::get(&link.inner.resume_key).is_some() {
                let weak = Rc::downgrade(&link.inner);
                *link.inner.retry.borrow_mut() = Some(Timer::after(RETRY_MS, move || {
                    if let Some(inner) = weak.upgrade() {
                        AgentLink { inner }.resume();
                    }
                }));
            }
        }
    }
}
