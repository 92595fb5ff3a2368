//! Signaling messages: addressed, typed, carried as Realtime broadcasts on the session channel.
//!
//! The envelope keeps the routing fields (`from`, `to`) apart from the body and its kind, which
//! `sealed` encrypts together; receivers drop anything not addressed to them.

use serde::{Deserialize, Serialize};

/// The broadcast event name every signaling message uses.
pub const SIGNAL_EVENT: &str = "signal";

/// Largest signaling payload we accept (an SDP offer is a few KB).
pub(crate) const MAX_SIGNAL_BYTES: usize = 64 * 1024;

/// One addressed signaling message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalEnvelope {
    /// Sender's participant id.
    pub from: String,
    /// Recipient's participant id; `None` for everyone in the session.
    #[serde(default)]
    pub to: Option<String>,
    /// What it is (sealed with its content on the wire).
    #[serde(flatten)]
    pub body: SignalBody,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// The messages of the session protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "body", rename_all = "snake_case")]
pub enum SignalBody {
    /// An SDP offer or answer.
    Description(Description),
    /// A trickled ICE candidate; `None` marks the end of candidates.
    Candidate(Option<CandidateInit>),
    /// The host will not serve this participant.
    Refused(RefusalReason),
    /// Whether the host is sharing right now (sent on change and to each newcomer). `unable`:
    /// the host's tab cannot send media at all (its E2EE worker failed) until it is reloaded;
    /// on the wire only when true.
    Share {
        sharing: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        unable: bool,
    },
    /// The host ended the session for everyone.
    Ended,
    /// The host's page is going away (tab closed, reloaded, navigated).
    Leaving,
    /// The host must let this participant in first (after a removal, nobody new gets in
    /// without the host's OK); admission is a `share` signal, a refusal `refused`.
    Waiting,
    /// Where the host's screen is published on the SFU (`None`: it is not; media comes peer to
    /// peer). Sent on change and to each newcomer.
    Sfu(Option<SfuRoute>),
    /// A guest's picture now comes from the SFU (it decodes there): the host may stop sending
    /// it the screen peer to peer. Make-before-break of an upgrade.
    SfuLive,
    /// Where the sender's own voice is published on the SFU (`None`: it is not — microphone
    /// off, or not in SFU mode). Sent by any participant, to everyone on change and to each
    /// newcomer; a listener subscribes only to feeds announced this way by a verified sender
    /// and decrypts them with that sender's key.
    Voice(Option<SfuRoute>),
    /// The host to one participant: the media secret of a new epoch, wrapped to that
    /// participant's agreement key (`e2ee::rekey`). Sent to everyone admitted when the host
    /// removes someone, and to each participant it admits later.
    MediaKey { epoch: u32, key: String },
    /// A participant to the host: it holds `epoch`'s secret (the host encrypts in a new epoch
    /// once everyone has it).
    MediaKeyAck { epoch: u32 },
}

/// The host's publication on the session's SFU room: guests subscribe to `feed` in `room` (a
/// room that differs from their grant's means the SFU restarted: ask for a fresh grant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SfuRoute {
    pub room: u64,
    pub feed: u64,
}

/// An RTCSessionDescriptionInit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    #[serde(rename = "type")]
    pub kind: SdpKind,
    pub sdp: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdpKind {
    Offer,
    Answer,
}

/// An RTCIceCandidateInit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateInit {
    pub candidate: String,
    #[serde(default)]
    pub sdp_mid: Option<String>,
    #[serde(default)]
    pub sdp_m_line_index: Option<u16>,
}

/// Why the host refused someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The soft limit for this role is reached.
    Full,
    /// The host removed this participant.
    Removed,
    /// The host did not let this participant in.
    Denied,
}

/// Why an incoming signal was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    #[error("signal larger than {MAX_SIGNAL_BYTES} bytes")]
    TooLarge,
    #[error("malformed signal: {0}")]
    Malformed(String),
    #[error("signal addressed to someone else")]
    NotForUs,
    #[error("signal claims to come from us")]
    FromSelf,
    #[error("signal failed authentication (not sealed with this session's room key)")]
    Unauthentic,
    #[error("signal addressed to us but not sealed to our key (or its sender's key is unknown)")]
    NotSealedToUs,
    #[error("signal from someone who is not a verified participant")]
    UnknownSender,
    #[error("signal not signed by the participant it claims to come from")]
    Forged,
    #[error("signal signed for an earlier join of its sender")]
    Stale,
    #[error("signal replayed or out of order")]
    Replayed,
}

