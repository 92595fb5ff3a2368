//! Tests of the wire codec: literal frames from the reference and from realtime-js byte for
//! byte, payload parsing, and properties (decoders never panic, encoders round-trip).

mod binary_frames;
mod literal_frames;
mod payloads;
mod properties;

/// Decodes hex written in tests (pairs of hex digits, whitespace ignored).
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).expect("hex literal is ASCII");
            u8::from_str_radix(s, 16).expect("hex literal is valid")
        })
        .collect()
}
