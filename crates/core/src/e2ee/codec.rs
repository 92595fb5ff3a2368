//! Which bytes of an encoded frame stay in clear, per codec, and H.264 emulation-prevention
//! escaping (the choices of Jitsi and LiveKit, reference/e2ee.md).
//!
//! The clear prefix is what RTP packetizers and SFUs read: VP8's payload header (10 bytes on
//! key frames, 3 on delta frames: RFC 6386 §9.1), Opus's TOC byte, H.264's NAL units up to and
//! including the first two bytes of the first slice. VP9 and codecs we do not know are
//! encrypted whole. After an H.264 prefix everything is escaped so that no start code appears
//! in the encrypted part (the packetizer would split it there).

use serde::{Deserialize, Serialize};

/// Codecs the transform distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    Vp8,
    Vp9,
    H264,
    Opus,
    /// Anything else: no clear prefix. AV1 and H.265 packetizers parse the bitstream, so those
    /// codecs do not survive encryption (the app negotiates VP8).
    Other,
}

impl Codec {
    /// From an RTP MIME type such as `video/VP8` (RTCEncodedVideoFrameMetadata.mimeType).
    pub fn from_mime_type(mime: &str) -> Codec {
        let name = mime.rsplit('/').next().unwrap_or(mime);
        match name.to_ascii_lowercase().as_str() {
            "vp8" => Codec::Vp8,
            "vp9" => Codec::Vp9,
            "h264" => Codec::H264,
            "opus" => Codec::Opus,
            _ => Codec::Other,
        }
    }

    /// Whether the encrypted part must be escaped (H.264 Annex B).
    pub fn escapes(self) -> bool {
        self == Codec::H264
    }
}

const VP8_KEY_PREFIX: usize = 10;
const VP8_DELTA_PREFIX: usize = 3;
const OPUS_PREFIX: usize = 1;

/// Bytes at the start of `frame` left in clear, or `None` when the frame is too short to have
/// them (a VP8 key frame under 10 bytes, an H.264 slice NAL unit without its first byte).
///
/// Sender and receiver compute the same value: the prefix travels unchanged, what follows it
/// only adds bytes (never shortening the prefix a receiver sees), and for H.264 the escaped part
/// contains no start code that could reveal another NAL unit.
pub fn clear_prefix_len(codec: Codec, key_frame: bool, frame: &[u8]) -> Option<usize> {
    let len = match codec {
        Codec::Vp8 if key_frame => VP8_KEY_PREFIX,
        Codec::Vp8 => VP8_DELTA_PREFIX,
        Codec::Opus => OPUS_PREFIX,
        Codec::H264 => h264_prefix_len(frame),
        Codec::Vp9 | Codec::Other => 0,
    };
    (len <= frame.len()).then_some(len)
}

const H264_SLICE_NON_IDR: u8 = 1;
const H264_SLICE_IDR: u8 = 5;

/// Up to the first coded slice NAL unit plus 2 bytes (its header and the first byte of the
/// slice header); 0 when there is none.
fn h264_prefix_len(frame: &[u8]) -> usize {
    nal_unit_starts(frame)
        .find(|&i| matches!(frame[i] & 0x1f, H264_SLICE_NON_IDR | H264_SLICE_IDR))
        .map_or(0, |i| i + 2)
}

/// Indices of the first byte of each NAL unit (just after a `00 00 01` start code, which also
/// ends the 4-byte form `00 00 00 01`).
fn nal_unit_starts(frame: &[u8]) -> impl Iterator<Item = usize> + '_ {
    frame
        .windows(3)
        .enumerate()
        .filter(|(_, w)| w == &[0, 0, 1])
        .map(|(i, _)| i + 3)
        .filter(move |&i| i < frame.len())
}

/// Trailing zero bytes of `bytes`, at most 2 (what escaping needs to know of what precedes).
pub fn trailing_zeros(bytes: &[u8]) -> usize {
    bytes.iter().rev().take(2).take_while(|&&b| b == 0).count()
}

