//! The tab's access to the local server's grants (`config.accessUrl`): TURN credentials for
//! every connection, and a room plus a Janus token in SFU mode — asked for with a proof derived
//! from the link (core `access`), never with anything from the fragment itself.
//!
//! The ICE grant is asked for once when the session page opens, in parallel with joining the
//! channel, so it is normally there before the first connection needs it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_channel::oneshot;
use pairux_core::access::{AccessGrant, AccessKey, SfuGrant, Want, NONCE_LEN};
use pairux_core::config::ClientConfig;
use pairux_core::SessionLink;

use crate::platform::fetch::{self, FetchError};
use crate::platform::peer::IceSetup;
use crate::platform::timer::Timer;
use crate::platform::{clock, random};

/// Ask for fresh TURN credentials this long before the current ones expire (they last 20
/// minutes; a connection's allocation is refreshed with the credentials it was made with, so
/// an ICE restart after expiry needs new ones).
const REFRESH_BEFORE_SECS: u64 = 5 * 60;

/// Connections (made, or restarting ICE) given one grant's TURN credentials before the next
/// is asked for. coturn holds each username to 16 allocations (`user-quota`), and Chrome makes
/// one per TURN URL and network for each connection — three per connection here, more on a
/// machine with several networks — plus a restarting connection's new ones until its old ones
/// go. One credential for every connection of a page left a P2P host's sixth guest without a
/// relay (ARCHITECTURE, TURN); the next grant is asked for once a grant has served
/// `LINKS_PER_GRANT - 1`, so it is normally there before a connection would need it.
const LINKS_PER_GRANT: u32 = 3;

/// The ICE servers given to one connection, and until when (wall-clock seconds) their TURN
/// credentials work.
pub struct LinkIce {
    pub setup: IceSetup,
    pub expires_at: u64,
}

/// Where the focus's decisions found in grants go (unverified; the runtime checks them).
type FocusHandler = Rc<dyn Fn(serde_json::Value)>;

pub struct Access {
    url: Option<String>,
    /// Other focus processes' endpoints, tried in order when `url` cannot answer.
    fallback: Vec<String>,
    /// What the first request asks for (a host's start mode: `Auto`/`P2p` pin it).
    open_want: Want,
    /// Placement hint sent with every request (`?region=`, else config.json's `region`).
    region: Option<String>,
    on_focus: RefCell<Option<FocusHandler>>,
    link: SessionLink,
    base: IceSetup,
    /// The current grant's ICE setup (`None` until the first ask has settled).
    ice: RefCell<Option<IceSetup>>,
    refresh: RefCell<Option<Timer>>,
    /// The last SFU grant, reused for every link into its room until one of them fails: each
    /// grant is a Janus token the server mints, and a session gets a bounded number of them
    /// (a listener subscribing to every voice, or retrying, spent one per attempt).
    sfu_grant: RefCell<Option<SfuGrant>>,
    /// When the current grant's credentials expire (config.json's never do).
    expires_at: Cell<u64>,
    /// Connections given the current grant's credentials ([`LINKS_PER_GRANT`]).
    takes: Cell<u32>,
    /// A grant is being asked for ([`Self::renew`]: one at a time).
    renewing: Cell<bool>,
    /// The last ask failed (rate limited, the server away): connections past a grant's share
    /// take it anyway rather than wait, until an ask succeeds (retried every 30 s).
    renew_failed: Cell<bool>,
    /// Connections waiting for the next grant (the current one has served its share).
    next: RefCell<Vec<oneshot::Sender<()>>>,
}

/// Why a grant could not be had, for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessFailure(pub String);

impl Access {
    /// Starts asking for TURN credentials at once (when the server grants any); `open_want`:
    /// what the first request asks for (`Ice` for guests; the host's start mode).
    pub fn start(config: &ClientConfig, link: &SessionLink, open_want: Want) -> Rc<Access> {
        let base = IceSetup::from_config(config);
        let access = Rc::new(Access {
            url: config.access_url.clone(),
            fallback: config.access_fallback_urls.clone(),
            open_want,
            region: page_region().or_else(|| config.region.clone()),
            on_focus: RefCell::new(None),
            link: link.clone(),
            ice: RefCell::new(match config.access_url {
                Some(_) => None,
                None => Some(base.clone()),
            }),
            base,
            refresh: RefCell::new(None),
            sfu_grant: RefCell::new(None),
            expires_at: Cell::new(u64::MAX),
            takes: Cell::new(0),
            renewing: Cell::new(false),
            renew_failed: Cell::new(false),
            next: RefCell::new(Vec::new()),
        });
        if access.url.is_some() {
            access.renew();
        }
        access
    }

