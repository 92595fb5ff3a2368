//! Realtime socket level: the upgrade's token and version checks with the real refusal texts,
//! the connection limits (the server's, one address's), heartbeats, the default version, the alias path, idle timeout,
//! malformed frames and the frame size limit.

mod realtime_support;

use std::time::{Duration, Instant};

use realtime_support::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;

#[tokio::test]
async fn refusals_carry_the_real_status_and_text() {
    let s = server(&[]).await;
    let path = "/realtime/v1/websocket";
    let cases = [
        (None, "API key is missing"),
        (Some(expired(30)), "Token has expired"),
        (
            Some(jwt_with(SECRET, json!({"exp": now() + 60}))),
            "Fields `role` and `exp` are required in JWT",
        ),
        (
            Some("not-a-jwt".to_owned()),
            "The token provided is not a valid JWT",
        ),
        (
            Some(jwt_with(
                "another-secret",
                json!({"role": "anon", "exp": now() + 60}),
            )),
            "Failed to validate JWT signature",
        ),
    ];
    for (key, text) in cases {
        let url = s.url(path, Some("2.0.0"), key.as_deref());
        assert_eq!(refusal(&url, None).await, (401, text.to_owned()), "{text}");
    }
    assert_eq!(s.counters().connections_refused, 5);
}

#[tokio::test]
async fn the_header_key_wins_over_the_query_key() {
    let s = server(&[]).await;
    let url = s.url("/realtime/v1/websocket", Some("2.0.0"), Some("bogus"));
    let mut c = Client::connect(&url, Some(&token())).await.unwrap();
    c.heartbeat_v2("1").await;
    let url = s.url("/realtime/v1/websocket", Some("2.0.0"), Some(&token()));
    let (status, text) = refusal(&url, Some("bogus")).await;
    assert_eq!(
        (status, text.as_str()),
        (401, "The token provided is not a valid JWT")
    );
}

#[tokio::test]
async fn unsupported_versions_are_forbidden() {
    let s = server(&[]).await;
    let url = s.url("/realtime/v1/websocket", Some("3.0.0"), Some(&token()));
    assert_eq!(refusal(&url, None).await.0, 403);
}

