//! Presence: track, update, identical re-track, untrack, leave on close, the state a late
//! joiner gets, the non-map error, the per-channel call quota, and presence turned on by a track.

mod realtime_support;

use realtime_support::*;
use serde_json::{json, Value};

const TRACK: &str = r#"["1","4","realtime:room1","presence",{"type":"presence","event":"track","payload":{"name":"alice"}}]"#;
const TRACK_OK: &str = r#"["1","4","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#;

fn presence_config(key: &str) -> Value {
    json!({"presence": {"key": key, "enabled": true}})
}

/// Checks a `presence_diff` frame and returns its payload.
fn diff(frame: &Value) -> &Value {
    assert_eq!(frame[0], Value::Null);
    assert_eq!(frame[1], Value::Null);
    assert_eq!(frame[2], "realtime:room1");
    assert_eq!(frame[3], "presence_diff");
    &frame[4]
}

/// The single meta of `key` in a state or diff half.
fn meta<'a>(state: &'a Value, key: &str) -> &'a Value {
    let metas = state[key]["metas"].as_array().expect("metas");
    assert_eq!(metas.len(), 1, "{state}");
    &metas[0]
}

#[tokio::test]
async fn track_replies_then_every_subscriber_gets_the_diff() {
    let s = server(&[]).await;
    let mut alice = s.v2().await;
    let mut bob = s.v2().await;
    alice
        .join_v2("1", "realtime:room1", presence_config("user-42"))
        .await;
    bob.join_v2("1", "realtime:room1", presence_config("bob"))
        .await;
    alice.text(TRACK).await;
    alice.expect(TRACK_OK).await;
    let mut refs = Vec::new();
    for client in [&mut alice, &mut bob] {
        let raw = client.next_text().await;
        let frame: Value = serde_json::from_str(&raw).unwrap();
        let d = diff(&frame);
        assert_eq!(d["leaves"], json!({}));
        let m = meta(&d["joins"], "user-42");
        assert_eq!(m["name"], "alice");
        let phx_ref = m["phx_ref"].as_str().unwrap().to_owned();
        assert_eq!(phx_ref.len(), 16);
        // The bytes are the reference frame's, phx_ref (opaque) aside.
        assert_eq!(
            raw,
            format!(
                r#"[null,null,"realtime:room1","presence_diff",{{"joins":{{"user-42":{{"metas":[{{"phx_ref":"{phx_ref}","name":"alice"}}]}}}},"leaves":{{}}}}]"#
            )
        );
        refs.push(phx_ref);
    }
    // One diff, encoded once: both subscribers got the same ref.
    assert_eq!(refs[0], refs[1]);
}

