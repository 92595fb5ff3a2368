//! Proving to pairux-server that one holds a session's link, without giving it anything from the
//! fragment — the gate in front of TURN credentials and Janus tokens (`POST /api/access`).
//!
//! Every holder of a link derives the same **access key** from the room key and the session id
//! (HKDF-SHA256 → an Ed25519 seed). The server learns only its public half, the *verifier*:
//! the first valid request for a session pins it (the host asks when the session starts, before
//! any link exists, so nobody else can pin a different one), later requests must be signed by
//! the pinned verifier. A public key cannot sign, so a server (or whoever reads its memory or
//! database) cannot present itself as a link holder elsewhere, and nothing it stores lets it
//! derive the room key.
//!
//! A request is a signature over (session, unix time, a random nonce, what is asked for). The
//! server accepts it within [`MAX_SKEW_SECS`] of its clock and only once per nonce: one round
//! trip, no server-issued challenge, no replay.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::{array, object, required_string, required_u64, ConfigError, IceServer};
use crate::identity::{decode_signature, encode_signature, PublicKey, Signer, Statement};
use crate::link::{RoomKey, SessionId};

/// Label of every access statement.
const LABEL: &[u8] = b"pairux/access/v1";
/// HKDF info of the access key.
const KDF_INFO: &[u8] = b"pairux access key v1";
/// How far a request's time may be from the server's clock.
pub const MAX_SKEW_SECS: u64 = 300;
/// Bytes of a request nonce.
pub const NONCE_LEN: usize = 16;

/// The key every holder of a session's link can derive; its public half is the verifier.
pub struct AccessKey(Signer);

impl AccessKey {
    pub fn derive(room: &RoomKey, session: &SessionId) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(session.as_bytes()), room.as_bytes());
        let mut seed = [0u8; 32];
        hk.expand(KDF_INFO, &mut seed)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        AccessKey(Signer::from_seed(seed))
    }

    pub fn verifier(&self) -> PublicKey {
        self.0.public()
    }

    /// A signed request for `want`, made at `now_secs` with `nonce` (random, from the caller).
    pub fn request(
        &self,
        session: &SessionId,
        now_secs: u64,
        nonce: &[u8; NONCE_LEN],
        want: Want,
    ) -> AccessRequest {
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let session = session.to_string();
        let statement = statement(&session, now_secs, &nonce, want);
        AccessRequest {
            session,
            time: now_secs,
            nonce,
            want,
            verifier: self.verifier().encode(),
            signature: encode_signature(&self.0.sign(&statement)),
            region: None,
        }
    }
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessKey(<redacted>)")
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Want {
    /// TURN credentials (and the focus's current decision).
    Ice,
    /// TURN credentials, a room on the session's SFU node and a Janus token. A session without
    /// a start mode yet is pinned to SFU mode (a host starting in SFU mode); a P2P-pinned
    /// session or an Auto session the focus keeps P2P gets no room.
    Sfu,
    /// The host starts in Auto mode: pins the session's start mode (the first mode-bearing
    /// request wins, like the verifier) and grants like `Ice`.
    Auto,
    /// The host starts in P2P mode: the focus never moves this session; grants like `Ice`.
    P2p,
}

impl Want {
    fn tag(self) -> &'static [u8] {
        match self {
            Want::Ice => b"ice",
            Want::Sfu => b"sfu",
            Want::Auto => b"auto",
            Want::P2p => b"p2p",
        }
    }
}

fn statement(session: &str, time: u64, nonce: &str, want: Want) -> Statement {
    let mut s = Statement::new(LABEL);
    s.field(session.as_bytes())
        .number(time)
        .field(nonce.as_bytes())
        .field(want.tag());
    s
}

/// The body of `POST /api/access`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    pub session: String,
    /// Unix seconds when it was made.
    pub time: u64,
    /// base64url of [`NONCE_LEN`] random bytes.
    pub nonce: String,
    pub want: Want,
    /// The access key's public half (base64url).
    pub verifier: String,
    /// base64url Ed25519 signature.
    pub signature: String,
    /// Where the asker is (config.json's `region`, or the page's `?region=`): a placement hint
    /// for the focus when the request opens a session, not part of the proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// Longest region name kept (longer hints are ignored).
