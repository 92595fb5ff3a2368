//! Properties of the realtime client: no input from the network panics it, in any state,
//! on either protocol version; and after `handle_timeout(now)` nothing is left due at `now`
//! (so a driver that sleeps until `poll_timeout` always makes progress).

use pairux_core::realtime::{PresenceConfig, Vsn};
use pairux_core::realtime_client::{ChannelOptions, ClientOptions, RealtimeClient};
use proptest::prelude::*;
use serde_json::json;

const TOPIC: &str = "realtime:pairux:p";

/// A client with one channel whose join (ref "1") was accepted.
fn joined_client(vsn: Vsn) -> RealtimeClient {
    let mut opts = ClientOptions::new("ws://h/realtime/v1/websocket", "k");
    opts.vsn = vsn;
    let mut client = RealtimeClient::new(opts);
    let ch = client.channel(
        "pairux:p",
        ChannelOptions {
            presence: PresenceConfig {
                key: "me".into(),
                enabled: true,
            },
            ..ChannelOptions::default()
        },
    );
    client.connect(0);
    client.join(0, ch);
    client.handle_open(1);
    let reply = json!(["1", "1", TOPIC, "phx_reply", {"status": "ok", "response": {}}]);
    let reply = match vsn {
        Vsn::V2 => reply.to_string(),
        Vsn::V1 => json!({"topic": TOPIC, "event": "phx_reply", "ref": "1",
            "payload": {"status": "ok", "response": {}}})
        .to_string(),
    };
    client.handle_text(2, &reply);
    while client.poll_output().is_some() {}
    client
}

fn vsn() -> impl Strategy<Value = Vsn> {
    prop_oneof![Just(Vsn::V1), Just(Vsn::V2)]
}

/// Frames that get past the envelope decoder: right topic, real event names, odd payloads.
fn plausible_text() -> impl Strategy<Value = String> {
    let refs = prop_oneof![
        Just(json!(null)),
        Just(json!("1")),
        Just(json!("2")),
        Just(json!(7))
    ];
    let topics = prop_oneof![Just(TOPIC), Just("phoenix"), Just("realtime:other")];
    let events = prop_oneof![
        Just("phx_reply"),
        Just("phx_close"),
        Just("phx_error"),
        Just("broadcast"),
        Just("presence_state"),
        Just("presence_diff"),
        Just("system"),
        Just("whatever"),
    ];
    let leaf = prop_oneof![
        Just(json!(null)),
        Just(json!(1)),
        Just(json!("ok")),
        Just(json!("error")),
        Just(json!({"phx_ref": "r"})),
        Just(json!([])),
    ];
    let payload = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("status".to_owned()),
                    Just("response".to_owned()),
                    Just("event".to_owned()),
                    Just("payload".to_owned()),
                    Just("joins".to_owned()),
                    Just("leaves".to_owned()),
                    Just("metas".to_owned()),
                    Just("k".to_owned()),
                    Just("message".to_owned()),
                ],
                inner,
                0..4
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    (refs.clone(), refs, topics, events, payload)
        .prop_map(|(j, r, t, e, p)| json!([j, r, t, e, p]).to_string())
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(v in vsn(), texts in proptest::collection::vec(".*", 0..8)) {
        let mut client = joined_client(v);
        for (i, text) in texts.iter().enumerate() {
            client.handle_text(10 + i as u64, text);
        }
        while client.poll_output().is_some() {}
    }

    #[test]
    fn plausible_frames_never_panic(v in vsn(), texts in proptest::collection::vec(plausible_text(), 0..12)) {
        let mut client = joined_client(v);
        for (i, text) in texts.iter().enumerate() {
            client.handle_text(10 + i as u64, text);
            client.handle_timeout(10 + i as u64 * 3_000);
        }
        while client.poll_output().is_some() {}
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        v in vsn(),
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
        kind in prop_oneof![Just(3u8), Just(4u8)],
    ) {
        let mut client = joined_client(v);
        for (i, mut frame) in frames.into_iter().enumerate() {
            // Half of them start like a real user broadcast, to get past the first byte.
            if i % 2 == 0 {
                frame.insert(0, kind);
            }
            client.handle_binary(10 + i as u64, &frame);
        }
        while client.poll_output().is_some() {}
    }

    #[test]
    fn timers_always_make_progress(
        v in vsn(),
        steps in proptest::collection::vec((0u8..10, 0u64..30_000), 1..40),
    ) {
        let mut client = joined_client(v);
        let ch = client.channel("pairux:p", ChannelOptions::default());
        let mut now = 10;
        for (action, dt) in steps {
            now += dt;
            match action {
                0 => client.handle_close(now, 1006, ""),
                1 => client.handle_open(now),
                2 => client.connect(now),
                3 => client.disconnect(now),
                4 => { client.broadcast(now, ch, "e", json!({})); }
                5 => { client.track(now, ch, json!({"role": "viewer"})); }
                6 => client.leave(now, ch),
                7 => client.join(now, ch),
                8 => client.set_access_token(now, format!("t{now}")),
                _ => client.handle_text(now, r#"["1","1","realtime:pairux:p","phx_reply",{"status":"ok","response":{}}]"#),
            }
            while client.poll_output().is_some() {}
            client.handle_timeout(now);
            while client.poll_output().is_some() {}
            if let Some(at) = client.poll_timeout() {
                prop_assert!(at > now, "deadline {at} still due at {now}");
            }
        }
    }
}