    /// Where the focus decision each grant carries goes (called for every grant that has one).
    pub fn on_focus(&self, f: impl Fn(serde_json::Value) + 'static) {
        *self.on_focus.borrow_mut() = Some(Rc::new(f));
    }

    fn deliver_focus(&self, grant: &AccessGrant) {
        let Some(decision) = &grant.focus else { return };
        let handler = self.on_focus.borrow().clone();
        if let (Some(h), Ok(value)) = (handler, serde_json::to_value(decision)) {
            h(value);
        }
    }

    /// Asks for TURN credentials (one ask at a time), then again before they expire — or in
    /// 30 s when it failed — for as long as the session page keeps this `Access`. Asked with
    /// the start mode each time: a host whose first request failed still pins it.
    fn renew(self: &Rc<Self>) {
        if self.renewing.replace(true) {
            return;
        }
        let weak = Rc::downgrade(self);
        leptos::task::spawn_local(async move {
            let Some(me) = weak.upgrade() else { return };
            let asked = me.ask(me.open_want).await;
            me.renewing.set(false);
            me.renew_failed.set(asked.is_err());
            let now = clock::wall_ms() / 1000;
            let again = match asked {
                Ok(grant) => {
                    me.settle(me.ice_of(&grant), grant.expires_at);
                    grant
                        .expires_at
                        .saturating_sub(REFRESH_BEFORE_SECS)
                        .max(now + 30)
                }
                Err(err) => {
                    leptos::logging::warn!(
                        "no TURN credentials, direct connections only: {}",
                        err.0
                    );
                    if me.ice.borrow().is_none() {
                        // Already stale: a connection takes whatever is current at its next
                        // description.
                        me.settle(me.base.clone(), 1);
                    }
                    me.wake_next();
                    now + 30
                }
            };
            let weak = Rc::downgrade(&me);
            *me.refresh.borrow_mut() = Some(Timer::after((again - now) * 1000, move || {
                if let Some(me) = weak.upgrade() {
                    me.renew();
                }
            }));
        });
    }

    /// Whether another grant could give other credentials (an endpoint, and a grant with TURN).
    fn renewable(&self) -> bool {
        self.url.is_some()
            && self
                .ice
                .borrow()
                .as_ref()
                .is_some_and(|ice| ice.servers.iter().any(|s| s.username.is_some()))
    }

    /// Until the next settle, or a failed ask.
    async fn wait_next(&self) {
        let (tx, rx) = oneshot::channel();
        self.next.borrow_mut().push(tx);
        let _ = rx.await;
    }

    fn wake_next(&self) {
        for w in self.next.take() {
            let _ = w.send(());
        }
    }

    /// config.json's ICE setup (what a connection starts with before the grant).
    pub fn base(&self) -> &IceSetup {
        &self.base
    }

    /// A new connection's ICE servers, with TURN credentials once granted (config.json's if
    /// none can be had): waits for the first grant. Counts against the grant
    /// ([`Self::ice_for_link`]).
    pub async fn ice(self: &Rc<Self>) -> LinkIce {
        if self.ice.borrow().is_none() {
            self.wait_next().await;
        }
        self.ice_for_link().await
    }

    /// The current ICE setup for a connection being made or restarting ICE (config.json's
    /// until the first grant). A grant that has served its share ([`LINKS_PER_GRANT`]) is
    /// not given again while another can be had: this waits for the next (connections
    /// restarting together after a network change take a grant three at a time); the next
    /// is asked for as a grant's second connection takes it.
    pub async fn ice_for_link(self: &Rc<Self>) -> LinkIce {
        while self.takes.get() >= LINKS_PER_GRANT && self.renewable() && !self.renew_failed.get() {
            self.renew();
            self.wait_next().await;
        }
        let takes = self.takes.get() + 1;
        self.takes.set(takes);
        if takes + 1 >= LINKS_PER_GRANT && self.renewable() {
            self.renew();
        }
        LinkIce {
            setup: self.ice_now(),
            expires_at: self.expires_at.get(),
        }
    }

