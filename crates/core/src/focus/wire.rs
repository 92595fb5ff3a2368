//! A focus decision on the wire: `{"v":1,"session","seq","topology","node","reason","at","sig"}`.
//!
//! The focus signs every decision with its Ed25519 key; the public half is `focusKey` in
//! config.json. A client acts on a decision only if it verifies under that key, names the
//! client's own session, and is newer (`seq`) than the last one it acted on — so neither the
//! Realtime server nor another link holder can move a session, and a replayed older decision
//! changes nothing. Decisions carry routing only (topology and node id): what to publish and
//! where comes from the access grant, what the host publishes from its sealed signals.

use serde::{Deserialize, Serialize};

use crate::config::{invalid, object, optional_string, required_string, required_u64, ConfigError};
use crate::identity::{decode_signature, encode_signature, PublicKey, Signer, Statement};
use crate::link::SessionId;
use crate::session::Topology;

/// The Realtime broadcast event decisions travel under (on the session's own channel).
pub const FOCUS_EVENT: &str = "focus";
/// Label of every decision statement.
const LABEL: &[u8] = b"pairux/focus/v1";
/// Wire version.
const VERSION: u8 = 1;

/// Why the focus decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The session's first decision (its start mode).
    Start,
    /// An Auto session reached the upgrade threshold.
    Threshold,
    /// Asked for (a host starting in SFU mode).
    Requested,
    /// Its node failed.
    Failover,
    /// Its node is being drained.
    Drain,
}

impl Reason {
    fn tag(self) -> &'static [u8] {
        match self {
            Reason::Start => b"start",
            Reason::Threshold => b"threshold",
            Reason::Requested => b"requested",
            Reason::Failover => b"failover",
            Reason::Drain => b"drain",
        }
    }
}

/// How one session's media flows, as of `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub session: SessionId,
    /// Strictly increasing per session: a client acts only on a larger one than it has.
    pub seq: u64,
    pub topology: Topology,
    /// The SFU node (its id in the focus's registry) when `topology` is SFU; `None` in SFU
    /// topology means "no node can take it right now" (clients wait for the next decision).
    pub node: Option<String>,
    pub reason: Reason,
    /// Unix milliseconds when decided.
    pub at: u64,
}

impl Decision {
    fn statement(&self) -> Statement {
        let mut s = Statement::new(LABEL);
        s.field(self.session.to_string().as_bytes())
            .number(self.seq)
            .field(self.topology.as_str().as_bytes())
            .optional(self.node.as_deref().map(str::as_bytes))
            .field(self.reason.tag())
            .number(self.at);
        s
    }
}

/// A decision as sent: JSON with the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDecision {
    pub v: u8,
    pub session: String,
    pub seq: u64,
    pub topology: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub reason: Reason,
    pub at: u64,
    /// base64url Ed25519 signature over the fields above.
    pub sig: String,
}

/// Why a decision was not acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FocusError {
    #[error("malformed focus message")]
    Malformed,
    #[error("focus message for another session")]
    OtherSession,
    #[error("focus signature does not verify")]
    Signature,
}

/// The focus's signing key (server side).
pub struct FocusKey(Signer);

impl FocusKey {
    pub fn from_seed(seed: [u8; crate::identity::KEY_LEN]) -> Self {
        FocusKey(Signer::from_seed(seed))
    }

    pub fn seed(&self) -> [u8; crate::identity::KEY_LEN] {
        self.0.seed()
    }

    /// What config.json names as `focusKey`.
    pub fn public(&self) -> PublicKey {
        self.0.public()
    }

    pub fn sign(&self, decision: &Decision) -> SignedDecision {
        SignedDecision {
            v: VERSION,
            session: decision.session.to_string(),
            seq: decision.seq,
            topology: decision.topology.as_str().to_owned(),
            node: decision.node.clone(),
            reason: decision.reason,
            at: decision.at,
            sig: encode_signature(&self.0.sign(&decision.statement())),
        }
    }
}

impl std::fmt::Debug for FocusKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FocusKey({})", self.public())
    }
}

impl SignedDecision {
    /// Reads a decision without the derived `Deserialize`'s generic code in the app. For
    /// objects it accepts and refuses what the derive does, with the same result
    /// (property-tested), but for two forms the focus never writes (pinned by fixed cases):
    /// a decision as an array (the derive reads it by position) and a `reason` written as a
    /// one-key object (`{"start": null}`, which the derive reads as the variant) are refused.
    pub fn from_value(value: &serde_json::Value) -> Result<SignedDecision, ConfigError> {
        let doc = object(value, "decision")?;
        let v = u8::try_from(required_u64(doc, "v")?).map_err(|_| invalid("v"))?;
        let reason = match doc.get("reason") {
            None => return Err(ConfigError::missing("reason")),
            Some(r) => match r.as_str() {
                Some("start") => Reason::Start,
                Some("threshold") => Reason::Threshold,
                Some("requested") => Reason::Requested,
                Some("failover") => Reason::Failover,
                Some("drain") => Reason::Drain,
                _ => return Err(invalid("reason")),
            },
        };
        Ok(SignedDecision {
            v,
            session: required_string(doc, "session")?,
            seq: required_u64(doc, "seq")?,
            topology: required_string(doc, "topology")?,
            node: optional_string(doc, "node")?,
            reason,
            at: required_u64(doc, "at")?,
            sig: required_string(doc, "sig")?,
        })
    }

