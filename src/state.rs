//! Page-wide state shared through Leptos context: small, `Copy`, signals only.
//!
//! Secrets from the link fragment live here, in memory — never in the URL or a request — and
//! in this tab's `sessionStorage`, so that a reload resumes the session in the same role.

use leptos::prelude::*;
use pairux_core::link::HostIdentity;
use pairux_core::session::{HostChain, HostMemory, StartMode};
use pairux_core::{LinkError, Role, SessionLink};

/// The session this page is in, with the role this person has in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    pub link: SessionLink,
    pub role: Role,
    /// The host's private identity key (the host only).
    pub host: Option<HostIdentity>,
    /// The host's pick of topology (P2P, SFU or Auto).
    pub mode: StartMode,
}

impl SessionEntry {
    /// A guest's entry for a link someone shared.
    pub fn guest(link: SessionLink) -> Self {
        SessionEntry {
            role: link.role(),
            link,
            host: None,
            mode: StartMode::default(),
        }
    }

    /// The host's entry for the session it just created.
    pub fn host(link: SessionLink, host: HostIdentity, mode: StartMode) -> Self {
        SessionEntry {
            link,
            role: Role::Host,
            host: Some(host),
            mode,
        }
    }

    /// Remembers this entry in the tab, so a reload resumes it; `false` if it could not.
    pub fn remember(&self) -> bool {
        let text = self.link.resume_text(self.host.as_ref());
        let key = resume_key(&self.link.path());
        if let Err(err) = crate::platform::storage::set(&key, &text) {
            leptos::logging::warn!("a reload will not resume this session: {err}");
            return false;
        }
        let _ = crate::platform::storage::set(&format!("{key}:mode"), self.mode.as_str());
        true
    }

    /// The entry this tab remembered for the session at `path`, if any.
    pub fn remembered(path: &str) -> Option<Self> {
        let text = crate::platform::storage::get(&resume_key(path))?;
        let (link, host) = SessionLink::parse_resume(path, &text).ok()?;
        let mode = crate::platform::storage::get(&format!("{}:mode", resume_key(path)))
            .and_then(|m| StartMode::parse(&m))
            .unwrap_or_default();
        Some(match host {
            Some(host) => SessionEntry::host(link, host, mode),
            None => SessionEntry::guest(link),
        })
    }

    /// The host role was handed to this tab's join key (`seed`, see [`Self::guest_seed`]) by
    /// `chain`: from its next load on, this tab hosts the session (in `mode`), with the former
    /// host's `memory` (whom it removed and let in) and none of an earlier tenure of its own.
    /// `false` if the tab could not keep it.
    pub fn take_host(
        link: &SessionLink,
        chain: HostChain,
        seed: [u8; 32],
        mode: StartMode,
        memory: Option<&str>,
    ) -> bool {
        let host = HostIdentity::handed(seed, chain);
        let kept = SessionEntry::host(link.clone(), host, mode).replace_hosting();
        if let (true, Some(memory)) = (kept, memory) {
            // As the former host wrote it: read (and checked) when this tab loads as the host.
            remember_host_text(link, memory);
        }
        kept
    }

    /// This tab handed the host role on: it keeps this entry (a controller's, made from the
    /// host's link) instead of the host's, and forgets what the host remembered. `false` if
    /// the tab could not keep it.
    pub fn step_down(&self) -> bool {
        self.replace_hosting()
    }

    /// Remembers this entry in place of whatever host tenure the tab kept (its memory, the
    /// handover it signed), which goes only once the entry is kept. `false` if it is not.
    fn replace_hosting(&self) -> bool {
        let kept = self.remember();
        if kept {
            crate::platform::storage::remove(&host_memory_key(&self.link.path()));
            crate::platform::storage::remove(&Kept::Handed.key(&self.link.path()));
        }
        kept
    }