impl SignalBody {
    /// The kind tag this body travels under (sealed and signed with it on the wire).
    pub fn kind(&self) -> &'static str {
        match self {
            SignalBody::Description(_) => "description",
            SignalBody::Candidate(_) => "candidate",
            SignalBody::Refused(_) => "refused",
            SignalBody::Share { .. } => "share",
            SignalBody::Ended => "ended",
            SignalBody::Leaving => "leaving",
            SignalBody::Waiting => "waiting",
            SignalBody::Sfu(_) => "sfu",
            SignalBody::SfuLive => "sfu_live",
            SignalBody::Voice(_) => "voice",
            SignalBody::MediaKey { .. } => "media_key",
            SignalBody::MediaKeyAck { .. } => "media_key_ack",
        }
    }

    /// The body's content (`body` on the wire), `Null` for the kinds that carry none. With
    /// [`Self::kind`], the same two parts the derived adjacently tagged form has, without its
    /// generic (and, in the app, large) serde code on the hot path.
    pub fn content(&self) -> serde_json::Value {
        use serde_json::{json, to_value, Value};
        match self {
            SignalBody::Description(d) => to_value(d).unwrap_or(Value::Null),
            SignalBody::Candidate(c) => to_value(c).unwrap_or(Value::Null),
            SignalBody::Refused(r) => to_value(r).unwrap_or(Value::Null),
            SignalBody::Share {
                sharing,
                unable: false,
            } => json!({ "sharing": sharing }),
            SignalBody::Share { sharing, unable } => {
                json!({ "sharing": sharing, "unable": unable })
            }
            SignalBody::Sfu(route) | SignalBody::Voice(route) => {
                to_value(route).unwrap_or(Value::Null)
            }
            SignalBody::MediaKey { epoch, key } => json!({ "epoch": epoch, "key": key }),
            SignalBody::MediaKeyAck { epoch } => json!({ "epoch": epoch }),
            SignalBody::Ended | SignalBody::Leaving | SignalBody::Waiting | SignalBody::SfuLive => {
                Value::Null
            }
        }
    }

    /// A body from its two parts; `content` is `None` when the wire had no `body` field. The
    /// inverse of [`Self::kind`] and [`Self::content`], reading exactly what the derived
    /// adjacently tagged form reads (a test holds them equal; the one exception is serde's
    /// one-key object form of an enum's unit variant — `{"full": null}` for a refusal,
    /// `{"offer": null}` for an SDP type — which nobody writes, and which we refuse):
    /// an unknown kind, a missing content where one is needed, content on a kind that has
    /// none, or content of the wrong shape is an error; a missing optional content is `None`.
    /// Read by hand rather than by serde's derived code, which was 4.5 KB of the guest app.
    pub fn from_parts(kind: &str, content: Option<serde_json::Value>) -> Result<Self, String> {
        const KINDS: [&str; 12] = [
            "description",
            "candidate",
            "refused",
            "share",
            "sfu",
            "voice",
            "media_key",
            "media_key_ack",
            "ended",
            "leaving",
            "waiting",
            "sfu_live",
        ];
        if !KINDS.contains(&kind) {
            return Err(format!("unknown signal kind \"{kind}\""));
        }
        Self::read(kind, content.as_ref()).ok_or_else(|| format!("{kind}: malformed body"))
    }

    fn read(kind: &str, content: Option<&serde_json::Value>) -> Option<Self> {
        use serde_json::Value;
        // Content that may be left out or null (an `Option`'s `None`).
        let optional = content.filter(|c| !c.is_null());
        match kind {
            "description" => {
                let [sdp_kind, sdp] = fields(content, ["type", "sdp"], false)?;
                let kind = match sdp_kind?.as_str()? {
                    "offer" => SdpKind::Offer,
                    "answer" => SdpKind::Answer,
                    _ => return None,
                };
                Some(SignalBody::Description(Description {
                    kind,
                    sdp: sdp?.as_str()?.to_owned(),
                }))
            }
            "candidate" => match optional {
                None => Some(SignalBody::Candidate(None)),
                Some(c) => {
                    let [candidate, mid, index] =
                        fields(Some(c), ["candidate", "sdpMid", "sdpMLineIndex"], false)?;
                    let sdp_mid = match mid.filter(|m| !m.is_null()) {
                        None => None,
                        Some(m) => Some(m.as_str()?.to_owned()),
                    };
                    let sdp_m_line_index = match index.filter(|i| !i.is_null()) {
                        None => None,
                        Some(i) => Some(u16::try_from(i.as_u64()?).ok()?),
                    };
                    Some(SignalBody::Candidate(Some(CandidateInit {
                        candidate: candidate?.as_str()?.to_owned(),
                        sdp_mid,
                        sdp_m_line_index,
                    })))
                }
            },
            "refused" => match content.and_then(Value::as_str) {
                Some("full") => Some(SignalBody::Refused(RefusalReason::Full)),
                Some("removed") => Some(SignalBody::Refused(RefusalReason::Removed)),
                Some("denied") => Some(SignalBody::Refused(RefusalReason::Denied)),
                _ => None,
            },
            "share" => {
                let [sharing, unable] = fields(content, ["sharing", "unable"], true)?;
                Some(SignalBody::Share {
                    sharing: sharing?.as_bool()?,
                    unable: match unable {
                        None => false,
                        Some(u) => u.as_bool()?,
                    },
                })
            }
            "sfu" | "voice" => {
                let route = match optional {
                    None => None,
                    Some(r) => {
                        let [room, feed] = fields(Some(r), ["room", "feed"], false)?;
                        Some(SfuRoute {
                            room: room?.as_u64()?,
                            feed: feed?.as_u64()?,
                        })
                    }
                };
                Some(match kind {
                    "sfu" => SignalBody::Sfu(route),
                    _ => SignalBody::Voice(route),
                })
            }
            "media_key" => {
                let [epoch, key] = fields(content, ["epoch", "key"], true)?;
                Some(SignalBody::MediaKey {
                    epoch: u32::try_from(epoch?.as_u64()?).ok()?,
                    key: key?.as_str()?.to_owned(),
                })
            }
            "media_key_ack" => {
                let [epoch] = fields(content, ["epoch"], true)?;
                Some(SignalBody::MediaKeyAck {
                    epoch: u32::try_from(epoch?.as_u64()?).ok()?,
                })
            }
            _ if optional.is_some() => None,
            "ended" => Some(SignalBody::Ended),
            "leaving" => Some(SignalBody::Leaving),
            "waiting" => Some(SignalBody::Waiting),
            _ => Some(SignalBody::SfuLive),
        }
    }
}