pub const MAX_REGION_LEN: usize = 32;

impl AccessRequest {
    /// The region hint if it is a plausible name (`[a-z0-9-]`, at most [`MAX_REGION_LEN`]).
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref().filter(|r| {
            !r.is_empty()
                && r.len() <= MAX_REGION_LEN
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
    }
}

/// Why the server refuses a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("not a session id")]
    Session,
    #[error("request time too far from the server's clock")]
    Stale,
    #[error("malformed nonce")]
    Nonce,
    #[error("malformed verifier or signature")]
    Malformed,
    #[error("signature does not verify")]
    Signature,
    #[error("not this session's verifier")]
    WrongVerifier,
    #[error("nonce already used")]
    Replayed,
}

impl AccessRequest {
    /// Checks the request's form, freshness and signature (not the pinning nor the replay,
    /// which need the server's memory): returns the session and the verifier it is signed by.
    pub fn check(&self, now_secs: u64) -> Result<(SessionId, PublicKey), AccessError> {
        let session = SessionId::parse(&self.session).map_err(|_| AccessError::Session)?;
        if self.time.abs_diff(now_secs) > MAX_SKEW_SECS {
            return Err(AccessError::Stale);
        }
        let nonce = URL_SAFE_NO_PAD
            .decode(&self.nonce)
            .map_err(|_| AccessError::Nonce)?;
        if nonce.len() != NONCE_LEN {
            return Err(AccessError::Nonce);
        }
        let verifier = PublicKey::parse(&self.verifier).ok_or(AccessError::Malformed)?;
        let signature = decode_signature(&self.signature).ok_or(AccessError::Malformed)?;
        let statement = statement(&self.session, self.time, &self.nonce, self.want);
        if !verifier.verifies(&statement, &signature) {
            return Err(AccessError::Signature);
        }
        Ok((session, verifier))
    }
}

/// The answer to an accepted request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessGrant {
    /// STUN and TURN servers with time-limited credentials.
    pub ice_servers: Vec<IceServer>,
    /// Unix seconds after which the TURN credentials stop working (ask again before).
    pub expires_at: u64,
    /// Where to publish or subscribe, for [`Want::Sfu`] when the server has an SFU.
    #[serde(default)]
    pub sfu: Option<SfuGrant>,
    /// The focus's current decision for this session (signed; check it with
    /// [`crate::focus::FocusFollower`] before acting), when the session has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<crate::focus::SignedDecision>,
}

impl AccessGrant {
    /// Reads an access grant without the derived `Deserialize`'s generic code in the app: the
    /// text is read as a `serde_json::Value`, which the app reads anyway. For objects it accepts
    /// and refuses what the derive does, with the same result (property-tested), but for what a
    /// server never writes (the same as [`crate::config::ClientConfig::from_json`], pinned by
    /// fixed cases): it refuses a JSON array standing for an object (the grant, `sfu`, `focus`,
    /// an ICE server), which the derive reads by position, and an unknown field holding what a
    /// `Value` cannot (a number beyond `f64`, a lone `\u` surrogate), which the derive skips
    /// unread; it keeps the last of repeated keys, where the derive refuses; and the decision
    /// in `focus` differs as [`crate::focus::SignedDecision::from_value`] says.
    pub fn from_json(text: &str) -> Result<AccessGrant, ConfigError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ConfigError::not_json(&e))?;
        let doc = object(&value, "grant")?;
        let ice_servers = match doc.get("iceServers") {
            None => return Err(ConfigError::missing("iceServers")),
            Some(v) => array(v, "iceServers")?
                .iter()
                .map(IceServer::from_value)
                .collect::<Result<_, _>>()?,
        };
        let sfu = match doc.get("sfu") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => {
                let sfu = object(v, "sfu")?;
                Some(SfuGrant {
                    janus_url: required_string(sfu, "janusUrl")?,
                    room: required_u64(sfu, "room")?,
                    pin: required_string(sfu, "pin")?,
                    token: required_string(sfu, "token")?,
                })
            }
        };
        let focus = match doc.get("focus") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(crate::focus::SignedDecision::from_value(v)?),
        };
        Ok(AccessGrant {
            ice_servers,
            expires_at: required_u64(doc, "expiresAt")?,
            sfu,
            focus,
        })
    }
}