    /// Forgets this tab's copy (the session ended, or the person left it).
    pub fn forget(&self) {
        crate::platform::storage::remove(&resume_key(&self.link.path()));
        crate::platform::storage::remove(&format!("{}:mode", resume_key(&self.link.path())));
        crate::platform::storage::remove(&join_key(&self.link.path()));
        crate::platform::storage::remove(&host_memory_key(&self.link.path()));
        crate::platform::storage::remove(&joined_key(&self.link.path()));
        crate::platform::storage::remove(&Kept::Believed.key(&self.link.path()));
        crate::platform::storage::remove(&Kept::Handed.key(&self.link.path()));
    }

    /// The seed of this tab's guest signing key for the session: made at the first join and
    /// kept beside the link in the tab's `sessionStorage`, so that a reloaded tab is the same
    /// verified person to the host (a host that removed it is told so when it asks again).
    /// `None` only without randomness.
    pub fn guest_seed(&self) -> Option<[u8; 32]> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let key = join_key(&self.link.path());
        let kept = crate::platform::storage::get(&key)
            .and_then(|text| b64.decode(text).ok())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
        if kept.is_some() {
            return kept;
        }
        let mut seed = [0u8; 32];
        crate::platform::random::fill(&mut seed).ok()?;
        if let Err(err) = crate::platform::storage::set(&key, &b64.encode(seed)) {
            leptos::logging::warn!("a reload will join as someone new: {err}");
        }
        Some(seed)
    }
}

/// What the host's tab remembered of this session before a reload (whom it removed and let
/// in, the media epoch reached); `None` if nothing, or nothing readable.
pub fn host_memory(link: &SessionLink) -> Option<HostMemory> {
    let text = crate::platform::storage::get(&host_memory_key(&link.path()))?;
    HostMemory::from_json(&serde_json::from_str(&text).ok()?)
}

/// Keeps the host's memory in the tab (`sessionStorage`), for its reload.
pub fn remember_host(link: &SessionLink, memory: &HostMemory) {
    remember_host_text(link, &memory.to_json().to_string());
}

fn remember_host_text(link: &SessionLink, text: &str) {
    if let Err(err) = crate::platform::storage::set(&host_memory_key(&link.path()), text) {
        leptos::logging::warn!("a reload will forget whom you removed: {err}");
    }
}

/// A host chain a tab keeps in its `sessionStorage` for a session, so that its reload acts on
/// it too.
#[derive(Debug, Clone, Copy)]
pub enum Kept {
    /// The longest host chain the tab believed (`SessionIdentity::believed`): its reload
    /// believes no fork of it.
    Believed,
    /// The handover this host tab signed (`HostRuntime::on_answer`): its reload stays
    /// committed to its taker.
    Handed,
}

impl Kept {
    fn key(self, path: &str) -> String {
        match self {
            Kept::Believed => format!("{}:chain", resume_key(path)),
            Kept::Handed => format!("{}:handed", resume_key(path)),
        }
    }
}

/// The chain this tab kept as `what` for `link`'s session; `None` if none, or nothing readable.
pub fn kept_chain(link: &SessionLink, what: Kept) -> Option<HostChain> {
    HostChain::decode(&crate::platform::storage::get(&what.key(&link.path()))?)
}

/// Keeps `chain` as `what` in this tab.
pub fn keep_chain(link: &SessionLink, what: Kept, chain: &HostChain) {
    if let Err(err) = crate::platform::storage::set(&what.key(&link.path()), &chain.encode()) {
        leptos::logging::warn!("a reload will forget the host chain ({what:?}): {err}");
    }
}

/// A host join's time: `now`, or just after this tab's last join of the session if the clock
/// stepped back since. Guests follow the latest join of a host's chain, and a tab that sees
/// a later join of its own stops hosting, so a reload must never join "earlier" than the
/// meta it replaced (which anyone who kept it can track again).
pub fn host_join_time(link: &SessionLink, now: u64) -> u64 {
    let key = joined_key(&link.path());
    let last = crate::platform::storage::get(&key).and_then(|t| t.parse::<u64>().ok());
    let at = last.map_or(now, |last| now.max(last.saturating_add(1)));
    if let Err(err) = crate::platform::storage::set(&key, &at.to_string()) {
        leptos::logging::warn!("a reload may not know when this tab joined: {err}");
    }
    at
}