/// A struct's fields as serde reads them from JSON: by name from an object (other names
/// ignored), or in order from an array of at most as many elements (serde's sequence form;
/// `objects_only` for a variant's own fields, which the derived form reads from objects
/// only). `None` when `content` is neither, or missing.
fn fields<'a, const N: usize>(
    content: Option<&'a serde_json::Value>,
    names: [&str; N],
    objects_only: bool,
) -> Option<[Option<&'a serde_json::Value>; N]> {
    use serde_json::Value;
    match content? {
        Value::Object(map) => Some(names.map(|n| map.get(n))),
        Value::Array(items) if !objects_only && items.len() <= N => {
            let mut at = 0;
            Some(names.map(|_| {
                at += 1;
                items.get(at - 1)
            }))
        }
        _ => None,
    }
}

impl SignalEnvelope {
    /// The broadcast payload.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("signal envelopes always serialise")
    }

    /// Reads a broadcast payload and keeps it only if it is for `me` (directly or to all).
    pub fn receive(payload: &serde_json::Value, me: &str) -> Result<Self, SignalError> {
        // Sizing by re-serialising is cheap at these sizes and bounds what follows.
        if payload.to_string().len() > MAX_SIGNAL_BYTES {
            return Err(SignalError::TooLarge);
        }
        let envelope: SignalEnvelope = serde_json::from_value(payload.clone())
            .map_err(|e| SignalError::Malformed(e.to_string()))?;
        if envelope.from == me {
            return Err(SignalError::FromSelf);
        }
        match &envelope.to {
            Some(to) if to != me => Err(SignalError::NotForUs),
            _ => Ok(envelope),
        }
    }
}

