//! Session links: `/s/<session-id>#k=<room key>&h=<host public key>[&c=<controller secret>]`
//! (product.md §2).
//!
//! The path names the session and is the only part a server ever sees; the fragment carries the
//! secrets. Parsing is total: every input, however malformed, yields a [`SessionLink`] or a
//! [`LinkError`] that can be shown to a person. Producing a link takes its random bytes from the
//! caller so this module stays free of any entropy source.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::identity::{PublicKey, Signer, KEY_LEN};
use crate::session::HostChain;
use crate::Role;

/// Bytes in a session id (128 bits → 22 base64url characters).
pub const SESSION_ID_LEN: usize = 16;
/// Bytes in the room key (→ 43 base64url characters).
pub const ROOM_KEY_LEN: usize = 32;
/// Bytes in the controller secret (→ 43 base64url characters).
pub const CONTROLLER_SECRET_LEN: usize = 32;
/// Random bytes [`SessionLink::generate`] needs: id, room key, controller secret and the seed
/// of the host identity key.
pub const GENERATE_RANDOM_LEN: usize =
    SESSION_ID_LEN + ROOM_KEY_LEN + CONTROLLER_SECRET_LEN + KEY_LEN;

/// Longest link text we even look at; anything longer is refused before parsing.
const MAX_LINK_LEN: usize = 2048;

/// Why a link could not be used. `Display` is for logs; [`LinkError::user_message`] is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("not a session path (expected /s/<session-id>)")]
    NotASessionPath,
    #[error("session id is not 22 base64url characters")]
    BadSessionId,
    #[error("the fragment has no room key (k)")]
    MissingKey,
    #[error("the room key (k) is not 43 base64url characters")]
    BadKey,
    #[error("the controller secret (c) is not 43 base64url characters")]
    BadControllerSecret,
    #[error("the fragment has no host key (h)")]
    MissingHostKey,
    #[error("the host key (h) is not a 43-character base64url Ed25519 key")]
    BadHostKey,
    #[error("parameter `{0}` appears more than once")]
    DuplicateParam(String),
    #[error("link is longer than {MAX_LINK_LEN} characters")]
    TooLong,
}

impl LinkError {
    /// A sentence for the person who opened the link.
    pub fn user_message(&self) -> &'static str {
        match self {
            LinkError::MissingKey
            | LinkError::BadKey
            | LinkError::MissingHostKey
            | LinkError::BadHostKey
            | LinkError::DuplicateParam(_) => {
                "This link is incomplete — ask the host for a new one"
            }
            LinkError::BadControllerSecret => {
                "This controller link is damaged — ask the host for a new one."
            }
            LinkError::NotASessionPath | LinkError::BadSessionId | LinkError::TooLong => {
                "This doesn't look like a PairUX session link — check that you copied all of it."
            }
        }
    }
}

/// The public name of a session: 128 random bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId([u8; SESSION_ID_LEN]);

impl SessionId {
    pub fn from_bytes(bytes: [u8; SESSION_ID_LEN]) -> Self {
        SessionId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; SESSION_ID_LEN] {
        &self.0
    }

    /// Parses the 22-character base64url form.
    pub fn parse(text: &str) -> Result<Self, LinkError> {
        decode_fixed(text)
            .map(SessionId)
            .ok_or(LinkError::BadSessionId)
    }

    /// The Realtime channel topic of this session.
    pub fn topic(&self) -> String {
        format!("realtime:pairux:{self}")
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

/// Defines a 32-byte secret whose `Debug` never prints it.
macro_rules! secret {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name([u8; $len]);

        impl $name {
            pub fn from_bytes(bytes: [u8; $len]) -> Self {
                $name(bytes)
            }

            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// The base64url form used in links.
            pub fn encode(&self) -> String {
                URL_SAFE_NO_PAD.encode(self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        /// Wiped when dropped: a retired epoch's secret does not linger in memory.
        impl Drop for $name {
            fn drop(&mut self) {
                zeroize::Zeroize::zeroize(&mut self.0);
            }
        }
    };
}

secret!(
    /// Protects media and signaling end to end; lives only in the link fragment and in memory.
    RoomKey,
    ROOM_KEY_LEN
);
secret!(
    /// Proves to the host that a participant was given a controller link.
    ControllerSecret,
    CONTROLLER_SECRET_LEN
);

/// A parsed session link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLink {
    pub session: SessionId,
    pub room_key: RoomKey,
    /// The host's public identity key: only a participant whose presence and signals verify
    /// under it is the host.
    pub host: PublicKey,
    pub controller: Option<ControllerSecret>,
}

/// The host's private identity key: created with the session (or, for a host the role was
/// handed to, its join key), never in a link; with the chain of handovers from the link's `h`
/// to it (empty for the first host). (Boxed: a signing key is a few hundred bytes, and
/// entries holding one move around by value.)
#[derive(Debug, Clone)]
pub struct HostIdentity(Box<(Signer, HostChain)>);

impl PartialEq for HostIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.public() == other.public()
    }
}

impl Eq for HostIdentity {}

impl HostIdentity {
    pub fn from_seed(seed: [u8; KEY_LEN]) -> Self {
        Self::handed(seed, HostChain::default())
    }

