//! The media bench's floor page (bench/floor.html) drives the shipped E2EE transform worker
//! without the app's wasm, from the postcard bytes in bench/lib/worker-wire.json. This pins
//! those bytes to what `pairux_core::e2ee::protocol` encodes for the same inputs, so a protocol
//! change fails here instead of silently breaking (or skewing) the bench. On a mismatch the
//! test prints the file's expected content.

use pairux_core::e2ee::{MediaKind, SenderId, ToWorker, TransformOptions};
use pairux_core::link::RoomKey;
use serde_json::{json, Value};

const WIRE: &str = include_str!("../../../bench/lib/worker-wire.json");

/// Fixed inputs: a room key, the sending peer's and the receiving peer's sender ids, and the
/// participant id the receiver's transform names.
const SECRET: [u8; 32] = [0x5a; 32];
const HOST_SENDER: [u8; 16] = [0x11; 16];
const VIEWER_SENDER: [u8; 16] = [0x22; 16];
const HOST: &str = "host";

fn expected() -> Value {
    let host = SenderId::from_bytes(HOST_SENDER);
    let viewer = SenderId::from_bytes(VIEWER_SENDER);
    let sender = TransformOptions::sender(MediaKind::Video);
    let receiver = TransformOptions::receiver(HOST, MediaKind::Video);
    json!({
        "note": "Postcard bytes of pairux_core::e2ee::protocol messages for fixed inputs, used by \
                 bench/floor.html; checked by crates/core/tests/bench_worker_wire.rs.",
        // The app's first media epoch (epoch 0, the room key's, is never a media secret).
        "epoch_key": ToWorker::EpochKey { epoch: 1, key: RoomKey::from_bytes(SECRET) }.to_bytes(),
        "send_epoch": ToWorker::SendEpoch { epoch: 1 }.to_bytes(),
        "host_local_sender": ToWorker::LocalSender { sender: host }.to_bytes(),
        "viewer_local_sender": ToWorker::LocalSender { sender: viewer }.to_bytes(),
        "viewer_remote_host": ToWorker::RemoteSender { participant: HOST.into(), sender: host }
            .to_bytes(),
        "sender_options": sender.to_bytes(),
        "receiver_options": receiver.to_bytes(),
        "attach_sender": ToWorker::Attach { options: sender }.to_bytes(),
        "attach_receiver": ToWorker::Attach { options: receiver }.to_bytes(),
    })
}

#[test]
fn bench_floor_sends_the_worker_what_the_app_sends() {
    let expected = expected();
    let stored: Value = serde_json::from_str(WIRE).expect("bench/lib/worker-wire.json is JSON");
    assert!(
        stored == expected,
        "bench/lib/worker-wire.json is stale; its content should be:\n{}",
        serde_json::to_string(&expected).unwrap()
    );
}