    /// The current ICE setup without waiting (config.json's until the first grant).
    pub fn ice_now(&self) -> IceSetup {
        self.ice
            .borrow()
            .clone()
            .unwrap_or_else(|| self.base.clone())
    }

    /// The session's SFU room and a Janus token, with fresh TURN credentials. `room`: the room
    /// the link goes into, when known — the last grant is reused for it if nothing failed with
    /// it since ([`Self::sfu_failed`]); `None` (the host, which publishes where the focus says):
    /// always a new grant.
    pub async fn sfu(
        self: &Rc<Self>,
        room: Option<u64>,
    ) -> Result<(IceSetup, SfuGrant), AccessFailure> {
        let cached =
            room.and_then(|room| self.sfu_grant.borrow().clone().filter(|g| g.room == room));
        if let Some(grant) = cached {
            return Ok((self.ice_for_link().await.setup, grant));
        }
        if self.url.is_none() {
            return Err(AccessFailure(
                "This deployment has no video server (config.json has no accessUrl).".into(),
            ));
        }
        let grant = self.ask(Want::Sfu).await?;
        let ice = self.ice_of(&grant);
        self.settle(ice.clone(), grant.expires_at);
        self.takes.set(1);
        match grant.sfu {
            Some(sfu) => {
                *self.sfu_grant.borrow_mut() = Some(sfu.clone());
                Ok((ice, sfu))
            }
            None => Err(AccessFailure(
                "The server has no video server running.".into(),
            )),
        }
    }

    /// A link made with the last SFU grant failed in a way the grant may be to blame for
    /// (`Problem::grant_suspect`; `None`: unknown): the next link asks for a new one. Rooms
    /// are per node, so a session moved elsewhere needs a new grant anyway.
    pub fn sfu_failed(&self, problem: Option<pairux_core::janus::Problem>) {
        if problem.is_none_or(pairux_core::janus::Problem::grant_suspect) {
            self.sfu_grant.borrow_mut().take();
        }
    }

    fn ice_of(&self, grant: &AccessGrant) -> IceSetup {
        IceSetup {
            servers: grant.ice_servers.clone(),
            relay_only: self.base.relay_only,
        }
    }

    /// New credentials for the connections made from now on (none given yet).
    fn settle(&self, ice: IceSetup, expires_at: u64) {
        self.takes.set(0);
        self.expires_at.set(expires_at);
        *self.ice.borrow_mut() = Some(ice);
        self.wake_next();
    }

    /// One request, to `accessUrl` and then each fallback while they cannot answer (network
    /// error or 5xx); each try signs anew (a nonce is good for one request).
    async fn ask(&self, want: Want) -> Result<AccessGrant, AccessFailure> {
        let Some(url) = &self.url else {
            return Err(AccessFailure("no access endpoint".into()));
        };
        let key = AccessKey::derive(&self.link.room_key, &self.link.session);
        let mut last = None;
        for url in std::iter::once(url).chain(&self.fallback) {
            let mut nonce = [0u8; NONCE_LEN];
            random::fill(&mut nonce).map_err(|e| AccessFailure(e.to_string()))?;
            let mut request =
                key.request(&self.link.session, clock::wall_ms() / 1000, &nonce, want);
            request.region = self.region.clone();
            let grant = fetch::post_json(url, &request).await.and_then(|text| {
                AccessGrant::from_json(&text).map_err(|e| FetchError::Invalid(e.to_string()))
            });
            match grant {
                Ok(grant) => {
                    self.deliver_focus(&grant);
                    return Ok(grant);
                }
                Err(e @ (FetchError::Status(500..) | FetchError::Network(_))) => last = Some(e),
                Err(e) => return Err(failure(e)),
            }
        }
        Err(failure(last.unwrap_or(FetchError::Status(503))))
    }
}

/// The page's `?region=` (a person or a deployment's links can name where they are).
fn page_region() -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("region="))
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
}

fn failure(e: FetchError) -> AccessFailure {
    AccessFailure(match e {
        FetchError::Status(403) => {
            "The server did not accept this link for the video server.".into()
        }
        FetchError::Status(409) => "The session is not on a video server right now.".into(),
        FetchError::Status(503) => "The video server is not reachable right now.".into(),
        other => format!("The server could not grant access: {other}"),
    })
}
