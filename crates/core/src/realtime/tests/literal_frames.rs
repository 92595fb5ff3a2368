//! The literal frames of reference/realtime-protocol.md, decoded and re-encoded byte for byte.

use crate::vecmap::VecMap;

use serde_json::{json, Map, Value};

use crate::realtime::{
    event, BroadcastMessage, Direction, EmptyObject, Envelope, ErrorReason, JoinPayload,
    JoinResponse, Message, PresenceDiff, PresenceEntry, PresenceMeta, PresenceRequest,
    PresenceState, Reply, SystemPayload, Vsn,
};

fn server<P: serde::Serialize + ?Sized>(
    join_ref: Option<&str>,
    msg_ref: Option<&str>,
    event: &str,
    payload: &P,
) -> String {
    Envelope {
        join_ref,
        msg_ref,
        topic: "realtime:room1",
        event,
        payload,
    }
    .encode(Vsn::V2, Direction::ServerToClient)
    .unwrap()
}

/// Decodes a client frame and checks that encoding it again gives the same bytes. A decoded
/// `Value` payload writes its keys sorted, so this holds for payloads whose keys already are;
/// typed payloads (below) keep any order.
fn client_round_trip(frame: &str) -> Message {
    let msg = Message::decode(frame, Vsn::V2).unwrap();
    assert_eq!(
        msg.encode(Vsn::V2, Direction::ClientToServer).unwrap(),
        frame
    );
    msg
}

/// Decodes a client frame and checks that re-encoding it decodes to the same message.
fn client_decode(frame: &str) -> Message {
    let msg = Message::decode(frame, Vsn::V2).unwrap();
    let again = msg.encode(Vsn::V2, Direction::ClientToServer).unwrap();
    assert_eq!(Message::decode(&again, Vsn::V2).unwrap(), msg);
    msg
}

#[test]
fn join_push_decodes_and_reencodes() {
    let frame = r#"["1","1","realtime:room1","phx_join",{"config":{"broadcast":{"ack":true,"self":false},"presence":{"key":"user-42","enabled":true},"postgres_changes":[],"private":false},"access_token":"<jwt>"}]"#;
    let msg = Message::decode(frame, Vsn::V2).unwrap();
    assert_eq!(msg.join_ref.as_deref(), Some("1"));
    assert_eq!(msg.msg_ref.as_deref(), Some("1"));
    assert_eq!(msg.topic, "realtime:room1");
    assert_eq!(msg.event, event::JOIN);
    let parsed = JoinPayload::parse(&msg.payload);
    assert!(parsed.invalid.is_empty());
    let join = parsed.join;
    assert!(join.config.broadcast.ack);
    assert!(!join.config.broadcast.self_broadcast);
    assert_eq!(join.config.presence.key, "user-42");
    assert!(join.config.presence.enabled);
    assert!(!join.config.private);
    assert_eq!(join.access_token.as_deref(), Some("<jwt>"));
    // The typed payload writes the same bytes realtime-js does.
    let encoded = Envelope {
        join_ref: Some("1"),
        msg_ref: Some("1"),
        topic: "realtime:room1",
        event: event::JOIN,
        payload: &join,
    }
    .encode(Vsn::V2, Direction::ClientToServer)
    .unwrap();
    assert_eq!(encoded, frame);
}

#[test]
fn join_reply_and_presence_state() {
    assert_eq!(
        server(
            Some("1"),
            Some("1"),
            event::REPLY,
            &Reply::ok(&JoinResponse::default())
        ),
        r#"["1","1","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}]"#
    );
    assert_eq!(
        server(
            Some("1"),
            None,
            event::PRESENCE_STATE,
            &PresenceState::new()
        ),
        r#"["1",null,"realtime:room1","presence_state",{}]"#
    );
}