    /// The decision, if it is well formed and signed by `key`.
    pub fn verify(&self, key: &PublicKey) -> Result<Decision, FocusError> {
        if self.v != VERSION || self.node.as_ref().is_some_and(|n| n.len() > 64) {
            return Err(FocusError::Malformed);
        }
        let session = SessionId::parse(&self.session).map_err(|_| FocusError::Malformed)?;
        let topology = Topology::parse(&self.topology).ok_or(FocusError::Malformed)?;
        let signature = decode_signature(&self.sig).ok_or(FocusError::Malformed)?;
        let decision = Decision {
            session,
            seq: self.seq,
            topology,
            node: self.node.clone(),
            reason: self.reason,
            at: self.at,
        };
        if !key.verifies(&decision.statement(), &signature) {
            return Err(FocusError::Signature);
        }
        Ok(decision)
    }
}

/// A client's view of its session's decisions: verifies, and keeps only newer ones.
#[derive(Debug)]
pub struct FocusFollower {
    key: PublicKey,
    session: SessionId,
    current: Option<Decision>,
    /// Messages dropped (malformed, foreign, forged); older ones are not counted.
    pub rejected: u64,
}

impl FocusFollower {
    pub fn new(key: PublicKey, session: SessionId) -> Self {
        FocusFollower {
            key,
            session,
            current: None,
            rejected: 0,
        }
    }

    /// The decision in force (the newest verified one).
    pub fn current(&self) -> Option<&Decision> {
        self.current.as_ref()
    }

    /// A focus message arrived (any JSON): `Ok(Some)` when it is a new decision to act on,
    /// `Ok(None)` when it is one already known or older.
    pub fn accept(&mut self, payload: &serde_json::Value) -> Result<Option<Decision>, FocusError> {
        let result = self.check(payload);
        if result.is_err() {
            self.rejected += 1;
        }
        result
    }

    fn check(&mut self, payload: &serde_json::Value) -> Result<Option<Decision>, FocusError> {
        let signed = SignedDecision::from_value(payload).map_err(|_| FocusError::Malformed)?;
        let decision = signed.verify(&self.key)?;
        if decision.session != self.session {
            return Err(FocusError::OtherSession);
        }
        if self.current.as_ref().is_some_and(|c| c.seq >= decision.seq) {
            return Ok(None);
        }
        self.current = Some(decision.clone());
        Ok(Some(decision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(seq: u64, topology: Topology, node: Option<&str>) -> Decision {
        Decision {
            session: SessionId::from_bytes([3; 16]),
            seq,
            topology,
            node: node.map(str::to_owned),
            reason: Reason::Threshold,
            at: 1_700_000_000_000 + seq,
        }
    }

    fn json(signed: &SignedDecision) -> serde_json::Value {
        serde_json::to_value(signed).unwrap()
    }

    #[test]
    fn clients_act_on_newer_verified_decisions_of_their_session_only() {
        let key = FocusKey::from_seed([1; 32]);
        let mut follower = FocusFollower::new(key.public(), SessionId::from_bytes([3; 16]));
        let first = json(&key.sign(&decision(1, Topology::P2p, None)));
        let second = json(&key.sign(&decision(2, Topology::Sfu, Some("n1"))));
        assert_eq!(follower.accept(&first).unwrap().unwrap().seq, 1);
        let d = follower.accept(&second).unwrap().unwrap();
        assert_eq!((d.topology, d.node.as_deref()), (Topology::Sfu, Some("n1")));
        // A replay of either changes nothing.
        assert_eq!(follower.accept(&first), Ok(None));
        assert_eq!(follower.accept(&second), Ok(None));
        assert_eq!(follower.current().unwrap().seq, 2);
        assert_eq!(follower.rejected, 0);
    }

    #[test]
    fn forged_altered_and_foreign_decisions_are_refused() {
        let key = FocusKey::from_seed([1; 32]);
        let forger = FocusKey::from_seed([2; 32]);
        let mut follower = FocusFollower::new(key.public(), SessionId::from_bytes([3; 16]));
        let forged = json(&forger.sign(&decision(5, Topology::Sfu, Some("evil"))));
        assert_eq!(follower.accept(&forged), Err(FocusError::Signature));
        // A real decision with its node changed.
        let mut altered = key.sign(&decision(5, Topology::Sfu, Some("n1")));
        altered.node = Some("n2".into());
        assert_eq!(follower.accept(&json(&altered)), Err(FocusError::Signature));
        // A higher seq pasted onto a real signature.
        let mut bumped = key.sign(&decision(5, Topology::Sfu, Some("n1")));
        bumped.seq = 99;
        assert_eq!(follower.accept(&json(&bumped)), Err(FocusError::Signature));
        // Another session's genuine decision.
        let mut other = decision(6, Topology::Sfu, Some("n1"));
        other.session = SessionId::from_bytes([4; 16]);
        assert_eq!(
            follower.accept(&json(&key.sign(&other))),
            Err(FocusError::OtherSession)
        );
        for junk in [
            serde_json::json!(null),
            serde_json::json!({"v": 1}),
            serde_json::json!({"v": 2, "session": "x", "seq": 1, "topology": "sfu", "reason": "start", "at": 0, "sig": ""}),
            serde_json::json!([1, 2, 3]),
        ] {
            assert_eq!(follower.accept(&junk), Err(FocusError::Malformed));
        }
        assert_eq!(follower.rejected, 8);
        assert!(follower.current().is_none());
    }
}
