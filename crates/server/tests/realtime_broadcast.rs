//! Broadcast: self and ack, vsn 1.0.0 and 2.0.0 sockets in one channel, binary kinds 3 → 4 byte
//! for byte, binary payloads withheld from vsn 1.0.0, payload size and events-per-second limits,
//! the REST API, and slow consumers.

mod realtime_support;

use std::time::{Duration, Instant};

use realtime_support::*;
use serde_json::json;

/// Decodes hex written in tests (whitespace ignored).
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// realtime-js 2.119's kind 3 for `send({type:'broadcast', event:'cursor', payload:{x:1}})`,
/// join_ref "1", ref "3", topic realtime:room1.
const JS_JSON_PUSH: &str =
    "0301010e0600013133 7265616c74696d653a726f6f6d31 637572736f72 7b2278223a317d";
/// The kind 4 realtime-js decodes to that broadcast.
const KIND4_JSON: &str = "040e060001 7265616c74696d653a726f6f6d31 637572736f72 7b2278223a317d";
/// realtime-js's kind 3 for an `ArrayBuffer` payload de ad be ef, event "frame", ref "4".
const JS_BINARY_PUSH: &str = "0301010e0500003134 7265616c74696d653a726f6f6d31 6672616d65 deadbeef";
const KIND4_BINARY: &str = "040e050000 7265616c74696d653a726f6f6d31 6672616d65 deadbeef";

const TEXT_PUSH: &str = r#"["1","3","realtime:room1","broadcast",{"type":"broadcast","event":"cursor","payload":{"x":1}}]"#;
const TEXT_RELAY: &str = r#"[null,null,"realtime:room1","broadcast",{"event":"cursor","payload":{"x":1},"type":"broadcast"}]"#;
const ACK: &str = r#"["1","3","realtime:room1","phx_reply",{"status":"ok","response":{}}]"#;

#[tokio::test]
async fn self_and_ack_give_the_reference_frames() {
    let s = server(&[]).await;
    let mut a = s.v2().await;
    a.join_v2("1", "realtime:room1", quiet_config(true, true))
        .await;
    a.text(TEXT_PUSH).await;
    a.expect(TEXT_RELAY).await;
    a.expect(ACK).await;
}

#[tokio::test]
async fn without_self_and_ack_the_sender_hears_nothing() {
    let s = server(&[]).await;
    let mut a = s.v2().await;
    let mut b = s.v2().await;
    a.join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    b.join_v2("7", "realtime:room1", quiet_config(false, false))
        .await;
    a.text(TEXT_PUSH).await;
    b.expect(TEXT_RELAY).await;
    a.expect_nothing_before_heartbeat().await;
    let counters = s.counters();
    assert_eq!((counters.broadcasts, counters.deliveries), (1, 1));
}

