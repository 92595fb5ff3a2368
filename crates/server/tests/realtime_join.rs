//! Joining and leaving: the literal join reply and presence state, every join error with the
//! real reason string, re-joins, leaves, the channel and join-rate limits, and the optional
//! error back-off.

mod realtime_support;

use std::time::{Duration, Instant};

use realtime_support::*;
use serde_json::json;

fn join_frame(join_ref: &str, topic: &str, payload: serde_json::Value) -> String {
    json!([join_ref, join_ref, topic, "phx_join", payload]).to_string()
}

fn error_reply(join_ref: &str, topic: &str, reason: &str) -> String {
    let reason = serde_json::to_string(reason).unwrap();
    format!(
        r#"["{join_ref}","{join_ref}","{topic}","phx_reply",{{"status":"error","response":{{"reason":{reason}}}}}]"#
    )
}

#[tokio::test]
async fn the_reference_join_gets_the_reference_reply_and_state() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    let frame = format!(
        r#"["1","1","realtime:room1","phx_join",{{"config":{{"broadcast":{{"ack":true,"self":false}},"presence":{{"key":"user-42","enabled":true}},"postgres_changes":[],"private":false}},"access_token":"{}"}}]"#,
        token()
    );
    c.text(&frame).await;
    c.expect(r#"["1","1","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}]"#)
        .await;
    c.expect(r#"["1",null,"realtime:room1","presence_state",{}]"#)
        .await;
    assert_eq!(
        s.server
            .state()
            .realtime
            .hub()
            .subscriber_count("realtime:room1"),
        1
    );
}

#[tokio::test]
async fn presence_off_means_no_state_and_vsn1_replies_are_objects() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    c.text(&join_frame(
        "1",
        "realtime:room1",
        json!({"config": {"presence": {"enabled": false}}}),
    ))
    .await;
    c.next_text().await;
    // No presence_state after the reply (the join's handling would have queued it).
    c.expect_nothing_before_heartbeat().await;
    let mut v1 = s.v1().await;
    v1.join_v1("5", "realtime:room1", json!({})).await;
    v1.expect_nothing_before_heartbeat().await;
}

