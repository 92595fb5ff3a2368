//! The realtime client against the literal frames of reference/realtime-protocol.md: what it
//! writes compares byte for byte, what it reads turns into the documented events. Both
//! protocol versions.

use pairux_core::realtime::{BroadcastConfig, PresenceConfig, Vsn};
use pairux_core::realtime_client::{
    BroadcastBody, ChannelId, ChannelOptions, ChannelState, ClientEvent, ClientOptions,
    ConnectionState, Output, PushResult, RealtimeClient,
};
use serde_json::json;

const ENDPOINT: &str = "wss://abc.supabase.co/realtime/v1/websocket";

fn drain(client: &mut RealtimeClient) -> Vec<Output> {
    std::iter::from_fn(|| client.poll_output()).collect()
}

fn frames(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::SendText(text) => Some(text.clone()),
            Output::SendBinary(bytes) => Some(format!("bin:{bytes:?}")),
            _ => None,
        })
        .collect()
}

/// The message ref of a text frame written as a JSON array (`[join_ref, ref, …]`).
fn ref_of(frame: &str) -> String {
    frame.split('"').nth(3).unwrap().to_owned()
}

fn events(outputs: Vec<Output>) -> Vec<ClientEvent> {
    outputs
        .into_iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// The reference's room1 channel: ack on, presence key `user-42`, a user token.
fn room1(vsn: Vsn) -> (RealtimeClient, ChannelId) {
    let mut opts = ClientOptions::new(ENDPOINT, "anon");
    opts.vsn = vsn;
    let mut client = RealtimeClient::new(opts);
    client.set_access_token(0, "<jwt>".into());
    let ch = client.channel(
        "room1",
        ChannelOptions {
            broadcast: BroadcastConfig {
                ack: true,
                self_broadcast: false,
            },
            presence: PresenceConfig {
                key: "user-42".into(),
                enabled: true,
            },
            private: false,
        },
    );
    client.connect(0);
    client.join(0, ch);
    let out = drain(&mut client);
    let url = format!("{ENDPOINT}?apikey=anon&vsn={}", vsn.as_str());
    assert_eq!(out[0], Output::Connect { url });
    assert_eq!(
        frames(&out),
        Vec::<String>::new(),
        "nothing is written before the open"
    );
    (client, ch)
}

#[test]
fn vsn2_session_in_literal_frames() {
    let (mut client, ch) = room1(Vsn::V2);
    client.handle_open(10);
    let out = drain(&mut client);
    assert_eq!(
        frames(&out),
        [
            r#"["1","1","realtime:room1","phx_join",{"config":{"broadcast":{"ack":true,"self":false},"presence":{"key":"user-42","enabled":true},"postgres_changes":[],"private":false},"access_token":"<jwt>"}]"#
        ]
    );
    client.handle_text(20, r#"["1","1","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}]"#);
    client.handle_text(21, r#"["1",null,"realtime:room1","presence_state",{}]"#);
    let got = events(drain(&mut client));
    assert_eq!(
        got[0],
        ClientEvent::Channel {
            ch,
            state: ChannelState::Joined
        }
    );
    assert!(matches!(&got[1], ClientEvent::Presence { sync, .. } if sync.state.is_empty()));

    // Heartbeat 25 s after the open, sharing the ref counter.
    assert_eq!(client.poll_timeout(), Some(25_010));
    client.handle_timeout(25_010);
    assert_eq!(
        frames(&drain(&mut client)),
        [r#"[null,"2","phoenix","heartbeat",{}]"#]
    );
    client.handle_text(
        25_030,
        r#"[null,"2","phoenix","phx_reply",{"status":"ok","response":{}}]"#,
    );
    assert_eq!(client.poll_timeout(), Some(50_030));

    // Broadcast: realtime-js 2.x writes binary kind 3 with a JSON payload and empty meta.
    let id = client.broadcast(25_100, ch, "cursor", json!({"x": 1}));
    let out = drain(&mut client);
    let mut expected = vec![3u8, 1, 1, 14, 6, 0, 1];
    expected.extend_from_slice(b"13realtime:room1cursor{\"x\":1}");
    assert_eq!(out, [Output::SendBinary(expected)]);
    client.handle_text(
        25_120,
        r#"["1","3","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#,
    );
    assert_eq!(
        events(drain(&mut client)),
        [ClientEvent::PushDone {
            ch,
            id,
            result: PushResult::Ok(json!({}))
        }]
    );

    // Incoming broadcasts: JSON text and binary kind 4 (JSON and bytes).
    client.handle_text(25_200, r#"[null,null,"realtime:room1","broadcast",{"event":"cursor","payload":{"x":1},"type":"broadcast"}]"#);
    let mut kind4 = vec![4u8, 14, 6, 0, 1];
    kind4.extend_from_slice(b"realtime:room1cursor{\"x\":2}");
    client.handle_binary(25_201, &kind4);
    let mut kind4_bytes = vec![4u8, 14, 5, 0, 0];
    kind4_bytes.extend_from_slice(b"realtime:room1frame\x00\xff");
    client.handle_binary(25_202, &kind4_bytes);
    let broadcast = |event: &str, payload| ClientEvent::Broadcast {
        ch,
        event: event.into(),
        payload,
    };
    assert_eq!(
        events(drain(&mut client)),
        [
            broadcast("cursor", BroadcastBody::Json(json!({"x": 1}))),
            broadcast("cursor", BroadcastBody::Json(json!({"x": 2}))),
            broadcast("frame", BroadcastBody::Binary(vec![0, 255])),
        ]
    );

    // Presence track, its reply and the diff the tracker gets too.
    let id = client.track(25_300, ch, json!({"name": "alice"}));
    assert_eq!(
        frames(&drain(&mut client)),
        [
            r#"["1","4","realtime:room1","presence",{"type":"presence","event":"track","payload":{"name":"alice"}}]"#
        ]
    );
    client.handle_text(
        25_320,
        r#"["1","4","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#,
    );
    client.handle_text(25_321, r#"[null,null,"realtime:room1","presence_diff",{"joins":{"user-42":{"metas":[{"phx_ref":"GHlE8VLvxuKGzQJN","name":"alice"}]}},"leaves":{}}]"#);
    let got = events(drain(&mut client));
    assert_eq!(
        got[0],
        ClientEvent::PushDone {
            ch,
            id,
            result: PushResult::Ok(json!({}))
        }
    );
    let ClientEvent::Presence { sync, .. } = &got[1] else {
        panic!("presence expected: {got:?}")
    };
    assert_eq!(sync.joins[0].0, "user-42");
    assert_eq!(sync.state["user-42"].metas[0].phx_ref, "GHlE8VLvxuKGzQJN");

    // Token refresh, then leave → reply → close.
    client.set_access_token(25_400, "<jwt2>".into());
    assert_eq!(
        frames(&drain(&mut client)),
        [r#"["1","5","realtime:room1","access_token",{"access_token":"<jwt2>"}]"#]
    );
    client.leave(25_500, ch);
    assert_eq!(
        frames(&drain(&mut client)),
        [r#"["1","6","realtime:room1","phx_leave",{}]"#]
    );
    client.handle_text(
        25_520,
        r#"["1","6","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#,
    );
    client.handle_text(25_521, r#"["1","1","realtime:room1","phx_close",{}]"#);
    assert_eq!(
        events(drain(&mut client)),
        [ClientEvent::Channel {
            ch,
            state: ChannelState::Closed
        }]
    );
    assert_eq!(client.stats(), Default::default());
}

#[test]
fn vsn1_session_in_literal_frames() {
    let (mut client, ch) = room1(Vsn::V1);
    client.handle_open(10);
    assert_eq!(
        frames(&drain(&mut client)),
        [
            r#"{"topic":"realtime:room1","event":"phx_join","payload":{"config":{"broadcast":{"ack":true,"self":false},"presence":{"key":"user-42","enabled":true},"postgres_changes":[],"private":false},"access_token":"<jwt>"},"ref":"1","join_ref":"1"}"#
        ]
    );
    client.handle_text(20, r#"{"topic":"realtime:room1","event":"phx_reply","payload":{"status":"ok","response":{"postgres_changes":[]}},"ref":"1"}"#);
    client.handle_text(
        21,
        r#"{"topic":"realtime:room1","event":"presence_state","payload":{},"ref":null}"#,
    );
    let got = events(drain(&mut client));
    assert_eq!(
        got[0],
        ClientEvent::Channel {
            ch,
            state: ChannelState::Joined
        }
    );
    client.handle_timeout(25_010);
    assert_eq!(
        frames(&drain(&mut client)),
        [r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"2"}"#]
    );
    client.handle_text(25_020, r#"{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"2"}"#);
    // Broadcasts are JSON objects on vsn 1.0.0, keys in realtime-js's order.
    client.broadcast(25_100, ch, "cursor", json!({"x": 1}));
    assert_eq!(
        frames(&drain(&mut client)),
        [
            r#"{"topic":"realtime:room1","event":"broadcast","payload":{"type":"broadcast","event":"cursor","payload":{"x":1}},"ref":"3","join_ref":"1"}"#
        ]
    );
    client.handle_text(25_200, r#"{"topic":"realtime:room1","event":"broadcast","payload":{"event":"cursor","payload":{"x":1},"type":"broadcast"},"ref":null}"#);
    let got = events(drain(&mut client));
    assert_eq!(
        got.last(),
        Some(&ClientEvent::Broadcast {
            ch,
            event: "cursor".into(),
            payload: BroadcastBody::Json(json!({"x": 1}))
        })
    );
    // Binary frames do not exist on vsn 1.0.0.
    client.handle_binary(25_300, &[4, 1, 1, 0, 1, b'a', b'b', b'1']);
    assert_eq!(client.stats().malformed_frames, 1);
}

#[test]
fn join_errors_from_the_reference() {
    for (reason, token) in [
        ("InvalidJWTToken: Token has expired 12 seconds ago", true),
        (
            "InvalidJWTToken: Fields `role` and `exp` are required in JWT",
            true,
        ),
        ("MalformedJWT: The token provided is not a valid JWT", true),
        ("JwtSignatureError: Failed to validate JWT signature", true),
        ("ChannelRateLimitReached: Too many channels", false),
        (
            "Unauthorized: You do not have permissions to read from this Channel topic: room1",
            false,
        ),
    ] {
        let (mut client, ch) = room1(Vsn::V2);
        client.handle_open(10);
        drain(&mut client);
        let reply = json!(["1", "1", "realtime:room1", "phx_reply", {"status": "error", "response": {"reason": reason}}]);
        client.handle_text(5_010, &reply.to_string());
        let got = events(drain(&mut client));
        let errored = ClientEvent::Channel {
            ch,
            state: ChannelState::Errored {
                reason: reason.into(),
                retry_at: Some(6_010),
            },
        };
        if token {
            assert_eq!(
                got,
                [
                    ClientEvent::TokenRefused {
                        ch,
                        reason: reason.into()
                    },
                    errored
                ]
            );
        } else {
            assert_eq!(got, [errored]);
        }
    }
}

#[test]
fn system_error_then_close_and_phx_error_from_the_reference() {
    let (mut client, ch) = room1(Vsn::V2);
    client.handle_open(10);
    client.handle_text(20, r#"["1","1","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}]"#);
    drain(&mut client);
    client.handle_text(30, r#"["1","1","realtime:room1","phx_error",{}]"#);
    assert_eq!(
        events(drain(&mut client)),
        [ClientEvent::Channel {
            ch,
            state: ChannelState::Errored {
                reason: "phx_error".into(),
                retry_at: Some(1_030)
            }
        }]
    );
    client.handle_timeout(1_030);
    assert_eq!(
        frames(&drain(&mut client)),
        [
            r#"["2","2","realtime:room1","phx_join",{"config":{"broadcast":{"ack":true,"self":false},"presence":{"key":"user-42","enabled":true},"postgres_changes":[],"private":false},"access_token":"<jwt>"}]"#
        ]
    );
    client.handle_text(1_040, r#"["2","2","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}]"#);
    client.handle_text(1_050, r#"["2",null,"realtime:room1","system",{"extension":"system","status":"error","message":"Too many messages per second","channel":"room1"}]"#);
    client.handle_text(1_051, r#"["2","2","realtime:room1","phx_close",{}]"#);
    let got = events(drain(&mut client));
    assert_eq!(
        got[1..],
        [
            ClientEvent::System {
                ch,
                status: "error".into(),
                message: "Too many messages per second".into()
            },
            ClientEvent::Channel {
                ch,
                state: ChannelState::Closed
            },
        ]
    );
    assert_eq!(client.connection_state(), ConnectionState::Open);
}

/// The socket drops at `at` and opens again at the scheduled retry: when it retried, and the
/// frames written once it opened.
fn reconnect(client: &mut RealtimeClient, at: u64) -> (u64, Vec<String>) {
    client.handle_close(at, 1006, "");
    drain(client);
    let retry = client.poll_timeout().expect("a reconnect is scheduled");
    client.handle_timeout(retry);
    drain(client);
    client.handle_open(retry + 5);
    (retry, frames(&drain(client)))
}

/// Presence tracked with every join: the track is written right behind the join's frame, with
/// its join ref, so the server tracks us without waiting for the join's reply to reach the page;
/// its reply is expected (not stale), and a rejoin carries the newest meta.
#[test]
fn presence_tracked_with_each_join_is_written_behind_it() {
    let (mut client, ch) = room1(Vsn::V2);
    // Before the join is written: only remembered.
    assert_eq!(
        client.track_with_join(5, ch, json!({"name": "alice"})),
        None
    );
    assert_eq!(frames(&drain(&mut client)), Vec::<String>::new());
    client.handle_open(10);
    assert_eq!(
        frames(&drain(&mut client)),
        [
            r#"["1","1","realtime:room1","phx_join",{"config":{"broadcast":{"ack":true,"self":false},"presence":{"key":"user-42","enabled":true},"postgres_changes":[],"private":false},"access_token":"<jwt>"}]"#,
            r#"["1","2","realtime:room1","presence",{"type":"presence","event":"track","payload":{"name":"alice"}}]"#,
        ]
    );
    client.handle_text(20, r#"["1","1","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}]"#);
    client.handle_text(
        21,
        r#"["1","2","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#,
    );
    let got = events(drain(&mut client));
    assert_eq!(
        got,
        [ClientEvent::Channel {
            ch,
            state: ChannelState::Joined
        }],
        "the track's reply is nobody's push"
    );
    assert_eq!(client.stats().stale_messages, 0);

    // A new meta while joined is tracked at once, as a push.
    let id = client.track_with_join(30, ch, json!({"name": "bob"}));
    assert!(id.is_some());
    assert_eq!(
        frames(&drain(&mut client)),
        [
            r#"["1","3","realtime:room1","presence",{"type":"presence","event":"track","payload":{"name":"bob"}}]"#
        ]
    );

    // The socket drops and comes back: the rejoin carries the newest meta behind it.
    let (retry, written) = reconnect(&mut client, 40);
    assert_eq!(written.len(), 2, "{written:?}");
    assert!(written[0].contains("\"phx_join\""), "{written:?}");
    assert!(
        written[1].ends_with(r#""realtime:room1","presence",{"type":"presence","event":"track","payload":{"name":"bob"}}]"#),
        "{written:?}"
    );

    // A meta set for joins only (a paced re-track not sent yet) is not tracked now, but the
    // next rejoin carries it.
    client.handle_text(retry + 6, r#"["3","3","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}]"#);
    drain(&mut client);
    client.set_join_track(ch, json!({"name": "carol"}));
    assert_eq!(frames(&drain(&mut client)), Vec::<String>::new());
    let (_, written) = reconnect(&mut client, retry + 10);
    assert!(
        written.last().is_some_and(|f| f.ends_with(
            r#""presence",{"type":"presence","event":"track","payload":{"name":"carol"}}]"#
        )),
        "{written:?}"
    );

    // Untracked: later joins carry no track.
    let (mut client, ch) = room1(Vsn::V2);
    client.track_with_join(5, ch, json!({"name": "alice"}));
    client.untrack(6, ch);
    client.handle_open(10);
    let written = frames(&drain(&mut client));
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(written[0].contains("\"phx_join\""), "{written:?}");
}

/// A track the server refuses (its topic's presence is full) is told — whether it went with the
/// join or on its own — and, while no one sees us, tried again after `TRACK_RETRY_MS` (longer
/// each time) while joined, with the newest
/// meta; the first one held after a refusal is told, later ones are not. A rejoin meanwhile
/// carries the track itself.
#[test]
fn a_refused_presence_is_told_and_tracked_again_until_held() {
    use pairux_core::realtime_client::TRACK_RETRY_MS;
    const FULL: &str = r#"{"status":"error","response":{"reason":"PresenceLimitReached: this topic's presence is full"}}"#;
    let (mut client, ch) = room1(Vsn::V2);
    client.track_with_join(5, ch, json!({"name": "alice"}));
    client.handle_open(10);
    drain(&mut client);
    client.handle_text(20, r#"["1","1","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}]"#);
    client.handle_text(
        21,
        &format!(r#"["1","2","realtime:room1","phx_reply",{FULL}]"#),
    );
    let refused = |seen| ClientEvent::PresenceRefused {
        ch,
        reason: "PresenceLimitReached: this topic's presence is full".into(),
        seen,
    };
    assert_eq!(
        events(drain(&mut client)),
        [
            ClientEvent::Channel {
                ch,
                state: ChannelState::Joined
            },
            refused(false)
        ]
    );
    assert_eq!(client.stats().stale_messages, 0);

    // The retry, with a meta set meanwhile for joins only.
    client.set_join_track(ch, json!({"name": "bob"}));
    assert_eq!(client.poll_timeout(), Some(21 + TRACK_RETRY_MS[0]));
    client.handle_timeout(21 + TRACK_RETRY_MS[0] - 1);
    assert_eq!(frames(&drain(&mut client)), Vec::<String>::new());
    let at = 21 + TRACK_RETRY_MS[0];
    client.handle_timeout(at);
    assert_eq!(
        frames(&drain(&mut client)),
        [
            r#"["1","3","realtime:room1","presence",{"type":"presence","event":"track","payload":{"name":"bob"}}]"#
        ]
    );
    // Refused again: tried again later, after a longer wait.
    client.handle_text(
        at + 5,
        &format!(r#"["1","3","realtime:room1","phx_reply",{FULL}]"#),
    );
    assert_eq!(events(drain(&mut client)), [refused(false)]);
    assert_eq!(client.poll_timeout(), Some(at + 5 + TRACK_RETRY_MS[1]));
    let at = at + 5 + TRACK_RETRY_MS[1];
    client.handle_timeout(at);
    assert_eq!(frames(&drain(&mut client)).len(), 1);
    client.handle_text(
        at + 5,
        r#"["1","4","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#,
    );
    assert_eq!(
        events(drain(&mut client)),
        [ClientEvent::PresenceHeld { ch }]
    );
    // Held: no more retries, and a later held track is not told again.
    client.handle_timeout(at + 5 + 10 * TRACK_RETRY_MS[2]);
    assert!(frames(&drain(&mut client))
        .iter()
        .all(|f| !f.contains("track")));
    let id = client
        .track_with_join(at + 100, ch, json!({"name": "carol"}))
        .unwrap();
    let written = frames(&drain(&mut client));
    let msg_ref = ref_of(&written[0]);
    client.handle_text(
        at + 105,
        &format!(
            r#"["1","{msg_ref}","realtime:room1","phx_reply",{{"status":"ok","response":{{}}}}]"#
        ),
    );
    assert_eq!(
        events(drain(&mut client)),
        [ClientEvent::PushDone {
            ch,
            id,
            result: PushResult::Ok(json!({}))
        }]
    );

    // A track of its own refused: told beside its push's result, our earlier meta still seen.
    let id = client.track(at + 200, ch, json!({"name": "dave"}));
    let written = frames(&drain(&mut client));
    let msg_ref = ref_of(&written[0]);
    client.handle_text(
        at + 205,
        &format!(r#"["1","{msg_ref}","realtime:room1","phx_reply",{FULL}]"#),
    );
    let got = events(drain(&mut client));
    assert_eq!(got[0], refused(true));
    assert!(
        matches!(&got[1], ClientEvent::PushDone { id: done, result: PushResult::Error(_), .. } if *done == id)
    );
    // Seen as we were: not retried (the next update tries again).
    client.handle_timeout(at + 205 + 10 * TRACK_RETRY_MS[2]);
    assert!(frames(&drain(&mut client))
        .iter()
        .all(|f| !f.contains("track")));
    // An error that is not about room (a malformed meta) is no refusal.
    client.track(at + 250, ch, json!({"name": "erin"}));
    let written = frames(&drain(&mut client));
    let msg_ref = ref_of(&written[0]);
    client.handle_text(
        at + 255,
        &format!(r#"["1","{msg_ref}","realtime:room1","phx_reply",{{"status":"error","response":{{"reason":"must be a map"}}}}]"#),
    );
    assert!(matches!(
        events(drain(&mut client)).as_slice(),
        [ClientEvent::PushDone { .. }]
    ));

    // The socket drops before the retry: the rejoin carries the track, and no retry goes on
    // the old schedule; its being held is told.
    let (retry, written) = reconnect(&mut client, at + 300);
    assert_eq!(written.len(), 2, "{written:?}");
    let join_ref = written[0].split('"').nth(1).unwrap().to_owned();
    let track_ref = ref_of(&written[1]);
    client.handle_text(retry + 6, &format!(r#"["{join_ref}","{join_ref}","realtime:room1","phx_reply",{{"status":"ok","response":{{"postgres_changes":[]}}}}]"#));
    client.handle_text(retry + 7, &format!(r#"["{join_ref}","{track_ref}","realtime:room1","phx_reply",{{"status":"ok","response":{{}}}}]"#));
    let got = events(drain(&mut client));
    assert_eq!(
        got.last(),
        Some(&ClientEvent::PresenceHeld { ch }),
        "{got:?}"
    );
    client.handle_timeout(retry + 10 * TRACK_RETRY_MS[2]);
    assert!(frames(&drain(&mut client))
        .iter()
        .all(|f| !f.contains("track")));
}