    /// The host identity of a host the role was handed to: its key's seed and the chain that
    /// names that key.
    pub fn handed(seed: [u8; KEY_LEN], chain: HostChain) -> Self {
        HostIdentity(Box::new((Signer::from_seed(seed), chain)))
    }

    pub fn signer(&self) -> &Signer {
        &self.0 .0
    }

    pub fn public(&self) -> PublicKey {
        self.0 .0.public()
    }

    /// The handovers that made this key the host's.
    pub fn chain(&self) -> &HostChain {
        &self.0 .1
    }
}

impl SessionLink {
    /// A fresh session and its host identity from `GENERATE_RANDOM_LEN` random bytes (caller
    /// supplies a CSPRNG's output).
    pub fn generate(random: &[u8; GENERATE_RANDOM_LEN]) -> (Self, HostIdentity) {
        let (id, rest) = random.split_at(SESSION_ID_LEN);
        let (key, rest) = rest.split_at(ROOM_KEY_LEN);
        let (secret, seed) = rest.split_at(CONTROLLER_SECRET_LEN);
        let host = HostIdentity::from_seed(seed.try_into().expect("remainder is KEY_LEN"));
        let link = SessionLink {
            session: SessionId(id.try_into().expect("split at SESSION_ID_LEN")),
            room_key: RoomKey(key.try_into().expect("split at ROOM_KEY_LEN")),
            host: host.public(),
            controller: Some(ControllerSecret(
                secret.try_into().expect("split at CONTROLLER_SECRET_LEN"),
            )),
        };
        (link, host)
    }

