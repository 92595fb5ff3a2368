//! Properties of the E2EE core: no bytes from the network panic a decoder or decryptor, every
//! frame round-trips through encryption for every codec, escaping is invertible, and the replay
//! window agrees with a plain set-based model.

use std::collections::BTreeSet;

use pairux_core::e2ee::codec::{escape_into, unescape_into};
use pairux_core::e2ee::replay::{ReplayWindow, REPLAY_WINDOW};
use pairux_core::e2ee::{
    Codec, E2eeEngine, E2eeError, FrameDecryptor, FrameEncryptor, FrameInfo, MediaKind,
    ProfileSealer, SenderId, SframeHeader, SignalAad, SignalSealer, ToWorker,
};
use pairux_core::link::RoomKey;
use pairux_core::Role;
use proptest::prelude::*;

const CODECS: [Codec; 5] = [
    Codec::Vp8,
    Codec::Vp9,
    Codec::H264,
    Codec::Opus,
    Codec::Other,
];

fn info(codec_ix: usize, key_frame: bool) -> FrameInfo {
    let codec = CODECS[codec_ix % CODECS.len()];
    FrameInfo {
        media: if codec == Codec::Opus {
            MediaKind::Audio
        } else {
            MediaKind::Video
        },
        codec,
        key_frame,
    }
}

fn pair() -> (FrameEncryptor, FrameDecryptor) {
    let room = RoomKey::from_bytes([5; 32]);
    let sender = SenderId::from_bytes([0x3c; 16]);
    (
        FrameEncryptor::new(&room, sender),
        FrameDecryptor::new(&room, sender),
    )
}

/// Frames that look like H.264 now and then: start codes and slice headers among random bytes.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        proptest::collection::vec(
            prop_oneof![Just(0u8), Just(1), Just(3), Just(0x65), any::<u8>()],
            0..300
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn header_decode_is_total_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
        if let Ok((header, len)) = SframeHeader::decode(&bytes) {
            prop_assert!(len <= bytes.len());
            // Re-encoding is minimal, so at most as long as what was read.
            prop_assert!(header.encoded_len() <= len);
            prop_assert_eq!(SframeHeader::decode(&header.encode()), Ok((header, header.encoded_len())));
        }
    }

    #[test]
    fn random_bytes_never_panic_the_decryptor(
        bytes in frame(),
        codec_ix in 0usize..5,
        key_frame in any::<bool>(),
    ) {
        let (_, mut dec) = pair();
        let mut out = Vec::new();
        let result = dec.decrypt(info(codec_ix, key_frame), &bytes, &mut out);
        // Forging a tag is hopeless; only the empty frame passes.
        prop_assert_eq!(result.is_ok(), bytes.is_empty());
        prop_assert!(out.is_empty());
    }

    #[test]
    fn frames_round_trip_and_tampering_is_caught(
        frames in proptest::collection::vec(frame(), 1..6),
        codec_ix in 0usize..5,
        key_frame in any::<bool>(),
        flip in any::<prop::sample::Index>(),
    ) {
        let (mut enc, mut dec) = pair();
        let info = info(codec_ix, key_frame);
        let (mut wire, mut back) = (Vec::new(), Vec::new());
        for f in &frames {
            match enc.encrypt(info, f, &mut wire) {
                // Too short for the codec's prefix (a 5-byte VP8 key frame): never sent.
                Err(E2eeError::ShortFrame) => continue,
                other => other.unwrap(),
            }
            if f.is_empty() {
                prop_assert!(wire.is_empty());
                continue;
            }
            let mut bad = wire.clone();
            let i = flip.index(bad.len());
            bad[i] ^= 0x01;
            prop_assert!(dec.decrypt(info, &bad, &mut back).is_err());
            dec.decrypt(info, &wire, &mut back).unwrap();
            prop_assert_eq!(&back, f);
        }
    }

    #[test]
    fn engine_never_panics_on_any_participant_or_bytes(
        bytes in frame(),
        participant in "[a-z]{0,3}",
        codec_ix in 0usize..5,
    ) {
        let mut engine = E2eeEngine::new();
        engine.handle(&ToWorker::EpochKey { epoch: 1, key: RoomKey::from_bytes([1; 32]) });
        engine.handle(&ToWorker::RemoteSender { participant: "a".into(), sender: SenderId::from_bytes([2; 16]) });
        let mut out = Vec::new();
        let _ = engine.decrypt(&participant, info(codec_ix, false), &bytes, &mut out);
    }

    #[test]
    fn escaping_is_invertible(data in proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(3), any::<u8>()], 0..200), zeros in 0usize..3) {
        let mut escaped = Vec::new();
        escape_into(&data, zeros, &mut escaped);
        // No start code or reserved `00 00 0x` (x ≤ 2) remains, counting preceding zeros.
        let mut stream = vec![0u8; zeros];
        stream.extend_from_slice(&escaped);
        prop_assert!(!stream.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2));
        let mut back = Vec::new();
        unescape_into(&escaped, zeros, &mut back);
        prop_assert_eq!(back, data);
    }

    #[test]
    fn replay_window_matches_a_set_model(ctrs in proptest::collection::vec(
        prop_oneof![0u64..5000, (0u64..3).prop_map(|k| k * REPLAY_WINDOW), any::<u64>()], 1..200)) {
        let mut window = ReplayWindow::new();
        let mut seen = BTreeSet::new();
        let mut highest: Option<u64> = None;
        for ctr in ctrs {
            let model_ok = !seen.contains(&ctr)
                && highest.is_none_or(|h| ctr > h || h - ctr < REPLAY_WINDOW);
            prop_assert_eq!(window.check(ctr).is_ok(), model_ok, "ctr {}", ctr);
            if model_ok {
                window.accept(ctr);
                seen.insert(ctr);
                highest = Some(highest.map_or(ctr, |h| h.max(ctr)));
            }
        }
    }

    #[test]
    fn sealed_messages_never_panic_and_never_open_when_forged(
        bytes in proptest::collection::vec(any::<u8>(), 0..120),
        from in ".{0,8}",
    ) {
        let room = RoomKey::from_bytes([4; 32]);
        let aad = SignalAad { session: "s", from: &from, to: None };
        prop_assert!(SignalSealer::new(&room).open(aad, &bytes).is_err());
        prop_assert!(ProfileSealer::new(&room).open(&from, Role::Host, &bytes).is_err());
    }

    #[test]
    fn sealed_messages_round_trip(plaintext in proptest::collection::vec(any::<u8>(), 0..300), nonce in any::<[u8; 12]>(), to in proptest::option::of("[a-z]{1,4}")) {
        let sealer = SignalSealer::new(&RoomKey::from_bytes([4; 32]));
        let aad = SignalAad { session: "s", from: "a", to: to.as_deref() };
        let sealed = sealer.seal(aad, &plaintext, nonce);
        prop_assert_eq!(sealer.open(aad, &sealed).unwrap(), plaintext);
    }
}
