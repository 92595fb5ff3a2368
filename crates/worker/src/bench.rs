//! `FrameBench`: the frame crypto as the pump runs it (bytes copied into wasm, encrypted or
//! decrypted, copied out), exported so that `cargo xtask bench e2ee` can time the shipped
//! worker build inside a worker (bench/e2ee-worker.mjs).

use pairux_core::e2ee::{Codec, FrameDecryptor, FrameEncryptor, FrameInfo, MediaKind, SenderId};
use pairux_core::link::RoomKey;
use wasm_bindgen::prelude::*;

/// An encryptor and a decryptor sharing one fixed benchmark key (VP8 delta frames).
#[wasm_bindgen]
pub struct FrameBench {
    encryptor: FrameEncryptor,
    decryptor: FrameDecryptor,
    output: Vec<u8>,
}

const INFO: FrameInfo = FrameInfo {
    media: MediaKind::Video,
    codec: Codec::Vp8,
    key_frame: false,
};

#[wasm_bindgen]
impl FrameBench {
    #[wasm_bindgen(constructor)]
    pub fn new() -> FrameBench {
        let room = RoomKey::from_bytes([0x5a; 32]);
        let sender = SenderId::from_bytes([0xa5; 16]);
        FrameBench {
            encryptor: FrameEncryptor::new(&room, sender),
            decryptor: FrameDecryptor::new(&room, sender),
            output: Vec::new(),
        }
    }

    /// The protected frame (empty if it could not be encrypted).
    pub fn encrypt(&mut self, frame: &[u8]) -> Vec<u8> {
        match self.encryptor.encrypt(INFO, frame, &mut self.output) {
            Ok(()) => self.output.clone(),
            Err(_) => Vec::new(),
        }
    }

    /// The original frame (empty if it did not authenticate).
    pub fn decrypt(&mut self, frame: &[u8]) -> Vec<u8> {
        match self.decryptor.decrypt(INFO, frame, &mut self.output) {
            Ok(()) => self.output.clone(),
            Err(_) => Vec::new(),
        }
    }
}

impl Default for FrameBench {
    fn default() -> Self {
        Self::new()
    }
}
