//! Properties: decoders are total on arbitrary input, and what the encoders write decodes back
//! to the same frame.

use proptest::prelude::*;
use serde_json::{json, value::RawValue};

use crate::realtime::{
    BinaryFrame, BroadcastPush, Direction, JoinPayload, Message, PresenceRequest, UserBroadcast,
    UserPayload, Vsn,
};

fn short_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..40).prop_map(|chars| chars.into_iter().collect())
}

/// JSON-looking text: mostly structural characters, so the parser gets deep before failing.
fn jsonish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("["),
            Just("]"),
            Just("{"),
            Just("}"),
            Just(","),
            Just(":"),
            Just("null"),
            Just("\"1\""),
            Just("\"realtime:r\""),
            Just("\"phx_join\""),
            Just("1e999"),
            Just("-0"),
            Just("true"),
            Just("\"\\u00e9\""),
            Just("\"\\ud800\""),
            Just(" "),
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn binary_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = BinaryFrame::decode(&bytes);
    }

    #[test]
    fn binary_decoder_never_panics_on_plausible_headers(
        kind in 3u8..=4,
        lens in proptest::collection::vec(0u8..12, 6),
        enc in 0u8..3,
        body in proptest::collection::vec(any::<u8>(), 0..60),
    ) {
        let mut frame = vec![kind];
        frame.extend_from_slice(&lens);
        frame[if kind == 3 { 6 } else { 4 }] = enc;
        frame.extend_from_slice(&body);
        let _ = BinaryFrame::decode(&frame);
    }

    #[test]
    fn text_decoders_never_panic(text in any::<String>()) {
        let _ = Message::decode(&text, Vsn::V1);
        let _ = Message::decode(&text, Vsn::V2);
    }

    #[test]
    fn text_decoders_never_panic_on_jsonish_text(text in jsonish()) {
        let v1 = Message::decode(&text, Vsn::V1);
        let v2 = Message::decode(&text, Vsn::V2);
        for msg in [v1, v2].into_iter().flatten() {
            let _ = JoinPayload::parse(&msg.payload);
            let _ = PresenceRequest::parse(&msg.payload);
        }
    }

    #[test]
    fn payload_parsers_never_panic_on_arbitrary_json(text in jsonish()) {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
            let _ = JoinPayload::parse(&value);
            let _ = PresenceRequest::parse(&value);
            let _ = JoinPayload::parse(&json!({"config": value.clone()}));
            let _ = JoinPayload::parse(&json!({"config": {"presence": value.clone(), "broadcast": value}}));
        }
    }

    #[test]
    fn text_messages_round_trip(
        join_ref in proptest::option::of(short_text()),
        msg_ref in proptest::option::of(short_text()),
        topic in short_text(),
        event in short_text(),
        n in any::<i64>(),
        s in short_text(),
        v2 in any::<bool>(),
    ) {
        let msg = Message { join_ref, msg_ref, topic, event, payload: json!({"n": n, "s": s}) };
        let vsn = if v2 { Vsn::V2 } else { Vsn::V1 };
        let text = msg.encode(vsn, Direction::ClientToServer).unwrap();
        prop_assert_eq!(Message::decode(&text, vsn).unwrap(), msg);
    }

    #[test]
    fn binary_frames_round_trip(
        join_ref in short_text(),
        msg_ref in short_text(),
        topic in short_text(),
        event in short_text(),
        bytes in proptest::collection::vec(any::<u8>(), 0..100),
        text in short_text(),
        json_payload in any::<bool>(),
    ) {
        let json_text = serde_json::to_string(&json!({"t": text})).unwrap();
        let raw: &RawValue = serde_json::from_str(&json_text).unwrap();
        let payload = if json_payload { UserPayload::Json(raw) } else { UserPayload::Binary(&bytes) };
        let push = BroadcastPush {
            join_ref: &join_ref, msg_ref: &msg_ref, topic: &topic, event: &event, meta: None, payload,
        };
        let encoded = push.encode().unwrap();
        prop_assert_eq!(BinaryFrame::decode(&encoded).unwrap(), BinaryFrame::Push(push));
        let broadcast = UserBroadcast { topic: &topic, event: &event, meta: Some(raw), payload };
        let encoded = broadcast.encode().unwrap();
        prop_assert_eq!(BinaryFrame::decode(&encoded).unwrap(), BinaryFrame::Broadcast(broadcast));
    }
}