/// A room on one Janus, and this participant's token for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SfuGrant {
    /// The Janus WebSocket (subprotocol `janus-protocol`).
    pub janus_url: String,
    pub room: u64,
    pub pin: String,
    /// Janus `token_auth` token, for this participant only.
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (RoomKey, SessionId) {
        (RoomKey::from_bytes([7; 32]), SessionId::from_bytes([9; 16]))
    }

    #[test]
    fn every_link_holder_derives_the_same_verifier_and_it_differs_per_session() {
        let (room, session) = keys();
        let a = AccessKey::derive(&room, &session).verifier();
        let b = AccessKey::derive(&room, &session).verifier();
        assert_eq!(a, b);
        let other = AccessKey::derive(&room, &SessionId::from_bytes([1; 16])).verifier();
        assert_ne!(a, other);
        let other = AccessKey::derive(&RoomKey::from_bytes([8; 32]), &session).verifier();
        assert_ne!(a, other);
    }

    #[test]
    fn a_request_checks_and_every_edit_breaks_it() {
        let (room, session) = keys();
        let key = AccessKey::derive(&room, &session);
        let req = key.request(&session, 1_000, &[3; NONCE_LEN], Want::Sfu);
        assert_eq!(req.check(1_000), Ok((session, key.verifier())));
        assert_eq!(
            req.check(1_000 + MAX_SKEW_SECS),
            Ok((session, key.verifier()))
        );
        assert_eq!(
            req.check(1_000 + MAX_SKEW_SECS + 1),
            Err(AccessError::Stale)
        );

        let mut r = req.clone();
        r.want = Want::Ice;
        assert_eq!(r.check(1_000), Err(AccessError::Signature));
        let mut r = req.clone();
        r.time += 1;
        assert_eq!(r.check(1_000), Err(AccessError::Signature));
        let mut r = req.clone();
        r.nonce = URL_SAFE_NO_PAD.encode([4; NONCE_LEN]);
        assert_eq!(r.check(1_000), Err(AccessError::Signature));
        let mut r = req.clone();
        r.session = SessionId::from_bytes([1; 16]).to_string();
        assert_eq!(r.check(1_000), Err(AccessError::Signature));
        // Someone without the room key signs with a key of their own: it verifies as itself,
        // which is why the server compares the verifier with the pinned one.
        let stranger = AccessKey::derive(&RoomKey::from_bytes([0; 32]), &session);
        let forged = stranger.request(&session, 1_000, &[3; NONCE_LEN], Want::Sfu);
        assert_ne!(forged.check(1_000).unwrap().1, key.verifier());
        let mut r = req.clone();
        r.verifier = stranger.verifier().encode();
        assert_eq!(r.check(1_000), Err(AccessError::Signature));
        let mut r = req;
        r.nonce = "short".into();
        assert_eq!(r.check(1_000), Err(AccessError::Nonce));
    }

    #[test]
    fn the_wire_form_is_stable() {
        let (room, session) = keys();
        let req = AccessKey::derive(&room, &session).request(&session, 5, &[0; 16], Want::Ice);
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json["want"], "ice");
        assert_eq!(json["time"], 5);
        assert_eq!(json["nonce"], "AAAAAAAAAAAAAAAAAAAAAA");
        let grant: AccessGrant = serde_json::from_str(
            r#"{"iceServers":[{"urls":"turn:198.51.100.1:3478?transport=udp","username":"9:x","credential":"c"}],
                "expiresAt":9,"sfu":{"janusUrl":"ws://198.51.100.1:8188","room":4242,"pin":"p","token":"t"}}"#,
        )
        .unwrap();
        assert_eq!(grant.sfu.unwrap().room, 4242);
    }

    /// A field of a generated object: absent, well formed, or any value.
    fn field(
        good: proptest::strategy::BoxedStrategy<serde_json::Value>,
    ) -> proptest::strategy::BoxedStrategy<Option<serde_json::Value>> {
        use proptest::prelude::*;
        prop_oneof![
            1 => Just(None),
            8 => good.prop_map(Some),
            1 => any_value().prop_map(Some),
        ]
        .boxed()
    }

    fn any_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..300).prop_map(Value::from),
            Just(Value::from(1.5)),
            Just(Value::from(u64::MAX)),
            "[a-z0-9]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::vec(("[a-z]{1,3}", inner), 0..3)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn object_of(
        fields: Vec<(
            &'static str,
            proptest::strategy::BoxedStrategy<serde_json::Value>,
        )>,
    ) -> proptest::strategy::BoxedStrategy<serde_json::Value> {
        use proptest::prelude::*;
        let (keys, values): (Vec<_>, Vec<_>) =
            fields.into_iter().map(|(k, g)| (k, field(g))).unzip();
        values
            .prop_map(move |values| {
                serde_json::Value::Object(
                    keys.iter()
                        .zip(values)
                        .filter_map(|(k, v)| Some(((*k).to_owned(), v?)))
                        .collect(),
                )
            })
            .boxed()
    }

    /// A decision of the focus, mostly well formed.
    pub(crate) fn decision_object() -> proptest::strategy::BoxedStrategy<serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let text = || "[a-z0-9]{0,4}".prop_map(Value::String).boxed();
        let number = || {
            prop_oneof![
                (0u64..400).prop_map(Value::from),
                Just(Value::from(u64::MAX))
            ]
            .boxed()
        };
        let version = prop_oneof![
            6 => (0u64..=2).prop_map(Value::from),
            1 => prop_oneof![Just(255u64), Just(256u64)].prop_map(Value::from),
            1 => prop_oneof![Just(1.0), Just(-0.0), Just(1e3)].prop_map(Value::from),
        ]
        .boxed();
        object_of(vec![
            ("v", version),
            ("session", text()),
            ("seq", number()),
            (
                "topology",
                prop_oneof![Just("p2p"), Just("sfu")]
                    .prop_map(Value::from)
                    .boxed(),
            ),
            ("node", prop_oneof![Just(Value::Null), text()].boxed()),
            (
                "reason",
                prop_oneof![
                    Just("start"),
                    Just("threshold"),
                    Just("requested"),
                    Just("failover"),
                    Just("drain"),
                    Just("bogus")
                ]
                .prop_map(Value::from)
                .boxed(),
            ),
            ("at", number()),
            ("sig", text()),
            ("extra", text()),
        ])
    }

    fn grant_object() -> proptest::strategy::BoxedStrategy<serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::{json, Value};
        let text = || "[a-z0-9]{0,4}".prop_map(Value::String).boxed();
        let sfu = object_of(vec![
            ("janusUrl", text()),
            ("room", (0u64..9999).prop_map(Value::from).boxed()),
            ("pin", text()),
            ("token", text()),
        ]);
        let ice = proptest::collection::vec(
            prop_oneof![
                "[a-z]{1,3}".prop_map(|u| json!({ "urls": u })),
                ("[a-z]{1,3}", "[a-z]{1,3}")
                    .prop_map(|(u, c)| json!({ "urls": [u], "username": "x", "credential": c })),
            ],
            0..3,
        )
        .prop_map(Value::Array)
        .boxed();
        object_of(vec![
            ("iceServers", ice),
            (
                "expiresAt",
                (0u64..2_000_000_000).prop_map(Value::from).boxed(),
            ),
            ("sfu", prop_oneof![Just(Value::Null), sfu].boxed()),
            (
                "focus",
                prop_oneof![1 => Just(Value::Null), 3 => decision_object()].boxed(),
            ),
            ("somethingNew", text()),
        ])
    }

    /// Whether an array stands where the hand reader wants an object (only the derive reads
    /// one, by position; a server never writes one).
    fn positional(grant: &serde_json::Value) -> bool {
        grant.get("sfu").is_some_and(serde_json::Value::is_array)
            || grant.get("focus").is_some_and(serde_json::Value::is_array)
            || grant
                .get("iceServers")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|servers| servers.iter().any(serde_json::Value::is_array))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// The app's reader takes and refuses what the derived `Deserialize` does, with the
        /// same result, for any grant object — but where an array stands for an object.
        #[test]
        fn the_hand_read_grant_is_the_derived_one(grant in grant_object()) {
            let text = grant.to_string();
            let derived = serde_json::from_str::<AccessGrant>(&text).ok();
            let hand = AccessGrant::from_json(&text).ok();
            if positional(&grant) {
                proptest::prop_assert!(hand.is_none(), "{}", text);
            } else {
                proptest::prop_assert_eq!(hand, derived, "{}", text);
            }
        }

        #[test]
        fn the_hand_read_decision_is_the_derived_one(decision in decision_object()) {
            let derived = serde_json::from_value::<crate::focus::SignedDecision>(decision.clone()).ok();
            let hand = crate::focus::SignedDecision::from_value(&decision).ok();
            proptest::prop_assert_eq!(hand, derived, "{}", decision);
        }

        #[test]
        fn any_text_is_read_or_refused_without_panic(text in "\\PC{0,40}") {
            let _ = AccessGrant::from_json(&text);
        }
    }

    /// A grant as pairux-server writes it, SFU room and focus decision included, reads back
    /// the same; arrays for objects are refused (the derive would read them by position).
    #[test]
    fn a_server_grant_reads_back_and_arrays_for_objects_are_refused() {
        let signer = crate::focus::FocusKey::from_seed([5; 32]);
        let decision = crate::focus::Decision {
            session: SessionId::from_bytes([9; 16]),
            seq: 3,
            topology: crate::session::Topology::Sfu,
            node: Some("janus-1".into()),
            reason: crate::focus::Reason::Threshold,
            at: 1_700_000_000_000,
        };
        let grant = AccessGrant {
            ice_servers: vec![IceServer {
                urls: crate::config::IceUrls::Many(vec!["turn:127.0.0.1:3478".into()]),
                username: Some("1700000000:x".into()),
                credential: Some("c".into()),
            }],
            expires_at: 1_700_000_600,
            sfu: Some(SfuGrant {
                janus_url: "ws://127.0.0.1:8188/".into(),
                room: 4242,
                pin: "p".into(),
                token: "t".into(),
            }),
            focus: Some(signer.sign(&decision)),
        };
        let text = serde_json::to_string(&grant).unwrap();
        assert_eq!(AccessGrant::from_json(&text), Ok(grant));
        let positional = r#"{"iceServers":[],"expiresAt":1,"sfu":["u",1,"p","t"]}"#;
        assert!(serde_json::from_str::<AccessGrant>(positional).is_ok());
        assert!(AccessGrant::from_json(positional).is_err());
        // The other stated differences, none of which a server writes.
        let twice = r#"{"iceServers":[],"expiresAt":1,"expiresAt":2}"#;
        assert!(serde_json::from_str::<AccessGrant>(twice).is_err());
        assert_eq!(AccessGrant::from_json(twice).map(|g| g.expires_at), Ok(2));
        for unreadable in [
            r#"{"iceServers":[],"expiresAt":1,"x":1e400}"#,
            r#"{"iceServers":[],"expiresAt":1,"x":"\ud800"}"#,
        ] {
            assert!(serde_json::from_str::<AccessGrant>(unreadable).is_ok());
            assert!(AccessGrant::from_json(unreadable).is_err());
        }
        let mut decision = serde_json::to_value(signer.sign(&decision)).unwrap();
        decision["reason"] = serde_json::json!({ "threshold": null });
        assert!(serde_json::from_value::<crate::focus::SignedDecision>(decision.clone()).is_ok());
        assert!(crate::focus::SignedDecision::from_value(&decision).is_err());
        let as_array = serde_json::json!([1, "s", 2, "sfu", null, "drain", 3, "sig"]);
        assert!(serde_json::from_value::<crate::focus::SignedDecision>(as_array.clone()).is_ok());
        assert!(crate::focus::SignedDecision::from_value(&as_array).is_err());
    }
}
