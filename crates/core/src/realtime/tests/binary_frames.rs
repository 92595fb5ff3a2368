//! Binary kinds 3 and 4, against frames produced by realtime-js 2.119's own serializer.

use serde_json::value::RawValue;

use super::hex;
use crate::realtime::{BinaryFrame, BroadcastPush, DecodeError, UserBroadcast, UserPayload};

/// `channel.send({type:'broadcast', event:'cursor', payload:{x:1}})`, join_ref "1", ref "3".
const JS_JSON_PUSH: &str =
    "0301010e0600013133 7265616c74696d653a726f6f6d31 637572736f72 7b2278223a317d";
/// The same with an `ArrayBuffer` payload de ad be ef, event "frame", ref "4".
const JS_BINARY_PUSH: &str = "0301010e0500003134 7265616c74696d653a726f6f6d31 6672616d65 deadbeef";
/// With `persist: true`, which realtime-js moves into the metadata.
const JS_META_PUSH: &str = "0301010e0610013135 7265616c74696d653a726f6f6d31 637572736f72 7b2270657273697374223a747275657d 7b2278223a317d";
/// Topic `realtime:salle-é`, event 😀: lengths are UTF-8 byte counts.
const JS_UTF8_PUSH: &str = "0301011104000131 36 7265616c74696d653a73616c6c652dc3a9 f09f9880 7b7d";

fn raw(json: &str) -> &RawValue {
    serde_json::from_str(json).unwrap()
}

fn decode_push(bytes: &[u8]) -> BroadcastPush<'_> {
    match BinaryFrame::decode(bytes).unwrap() {
        BinaryFrame::Push(push) => push,
        other => panic!("expected kind 3, got {other:?}"),
    }
}

#[test]
fn realtime_js_json_push() {
    let bytes = hex(JS_JSON_PUSH);
    let push = decode_push(&bytes);
    assert_eq!(
        (push.join_ref, push.msg_ref, push.topic, push.event),
        ("1", "3", "realtime:room1", "cursor")
    );
    assert!(push.meta.is_none());
    assert_eq!(push.payload.as_bytes(), br#"{"x":1}"#);
    assert!(matches!(push.payload, UserPayload::Json(_)));
    assert_eq!(push.encode().unwrap(), bytes);
}

#[test]
fn realtime_js_binary_push() {
    let bytes = hex(JS_BINARY_PUSH);
    let push = decode_push(&bytes);
    assert_eq!((push.msg_ref, push.event), ("4", "frame"));
    assert_eq!(push.payload, UserPayload::Binary(&[0xde, 0xad, 0xbe, 0xef]));
    assert_eq!(push.encode().unwrap(), bytes);
}

#[test]
fn realtime_js_meta_and_utf8_pushes() {
    let bytes = hex(JS_META_PUSH);
    let push = decode_push(&bytes);
    assert_eq!(push.meta.map(RawValue::get), Some(r#"{"persist":true}"#));
    assert_eq!(push.encode().unwrap(), bytes);
    let bytes = hex(JS_UTF8_PUSH);
    let push = decode_push(&bytes);
    assert_eq!((push.topic, push.event), ("realtime:salle-é", "😀"));
    assert_eq!(push.encode().unwrap(), bytes);
}

#[test]
fn kind4_layout_is_what_realtime_js_decodes() {
    // realtime-js decodes exactly these bytes to
    // {topic:"realtime:room1", event:"broadcast", payload:{type:"broadcast", event:"cursor", payload:{x:1}}}.
    let expected = hex("040e0600 01 7265616c74696d653a726f6f6d31 637572736f72 7b2278223a317d");
    let frame = UserBroadcast {
        topic: "realtime:room1",
        event: "cursor",
        meta: None,
        payload: UserPayload::Json(raw(r#"{"x":1}"#)),
    };
    assert_eq!(frame.encode().unwrap(), expected);
    assert_eq!(
        BinaryFrame::decode(&expected).unwrap(),
        BinaryFrame::Broadcast(frame)
    );
    let binary = UserBroadcast {
        topic: "realtime:room1",
        event: "frame",
        meta: Some(raw(r#"{"id":"m1"}"#)),
        payload: UserPayload::Binary(&[0, 1, 2]),
    };
    let bytes = binary.encode().unwrap();
    assert_eq!(
        bytes,
        hex("040e050b 00 7265616c74696d653a726f6f6d31 6672616d65 7b226964223a226d31227d 000102")
    );
    assert_eq!(
        BinaryFrame::decode(&bytes).unwrap(),
        BinaryFrame::Broadcast(binary)
    );
}

#[test]
fn malformed_binary_frames_are_typed_errors() {
    assert!(matches!(BinaryFrame::decode(&[]), Err(DecodeError::Empty)));
    assert!(matches!(
        BinaryFrame::decode(&[0, 1, 2]),
        Err(DecodeError::UnsupportedKind(0))
    ));
    assert!(matches!(
        BinaryFrame::decode(&[3, 1]),
        Err(DecodeError::Truncated { needed: 7, len: 2 })
    ));
    // Header claims a 200-byte topic that is not there.
    assert!(matches!(
        BinaryFrame::decode(&[4, 200, 0, 0, 0, b'x']),
        Err(DecodeError::Truncated {
            needed: 205,
            len: 6
        })
    ));
    assert!(matches!(
        BinaryFrame::decode(&[4, 1, 0, 0, 0, 0xff]),
        Err(DecodeError::NotUtf8("topic"))
    ));
    assert!(matches!(
        BinaryFrame::decode(&[4, 0, 0, 0, 7]),
        Err(DecodeError::UnknownEncoding(7))
    ));
    assert!(matches!(
        BinaryFrame::decode(b"\x04\x00\x00\x00\x01{not json"),
        Err(DecodeError::InvalidJsonField {
            field: "payload",
            ..
        })
    ));
    assert!(matches!(
        BinaryFrame::decode(b"\x04\x00\x00\x02\x00{x"),
        Err(DecodeError::InvalidJsonField { field: "meta", .. })
    ));
}

#[test]
fn header_fields_over_255_bytes_cannot_be_encoded() {
    let topic = "t".repeat(256);
    let frame = UserBroadcast {
        topic: &topic,
        event: "e",
        meta: None,
        payload: UserPayload::Binary(&[]),
    };
    let err = frame.encode().unwrap_err();
    assert!(err.to_string().contains("topic"), "{err}");
}
