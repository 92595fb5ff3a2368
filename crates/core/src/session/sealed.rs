//! Signaling as the realtime server sees it: routing fields in clear, everything else sealed
//! with a key only holders of the room key have (see `e2ee::signal`).
//!
//! Wire form of a broadcast payload:
//! `{"from": <id>, "to": <id>|null, "kind": <kind>, "sealed": <base64url(version ‖ nonce ‖ ct ‖ tag)>}`.
//! The routing fields are the AEAD's associated data, so the server can neither read a body
//! nor move it to another sender, recipient or kind.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::{SignalBody, SignalEnvelope, SignalError};
use crate::e2ee::signal::SEAL_NONCE_LEN;
use crate::e2ee::{SignalAad, SignalSealer};
use crate::link::RoomKey;

/// Seals outgoing and opens incoming signaling envelopes.
pub struct SignalCodec {
    sealer: SignalSealer,
}

impl SignalCodec {
    pub fn new(room: &RoomKey) -> Self {
        SignalCodec {
            sealer: SignalSealer::new(room),
        }
    }

    /// The broadcast payload for `envelope` (`nonce`: fresh random bytes).
    pub fn seal(&self, envelope: &SignalEnvelope, nonce: [u8; SEAL_NONCE_LEN]) -> Value {
        let (kind, body) = split(&envelope.body);
        let aad = SignalAad {
            from: &envelope.from,
            to: envelope.to.as_deref(),
            kind: &kind,
        };
        let plaintext = serde_json::to_vec(&body).expect("JSON values always serialise");
        let sealed = self.sealer.seal(aad, &plaintext, nonce);
        json!({
            "from": envelope.from,
            "to": envelope.to,
            "kind": kind,
            "sealed": URL_SAFE_NO_PAD.encode(sealed),
        })
    }

    /// Opens a broadcast payload addressed to `me` (directly or to all). Routing is checked
    /// before any decryption, so messages for others cost nothing.
    pub fn open(&self, payload: &Value, me: &str) -> Result<SignalEnvelope, SignalError> {
        if payload.to_string().len() > super::signal::MAX_SIGNAL_BYTES {
            return Err(SignalError::TooLarge);
        }
        let field = |name: &str| payload.get(name).and_then(Value::as_str);
        let (Some(from), Some(kind), Some(sealed)) =
            (field("from"), field("kind"), field("sealed"))
        else {
            return Err(SignalError::Malformed("missing routing fields".into()));
        };
        let to = match payload.get("to") {
            None | Some(Value::Null) => None,
            Some(Value::String(to)) => Some(to.as_str()),
            Some(_) => return Err(SignalError::Malformed("`to` is not a string".into())),
        };
        if from == me {
            return Err(SignalError::FromSelf);
        }
        if to.is_some_and(|to| to != me) {
            return Err(SignalError::NotForUs);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| SignalError::Malformed("`sealed` is not base64url".into()))?;
        let plaintext = self
            .sealer
            .open(SignalAad { from, to, kind }, &bytes)
            .map_err(|_| SignalError::Unauthentic)?;
        let body: Value = serde_json::from_slice(&plaintext)
            .map_err(|e| SignalError::Malformed(e.to_string()))?;
        let mut tagged = json!({ "kind": kind });
        if !body.is_null() || kind == "candidate" {
            tagged["body"] = body;
        }
        let body: SignalBody =
            serde_json::from_value(tagged).map_err(|e| SignalError::Malformed(e.to_string()))?;
        Ok(SignalEnvelope {
            from: from.to_owned(),
            to: to.map(str::to_owned),
            body,
        })
    }
}

/// The kind tag and the body's content of an envelope body (adjacently tagged).
fn split(body: &SignalBody) -> (String, Value) {
    let value = serde_json::to_value(body).expect("signal bodies always serialise");
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let content = value.get("body").cloned().unwrap_or(Value::Null);
    (kind, content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{CandidateInit, Description, SdpKind};

    fn codec(byte: u8) -> SignalCodec {
        SignalCodec::new(&RoomKey::from_bytes([byte; 32]))
    }

    fn all_bodies() -> Vec<SignalBody> {
        vec![
            SignalBody::Description(Description {
                kind: SdpKind::Offer,
                sdp: "v=0\r\na=fingerprint:sha-256 AB:CD".into(),
            }),
            SignalBody::Candidate(Some(CandidateInit {
                candidate: "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
            })),
            SignalBody::Candidate(None),
            SignalBody::Refused(crate::session::RefusalReason::Full),
            SignalBody::Share { sharing: false },
            SignalBody::Ended,
            SignalBody::Leaving,
        ]
    }

    #[test]
    fn every_body_round_trips_and_the_wire_shows_only_routing() {
        let c = codec(1);
        for body in all_bodies() {
            let env = SignalEnvelope {
                from: "host".into(),
                to: Some("guest".into()),
                body,
            };
            let wire = c.seal(&env, [7; SEAL_NONCE_LEN]);
            let text = wire.to_string();
            assert!(
                !text.contains("fingerprint") && !text.contains("candidate:"),
                "{text}"
            );
            assert_eq!(wire["from"], "host");
            assert_eq!(wire["to"], "guest");
            assert_eq!(c.open(&wire, "guest"), Ok(env));
        }
    }

    #[test]
    fn wrong_key_moved_fields_and_strangers_are_refused() {
        let env = SignalEnvelope {
            from: "host".into(),
            to: None,
            body: SignalBody::Ended,
        };
        let wire = codec(1).seal(&env, [0; SEAL_NONCE_LEN]);
        assert_eq!(codec(2).open(&wire, "g"), Err(SignalError::Unauthentic));
        // The server rewrites the sender, the recipient or the kind: authentication fails.
        for (field, value) in [
            ("from", json!("mallory")),
            ("to", json!("g")),
            ("kind", json!("share")),
        ] {
            let mut moved = wire.clone();
            moved[field] = value;
            assert_eq!(
                codec(1).open(&moved, "g"),
                Err(SignalError::Unauthentic),
                "{field}"
            );
        }
        assert_eq!(codec(1).open(&wire, "host"), Err(SignalError::FromSelf));
        let direct = codec(1).seal(
            &SignalEnvelope {
                to: Some("x".into()),
                ..env
            },
            [0; SEAL_NONCE_LEN],
        );
        assert_eq!(codec(1).open(&direct, "g"), Err(SignalError::NotForUs));
        for bad in [
            json!({}),
            json!({"from": "a", "kind": "ended", "sealed": "!!"}),
            json!(5),
        ] {
            assert!(matches!(
                codec(1).open(&bad, "g"),
                Err(SignalError::Malformed(_))
            ));
        }
    }
}