/// One of every kind of body, each variant with and without its optional parts (for tests here
/// and in `sealed`).
#[cfg(test)]
pub(crate) fn every_body() -> Vec<SignalBody> {
    let route = SfuRoute { room: 7, feed: 9 };
    vec![
        SignalBody::Description(Description {
            kind: SdpKind::Offer,
            sdp: "v=0\r\na=fingerprint:sha-256 AB:CD".into(),
        }),
        SignalBody::Description(Description {
            kind: SdpKind::Answer,
            sdp: "v=0".into(),
        }),
        SignalBody::Candidate(Some(CandidateInit {
            candidate: "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
        })),
        SignalBody::Candidate(None),
        SignalBody::Refused(RefusalReason::Full),
        SignalBody::Refused(RefusalReason::Removed),
        SignalBody::Refused(RefusalReason::Denied),
        SignalBody::Share {
            sharing: false,
            unable: false,
        },
        SignalBody::Share {
            sharing: true,
            unable: false,
        },
        SignalBody::Share {
            sharing: false,
            unable: true,
        },
        SignalBody::Ended,
        SignalBody::Leaving,
        SignalBody::Waiting,
        SignalBody::Sfu(Some(route)),
        SignalBody::Sfu(None),
        SignalBody::SfuLive,
        SignalBody::Voice(Some(route)),
        SignalBody::Voice(None),
        SignalBody::MediaKey {
            epoch: 3,
            key: "k".into(),
        },
        SignalBody::MediaKeyAck { epoch: 3 },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_shape_keeps_routing_fields_in_the_clear() {
        let env = SignalEnvelope {
            from: "a".into(),
            to: Some("b".into()),
            body: SignalBody::Description(Description {
                kind: SdpKind::Offer,
                sdp: "v=0".into(),
            }),
        };
        assert_eq!(
            env.to_json(),
            json!({"from":"a","to":"b","kind":"description","body":{"type":"offer","sdp":"v=0"}})
        );
        let end = SignalEnvelope {
            from: "h".into(),
            to: None,
            body: SignalBody::Ended,
        };
        assert_eq!(end.to_json(), json!({"from":"h","to":null,"kind":"ended"}));
        let cand = SignalEnvelope {
            from: "h".into(),
            to: Some("b".into()),
            body: SignalBody::Candidate(None),
        };
        assert_eq!(
            cand.to_json(),
            json!({"from":"h","to":"b","kind":"candidate","body":null})
        );
        let removed = SignalEnvelope {
            from: "h".into(),
            to: Some("b".into()),
            body: SignalBody::Refused(RefusalReason::Removed),
        };
        assert_eq!(
            removed.to_json(),
            json!({"from":"h","to":"b","kind":"refused","body":"removed"})
        );
        let denied = json!({"from":"h","to":"b","kind":"refused","body":"denied"});
        assert_eq!(
            SignalEnvelope::receive(&denied, "b").map(|e| e.body),
            Ok(SignalBody::Refused(RefusalReason::Denied))
        );
        let waiting = SignalEnvelope {
            from: "h".into(),
            to: Some("b".into()),
            body: SignalBody::Waiting,
        };
        assert_eq!(
            waiting.to_json(),
            json!({"from":"h","to":"b","kind":"waiting"})
        );
        // `unable` is on the wire only when true: a host that can send writes what it always
        // wrote, and a guest that never heard of it reads it.
        let share = |unable| SignalEnvelope {
            from: "h".into(),
            to: None,
            body: SignalBody::Share {
                sharing: false,
                unable,
            },
        };
        assert_eq!(
            share(false).to_json(),
            json!({"from":"h","to":null,"kind":"share","body":{"sharing":false}})
        );
        assert_eq!(
            share(true).to_json(),
            json!({"from":"h","to":null,"kind":"share","body":{"sharing":false,"unable":true}})
        );
    }

    /// The hand-written parts read and write exactly what the derived adjacently tagged form
    /// does, for every body and for a grid of kinds × contents, well-formed or not.
    #[test]
    fn parts_agree_with_the_derived_form() {
        let bodies = every_body();
        for body in &bodies {
            let derived = serde_json::to_value(body).unwrap();
            assert_eq!(derived["kind"], body.kind(), "{body:?}");
            let content = derived.get("body").cloned();
            assert_eq!(
                content.clone().unwrap_or(serde_json::Value::Null),
                body.content(),
                "{body:?}"
            );
            assert_eq!(
                SignalBody::from_parts(body.kind(), content).as_ref(),
                Ok(body)
            );
        }
        let kinds = bodies
            .iter()
            .map(SignalBody::kind)
            .chain(["nope", "", "Ended", "sfuLive"]);
        let contents = [
            None,
            Some(json!(null)),
            Some(json!({})),
            Some(json!({"sharing": true})),
            Some(json!({"sharing": true, "more": 1})),
            Some(json!({"sharing": 1})),
            Some(json!({"sharing": false, "unable": true})),
            Some(json!({"sharing": false, "unable": false})),
            Some(json!({"sharing": false, "unable": "yes"})),
            Some(json!("removed")),
            Some(json!("nope")),
            Some(json!({"full": null})),
            Some(json!({"type": {"offer": null}, "sdp": "v"})),
            Some(json!({"type": "offer", "sdp": "v"})),
            Some(json!({"type": "pranswer", "sdp": "v"})),
            Some(json!({"candidate": "c"})),
            Some(json!({"candidate": "c", "sdpMLineIndex": 70000})),
            Some(json!({"room": 1, "feed": 2})),
            Some(json!({"room": -1, "feed": 2})),
            Some(json!({"epoch": 3, "key": "k"})),
            Some(json!({"epoch": 3})),
            Some(json!({"epoch": 5_000_000_000_u64})),
            Some(json!([1])),
            Some(json!(5)),
        ];
        for kind in kinds {
            for content in &contents {
                let mut tagged = json!({ "kind": kind });
                if let Some(c) = content {
                    tagged["body"] = c.clone();
                }
                let derived = serde_json::from_value::<SignalBody>(tagged).ok();
                let parts = SignalBody::from_parts(kind, content.clone()).ok();
                if *content == Some(json!({"type": {"offer": null}, "sdp": "v"}))
                    && kind == "description"
                {
                    assert_eq!(parts, None);
                    assert!(derived.is_some(), "serde reads the one-key form");
                    continue;
                }
                if *content == Some(json!({"full": null})) && kind == "refused" {
                    // The form serde reads and we do not (see `from_parts`).
                    assert_eq!(
                        (parts, derived),
                        (None, Some(SignalBody::Refused(RefusalReason::Full)))
                    );
                    continue;
                }
                assert_eq!(parts, derived, "kind {kind:?}, content {content:?}");
            }
        }
    }

    fn content() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u32>().prop_map(Value::from),
            prop_oneof![
                Just("offer"),
                Just("answer"),
                Just("removed"),
                Just("full"),
                Just("c"),
                Just("")
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(2, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("type"),
                        Just("sdp"),
                        Just("candidate"),
                        Just("sdpMid"),
                        Just("sdpMLineIndex"),
                        Just("sharing"),
                        Just("unable"),
                        Just("room"),
                        Just("feed"),
                        Just("epoch"),
                        Just("key"),
                        Just("other"),
                    ]
                    .prop_map(str::to_owned),
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever arrives, the parts read it as the derived form does (and never panic).
        #[test]
        fn parts_agree_on_anything(
            kind in proptest::sample::select(vec![
                "description", "candidate", "refused", "share", "ended", "leaving", "waiting",
                "sfu", "sfu_live", "voice", "media_key", "media_key_ack", "other",
            ]),
            content in proptest::option::of(content()),
        ) {
            let mut tagged = json!({ "kind": kind });
            if let Some(c) = &content {
                tagged["body"] = c.clone();
            }
            let derived = serde_json::from_value::<SignalBody>(tagged).ok();
            proptest::prop_assert_eq!(SignalBody::from_parts(kind, content).ok(), derived);
        }
    }

    #[test]
    fn routing_drops_what_is_not_ours() {
        let for_b = json!({"from":"a","to":"b","kind":"share","body":{"sharing":true}});
        assert!(SignalEnvelope::receive(&for_b, "b").is_ok());
        assert_eq!(
            SignalEnvelope::receive(&for_b, "c"),
            Err(SignalError::NotForUs)
        );
        assert_eq!(
            SignalEnvelope::receive(&for_b, "a"),
            Err(SignalError::FromSelf)
        );
        let to_all = json!({"from":"a","kind":"ended"});
        assert!(SignalEnvelope::receive(&to_all, "z").is_ok());
    }

    #[test]
    fn malformed_and_oversize_signals_are_errors() {
        for bad in [
            json!(null),
            json!({"from":"a"}),
            json!({"from":"a","kind":"nope"}),
            json!({"from":1,"kind":"ended"}),
            json!({"from":"a","kind":"description","body":{"type":"pranswer","sdp":""}}),
        ] {
            assert!(matches!(
                SignalEnvelope::receive(&bad, "b"),
                Err(SignalError::Malformed(_))
            ));
        }
        let huge = json!({"from":"a","kind":"description","body":{"type":"offer","sdp":"x".repeat(70_000)}});
        assert_eq!(
            SignalEnvelope::receive(&huge, "b"),
            Err(SignalError::TooLarge)
        );
    }
}
