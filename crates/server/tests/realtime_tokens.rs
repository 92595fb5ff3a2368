//! A channel's token after the join: `access_token` refreshes (silent on success, `system` error
//! and `phx_close` on failure, in the real server's words) and the re-check at expiry.

mod realtime_support;

use std::time::{Duration, Instant};

use realtime_support::*;
use serde_json::json;

fn refresh(token: &str) -> String {
    json!(["1", "5", "realtime:room1", "access_token", {"access_token": token}]).to_string()
}

fn system_error(message: &str) -> String {
    let message = serde_json::to_string(message).unwrap();
    format!(
        r#"["1",null,"realtime:room1","system",{{"extension":"system","status":"error","message":{message},"channel":"room1"}}]"#
    )
}

const CLOSE: &str = r#"["1","1","realtime:room1","phx_close",{}]"#;

#[tokio::test]
async fn a_valid_refresh_is_silent_and_the_channel_keeps_working() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    c.join_v2("1", "realtime:room1", quiet_config(true, true))
        .await;
    let fresh = jwt_with(
        SECRET,
        json!({"role": "authenticated", "exp": now() + 7200}),
    );
    c.text(&refresh(&fresh)).await;
    c.text(
        &json!(["1", "6", "realtime:room1", "access_token", {"access_token": null}]).to_string(),
    )
    .await;
    c.text(&refresh("sb_secret_ignored")).await;
    c.expect_nothing_before_heartbeat().await;
    c.text(
        r#"["1","7","realtime:room1","broadcast",{"type":"broadcast","event":"e","payload":{}}]"#,
    )
    .await;
    c.next_text().await;
    c.expect(r#"["1","7","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#)
        .await;
}

#[tokio::test]
async fn a_bad_refresh_closes_the_channel_with_the_real_message() {
    let s = server(&[]).await;
    let forged = jwt_with("forged", json!({"role": "anon", "exp": now() + 60}));
    let no_role = jwt_with(SECRET, json!({"exp": now() + 60}));
    let cases = [
        (forged, ":signature_error".to_owned()),
        (
            no_role,
            "Fields `role` and `exp` are required in JWT".to_owned(),
        ),
        (
            "x.y".to_owned(),
            "The token provided is not a valid JWT".to_owned(),
        ),
    ];
    for (bad, message) in cases {
        let mut c = s.v2().await;
        c.join_v2("1", "realtime:room1", quiet_config(false, false))
            .await;
        c.text(&refresh(&bad)).await;
        c.expect(&system_error(&message)).await;
        c.expect(CLOSE).await;
        c.heartbeat_v2("2").await;
    }
    let mut c = s.v2().await;
    c.join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    c.text(&refresh(&expired(20))).await;
    let frame = c.next_json().await;
    let message = frame[4]["message"].as_str().unwrap();
    assert!(
        message == "Token has expired 20 seconds ago"
            || message == "Token has expired 21 seconds ago",
        "{message}"
    );
    c.expect(CLOSE).await;
}

#[tokio::test]
async fn a_channel_is_closed_when_its_token_expires() {
    let s = server(&[]).await;
    let mut c = s.v2().await;
    let short = jwt_with(SECRET, json!({"role": "anon", "exp": now() + 1}));
    let started = Instant::now();
    c.text(&json!(["1", "1", "realtime:room1", "phx_join", {"access_token": short, "config": {"presence": {"enabled": false}}}]).to_string())
        .await;
    c.next_text().await;
    let frame = c.next_json().await;
    assert_eq!(frame[3], "system");
    let message = frame[4]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Token has expired ") && message.ends_with(" seconds ago"),
        "{message}"
    );
    c.expect(CLOSE).await;
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert_eq!(
        s.server
            .state()
            .realtime
            .hub()
            .subscriber_count("realtime:room1"),
        0
    );
}

#[tokio::test]
async fn tokens_are_rechecked_at_least_every_interval() {
    // A token that is still valid is re-checked (and kept) at the interval.
    let s = server(&["--realtime-token-recheck-ms", "100"]).await;
    let mut c = s.v2().await;
    c.join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    let started = Instant::now();
    while s.counters().token_rechecks < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the token was rechecked {} times in 5 s",
            s.counters().token_rechecks
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Rechecked and kept: the next frame is the heartbeat's reply, not a system error.
    c.heartbeat_v2("2").await;
    assert_eq!(
        s.server
            .state()
            .realtime
            .hub()
            .subscriber_count("realtime:room1"),
        1
    );
}
