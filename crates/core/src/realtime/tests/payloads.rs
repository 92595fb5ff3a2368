//! Typed payloads: the server's lenient join parsing and the client-side decoders.

use serde_json::json;

use crate::realtime::{
    read_state, JoinPayload, PresenceDiff, PresenceMeta, PresenceRequest, PresenceState,
    ReplyPayload, ReplyStatus,
};

#[test]
fn join_defaults_when_config_is_absent() {
    let parsed = JoinPayload::parse(&json!({}));
    assert!(parsed.invalid.is_empty());
    let config = parsed.join.config;
    assert!(!config.broadcast.ack && !config.broadcast.self_broadcast);
    assert!(config.presence.enabled, "presence is on unless disabled");
    assert_eq!(config.presence.key, "");
    assert!(!config.private);
    assert_eq!(parsed.join.access_token, None);
}

#[test]
fn join_booleans_may_be_strings() {
    let parsed = JoinPayload::parse(&json!({"config": {
        "broadcast": {"ack": "true", "self": "1"},
        "presence": {"enabled": "false", "key": 42},
        "private": "0"
    }}));
    assert!(parsed.invalid.is_empty(), "{:?}", parsed.invalid);
    let config = parsed.join.config;
    assert!(config.broadcast.ack && config.broadcast.self_broadcast);
    assert!(!config.presence.enabled);
    assert_eq!(config.presence.key, "42");
}

#[test]
fn unreadable_join_fields_keep_defaults_and_are_reported() {
    let parsed = JoinPayload::parse(&json!({
        "config": {"broadcast": {"ack": "yes", "self": true}, "presence": [], "private": 3},
        "access_token": 5
    }));
    assert_eq!(
        parsed.invalid,
        vec![
            "config.broadcast.ack",
            "config.presence",
            "config.private",
            "access_token"
        ]
    );
    assert!(!parsed.join.config.broadcast.ack);
    assert!(parsed.join.config.broadcast.self_broadcast);
    assert!(parsed.join.config.presence.enabled);
    // Not even an object: everything defaults.
    let parsed = JoinPayload::parse(&json!("nonsense"));
    assert_eq!(parsed.invalid, vec!["payload"]);
}

#[test]
fn user_token_wins_over_access_token() {
    let parsed = JoinPayload::parse(&json!({"access_token": "a", "user_token": "u"}));
    assert_eq!(parsed.join.access_token.as_deref(), Some("u"));
}

#[test]
fn reply_payloads_decode() {
    let ok = ReplyPayload::from_value(&json!({"status": "ok", "response": {}})).unwrap();
    assert_eq!(ok.status, ReplyStatus::Ok);
    let err =
        ReplyPayload::from_value(&json!({"status": "error", "response": "payload_size_exceeded"}))
            .unwrap();
    assert_eq!(err.status, ReplyStatus::Error);
    assert_eq!(err.response, "payload_size_exceeded");
    assert!(ReplyPayload::from_value(&json!({"status": "maybe"})).is_none());
}

#[test]
fn presence_metas_keep_refs_apart_from_the_payload() {
    let diff: PresenceDiff = serde_json::from_value(json!({
        "joins": {"k": {"metas": [{"phx_ref": "b", "phx_ref_prev": "a", "name": "bob"}]}},
        "leaves": {"k": {"metas": [{"phx_ref": "a", "name": "al"}]}}
    }))
    .unwrap();
    let joined: &PresenceMeta = &diff.joins["k"].metas[0];
    assert_eq!(joined.phx_ref, "b");
    assert_eq!(joined.phx_ref_prev.as_deref(), Some("a"));
    assert_eq!(joined.payload.get("name"), Some(&json!("bob")));
    assert!(!joined.payload.contains_key("phx_ref"));
    assert_eq!(
        serde_json::to_string(joined).unwrap(),
        r#"{"phx_ref":"b","phx_ref_prev":"a","name":"bob"}"#
    );
    assert!(serde_json::from_value::<PresenceMeta>(json!({"name": "no ref"})).is_err());
}

#[test]
fn the_clients_presence_readers_agree_with_the_serde_forms() {
    let good = [
        json!({"joins": {}, "leaves": {}}),
        json!({
            "joins": {"b": {"metas": [{"phx_ref": "2", "role": "viewer"}, {"phx_ref": "3", "phx_ref_prev": null}]},
                      "a": {"metas": [], "other": 1}},
            "leaves": {"c": {"metas": [{"phx_ref": "1", "phx_ref_prev": "0", "x": [1, 2]}]}},
            "extra": true
        }),
    ];
    for v in good {
        let serde: PresenceDiff = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(PresenceDiff::read(v.clone()), Some(serde.clone()));
        let state: PresenceState = serde_json::from_value(v["joins"].clone()).unwrap();
        assert_eq!(read_state(v["joins"].clone()), Some(state));
    }
    let bad = [
        json!(null),
        json!([]),
        json!({"joins": {}}),
        json!({"joins": {}, "leaves": []}),
        json!({"joins": {"k": {}}, "leaves": {}}),
        json!({"joins": {"k": {"metas": {}}}, "leaves": {}}),
        json!({"joins": {"k": {"metas": [1]}}, "leaves": {}}),
        json!({"joins": {"k": {"metas": [{"name": "no ref"}]}}, "leaves": {}}),
        json!({"joins": {"k": {"metas": [{"phx_ref": 1}]}}, "leaves": {}}),
        json!({"joins": {"k": {"metas": [{"phx_ref": "1", "phx_ref_prev": 2}]}}, "leaves": {}}),
    ];
    for v in bad {
        assert!(
            serde_json::from_value::<PresenceDiff>(v.clone()).is_err(),
            "{v}"
        );
        assert_eq!(PresenceDiff::read(v.clone()), None, "{v}");
    }
}

#[test]
fn presence_requests_are_case_insensitive() {
    assert_eq!(
        PresenceRequest::parse(&json!({"type": "presence", "event": "TRACK"})),
        PresenceRequest::Track(json!({}))
    );
    assert_eq!(
        PresenceRequest::parse(&json!({"event": "UnTrack"})),
        PresenceRequest::Untrack
    );
    assert_eq!(
        PresenceRequest::parse(&json!({"event": "wave"})),
        PresenceRequest::Unknown("wave".into())
    );
    assert_eq!(PresenceRequest::parse(&json!([])), PresenceRequest::Missing);
    assert_eq!(
        serde_json::to_string(&PresenceRequest::Untrack).unwrap(),
        r#"{"type":"presence","event":"untrack"}"#
    );
}