#[test]
fn heartbeat_and_its_reply() {
    let msg = client_round_trip(r#"[null,"2","phoenix","heartbeat",{}]"#);
    assert_eq!(
        (msg.topic.as_str(), msg.event.as_str()),
        ("phoenix", "heartbeat")
    );
    let reply = Envelope {
        join_ref: None,
        msg_ref: Some("2"),
        topic: event::PHOENIX_TOPIC,
        event: event::REPLY,
        payload: &Reply::ok(&EmptyObject {}),
    };
    assert_eq!(
        reply.encode(Vsn::V2, Direction::ServerToClient).unwrap(),
        r#"[null,"2","phoenix","phx_reply",{"status":"ok","response":{}}]"#
    );
}

#[test]
fn text_broadcast_relay_and_ack() {
    let msg = client_decode(
        r#"["1","3","realtime:room1","broadcast",{"type":"broadcast","event":"cursor","payload":{"x":1}}]"#,
    );
    // The server relays the client's payload map; its keys come out in sorted order, as the
    // Realtime server (an Elixir map) writes them.
    assert_eq!(
        server(None, None, event::BROADCAST, &msg.payload),
        r#"[null,null,"realtime:room1","broadcast",{"event":"cursor","payload":{"x":1},"type":"broadcast"}]"#
    );
    let user_payload = json!({"x": 1});
    let typed = BroadcastMessage::new("cursor", &user_payload);
    assert_eq!(
        server(None, None, event::BROADCAST, &typed),
        r#"[null,null,"realtime:room1","broadcast",{"event":"cursor","payload":{"x":1},"type":"broadcast"}]"#
    );
    assert_eq!(
        server(
            Some("1"),
            Some("3"),
            event::REPLY,
            &Reply::ok(&EmptyObject {})
        ),
        r#"["1","3","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#
    );
}

#[test]
fn presence_track_reply_and_diff() {
    let frame = r#"["1","4","realtime:room1","presence",{"type":"presence","event":"track","payload":{"name":"alice"}}]"#;
    let msg = client_decode(frame);
    let track = PresenceRequest::Track(json!({"name": "alice"}));
    assert_eq!(PresenceRequest::parse(&msg.payload), track);
    // The typed request writes realtime-js's bytes.
    let encoded = Envelope {
        join_ref: Some("1"),
        msg_ref: Some("4"),
        topic: "realtime:room1",
        event: event::PRESENCE,
        payload: &track,
    }
    .encode(Vsn::V2, Direction::ClientToServer)
    .unwrap();
    assert_eq!(encoded, frame);
    let mut payload = Map::new();
    payload.insert("name".into(), Value::from("alice"));
    let meta = PresenceMeta {
        phx_ref: "GHlE8VLvxuKGzQJN".into(),
        phx_ref_prev: None,
        payload,
    };
    let diff = PresenceDiff {
        joins: VecMap::from([("user-42".to_owned(), PresenceEntry { metas: vec![meta] })]),
        leaves: VecMap::new(),
    };
    assert_eq!(
        server(None, None, event::PRESENCE_DIFF, &diff),
        r#"[null,null,"realtime:room1","presence_diff",{"joins":{"user-42":{"metas":[{"phx_ref":"GHlE8VLvxuKGzQJN","name":"alice"}]}},"leaves":{}}]"#
    );
    let untrack = client_decode(
        r#"["1","7","realtime:room1","presence",{"type":"presence","event":"untrack"}]"#,
    );
    assert_eq!(
        PresenceRequest::parse(&untrack.payload),
        PresenceRequest::Untrack
    );
}

#[test]
fn error_replies_leave_close_and_system() {
    let reason = ErrorReason {
        reason: "unmatched topic".into(),
    };
    assert_eq!(
        server(Some("1"), Some("1"), event::REPLY, &Reply::error(&reason)),
        r#"["1","1","realtime:room1","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#
    );
    let token =
        client_round_trip(r#"["1","5","realtime:room1","access_token",{"access_token":"<jwt>"}]"#);
    assert_eq!(token.payload["access_token"], "<jwt>");
    let leave = client_round_trip(r#"["1","6","realtime:room1","phx_leave",{}]"#);
    assert_eq!(leave.event, event::LEAVE);
    assert_eq!(
        server(Some("1"), Some("1"), event::CLOSE, &EmptyObject {}),
        r#"["1","1","realtime:room1","phx_close",{}]"#
    );
    assert_eq!(
        server(
            Some("1"),
            None,
            event::SYSTEM,
            &SystemPayload::error("room1", "Too many messages per second")
        ),
        r#"["1",null,"realtime:room1","system",{"extension":"system","status":"error","message":"Too many messages per second","channel":"room1"}]"#
    );
}

#[test]
fn vsn1_objects_both_directions() {
    // What realtime-js 1.0.0 writes: JSON.stringify of {topic, event, payload, ref, join_ref}.
    let frame = r#"{"topic":"realtime:room1","event":"broadcast","payload":{"event":"cursor","payload":{"x":1},"type":"broadcast"},"ref":"3","join_ref":"1"}"#;
    let msg = Message::decode(frame, Vsn::V1).unwrap();
    assert_eq!(msg.join_ref.as_deref(), Some("1"));
    assert_eq!(msg.payload["event"], "cursor");
    assert_eq!(
        msg.encode(Vsn::V1, Direction::ClientToServer).unwrap(),
        frame
    );
    // A heartbeat has no join_ref key at all.
    let heartbeat = r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"2"}"#;
    let msg = Message::decode(heartbeat, Vsn::V1).unwrap();
    assert_eq!(msg.join_ref, None);
    assert_eq!(
        msg.encode(Vsn::V1, Direction::ClientToServer).unwrap(),
        heartbeat
    );
    // The server writes topic, event, payload, ref — never join_ref.
    let push = Envelope {
        join_ref: Some("1"),
        msg_ref: None,
        topic: "realtime:room1",
        event: event::PRESENCE_STATE,
        payload: &PresenceState::new(),
    };
    assert_eq!(
        push.encode(Vsn::V1, Direction::ServerToClient).unwrap(),
        r#"{"topic":"realtime:room1","event":"presence_state","payload":{},"ref":null}"#
    );
}

#[test]
fn text_decoders_reject_malformed_frames() {
    for (frame, vsn) in [
        ("", Vsn::V2),
        ("not json", Vsn::V2),
        (r#"{"topic":"t"}"#, Vsn::V2),
        (r#"["1","1","t","e"]"#, Vsn::V2),
        (r#"["1","1",3,"e",{}]"#, Vsn::V2),
        (r#"[{},"1","t","e",{}]"#, Vsn::V2),
        (r#"["1","1","t","e",{}]"#, Vsn::V1),
        (r#"{"topic":"t","event":"e"}"#, Vsn::V1),
        (
            r#"{"topic":"t","event":"e","payload":{},"ref":[1]}"#,
            Vsn::V1,
        ),
    ] {
        assert!(
            Message::decode(frame, vsn).is_err(),
            "{frame} should not decode"
        );
    }
    // Phoenix tolerates trailing array elements and numeric refs.
    let msg = Message::decode(r#"[1,2,"t","e",{},"extra"]"#, Vsn::V2).unwrap();
    assert_eq!(msg.join_ref.as_deref(), Some("1"));
    assert_eq!(msg.msg_ref.as_deref(), Some("2"));
}

#[test]
fn vsn_query_values() {
    assert_eq!(Vsn::parse("1.0.0"), Some(Vsn::V1));
    assert_eq!(Vsn::parse("2.0.0"), Some(Vsn::V2));
    assert_eq!(Vsn::parse("2.0.7"), Some(Vsn::V2));
    for bad in ["", "2", "2.0", "2.1.0", "3.0.0", "2.0.0.0", "2.0.x"] {
        assert_eq!(Vsn::parse(bad), None, "{bad}");
    }
    assert_eq!(Vsn::default(), Vsn::V1);
    assert_eq!(Vsn::V2.as_str(), "2.0.0");
    assert!(Vsn::V2.carries_binary() && !Vsn::V1.carries_binary());
}