#[tokio::test]
async fn connections_over_the_limit_get_429() {
    let s = server(&["--realtime-max-connections", "1"]).await;
    let mut first = s.v2().await;
    let url = s.url("/realtime/v1/websocket", Some("2.0.0"), Some(&token()));
    assert_eq!(
        refusal(&url, None).await,
        (429, "Too many connected users".to_owned())
    );
    first.heartbeat_v2("1").await;
    drop(first);
    // The slot is given back when the socket's task ends.
    let deadline = Instant::now() + WAIT;
    while s.server.state().realtime.connections() > 0 {
        assert!(Instant::now() < deadline, "slot never released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.v2().await.heartbeat_v2("1").await;
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    // Room for four sockets, two per address: one client that opens as many as it can leaves
    // room for others.
    let s = server(&[
        "--realtime-max-connections",
        "4",
        "--realtime-max-connections-per-address",
        "2",
    ])
    .await;
    let url = s.url("/realtime/v1/websocket", Some("2.0.0"), Some(&token()));
    let greedy: std::net::IpAddr = [127, 0, 0, 1].into();
    let other: std::net::IpAddr = [127, 0, 0, 2].into();
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(Client::connect_from(&url, greedy).await.unwrap());
    }
    match Client::connect_from(&url, greedy).await {
        Err(WsError::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                (response.status().as_u16(), json["error"].as_str()),
                (429, Some("Too many connections from this address"))
            );
        }
        Ok(_) => panic!("a third socket from one address was accepted"),
        Err(other) => panic!("unexpected error {other}"),
    }
    let mut others = Vec::new();
    for _ in 0..2 {
        let mut c = Client::connect_from(&url, other).await.unwrap();
        c.heartbeat_v2("1").await;
        others.push(c);
    }
    // The server's own limit still holds over every address.
    let third: std::net::IpAddr = [127, 0, 0, 3].into();
    assert!(matches!(
        Client::connect_from(&url, third).await,
        Err(WsError::Http(r)) if r.status().as_u16() == 429
    ));
    assert_eq!(s.counters().connections_refused, 2);
    // A socket that goes gives its address's slot back.
    for c in &mut held {
        c.heartbeat_v2("2").await;
    }
    held.pop();
    let deadline = Instant::now() + WAIT;
    while s.server.state().realtime.connections() > 3 {
        assert!(Instant::now() < deadline, "slot never released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Client::connect_from(&url, greedy)
        .await
        .unwrap()
        .heartbeat_v2("3")
        .await;
}

#[tokio::test]
async fn behind_a_proxy_on_this_machine_each_forwarded_client_has_its_own_limit() {
    let s = server(&["--realtime-max-connections-per-address", "2"]).await;
    let url = s.url("/realtime/v1/websocket", Some("2.0.0"), Some(&token()));
    let via_proxy = |client: &str| {
        let mut request = url.as_str().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("x-forwarded-for", client.parse().unwrap());
        request
    };
    let mut held = Vec::new();
    for _ in 0..2 {
        let (ws, _) = tokio_tungstenite::connect_async(via_proxy("203.0.113.1"))
            .await
            .unwrap();
        held.push(ws);
    }
    match tokio_tungstenite::connect_async(via_proxy("203.0.113.1")).await {
        Err(WsError::Http(r)) => assert_eq!(r.status().as_u16(), 429),
        other => panic!(
            "a third socket of one forwarded client: {:?}",
            other.map(|_| ())
        ),
    }
    // Another client behind the same proxy, and what a client writes itself left of the
    // address its proxy appended, count as themselves.
    for client in ["203.0.113.2", "203.0.113.1, 203.0.113.3"] {
        let (ws, _) = tokio_tungstenite::connect_async(via_proxy(client))
            .await
            .unwrap();
        held.push(ws);
    }
    assert_eq!(s.server.state().realtime.connections(), 4);
}

#[tokio::test]
async fn heartbeats_are_answered_in_each_version() {
    let s = server(&[]).await;
    s.v2().await.heartbeat_v2("2").await;
    // No vsn means 1.0.0: JSON objects, and the server writes no join_ref.
    let mut v1 = s.client(None).await;
    v1.text(r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"2"}"#)
        .await;
    v1.expect(r#"{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"2"}"#)
        .await;
}

#[tokio::test]
async fn the_self_hosted_path_is_an_alias() {
    let s = server(&[]).await;
    let url = s.url("/socket/websocket", Some("2.0.0"), Some(&token()));
    let mut c = Client::connect(&url, None).await.unwrap();
    c.heartbeat_v2("1").await;
}

#[tokio::test]
async fn an_idle_socket_is_closed_and_heartbeats_keep_it_open() {
    let s = server(&["--realtime-idle-timeout-ms", "400"]).await;
    let mut busy = s.v2().await;
    let mut idle = s.v2().await;
    let started = Instant::now();
    for i in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        busy.heartbeat_v2(&i.to_string()).await;
    }
    let frame = idle.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1000);
    assert!(started.elapsed() >= Duration::from_millis(400));
    busy.heartbeat_v2("9").await;
}

#[tokio::test]
async fn malformed_frames_are_dropped_counted_and_the_socket_stays_open() {
    let s = server(&[]).await;
    let mut v2 = s.v2().await;
    v2.text("not json").await;
    v2.text(r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}"#)
        .await; // a vsn 1.0.0 object on a 2.0.0 socket
    v2.text(r#"["1","1",42,"phx_join",{}]"#).await;
    v2.binary(vec![]).await;
    v2.binary(vec![9, 9, 9]).await;
    v2.binary(vec![3, 200, 0, 0, 0, 0, 1]).await; // lengths past the end
    v2.binary(vec![4, 0, 0, 0, 1, b'{']).await; // kind 4 is server-to-client
    v2.join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    v2.text(r#"["1","2","realtime:room1","broadcast","not an object"]"#)
        .await;
    v2.heartbeat_v2("3").await;
    let mut v1 = s.v1().await;
    v1.binary(vec![3, 0, 0, 0, 0, 0, 1, b'{', b'}']).await; // binary on a 1.0.0 socket
    v1.text(r#"["1","1","phoenix","heartbeat",{}]"#).await; // an array on a 1.0.0 socket
    v1.text(r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"4"}"#)
        .await;
    v1.expect(r#"{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"4"}"#)
        .await;
    assert_eq!(s.counters().malformed_frames, 10);
}

#[tokio::test]
async fn a_frame_over_the_size_limit_closes_with_1009() {
    let s = server(&["--realtime-max-frame-bytes", "1000"]).await;
    let mut c = s.v2().await;
    c.heartbeat_v2("1").await;
    c.text(&format!(
        r#"[null,"2","phoenix","heartbeat",{{"pad":"{}"}}]"#,
        "x".repeat(2000)
    ))
    .await;
    let frame = c.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1009);
}
