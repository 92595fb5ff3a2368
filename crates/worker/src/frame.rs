//! One encoded frame from a transform's readable side, video or audio.

use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::{RtcEncodedAudioFrame, RtcEncodedVideoFrame, RtcEncodedVideoFrameType};

pub enum EncodedFrame {
    Video(RtcEncodedVideoFrame),
    Audio(RtcEncodedAudioFrame),
}

impl EncodedFrame {
    /// The chunk as a frame; `None` for anything else (never seen from a real transform).
    pub fn from_chunk(chunk: JsValue) -> Option<Self> {
        let chunk = match chunk.dyn_into::<RtcEncodedVideoFrame>() {
            Ok(video) => return Some(EncodedFrame::Video(video)),
            Err(chunk) => chunk,
        };
        chunk
            .dyn_into::<RtcEncodedAudioFrame>()
            .ok()
            .map(EncodedFrame::Audio)
    }

    pub fn as_js(&self) -> &JsValue {
        match self {
            EncodedFrame::Video(f) => f,
            EncodedFrame::Audio(f) => f,
        }
    }

    pub fn is_key_frame(&self) -> bool {
        matches!(self, EncodedFrame::Video(f) if f.type_() == RtcEncodedVideoFrameType::Key)
    }

    /// The payload's RTP MIME type (`video/VP8`), where the browser reports it.
    pub fn mime_type(&self) -> Option<String> {
        match self {
            EncodedFrame::Video(f) => f.get_metadata().get_mime_type(),
            EncodedFrame::Audio(f) => f.get_metadata().get_mime_type(),
        }
    }

    /// Copies the payload into `buf` (replacing its contents).
    pub fn read_into(&self, buf: &mut Vec<u8>) {
        let data = Uint8Array::new(&self.data());
        buf.clear();
        buf.resize(data.length() as usize, 0);
        data.copy_to(buf);
    }

    /// Replaces the payload with a copy of `bytes`.
    pub fn write(&self, bytes: &[u8]) {
        let data = Uint8Array::new_with_length(bytes.len() as u32);
        data.copy_from(bytes);
        let buffer = data.buffer();
        match self {
            EncodedFrame::Video(f) => f.set_data(&buffer),
            EncodedFrame::Audio(f) => f.set_data(&buffer),
        }
    }

    fn data(&self) -> ArrayBuffer {
        match self {
            EncodedFrame::Video(f) => f.data(),
            EncodedFrame::Audio(f) => f.data(),
        }
    }
}