    /// Parses a location's `pathname` and `hash` (the `#` is optional).
    pub fn parse(path: &str, fragment: &str) -> Result<Self, LinkError> {
        if path.len() + fragment.len() > MAX_LINK_LEN {
            return Err(LinkError::TooLong);
        }
        let session = parse_path(path)?;
        let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
        let mut key = None;
        let mut host = None;
        let mut controller = None;
        for pair in fragment.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "k" => set_once(&mut key, "k", value)?,
                "c" => set_once(&mut controller, "c", value)?,
                "h" => set_once(&mut host, "h", value)?,
                // Unknown parameters are left for newer clients.
                _ => {}
            }
        }
        let room_key = key
            .ok_or(LinkError::MissingKey)
            .and_then(|k| decode_fixed(k).map(RoomKey).ok_or(LinkError::BadKey))?;
        let host = host
            .ok_or(LinkError::MissingHostKey)
            .and_then(|h| PublicKey::parse(h).ok_or(LinkError::BadHostKey))?;
        let controller = controller
            .map(|c| {
                decode_fixed(c)
                    .map(ControllerSecret)
                    .ok_or(LinkError::BadControllerSecret)
            })
            .transpose()?;
        Ok(SessionLink {
            session,
            room_key,
            host,
            controller,
        })
    }

    /// Parses a whole link as a person pastes it: `https://host/s/<id>#k=…`, `/s/<id>#k=…`
    /// or `host/s/<id>#k=…`. Surrounding whitespace is ignored.
    pub fn parse_href(href: &str) -> Result<Self, LinkError> {
        let href = href.trim();
        if href.len() > MAX_LINK_LEN {
            return Err(LinkError::TooLong);
        }
        let (before, fragment) = href.split_once('#').unwrap_or((href, ""));
        let before = before.split_once('?').map_or(before, |(p, _)| p);
        let path_start = before.find("/s/").ok_or(LinkError::NotASessionPath)?;
        Self::parse(&before[path_start..], fragment)
    }

    /// The role this link grants.
    pub fn role(&self) -> Role {
        if self.controller.is_some() {
            Role::Controller
        } else {
            Role::Viewer
        }
    }

    /// `/s/<session-id>`: the only part that reaches a server.
    pub fn path(&self) -> String {
        format!("/s/{}", self.session)
    }

    /// The link for viewers: path plus `#k=…&h=…`.
    pub fn viewer_link(&self) -> String {
        format!(
            "{}#k={}&h={}",
            self.path(),
            self.room_key.encode(),
            self.host.encode()
        )
    }

    /// The link for controllers: path plus `#k=…&h=…&c=…`, or `None` if this link has no secret.
    pub fn controller_link(&self) -> Option<String> {
        let secret = self.controller.as_ref()?;
        Some(format!("{}&c={}", self.viewer_link(), secret.encode()))
    }

    /// What a tab keeps in its `sessionStorage` so that a reload resumes this session in the
    /// same role: the link's fragment, plus for the host its identity's seed (`hs`) and the
    /// handovers that made it host (`hc`, if any).
    pub fn resume_text(&self, host: Option<&HostIdentity>) -> String {
        let link = self.to_link();
        let fragment = link.split_once('#').map_or("", |(_, f)| f);
        let Some(host) = host else {
            return fragment.to_owned();
        };
        let seed = URL_SAFE_NO_PAD.encode(host.signer().seed());
        match host.chain() {
            chain if chain.is_empty() => format!("{fragment}&hs={seed}"),
            chain => format!("{fragment}&hs={seed}&hc={}", chain.encode()),
        }
    }

    /// Reads back [`Self::resume_text`] for the session at `path`. A host seed whose key is
    /// not the one the link's host key (through the handovers kept with it) names, or that
    /// comes without the controller secret every host link has, is ignored (the tab resumes
    /// as a guest of that link).
    pub fn parse_resume(path: &str, text: &str) -> Result<(Self, Option<HostIdentity>), LinkError> {
        let link = Self::parse(path, text)?;
        let param = |name: &str| text.split('&').find_map(|p| p.strip_prefix(name));
        let chain = match param("hc=") {
            Some(chain) => HostChain::decode(chain),
            None => Some(HostChain::default()),
        };
        let host = param("hs=")
            .and_then(decode_fixed::<KEY_LEN>)
            .zip(chain)
            .map(|(seed, chain)| HostIdentity::handed(seed, chain))
            .filter(|h| {
                h.chain().head(&link.session, &link.host) == Some(h.public())
                    && link.controller.is_some()
            });
        Ok((link, host))
    }

    /// This link as its holder would share it (path and fragment, no origin).
    pub fn to_link(&self) -> String {
        self.controller_link().unwrap_or_else(|| self.viewer_link())
    }
}

fn parse_path(path: &str) -> Result<SessionId, LinkError> {
    let rest = path.strip_prefix("/s/").ok_or(LinkError::NotASessionPath)?;
    let id = rest.strip_suffix('/').unwrap_or(rest);
    if id.is_empty() || id.contains('/') {
        return Err(LinkError::NotASessionPath);
    }
    SessionId::parse(id)
}

fn set_once<'a>(slot: &mut Option<&'a str>, name: &str, value: &'a str) -> Result<(), LinkError> {
    if slot.replace(value).is_some() {
        return Err(LinkError::DuplicateParam(name.to_owned()));
    }
    Ok(())
}