fn joined_key(path: &str) -> String {
    format!("{}:joined", resume_key(path))
}

fn host_memory_key(path: &str) -> String {
    format!("{}:host", resume_key(path))
}

/// The `sessionStorage` key of a session's resume text.
fn resume_key(path: &str) -> String {
    format!("pairux:{}", path.trim_end_matches('/'))
}

/// The `sessionStorage` key of this tab's guest signing key seed for a session.
fn join_key(path: &str) -> String {
    format!("{}:join", resume_key(path))
}

/// What the page learnt about the session it should show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// No session link was opened (landing page).
    Nothing,
    /// A session is ready to join or host.
    Session(SessionEntry),
    /// A session path was opened, but its link is unusable.
    Refused {
        session_path: String,
        error: LinkError,
    },
}

/// The signaling connection as the page shows it (`connection-state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// Reading config.json, opening the socket, joining — before the first join succeeded.
    Connecting,
    /// Joined the session channel.
    Connected,
    /// Joined, but the server refused to hold our presence (its session's presence is full):
    /// we hear everyone, no one sees us. The client tracks again until the server holds it.
    Unseen,
    /// Lost after having been connected; the next try is in `retry_in_s` seconds.
    Reconnecting { retry_in_s: u64 },
    /// Left on purpose.
    Offline,
}

impl ConnectionStatus {
    /// The stable word tests and styles key on.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Connecting => "connecting",
            ConnectionStatus::Connected => "connected",
            ConnectionStatus::Unseen => "unseen",
            ConnectionStatus::Reconnecting { .. } => "reconnecting",
            ConnectionStatus::Offline => "offline",
        }
    }

    /// What is read out when it changes (the badge's live part); a person reads it followed
    /// by [`Self::countdown`].
    pub fn word(self) -> &'static str {
        match self {
            ConnectionStatus::Connecting => "Connecting…",
            ConnectionStatus::Connected => "Connected",
            ConnectionStatus::Unseen => "Server full — others can't see you yet",
            ConnectionStatus::Reconnecting { retry_in_s: 0 } => "Reconnecting…",
            ConnectionStatus::Reconnecting { .. } => "Reconnecting",
            ConnectionStatus::Offline => "Offline",
        }
    }

    /// The wait before the next try, shown and not read out (it changes every second).
    pub fn countdown(self) -> String {
        match self {
            ConnectionStatus::Reconnecting { retry_in_s } if retry_in_s > 0 => {
                format!(" — next try in {retry_in_s} s")
            }
            _ => String::new(),
        }
    }
}

/// Which page the path shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    Landing,
    Session { id: String },
    NotFound,
}

/// Maps a path to its page: `/` and `/s/<id>`; everything else is not found.
pub fn page_for_path(path: &str) -> Page {
    match path {
        "/" | "" | "/index.html" => Page::Landing,
        _ => match path.strip_prefix("/s/") {
            Some(id) => Page::Session {
                id: id.trim_end_matches('/').to_owned(),
            },
            None => Page::NotFound,
        },
    }
}

/// Shared app state, provided once by [`crate::App`].
#[derive(Clone, Copy)]
pub struct AppState {
    pub opened: RwSignal<Opened>,
    pub page: RwSignal<Page>,
    /// The screen a host picked on the landing page, handed to the session page.
    pub capture: StoredValue<Option<crate::platform::media::Capture>, LocalStorage>,
    /// A link was pasted into the address bar of this tab while it is in a session: it was
    /// not followed (a tab never moves into another session or role while in one), and the
    /// person is told ([`LINK_IGNORED_SENTENCE`]) until they close the notice.
    pub link_ignored: RwSignal<bool>,
    /// The session this tab opened is over for it (ended, left, removed, no host, a link it
    /// cannot use): a link pasted into the address bar opens meanwhile.
    pub session_over: RwSignal<bool>,
}

