//! Frames built at random from the protocol's own vocabulary (topics, events, config keys,
//! refs of every JSON type, binary headers with wrong lengths) never take a socket down: after
//! each batch the socket still answers a heartbeat. A panic in the socket's task would close
//! the connection and fail that heartbeat.

mod realtime_support;

use realtime_support::*;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// xorshift64*: deterministic, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const TOPICS: &[&str] = &[
    "realtime:room1",
    "realtime:room2",
    "realtime:",
    "phoenix",
    "room1",
    "",
];
const EVENTS: &[&str] = &[
    "phx_join",
    "phx_leave",
    "broadcast",
    "presence",
    "access_token",
    "heartbeat",
    "phx_reply",
    "custom",
];
const KEYS: &[&str] = &[
    "config",
    "broadcast",
    "presence",
    "self",
    "ack",
    "key",
    "enabled",
    "private",
    "type",
    "event",
    "payload",
    "access_token",
    "user_token",
    "postgres_changes",
    "phx_ref",
];

fn value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.next() as i64),
        3 => json!(rng.pick(&["true", "false", "1", "track", "untrack", "TRACK", "sb_x", "x.y.z"])),
        4 => json!(rng.pick(TOPICS)),
        5 => json!(1.5e300),
        6 | 7 => {
            let mut map = serde_json::Map::new();
            for _ in 0..rng.below(5) {
                let key = rng.pick(KEYS).to_owned();
                map.insert(key, value(rng, depth + 1));
            }
            Value::Object(map)
        }
        _ => Value::Array((0..rng.below(4)).map(|_| value(rng, depth + 1)).collect()),
    }
}

fn text_frame(rng: &mut Rng) -> String {
    let reference = |rng: &mut Rng| match rng.below(4) {
        0 => Value::Null,
        1 => json!(rng.below(5).to_string()),
        2 => json!(rng.below(5)),
        _ => value(rng, 3),
    };
    let frame = json!([
        reference(rng),
        reference(rng),
        rng.pick(TOPICS),
        rng.pick(EVENTS),
        value(rng, 0),
    ]);
    let text = frame.to_string();
    match rng.below(10) {
        // Sometimes cut short, sometimes as a vsn 1.0.0 object instead.
        0 => text[..rng.below(text.len().max(1))].to_owned(),
        1 => json!({"topic": frame[2], "event": frame[3], "payload": frame[4], "ref": frame[1]})
            .to_string(),
        _ => text,
    }
}

fn binary_frame(rng: &mut Rng) -> Vec<u8> {
    let mut frame = vec![[3u8, 4, 0, 9][rng.below(4)]];
    for _ in 0..6 {
        frame.push([0u8, 1, 14, 200, 255][rng.below(5)]);
    }
    let topic = rng.pick(TOPICS).as_bytes().to_vec();
    frame.extend(topic);
    for _ in 0..rng.below(40) {
        frame.push(rng.next() as u8);
    }
    frame
}

fn is_v2_heartbeat_reply(frame: &Value, r#ref: &str) -> bool {
    frame[1] == r#ref && frame[2] == "phoenix" && frame[4]["status"] == "ok"
}

fn is_v1_heartbeat_reply(frame: &Value, r#ref: &str) -> bool {
    frame["ref"] == r#ref && frame["topic"] == "phoenix" && frame["payload"]["status"] == "ok"
}

#[tokio::test]
async fn random_frames_never_take_a_socket_down() {
    // Limits out of the way: a join-rate disconnect would be correct, not a crash.
    let s = server(&[
        "--realtime-max-events-per-second",
        "100000",
        "--realtime-max-events-per-socket",
        "0",
        "--realtime-max-joins-per-second",
        "100000",
        "--realtime-presence-calls",
        "100000",
    ])
    .await;
    let mut rng = Rng(0x5EED_2026_0000_0003);
    let mut v2 = s.v2().await;
    let mut v1 = s.v1().await;
    for round in 0..100 {
        for _ in 0..25 {
            v2.text(&text_frame(&mut rng)).await;
            v2.binary(binary_frame(&mut rng)).await;
            v1.text(&text_frame(&mut rng)).await;
        }
        // Replies and pushes caused by the batch may come first; skip to the heartbeat's.
        let r#ref = format!("hb{round}");
        v2.text(&json!([null, r#ref, "phoenix", "heartbeat", {}]).to_string())
            .await;
        v1.text(
            &json!({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": r#ref})
                .to_string(),
        )
        .await;
        for (client, answered) in [
            (&mut v2, is_v2_heartbeat_reply as fn(&Value, &str) -> bool),
            (&mut v1, is_v1_heartbeat_reply),
        ] {
            loop {
                let frame = match client.next().await {
                    Message::Text(text) => serde_json::from_str::<Value>(&text).unwrap(),
                    Message::Close(close) => panic!("socket closed in round {round}: {close:?}"),
                    _ => continue,
                };
                if answered(&frame, &r#ref) {
                    break;
                }
            }
        }
    }
    assert!(s.counters().malformed_frames > 0);
}