/// Decodes canonical unpadded base64url into exactly `N` bytes.
fn decode_fixed<const N: usize>(text: &str) -> Option<[u8; N]> {
    // Reject early so a huge string never reaches the decoder's allocation.
    if text.len() != (N * 4).div_ceil(3) {
        return None;
    }
    URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "AAECAwQFBgcICQoLDA0ODw";
    const KEY: &str = "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8";
    const SECRET: &str = "MDEyMzQ1Njc4OTo7PD0-P0BBQkNERUZHSElKS0xNTk8";

    fn random() -> [u8; GENERATE_RANDOM_LEN] {
        std::array::from_fn(|i| i as u8)
    }

    /// The host key `random()` makes (seed bytes 80..112).
    fn h() -> String {
        HostIdentity::from_seed(std::array::from_fn(|i| (80 + i) as u8))
            .public()
            .encode()
    }

    #[test]
    fn generated_links_have_the_documented_shape() {
        let (link, host) = SessionLink::generate(&random());
        let h = h();
        assert_eq!(host.public().encode(), h);
        assert_eq!(link.session.to_string(), ID);
        assert_eq!(link.path(), format!("/s/{ID}"));
        assert_eq!(link.viewer_link(), format!("/s/{ID}#k={KEY}&h={h}"));
        assert_eq!(
            link.controller_link().unwrap(),
            format!("/s/{ID}#k={KEY}&h={h}&c={SECRET}")
        );
        assert_eq!(link.session.topic(), format!("realtime:pairux:{ID}"));
    }

    #[test]
    fn viewer_and_controller_links_round_trip() {
        let (link, _) = SessionLink::generate(&random());
        let viewer = SessionLink::parse_href(&link.viewer_link()).unwrap();
        assert_eq!(viewer.role(), Role::Viewer);
        assert_eq!(viewer.room_key, link.room_key);
        let controller = SessionLink::parse_href(&link.controller_link().unwrap()).unwrap();
        assert_eq!(controller.role(), Role::Controller);
        assert_eq!(controller, link);
        assert_eq!(controller.to_link(), link.controller_link().unwrap());
    }

    #[test]
    fn accepts_full_urls_hash_prefix_trailing_slash_and_unknown_params() {
        let h = h();
        let href = format!(" https://pairux.example/s/{ID}/?x=1#k={KEY}&h={h}&v=2 \n");
        let link = SessionLink::parse_href(&href).unwrap();
        assert_eq!(link.session.to_string(), ID);
        assert!(SessionLink::parse(&format!("/s/{ID}"), &format!("#k={KEY}&h={h}")).is_ok());
        assert!(SessionLink::parse(&format!("/s/{ID}"), &format!("h={h}&k={KEY}")).is_ok());
    }

    #[test]
    fn every_malformed_case_has_its_error() {
        let p = format!("/s/{ID}");
        let k = format!("k={KEY}&h={}", h());
        let cases: Vec<(String, String, LinkError)> = vec![
            ("/".into(), k.clone(), LinkError::NotASessionPath),
            ("/x/abc".into(), k.clone(), LinkError::NotASessionPath),
            ("/s/".into(), k.clone(), LinkError::NotASessionPath),
            (format!("{p}/extra"), k.clone(), LinkError::NotASessionPath),
            ("/s/short".into(), k.clone(), LinkError::BadSessionId),
            (
                format!("/s/{}", &ID[..21]),
                k.clone(),
                LinkError::BadSessionId,
            ),
            (
                format!("/s/{}=", &ID[..21]),
                k.clone(),
                LinkError::BadSessionId,
            ),
            (
                format!("/s/{}+", &ID[..21]),
                k.clone(),
                LinkError::BadSessionId,
            ),
            // Non-canonical final character (trailing bits set).
            (
                format!("/s/{}x", &ID[..21]),
                k.clone(),
                LinkError::BadSessionId,
            ),
            (p.clone(), String::new(), LinkError::MissingKey),
            (p.clone(), "#".into(), LinkError::MissingKey),
            (p.clone(), format!("c={SECRET}"), LinkError::MissingKey),
            (p.clone(), format!("k={KEY}"), LinkError::MissingHostKey),
            (p.clone(), format!("k={KEY}&h=abc"), LinkError::BadHostKey),
            (
                p.clone(),
                format!("k={KEY}&h={}", "A".repeat(43)),
                LinkError::BadHostKey,
            ),
            (p.clone(), "k=".into(), LinkError::BadKey),
            (p.clone(), "k".into(), LinkError::BadKey),
            (
                p.clone(),
                format!("k={}&h={}", &KEY[..42], h()),
                LinkError::BadKey,
            ),
            (p.clone(), format!("k={KEY}A&h={}", h()), LinkError::BadKey),
            (
                p.clone(),
                format!("k={}/&h={}", &KEY[..42], h()),
                LinkError::BadKey,
            ),
            (
                p.clone(),
                format!("{k}&c=abc"),
                LinkError::BadControllerSecret,
            ),
            (p.clone(), format!("{k}&c="), LinkError::BadControllerSecret),
            (
                p.clone(),
                format!("{k}&{k}"),
                LinkError::DuplicateParam("k".into()),
            ),
            (
                p.clone(),
                format!("{k}&c={SECRET}&c={SECRET}"),
                LinkError::DuplicateParam("c".into()),
            ),
            (p.clone(), "k=".repeat(2000), LinkError::TooLong),
        ];
        for (path, fragment, want) in cases {
            assert_eq!(
                SessionLink::parse(&path, &fragment),
                Err(want.clone()),
                "{path} # {fragment}"
            );
            assert!(!want.user_message().is_empty());
        }
        assert_eq!(
            SessionLink::parse_href("no link here"),
            Err(LinkError::NotASessionPath)
        );
    }

    #[test]
    fn resume_text_round_trips_with_and_without_the_host_key() {
        let (link, host) = SessionLink::generate(&random());
        let text = link.resume_text(Some(&host));
        assert_eq!(
            SessionLink::parse_resume(&link.path(), &text),
            Ok((link.clone(), Some(host.clone())))
        );
        let guest = SessionLink::parse_href(&link.viewer_link()).unwrap();
        assert_eq!(
            SessionLink::parse_resume(&guest.path(), &guest.resume_text(None)),
            Ok((guest.clone(), None))
        );
        // A host seed for another key does not make anyone host.
        let other = HostIdentity::from_seed([1; 32]);
        let forged = format!(
            "{}&hs={}",
            guest.resume_text(None),
            URL_SAFE_NO_PAD.encode([1u8; 32])
        );
        assert_ne!(other.public(), guest.host);
        assert_eq!(
            SessionLink::parse_resume(&guest.path(), &forged),
            Ok((guest.clone(), None))
        );
        // The right seed but no controller secret: not a host link.
        let (seeded, seeded_host) = SessionLink::generate(&random());
        let viewer_only = SessionLink::parse_href(&seeded.viewer_link()).unwrap();
        let text = format!(
            "{}&hs={}",
            viewer_only.resume_text(None),
            URL_SAFE_NO_PAD.encode(seeded_host.signer().seed())
        );
        assert_eq!(
            SessionLink::parse_resume(&viewer_only.path(), &text),
            Ok((viewer_only, None))
        );
    }

    #[test]
    fn a_handed_host_resumes_with_its_chain_and_only_with_it() {
        let (link, host) = SessionLink::generate(&random());
        let taker = Signer::from_seed([4; 32]);
        let chain = HostChain::default()
            .hand_over(&link.session, host.signer(), taker.public())
            .unwrap();
        let handed = HostIdentity::handed(taker.seed(), chain.clone());
        let text = link.resume_text(Some(&handed));
        let (_, resumed) = SessionLink::parse_resume(&link.path(), &text).unwrap();
        let resumed = resumed.unwrap();
        assert_eq!(resumed.public(), taker.public());
        assert_eq!(resumed.chain(), &chain);
        // The taker's seed without the chain, or another seed with it: a guest.
        for text in [
            text.split("&hc=").next().unwrap().to_owned(),
            link.resume_text(Some(&HostIdentity::handed([5; 32], chain.clone()))),
            format!(
                "{}&hc=AAAA",
                link.resume_text(Some(&HostIdentity::from_seed(taker.seed())))
            ),
        ] {
            assert_eq!(
                SessionLink::parse_resume(&link.path(), &text).unwrap().1,
                None
            );
        }
    }

    #[test]
    fn a_link_without_key_tells_the_person_what_to_do() {
        let err = SessionLink::parse(&format!("/s/{ID}"), "").unwrap_err();
        assert_eq!(
            err.user_message(),
            "This link is incomplete — ask the host for a new one"
        );
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let (link, host) = SessionLink::generate(&random());
        assert!(format!("{host:?}").contains("redacted"));
        let shown = format!("{link:?}");
        assert!(!shown.contains(KEY) && !shown.contains(SECRET), "{shown}");
        assert!(shown.contains(ID));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn arbitrary_text_never_panics(path in ".{0,200}", fragment in ".{0,300}") {
                let _ = SessionLink::parse(&path, &fragment);
                let _ = SessionLink::parse_href(&format!("{path}#{fragment}"));
            }

            #[test]
            fn link_like_text_never_panics(
                id in "[A-Za-z0-9_=+/-]{0,30}",
                params in proptest::collection::vec(("[kcx]{0,2}", "[A-Za-z0-9_=&-]{0,50}"), 0..5),
            ) {
                let fragment: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
                let _ = SessionLink::parse(&format!("/s/{id}"), &fragment.join("&"));
            }

            #[test]
            fn generated_links_always_round_trip(bytes in proptest::collection::vec(any::<u8>(), GENERATE_RANDOM_LEN)) {
                let random: [u8; GENERATE_RANDOM_LEN] = bytes.try_into().unwrap();
                let (link, _) = SessionLink::generate(&random);
                prop_assert_eq!(SessionLink::parse_href(&link.to_link()), Ok(link.clone()));
                let viewer = SessionLink::parse_href(&link.viewer_link()).unwrap();
                prop_assert_eq!(viewer.controller, None);
            }
        }
    }
}
