//! Pins the trust wire format to `tests/e2e/lib/wire-vectors.json`: signed presence metas,
//! sealed and signed signals and the controller proof, for fixed inputs. The adversarial
//! journeys forge these in JavaScript (`tests/e2e/lib/wire.mjs`, checked against the same
//! file by `tests/e2e/wire.test.mjs`), so a format change fails here instead of letting those
//! journeys pass against a format the app no longer speaks. On a mismatch the test prints the
//! file's expected content.

use pairux_core::control::{control_proof, ChannelBinding};
use pairux_core::e2ee::rekey::AgreementKey;
use pairux_core::identity::Signer;
use pairux_core::link::{SessionLink, GENERATE_RANDOM_LEN};
use pairux_core::session::{SessionIdentity, SignalBody, SignalCodec, SignalEnvelope};
use pairux_core::Role;
use serde_json::{json, Value};

/// The guest's join salt (`join` in its profile, part of its participant id).
const GUEST_SALT: [u8; 16] = [0x55; 16];

const WIRE: &str = include_str!("../../../tests/e2e/lib/wire-vectors.json");

fn expected() -> Value {
    let (link, host_key) = SessionLink::generate(&[0x42; GENERATE_RANDOM_LEN]);
    let host = SessionIdentity::new(&link, Role::Host, 1_000, host_key.signer().clone());
    let guest_seed = [0x33; 32];
    let guest = SessionIdentity::new(
        &link,
        Role::Controller,
        2_000,
        Signer::from_seed(guest_seed),
    )
    .with_salt(GUEST_SALT);
    let (host_id, guest_id) = (host.me(), guest.me());
    let host_meta = host.meta(&json!({"name": "Host"}), [0x01; 12]);
    let guest_meta = guest.meta(&json!({"name": "Guest"}), [0x02; 12]);
    let mut codec = SignalCodec::new(&link.room_key, &host);
    // The share is addressed to the guest: its body is sealed to the guest's agreement key.
    let guest_kx = AgreementKey::from_signer(&Signer::from_seed(guest_seed));
    let share = codec
        .seal(
            &SignalEnvelope {
                from: host_id.into(),
                to: Some(guest_id.into()),
                body: SignalBody::Share {
                    sharing: true,
                    unable: false,
                },
            },
            [0x03; 12],
            Some(&guest_kx.public()),
        )
        .expect("the guest's key is an honest one");
    let ended = codec
        .seal(
            &SignalEnvelope {
                from: host_id.into(),
                to: None,
                body: SignalBody::Ended,
            },
            [0x04; 12],
            None,
        )
        .expect("a signal to all needs no key");
    let binding = ChannelBinding {
        host: "sha-256 AA:BB".into(),
        participant: "sha-256 CC:DD".into(),
    };
    let proof = control_proof(
        link.controller.as_ref().expect("generated links have one"),
        "nonce-1",
        guest_id,
        &binding,
    );
    json!({
        "note": "Written from pairux_core for fixed inputs; checked by crates/core/tests/trust_wire.rs and tests/e2e/wire.test.mjs.",
        "controller_link": link.controller_link(),
        "host_meta": {"id": host_id, "role": "host", "joined_at": 1_000, "profile": {"name": "Host"}, "nonce": hex(&[0x01; 12]), "meta": host_meta},
        "guest_meta": {"id": guest_id, "role": "controller", "joined_at": 2_000, "profile": {"name": "Guest"}, "nonce": hex(&[0x02; 12]), "seed": hex(&guest_seed), "salt": hex(&GUEST_SALT), "meta": guest_meta},
        "signals": [
            {"from": host_id, "to": guest_id, "to_kx": guest_kx.encode_public(), "kind": "share", "body": {"sharing": true}, "epoch": 1_000, "seq": 1, "nonce": hex(&[0x03; 12]), "payload": share},
            {"from": host_id, "to": null, "kind": "ended", "body": null, "epoch": 1_000, "seq": 2, "nonce": hex(&[0x04; 12]), "payload": ended}
        ],
        "proof": {"nonce": "nonce-1", "id": guest_id, "host": binding.host, "participant": binding.participant, "proof": proof}
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_adversarial_journeys_forge_what_the_app_speaks() {
    let expected = expected();
    let stored: Value =
        serde_json::from_str(WIRE).expect("tests/e2e/lib/wire-vectors.json is JSON");
    assert!(
        stored == expected,
        "tests/e2e/lib/wire-vectors.json is stale; its content should be:\n{}",
        serde_json::to_string_pretty(&expected).unwrap()
    );
}