#[tokio::test]
async fn a_late_joiner_gets_the_state_then_updates_and_untracks() {
    let s = server(&[]).await;
    let mut alice = s.v2().await;
    alice
        .join_v2("1", "realtime:room1", presence_config("alice"))
        .await;
    alice.text(TRACK).await;
    alice.expect(TRACK_OK).await;
    let first = alice.next_json().await;
    let first_ref = meta(&diff(&first)["joins"], "alice")["phx_ref"].clone();

    let mut late = s.v2().await;
    late.text(
        &json!(["3", "3", "realtime:room1", "phx_join", {"config": presence_config("late")}])
            .to_string(),
    )
    .await;
    late.next_text().await; // the join reply
    let state = late.next_json().await;
    let header = &state.as_array().unwrap()[..4];
    assert_eq!(
        header,
        &[
            json!("3"),
            Value::Null,
            json!("realtime:room1"),
            json!("presence_state")
        ]
    );
    let m = meta(&state[4], "alice");
    assert_eq!(
        (m["name"].clone(), m["phx_ref"].clone()),
        (json!("alice"), first_ref.clone())
    );

    // An update leaves the old meta and joins the new one, pointing back at it.
    alice.text(r#"["1","5","realtime:room1","presence",{"type":"presence","event":"track","payload":{"name":"alice2"}}]"#)
        .await;
    alice.next_text().await;
    for client in [&mut alice, &mut late] {
        let frame = client.next_json().await;
        let d = diff(&frame);
        assert_eq!(meta(&d["leaves"], "alice")["phx_ref"], first_ref);
        let joined = meta(&d["joins"], "alice");
        assert_eq!(joined["name"], "alice2");
        assert_eq!(joined["phx_ref_prev"], first_ref);
        assert_ne!(joined["phx_ref"], first_ref);
    }

    // The same payload again changes nothing.
    alice.text(r#"["1","6","realtime:room1","presence",{"type":"presence","event":"track","payload":{"name":"alice2"}}]"#)
        .await;
    alice
        .expect(r#"["1","6","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#)
        .await;
    // Nothing for `late`: its next frame is the untrack's diff below, which alice's frames
    // queue after anything the same track had sent it.

    alice
        .text(r#"["1","7","realtime:room1","presence",{"type":"presence","event":"untrack"}]"#)
        .await;
    alice
        .expect(r#"["1","7","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#)
        .await;
    let frame = late.next_json().await;
    let d = diff(&frame);
    assert_eq!(d["joins"], json!({}));
    assert_eq!(meta(&d["leaves"], "alice")["name"], "alice2");
    // And nothing after it (a stray diff of the unchanged track would be here, or before).
    alice
        .text(r#"["1","8","realtime:room1","presence",{"type":"presence","event":"track","payload":{"name":"alice3"}}]"#)
        .await;
    alice.next_text().await;
    let frame = late.next_json().await;
    assert_eq!(meta(&diff(&frame)["joins"], "alice")["name"], "alice3");
}

#[tokio::test]
async fn closing_the_socket_leaves_for_all_its_metas() {
    let s = server(&[]).await;
    let mut alice = s.v2().await;
    let mut bob = s.v1().await;
    alice
        .join_v2("1", "realtime:room1", presence_config("alice"))
        .await;
    alice
        .join_v2("2", "realtime:room2", presence_config("alice"))
        .await;
    bob.join_v1("1", "realtime:room1", json!({})).await;
    alice.text(TRACK).await;
    alice.expect(TRACK_OK).await;
    let joined = bob.next_json().await;
    assert_eq!(joined["event"], "presence_diff");
    assert_eq!(joined["ref"], Value::Null);
    drop(alice);
    let left = bob.next_json().await;
    assert_eq!(left["topic"], "realtime:room1");
    assert_eq!(left["event"], "presence_diff");
    assert_eq!(meta(&left["payload"]["leaves"], "alice")["name"], "alice");
    assert_eq!(
        s.server
            .state()
            .realtime
            .hub()
            .presence_state("realtime:room1"),
        Default::default()
    );
}

#[tokio::test]
async fn a_non_map_payload_and_an_unknown_event_are_errors() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    c.join_v2("1", "realtime:room1", presence_config("k")).await;
    c.text(r#"["1","4","realtime:room1","presence",{"type":"presence","event":"track","payload":"not a map"}]"#)
        .await;
    c.expect(r#"["1","4","realtime:room1","phx_reply",{"status":"error","response":{"reason":"Presence track payload must be a map"}}]"#)
        .await;
    c.text(r#"["1","5","realtime:room1","presence",{"type":"presence","event":"wave"}]"#)
        .await;
    c.expect(r#"["1","5","realtime:room1","phx_reply",{"status":"error","response":{}}]"#)
        .await;
    // TRACK in capitals is still a track.
    c.text(r#"["1","6","realtime:room1","presence",{"type":"presence","event":"TRACK","payload":{"a":1}}]"#)
        .await;
    c.expect(r#"["1","6","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#)
        .await;
    assert_eq!(diff(&c.next_json().await)["joins"]["k"]["metas"][0]["a"], 1);
}

#[tokio::test]
async fn presence_calls_over_the_quota_close_the_channel() {
    let s = server(&["--realtime-presence-calls", "2"]).await;
    let mut c = s.v2().await;
    c.join_v2("1", "realtime:room1", presence_config("k")).await;
    for (i, name) in ["a", "b"].into_iter().enumerate() {
        let r = i + 4;
        c.text(&format!(
            r#"["1","{r}","realtime:room1","presence",{{"type":"presence","event":"track","payload":{{"n":"{name}"}}}}]"#
        ))
        .await;
        c.expect(&format!(
            r#"["1","{r}","realtime:room1","phx_reply",{{"status":"ok","response":{{}}}}]"#
        ))
        .await;
        c.next_json().await; // its diff
    }
    c.text(r#"["1","9","realtime:room1","presence",{"type":"presence","event":"untrack"}]"#)
        .await;
    c.expect(r#"["1",null,"realtime:room1","system",{"extension":"system","status":"error","message":"Client presence rate limit exceeded","channel":"room1"}]"#)
        .await;
    c.expect(r#"["1","1","realtime:room1","phx_close",{}]"#)
        .await;
}

#[tokio::test]
async fn tracking_turns_presence_on_and_sends_the_state() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    c.join_v2(
        "1",
        "realtime:room1",
        json!({"presence": {"key": "k", "enabled": false}}),
    )
    .await;
    c.text(TRACK).await;
    c.expect(TRACK_OK).await;
    let d = c.next_json().await;
    assert_eq!(meta(&diff(&d)["joins"], "k")["name"], "alice");
    let state = c.next_json().await;
    assert_eq!(state[3], "presence_state");
    assert_eq!(meta(&state[4], "k")["name"], "alice");
}

#[tokio::test]
async fn a_join_without_a_key_gets_a_generated_one() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    c.join_v2("1", "realtime:room1", json!({})).await;
    c.text(TRACK).await;
    c.expect(TRACK_OK).await;
    let frame = c.next_json().await;
    let joins = diff(&frame)["joins"].as_object().unwrap();
    let key = joins.keys().next().unwrap();
    assert_eq!(key.len(), 36, "a UUID: {key}");
}

fn track_of(join_ref: &str, msg_ref: u32, bytes: usize) -> String {
    let pad = "x".repeat(bytes);
    format!(
        r#"["{join_ref}","{msg_ref}","realtime:room1","presence",{{"type":"presence","event":"track","payload":{{"pad":"{pad}"}}}}]"#
    )
}

/// A link holder cannot make a topic's presence so large that every joiner's state overflows
/// its queue (they were disconnected as slow consumers): a track past the topic's budget is
/// refused, the tracker's channel and everyone else's presence stay; one meta past its own
/// limit closes the tracker's channel.
#[tokio::test]
async fn a_topics_presence_has_a_budget_and_a_meta_a_size_limit() {
    let s = server(&[
        "--realtime-max-presence-kb",
        "1",
        "--realtime-max-presence-topic-kb",
        "2",
    ])
    .await;
    let mut alice = s.v2().await;
    let mut mallory = s.v2().await;
    alice
        .join_v2("1", "realtime:room1", presence_config("alice"))
        .await;
    mallory
        .join_v2("1", "realtime:room1", presence_config("m"))
        .await;
    alice.text(&track_of("1", 4, 900)).await;
    alice
        .expect(r#"["1","4","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#)
        .await;
    alice.next_json().await; // its diff
    mallory.next_json().await;
    // 900 + 900 fits 2 kB with their keys and refs; a third does not.
    mallory.text(&track_of("1", 4, 900)).await;
    mallory
        .expect(r#"["1","4","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#)
        .await;
    let mut second = s.v2().await;
    second
        .join_v2("1", "realtime:room1", presence_config("m2"))
        .await;
    mallory.next_json().await; // its diff
    alice.next_json().await;
    second.text(&track_of("1", 4, 900)).await;
    second
        .expect(r#"["1","4","realtime:room1","phx_reply",{"status":"error","response":{"reason":"PresenceLimitReached: this topic's presence is full"}}]"#)
        .await;
    assert_eq!(s.counters().presence_refused, 1);
    // Nothing changed for anyone: no diff went out, the refused channel still works.
    second
        .text(r#"["1","5","realtime:room1","broadcast",{"type":"broadcast","event":"e","payload":{}}]"#)
        .await;
    let relayed = alice.next_json().await;
    assert_eq!(relayed[3], "broadcast");
    let state = s
        .server
        .state()
        .realtime
        .hub()
        .presence_state("realtime:room1");
    assert_eq!(state.len(), 2, "{state:?}");
    // Room again once someone leaves.
    drop(mallory);
    assert_eq!(
        diff(&alice.next_json().await)["leaves"]["m"]["metas"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    second.next_json().await; // the same leave
    second.text(&track_of("1", 6, 900)).await;
    second
        .expect(r#"["1","6","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#)
        .await;
    // One meta over its own limit: the tracker's channel closes.
    second.next_json().await; // its diff
    second.text(&track_of("1", 7, 1100)).await;
    second
        .expect(r#"["1",null,"realtime:room1","system",{"extension":"system","status":"error","message":"Track message size exceeded","channel":"room1"}]"#)
        .await;
}

/// A track is fanned out to every subscriber like a broadcast, so it counts against the
/// socket's own events a second too: channel by channel (or rejoin by rejoin, each a fresh
/// quota), a socket cannot track faster than it may broadcast.
#[tokio::test]
async fn tracks_count_against_the_sockets_own_events() {
    let s = server(&["--realtime-max-events-per-socket", "2"]).await;
    let mut c = s.v2().await;
    for room in 1..=3 {
        let (join_ref, topic) = (room.to_string(), format!("realtime:room{room}"));
        c.join_v2(&join_ref, &topic, presence_config("k")).await;
        c.text(&format!(
            r#"["{join_ref}","9","{topic}","presence",{{"type":"presence","event":"track","payload":{{"n":1}}}}]"#
        ))
        .await;
        if room < 3 {
            c.expect(&format!(
                r#"["{join_ref}","9","{topic}","phx_reply",{{"status":"ok","response":{{}}}}]"#
            ))
            .await;
            c.next_json().await; // its diff
        }
    }
    c.expect(r#"["3",null,"realtime:room3","system",{"extension":"system","status":"error","message":"Client presence rate limit exceeded","channel":"room3"}]"#)
        .await;
    c.expect(r#"["3","3","realtime:room3","phx_close",{}]"#)
        .await;
}