#[tokio::test]
async fn topics_outside_realtime_are_unmatched() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    c.text(&join_frame("1", "room1", json!({}))).await;
    c.expect(&error_reply("1", "room1", "unmatched topic"))
        .await;
    // Any push to a topic this socket has not joined.
    c.text(
        r#"["2","3","realtime:nowhere","broadcast",{"type":"broadcast","event":"e","payload":{}}]"#,
    )
    .await;
    c.expect(r#"["2","3","realtime:nowhere","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#)
        .await;
    c.text(r#"[null,"4","phoenix","something",{}]"#).await;
    c.expect(r#"[null,"4","phoenix","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#)
        .await;
}

#[tokio::test]
async fn join_errors_use_the_real_reasons() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    c.text(&join_frame("1", "realtime:", json!({}))).await;
    c.expect(&error_reply(
        "1",
        "realtime:",
        "TopicNameRequired: You must provide a topic name",
    ))
    .await;

    let cases = [
        (
            jwt_with(SECRET, json!({"exp": now() + 60})),
            "InvalidJWTToken: Fields `role` and `exp` are required in JWT".to_owned(),
        ),
        (
            "garbage".to_owned(),
            "MalformedJWT: The token provided is not a valid JWT".to_owned(),
        ),
        (
            jwt_with("forged", json!({"role": "anon", "exp": now() + 60})),
            "JwtSignatureError: Failed to validate JWT signature".to_owned(),
        ),
    ];
    for (i, (access_token, reason)) in cases.into_iter().enumerate() {
        let join_ref = (i + 2).to_string();
        c.text(&join_frame(
            &join_ref,
            "realtime:room1",
            json!({"access_token": access_token}),
        ))
        .await;
        c.expect(&error_reply(&join_ref, "realtime:room1", &reason))
            .await;
    }

    c.text(&join_frame(
        "9",
        "realtime:room1",
        json!({"access_token": expired(12)}),
    ))
    .await;
    let reply = c.next_json().await;
    let reason = reply[4]["response"]["reason"].as_str().unwrap();
    assert!(
        reason == "InvalidJWTToken: Token has expired 12 seconds ago"
            || reason == "InvalidJWTToken: Token has expired 13 seconds ago",
        "{reason}"
    );

    c.text(&join_frame(
        "10",
        "realtime:room1",
        json!({"config": {"private": true}}),
    ))
    .await;
    c.expect(&error_reply(
        "10",
        "realtime:room1",
        "Unauthorized: You do not have permissions to read from this Channel topic: room1",
    ))
    .await;
    // A megabyte topic or presence key is refused, not stored and sent to every joiner.
    let long = "x".repeat(257);
    let topic = format!("realtime:{long}");
    c.text(&join_frame("11", &topic, json!({}))).await;
    c.expect(&error_reply(
        "11",
        &topic,
        "TopicNameTooLong: a topic name is at most 256 bytes",
    ))
    .await;
    c.text(&join_frame(
        "12",
        "realtime:room1",
        json!({"config": {"presence": {"key": long}}}),
    ))
    .await;
    c.expect(&error_reply(
        "12",
        "realtime:room1",
        "PresenceKeyTooLong: a presence key is at most 256 bytes",
    ))
    .await;
    // None of these joined anything.
    assert_eq!(
        s.server
            .state()
            .realtime
            .hub()
            .subscriber_count("realtime:room1"),
        0
    );
    assert_eq!(s.server.state().realtime.hub().subscriber_count(&topic), 0);
}

#[tokio::test]
async fn new_format_api_keys_in_a_join_fall_back_to_the_socket_token() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    c.text(&join_frame(
        "1",
        "realtime:room1",
        json!({"access_token": "sb_publishable_abc", "config": {"presence": {"enabled": false}}}),
    ))
    .await;
    c.expect(r#"["1","1","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}]"#)
        .await;
}

#[tokio::test]
async fn rejoining_closes_the_old_channel_first() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    c.join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    c.text(&join_frame(
        "3",
        "realtime:room1",
        json!({"config": {"presence": {"enabled": false}}}),
    ))
    .await;
    c.expect(r#"["1","1","realtime:room1","phx_close",{}]"#)
        .await;
    c.expect(r#"["3","3","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}]"#)
        .await;
    assert_eq!(
        s.server
            .state()
            .realtime
            .hub()
            .subscriber_count("realtime:room1"),
        1
    );
}

#[tokio::test]
async fn leave_replies_then_closes() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    c.join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    c.text(r#"["1","6","realtime:room1","phx_leave",{}]"#).await;
    c.expect(r#"["1","6","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#)
        .await;
    c.expect(r#"["1","1","realtime:room1","phx_close",{}]"#)
        .await;
    assert_eq!(
        s.server
            .state()
            .realtime
            .hub()
            .subscriber_count("realtime:room1"),
        0
    );
    // Leaving what is not joined is still ok, as in Phoenix.
    c.text(r#"["1","7","realtime:room1","phx_leave",{}]"#).await;
    c.expect(r#"["1","7","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#)
        .await;
    c.expect_nothing_before_heartbeat().await;
}

#[tokio::test]
async fn channels_per_socket_are_limited() {
    let s = server(&["--realtime-max-channels-per-client", "2"]).await;
    let mut c = s.v2().await;
    c.join_v2("1", "realtime:a", quiet_config(false, false))
        .await;
    c.join_v2("2", "realtime:b", quiet_config(false, false))
        .await;
    c.text(&join_frame("3", "realtime:c", json!({}))).await;
    c.expect(&error_reply(
        "3",
        "realtime:c",
        "ChannelRateLimitReached: Too many channels",
    ))
    .await;
    // Re-joining a joined topic does not count twice.
    c.text(&join_frame(
        "4",
        "realtime:b",
        json!({"config": {"presence": {"enabled": false}}}),
    ))
    .await;
    c.expect(r#"["2","2","realtime:b","phx_close",{}]"#).await;
    c.expect(
        r#"["4","4","realtime:b","phx_reply",{"status":"ok","response":{"postgres_changes":[]}}]"#,
    )
    .await;
}

#[tokio::test]
async fn too_many_joins_per_second_errors_and_disconnects() {
    let s = server(&["--realtime-max-joins-per-second", "2"]).await;
    let mut c = s.v2().await;
    c.join_v2("1", "realtime:a", quiet_config(false, false))
        .await;
    c.join_v2("2", "realtime:b", quiet_config(false, false))
        .await;
    c.text(&join_frame("3", "realtime:c", json!({}))).await;
    c.expect(&error_reply(
        "3",
        "realtime:c",
        "ClientJoinRateLimitReached: Too many joins per second",
    ))
    .await;
    c.closed().await;
}

/// One socket rejoining as fast as it can, and sockets that each stay within their own limit
/// but together spend the server's, cannot get a newcomer's join refused (a refused join drops
/// its socket): the flooder is dropped at its own limit, and a light joiner passes.
#[tokio::test]
async fn rejoins_of_a_few_sockets_cannot_get_a_newcomers_join_refused() {
    let s = server(&[
        "--realtime-max-joins-per-second",
        "10",
        "--realtime-max-joins-per-socket",
        "4",
    ])
    .await;
    let mut flooder = s.v2().await;
    for i in 1..=20 {
        flooder
            .text(&join_frame(&i.to_string(), "realtime:a", json!({})))
            .await;
    }
    let mut refused = false;
    while let Some(frame) = flooder.next_text_or_close().await {
        refused |= frame.contains("ClientJoinRateLimitReached");
    }
    assert!(refused, "the flooder was not refused");
    // Three sockets at their own limit: 12 joins, over the server's 10.
    let mut heavy = Vec::new();
    for _ in 0..3 {
        let mut c = s.v2().await;
        for i in 1..=4 {
            c.text(&join_frame(
                &i.to_string(),
                &format!("realtime:h{i}"),
                json!({}),
            ))
            .await;
        }
        heavy.push(c);
    }
    // A newcomer's one join passes.
    let mut newcomer = s.v2().await;
    newcomer
        .join_v2("1", "realtime:room", quiet_config(false, false))
        .await;
    newcomer.heartbeat_v2("2").await;
    assert!(s.counters().socket_rate_limited >= 1);
}

#[tokio::test]
async fn the_error_backoff_is_off_by_default_and_configurable() {
    let quick = server(&[]).await;
    let mut c = quick.v2().await;
    let started = Instant::now();
    c.text(&join_frame("1", "realtime:", json!({}))).await;
    c.next_text().await;
    assert!(started.elapsed() < Duration::from_millis(200));

    let slow = server(&["--realtime-error-backoff-ms", "400"]).await;
    let mut c = slow.v2().await;
    let started = Instant::now();
    c.text(&join_frame("1", "realtime:", json!({}))).await;
    // The socket keeps working while the join error waits.
    c.heartbeat_v2("2").await;
    c.expect(&error_reply(
        "1",
        "realtime:",
        "TopicNameRequired: You must provide a topic name",
    ))
    .await;
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn string_booleans_configure_the_channel() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    c.join_v2(
        "1",
        "realtime:room1",
        json!({"broadcast": {"self": "true", "ack": "true"}, "presence": {"enabled": "false"}}),
    )
    .await;
    c.text(
        r#"["1","2","realtime:room1","broadcast",{"type":"broadcast","event":"e","payload":{}}]"#,
    )
    .await;
    c.expect(
        r#"[null,null,"realtime:room1","broadcast",{"event":"e","payload":{},"type":"broadcast"}]"#,
    )
    .await;
    c.expect(r#"["1","2","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#)
        .await;
}

/// What a channel keeps for its life cannot be made megabytes long: a token padded past the
/// limit (whitespace the verifier would strip) is refused, and a frame whose refs or topic are
/// longer than any client's is dropped unread and counted; the socket carries on.
#[tokio::test]
async fn padded_tokens_and_long_refs_are_refused_before_anything_is_kept() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    let padded = format!("{}{}", token(), " ".repeat(9 * 1024));
    c.text(&join_frame(
        "1",
        "realtime:room1",
        json!({"access_token": padded}),
    ))
    .await;
    c.expect(&error_reply(
        "1",
        "realtime:room1",
        "MalformedJWT: The token provided is not a valid JWT",
    ))
    .await;
    let long_ref = "9".repeat(65);
    c.text(&join_frame(&long_ref, "realtime:room1", json!({})))
        .await;
    c.text(&json!([null, long_ref, "phoenix", "heartbeat", {}]).to_string())
        .await;
    c.text(&join_frame(
        "2",
        &format!("realtime:{}", "t".repeat(1100)),
        json!({}),
    ))
    .await;
    // Only the heartbeat after them is answered; the longest refs a client may use still are.
    c.heartbeat_v2(&"9".repeat(64)).await;
    assert_eq!(s.counters().malformed_frames, 3);
    assert_eq!(
        s.server
            .state()
            .realtime
            .hub()
            .subscriber_count("realtime:room1"),
        0
    );
}