#[tokio::test]
async fn a_binary_json_push_reaches_v2_as_kind4_and_v1_as_json() {
    let s = server(&[]).await;
    let mut a = s.v2().await;
    let mut b = s.v2().await;
    let mut c = s.v1().await;
    a.join_v2("1", "realtime:room1", quiet_config(true, false))
        .await;
    b.join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    c.join_v1("1", "realtime:room1", json!({})).await;
    a.binary(hex(JS_JSON_PUSH)).await;
    assert_eq!(b.next_binary().await, hex(KIND4_JSON));
    c.expect(r#"{"topic":"realtime:room1","event":"broadcast","payload":{"event":"cursor","payload":{"x":1},"type":"broadcast"},"ref":null}"#)
        .await;
    a.expect(ACK).await;
}

#[tokio::test]
async fn binary_payloads_reach_only_v2_sockets() {
    let s = server(&[]).await;
    let mut a = s.v2().await;
    let mut b = s.v2().await;
    let mut c = s.v1().await;
    a.join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    b.join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    c.join_v1("1", "realtime:room1", json!({})).await;
    a.binary(hex(JS_BINARY_PUSH)).await;
    assert_eq!(b.next_binary().await, hex(KIND4_BINARY));
    // The vsn 1.0.0 socket gets nothing of it: its next frame is a's next push, which it can
    // represent.
    a.text(TEXT_PUSH).await;
    c.expect(r#"{"topic":"realtime:room1","event":"broadcast","payload":{"event":"cursor","payload":{"x":1},"type":"broadcast"},"ref":null}"#)
        .await;
    b.expect(TEXT_RELAY).await;
}

#[tokio::test]
async fn a_v1_sender_reaches_v2_sockets_as_text() {
    let s = server(&[]).await;
    let mut b = s.v2().await;
    let mut c = s.v1().await;
    b.join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    c.join_v1("5", "realtime:room1", json!({"broadcast": {"ack": true}}))
        .await;
    c.text(r#"{"topic":"realtime:room1","event":"broadcast","payload":{"type":"broadcast","event":"hi","payload":{"n":1}},"ref":"6","join_ref":"5"}"#)
        .await;
    b.expect(r#"[null,null,"realtime:room1","broadcast",{"event":"hi","payload":{"n":1},"type":"broadcast"}]"#)
        .await;
    c.expect(r#"{"topic":"realtime:room1","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"6"}"#)
        .await;
}

#[tokio::test]
async fn oversize_payloads_are_refused_with_ack_and_dropped_without() {
    let s = server(&["--realtime-max-payload-kb", "1"]).await;
    let mut acked = s.v2().await;
    let mut silent = s.v2().await;
    let mut listener = s.v2().await;
    acked
        .join_v2("1", "realtime:room1", quiet_config(true, false))
        .await;
    silent
        .join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    listener
        .join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    let big = format!(
        r#"["1","3","realtime:room1","broadcast",{{"type":"broadcast","event":"big","payload":{{"pad":"{}"}}}}]"#,
        "x".repeat(1200)
    );
    acked.text(&big).await;
    acked
        .expect(r#"["1","3","realtime:room1","phx_reply",{"status":"error","response":"payload_size_exceeded"}]"#)
        .await;
    silent.text(&big).await;
    let mut binary = hex("0301010e0300003133 7265616c74696d653a726f6f6d31 626967");
    binary.extend(std::iter::repeat_n(0u8, 1500));
    silent.binary(binary).await;
    silent.expect_nothing_before_heartbeat().await;
    // Neither reached the listener: its next frame is silent's next push (a socket's frames
    // are handled in order).
    silent.text(TEXT_PUSH).await;
    listener.expect(TEXT_RELAY).await;
}

#[tokio::test]
async fn too_many_events_per_second_close_the_sending_channel() {
    let s = server(&["--realtime-max-events-per-second", "3"]).await;
    let mut a = s.v2().await;
    let mut b = s.v2().await;
    a.join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    b.join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    for _ in 0..4 {
        a.text(TEXT_PUSH).await;
    }
    a.expect(r#"["1",null,"realtime:room1","system",{"extension":"system","status":"error","message":"Too many messages per second","channel":"room1"}]"#)
        .await;
    a.expect(r#"["1","1","realtime:room1","phx_close",{}]"#)
        .await;
    for _ in 0..3 {
        b.expect(TEXT_RELAY).await;
    }
    // The fourth never reached b: handling it queued a's system error and close, both heard
    // by now, and whatever else it queued for b comes before b's heartbeat reply. (No other
    // push can follow it to b: the server-wide limit is spent for this second.)
    b.expect_nothing_before_heartbeat().await;
    // The socket itself stays open.
    a.heartbeat_v2("9").await;
}

#[tokio::test]
async fn one_sockets_burst_does_not_close_anyone_elses_channel() {
    // Server-wide 20 events/s, each socket 5/s: a flooding socket is cut at its own limit, and
    // its excess never counts against the others.
    let s = server(&[
        "--realtime-max-events-per-second",
        "20",
        "--realtime-max-events-per-socket",
        "5",
    ])
    .await;
    let mut flooder = s.v2().await;
    let mut other = s.v2().await;
    let mut listener = s.v2().await;
    for c in [&mut flooder, &mut other, &mut listener] {
        c.join_v2("1", "realtime:room1", quiet_config(false, false))
            .await;
    }
    for _ in 0..200 {
        flooder.text(TEXT_PUSH).await;
    }
    flooder.expect(r#"["1",null,"realtime:room1","system",{"extension":"system","status":"error","message":"Too many messages per second","channel":"room1"}]"#)
        .await;
    flooder
        .expect(r#"["1","1","realtime:room1","phx_close",{}]"#)
        .await;
    for _ in 0..5 {
        listener.expect(TEXT_RELAY).await;
        other.expect(TEXT_RELAY).await;
    }
    // The other socket still gets through, and nobody closes its channel.
    other.text(TEXT_PUSH).await;
    listener.expect(TEXT_RELAY).await;
    other.expect_nothing_before_heartbeat().await;
    assert!(s.counters().socket_rate_limited >= 1);
}

/// The next `system` frame, past the relays of others' broadcasts.
async fn until_system(c: &mut Client) -> String {
    loop {
        let text = c.next_text().await;
        if text.contains("\"system\"") {
            return text;
        }
    }
}

/// Sends 1 MB broadcasts from `publisher` while `sleeper` (joined, never reading) is
/// subscribed, up to `most`, until the server counts a slow consumer; how many it took.
async fn megabytes_until_slow(
    s: &TestServer,
    publisher: &mut Client,
    most: usize,
) -> Option<usize> {
    let mut frame = hex("0301010e0300003133 7265616c74696d653a726f6f6d31 626967");
    frame.extend(std::iter::repeat_n(7u8, 1_000_000));
    for sent in 1..=most {
        publisher.binary(frame.clone()).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        if s.counters().slow_consumers > 0 {
            return Some(sent);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if s.counters().slow_consumers > 0 {
            return Some(most);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// A server with the frame cap and the event and byte limits out of the way (and `extra`),
/// and two sockets joined to room1: one that publishes, one that never reads.
async fn publisher_and_sleeper(extra: &[&str]) -> (TestServer, Client, Client) {
    let mut args = vec![
        "--realtime-outbound-queue",
        "100000",
        "--realtime-max-events-per-second",
        "100000",
        "--realtime-max-events-per-socket",
        "0",
        "--realtime-max-kb-per-socket",
        "0",
    ];
    args.extend_from_slice(extra);
    let s = server(&args).await;
    let mut publisher = s.v2().await;
    let mut sleeper = s.v2().await;
    for c in [&mut publisher, &mut sleeper] {
        c.join_v2("1", "realtime:room1", quiet_config(false, false))
            .await;
    }
    (s, publisher, sleeper)
}

#[tokio::test]
async fn a_socket_that_reads_nothing_holds_megabytes_not_gigabytes() {
    // 1 MB frames fill the byte cap (16 MB) long before 1,024 frames (1 GB) would.
    let (s, mut publisher, sleeper) = publisher_and_sleeper(&[]).await;
    let sent = megabytes_until_slow(&s, &mut publisher, 80).await;
    assert!(
        sent.is_some_and(|n| n < 80),
        "slow consumer after {sent:?} MB"
    );
    publisher.heartbeat_v2("2").await;
    drop(sleeper);
}

/// A link holder's few large broadcasts a second would fill every subscriber's queue (each
/// gets its copy) and disconnect them all as slow consumers: its socket's bytes per second
/// are limited, its channel is shut down, and the listener stays.
#[tokio::test]
async fn a_sockets_bytes_per_second_are_limited_and_the_listeners_stay() {
    let s = server(&[
        "--realtime-outbound-queue-kb",
        "3000",
        "--realtime-max-frame-bytes",
        "1500000",
    ])
    .await;
    let mut sender = s.v2().await;
    let mut listener = s.v2().await;
    for c in [&mut sender, &mut listener] {
        c.join_v2("1", "realtime:room1", quiet_config(false, false))
            .await;
    }
    // 600 kB each: at 1000 kB/s, averaged over the seconds the socket has seen, the second
    // or (should they straddle a second) the third goes over, and the rest are not relayed.
    let mut frame = hex("0301010e0300003133 7265616c74696d653a726f6f6d31 626967");
    frame.extend(std::iter::repeat_n(7u8, 600_000));
    for _ in 0..6 {
        sender.binary(frame.clone()).await;
    }
    sender.expect(r#"["1",null,"realtime:room1","system",{"extension":"system","status":"error","message":"Too many messages per second","channel":"room1"}]"#)
        .await;
    sender
        .expect(r#"["1","1","realtime:room1","phx_close",{}]"#)
        .await;
    // What was relayed before the limit: one or two (a kind-4 frame of the same payload).
    let relayed = listener.next_binary().await;
    assert!(
        relayed.len() > 600_000 && relayed.len() < 600_100,
        "{}",
        relayed.len()
    );
    // A heartbeat fences what the server queued for the listener before it.
    listener
        .text(r#"[null,"h","phoenix","heartbeat",{}]"#)
        .await;
    let mut more = 0;
    loop {
        match listener.next().await {
            tokio_tungstenite::tungstenite::Message::Binary(_) => more += 1,
            tokio_tungstenite::tungstenite::Message::Text(text)
                if text.starts_with(r#"[null,"h","phoenix","phx_reply""#) =>
            {
                break
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(more <= 1, "{} relayed over the limit", more + 1);
    assert_eq!(s.counters().slow_consumers, 0);
    assert!(s.counters().socket_rate_limited >= 1);
}

#[tokio::test]
async fn a_write_the_peer_never_reads_ends_it_even_when_nothing_more_is_sent() {
    // Neither cap is reached (20 MB queued, caps far above): the write that cannot finish
    // ends the socket after the write timeout.
    let (s, mut publisher, sleeper) = publisher_and_sleeper(&[
        "--realtime-outbound-queue-kb",
        "1000000",
        "--realtime-write-timeout-ms",
        "300",
    ])
    .await;
    assert!(megabytes_until_slow(&s, &mut publisher, 20).await.is_some());
    drop(sleeper);
}

#[tokio::test]
async fn senders_each_within_their_limit_cannot_get_a_light_senders_channel_closed() {
    // Server-wide 4 events/s, each socket 30/s: three sockets sending 12 each (in a room of
    // their own) put the server over its limit however the seconds fall. Each of them is
    // refused once it is one of the heavy ones (2 events/s and up: half the server's limit);
    // a socket that sends now and then still gets through, and keeps its channel.
    let s = server(&[
        "--realtime-max-events-per-second",
        "4",
        "--realtime-max-events-per-socket",
        "30",
    ])
    .await;
    let push2 = TEXT_PUSH.replace("room1", "room2");
    let refused = r#"["1",null,"realtime:room2","system",{"extension":"system","status":"error","message":"Too many messages per second","channel":"room2"}]"#;
    let mut heavy = Vec::new();
    for _ in 0..3 {
        let mut c = s.v2().await;
        c.join_v2("1", "realtime:room2", quiet_config(false, false))
            .await;
        heavy.push(c);
    }
    let mut light = s.v2().await;
    let mut listener = s.v2().await;
    for c in [&mut light, &mut listener] {
        c.join_v2("1", "realtime:room1", quiet_config(false, false))
            .await;
    }
    for c in &mut heavy {
        for _ in 0..12 {
            c.text(&push2).await;
        }
    }
    for c in &mut heavy {
        assert_eq!(until_system(c).await, refused);
    }
    // Over the limit still, the light socket's event goes through and its channel stays.
    light.text(TEXT_PUSH).await;
    listener.expect(TEXT_RELAY).await;
    light.expect_nothing_before_heartbeat().await;
    // Nor anything of the heavy ones' (another room's): each heard its refusal, so what their
    // handling queued came before the listener's heartbeat reply. (A second push of light's
    // would be over the server's limit now.)
    listener.expect_nothing_before_heartbeat().await;
}

#[tokio::test]
async fn rest_broadcasts_have_a_limit_of_their_own_and_its_excess_costs_nobody_else() {
    // Server-wide 20 events/s, 5/s per sender: a batch of 30 is cut at 5 (429), and the 25
    // refused never count server-wide, so a socket's event right after still goes through.
    let s = server(&[
        "--realtime-max-events-per-second",
        "20",
        "--realtime-max-events-per-socket",
        "5",
    ])
    .await;
    let mut victim = s.v2().await;
    let mut listener = s.v2().await;
    for c in [&mut victim, &mut listener] {
        c.join_v2("1", "realtime:room1", quiet_config(false, false))
            .await;
    }
    let message =
        json!({"topic": "room1", "event": "cursor", "payload": {"x": 1}, "private": false});
    let body = json!({"messages": vec![message; 30]});
    let res = reqwest::Client::new()
        .post(format!("{}/realtime/v1/api/broadcast", s.http()))
        .bearer_auth(token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    for _ in 0..5 {
        listener.expect(TEXT_RELAY).await;
    }
    for _ in 0..5 {
        victim.expect(TEXT_RELAY).await;
    }
    victim.text(TEXT_PUSH).await;
    listener.expect(TEXT_RELAY).await;
    victim.expect_nothing_before_heartbeat().await;
    // Nor did the refused 25 come later: the listener's next frame is the victim's next (a
    // payload of its own, which no REST message is).
    victim
        .text(&TEXT_PUSH.replace(r#"{"x":1}"#, r#"{"x":2}"#))
        .await;
    listener
        .expect(&TEXT_RELAY.replace(r#"{"x":1}"#, r#"{"x":2}"#))
        .await;
}

#[tokio::test]
async fn the_rest_api_broadcasts_to_every_version() {
    let s = server(&[]).await;
    let mut b = s.v2().await;
    let mut c = s.v1().await;
    b.join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    c.join_v1("1", "realtime:room1", json!({})).await;
    let http = reqwest::Client::new();
    let url = format!("{}/realtime/v1/api/broadcast", s.http());
    let body = json!({"messages": [
        {"topic": "room1", "event": "e", "payload": {"a": 1}, "private": false},
        {"topic": "room1", "event": "secret", "payload": {}, "private": true}
    ]});
    let res = http
        .post(&url)
        .bearer_auth(token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    b.expect(r#"[null,null,"realtime:room1","broadcast",{"event":"e","payload":{"a":1},"type":"broadcast"}]"#)
        .await;
    c.expect(r#"{"topic":"realtime:room1","event":"broadcast","payload":{"event":"e","payload":{"a":1},"type":"broadcast"},"ref":null}"#)
        .await;

    let res = http
        .post(&url)
        .header("apikey", token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    // The private message of the first request never reached b: its next frame is the public
    // one of the second.
    b.expect(r#"[null,null,"realtime:room1","broadcast",{"event":"e","payload":{"a":1},"type":"broadcast"}]"#)
        .await;
    let res = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = http
        .post(&url)
        .bearer_auth(expired(5))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["error"], "Token has expired");
    let res = http
        .post(&url)
        .bearer_auth(token())
        .json(&json!({"messages": [{"topic": "room1"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn a_slow_consumer_is_disconnected_and_the_others_keep_going() {
    let s = server(&[
        "--realtime-outbound-queue",
        "8",
        "--realtime-max-events-per-second",
        "100000",
        "--realtime-max-events-per-socket",
        "0",
        "--realtime-max-kb-per-socket",
        "0",
    ])
    .await;
    let mut publisher = s.v2().await;
    let mut sleeper = s.v2().await;
    publisher
        .join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    sleeper
        .join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    // 64 kB binary broadcasts that the sleeper never reads: once the kernel's socket buffers
    // are full its queue fills, and the server lets go of it.
    let mut frame = hex("0301010e0300003133 7265616c74696d653a726f6f6d31 626967");
    frame.extend(std::iter::repeat_n(7u8, 64 * 1024));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sent = 0;
    while s.counters().slow_consumers == 0 {
        assert!(
            Instant::now() < deadline,
            "no slow consumer after {sent} broadcasts"
        );
        publisher.binary(frame.clone()).await;
        sent += 1;
        if sent % 16 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let hub = s.server.state().realtime.hub();
    while hub.subscriber_count("realtime:room1") != 1 {
        assert!(
            Instant::now() < deadline,
            "the slow consumer stayed subscribed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    publisher.heartbeat_v2("2").await;
    drop(sleeper);
}

#[tokio::test]
async fn the_focus_joins_a_channel_again_when_the_server_closes_it() {
    use pairux_server::focus::realtime::{ChannelEvent, RealtimeHandle};
    // The focus watches every session on one socket; a channel the server closes (here: over
    // 3 events/s from that socket) must not leave that session unwatched for good.
    let s = server(&["--realtime-max-events-per-socket", "3"]).await;
    let url = format!("ws://{}/realtime/v1/websocket", s.server.addr());
    let (focus, mut events) = RealtimeHandle::start(&url, &token());
    let joined = async |events: &mut tokio::sync::mpsc::UnboundedReceiver<ChannelEvent>| {
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match events.recv().await {
                    Some(ChannelEvent::Joined { topic }) if topic == "realtime:room1" => return,
                    Some(_) => {}
                    None => panic!("the driver stopped"),
                }
            }
        })
        .await
        .expect("joined")
    };
    focus.watch("realtime:room1");
    joined(&mut events).await;
    let mut listener = s.v2().await;
    listener
        .join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    for _ in 0..8 {
        focus.broadcast("realtime:room1", "e", json!({}));
    }
    joined(&mut events).await;
    // Joined again: what it sends reaches the channel once more (after the window passes).
    tokio::time::sleep(Duration::from_secs(5)).await;
    while tokio::time::timeout(Duration::from_millis(50), listener.next())
        .await
        .is_ok()
    {}
    focus.broadcast("realtime:room1", "again", json!({"n": 1}));
    let frame = listener.next_binary().await;
    assert!(frame.windows(5).any(|w| w == b"again"), "{frame:?}");
}

/// The REST API has the bytes limit a socket has, per address: large messages a second from
/// one address cannot fill every subscriber's queue where a socket could not.
#[tokio::test]
async fn rest_broadcasts_count_their_bytes_per_address() {
    let s = server(&["--realtime-max-kb-per-socket", "10"]).await;
    let mut listener = s.v2().await;
    listener
        .join_v2("1", "realtime:room1", quiet_config(false, false))
        .await;
    let pad = "x".repeat(6_000);
    let message =
        json!({"topic": "room1", "event": "big", "payload": {"pad": pad}, "private": false});
    let res = reqwest::Client::new()
        .post(format!("{}/realtime/v1/api/broadcast", s.http()))
        .bearer_auth(token())
        .json(&json!({"messages": vec![message; 3]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    // The first 6 kB went; the second would have made 12 kB in the second.
    let relayed = listener.next_text().await;
    assert!(relayed.contains(r#""event":"big""#), "{relayed}");
    listener.heartbeat_v2("h").await;
}