/// What a person who pasted a link into a tab already in a session reads.
pub const LINK_IGNORED_SENTENCE: &str = "This tab is already in a session, so the link you entered wasn't opened. Open it in a new tab, or leave this session first.";

impl AppState {
    pub fn new(opened: Opened, page: Page) -> Self {
        AppState {
            opened: RwSignal::new(opened),
            page: RwSignal::new(page),
            capture: StoredValue::new_local(None),
            link_ignored: RwSignal::new(false),
            session_over: RwSignal::new(false),
        }
    }

    /// Whether this tab's session is over for it now (a guest's can come back: a host that
    /// left may return). While over, a pasted link opens, and a notice that one was not opened
    /// goes (it would no longer be true).
    pub fn set_session_over(&self, over: bool) {
        crate::platform::el::set_if_changed(self.session_over, over);
        if over {
            self.link_ignored.set(false);
        }
    }

    /// Opens a session held in memory and shows its page (the URL gets only the path).
    pub fn enter(&self, entry: SessionEntry) {
        entry.remember();
        let path = entry.link.path();
        if let Err(err) = crate::platform::location::push_path(&path) {
            leptos::logging::error!("cannot update the address bar: {err}");
        }
        self.page.set(page_for_path(&path));
        self.opened.set(Opened::Session(entry));
    }

    /// The state provided by the app root.
    pub fn expect() -> Self {
        expect_context::<AppState>()
    }
}

/// Interprets the location the page was opened at (path and fragment, already read by glue).
/// `remembered`: what this tab kept for the path, used when the fragment is empty (a reload).
pub fn opened_from_location(
    path: &str,
    fragment: &str,
    remembered: impl FnOnce() -> Option<SessionEntry>,
) -> Opened {
    if !path.starts_with("/s/") {
        return Opened::Nothing;
    }
    if fragment.trim_start_matches('#').is_empty() {
        if let Some(entry) = remembered() {
            return Opened::Session(entry);
        }
    }
    match SessionLink::parse(path, fragment) {
        Ok(link) => Opened::Session(SessionEntry::guest(link)),
        Err(error) => Opened::Refused {
            session_path: path.to_owned(),
            error,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_labels_name_the_retry_time() {
        let s = ConnectionStatus::Reconnecting { retry_in_s: 5 };
        assert_eq!(s.as_str(), "reconnecting");
        let read = |s: ConnectionStatus| format!("{}{}", s.word(), s.countdown());
        assert_eq!(read(s), "Reconnecting — next try in 5 s");
        assert_eq!(read(ConnectionStatus::Connected), "Connected");
    }

    #[test]
    fn paths_map_to_pages() {
        assert_eq!(page_for_path("/"), Page::Landing);
        assert_eq!(page_for_path("/s/abc/"), Page::Session { id: "abc".into() });
        assert_eq!(page_for_path("/s/"), Page::Session { id: "".into() });
        assert_eq!(page_for_path("/nope"), Page::NotFound);
    }

    #[test]
    fn landing_paths_open_nothing() {
        assert_eq!(opened_from_location("/", "", || None), Opened::Nothing);
        assert_eq!(
            opened_from_location("/about", "#k=x", || None),
            Opened::Nothing
        );
    }

    #[test]
    fn session_paths_without_key_are_refused() {
        let path = "/s/AAECAwQFBgcICQoLDA0ODw";
        match opened_from_location(path, "", || None) {
            Opened::Refused { error, .. } => assert_eq!(error, LinkError::MissingKey),
            other => panic!("expected refusal, got {other:?}"),
        }
    }
}