/// Appends `data` to `out` with an emulation-prevention byte `03` inserted after every two
/// zeros that precede a byte ≤ 3 (H.264 §7.4.1). `zeros` is how many zero bytes directly
/// precede `data` in the stream (see [`trailing_zeros`]).
pub fn escape_into(data: &[u8], mut zeros: usize, out: &mut Vec<u8>) {
    out.reserve(data.len() + data.len() / 64 + 4);
    for &b in data {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
}

/// Inverse of [`escape_into`] with the same `zeros`: drops each `03` that follows two zeros.
pub fn unescape_into(data: &[u8], mut zeros: usize, out: &mut Vec<u8>) {
    out.reserve(data.len());
    for &b in data {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_map_to_codecs() {
        assert_eq!(Codec::from_mime_type("video/VP8"), Codec::Vp8);
        assert_eq!(Codec::from_mime_type("video/vp9"), Codec::Vp9);
        assert_eq!(Codec::from_mime_type("video/H264"), Codec::H264);
        assert_eq!(Codec::from_mime_type("audio/opus"), Codec::Opus);
        assert_eq!(Codec::from_mime_type("video/AV1"), Codec::Other);
        assert_eq!(Codec::from_mime_type(""), Codec::Other);
    }

    #[test]
    fn vp8_and_opus_prefixes() {
        let frame = [0u8; 40];
        assert_eq!(clear_prefix_len(Codec::Vp8, true, &frame), Some(10));
        assert_eq!(clear_prefix_len(Codec::Vp8, false, &frame), Some(3));
        assert_eq!(clear_prefix_len(Codec::Vp8, true, &frame[..10]), Some(10));
        assert_eq!(clear_prefix_len(Codec::Vp8, true, &frame[..9]), None);
        assert_eq!(clear_prefix_len(Codec::Opus, false, &frame), Some(1));
        assert_eq!(clear_prefix_len(Codec::Opus, false, &[]), None);
        assert_eq!(clear_prefix_len(Codec::Vp9, true, &frame), Some(0));
        assert_eq!(clear_prefix_len(Codec::Other, true, &frame), Some(0));
    }

    #[test]
    fn h264_prefix_runs_to_the_first_slice() {
        // SPS (7), PPS (8) with 4-byte start codes, then an IDR slice (5) with a 3-byte one.
        let frame = [
            0, 0, 0, 1, 0x67, 0xaa, 0xbb, //
            0, 0, 0, 1, 0x68, 0xcc, //
            0, 0, 1, 0x65, 0x88, 0x99, 0x77,
        ];
        assert_eq!(clear_prefix_len(Codec::H264, true, &frame), Some(18));
        // A non-IDR slice straight away.
        assert_eq!(
            clear_prefix_len(Codec::H264, false, &[0, 0, 0, 1, 0x41, 0x9a, 0x01]),
            Some(6)
        );
        // No slice at all, or a start code at the very end: encrypted whole.
        assert_eq!(
            clear_prefix_len(Codec::H264, true, &[0, 0, 1, 0x67, 1]),
            Some(0)
        );
        assert_eq!(clear_prefix_len(Codec::H264, true, &[9, 0, 0, 1]), Some(0));
        // A slice header cut short.
        assert_eq!(clear_prefix_len(Codec::H264, true, &[0, 0, 1, 0x65]), None);
    }

    #[test]
    fn escaping_breaks_every_start_code() {
        let mut out = Vec::new();
        escape_into(&[0, 0, 1, 0, 0, 0, 0, 0, 3, 7], 0, &mut out);
        assert_eq!(out, [0, 0, 3, 1, 0, 0, 3, 0, 0, 3, 0, 3, 7]);
        let mut back = Vec::new();
        unescape_into(&out, 0, &mut back);
        assert_eq!(back, [0, 0, 1, 0, 0, 0, 0, 0, 3, 7]);
    }

    #[test]
    fn escaping_continues_across_the_prefix_boundary() {
        // The prefix ends in one zero; the data starts with `00 01`.
        let mut out = Vec::new();
        escape_into(&[0, 1], trailing_zeros(&[0x65, 0]), &mut out);
        assert_eq!(out, [0, 3, 1]);
        let mut back = Vec::new();
        unescape_into(&out, 1, &mut back);
        assert_eq!(back, [0, 1]);
    }
}
