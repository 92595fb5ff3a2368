//! The SFrame header (RFC 9605 §4.3): a config byte `X|K(3)|Y|C(3)`, then the KID and the CTR.
//!
//! A value below 8 fits in its 3-bit field (`X`/`Y` = 0); a larger one is written as a
//! minimal big-endian integer after the config byte, its length minus one in the field and the
//! flag set. The KID comes before the CTR.

use super::E2eeError;

/// The key id and counter of one SFrame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SframeHeader {
    pub kid: u64,
    pub ctr: u64,
}

/// Longest header: config byte plus two 8-byte values.
pub const MAX_HEADER_LEN: usize = 17;

impl SframeHeader {
    pub fn new(kid: u64, ctr: u64) -> Self {
        SframeHeader { kid, ctr }
    }

    /// Bytes [`SframeHeader::encode_into`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + extra_len(self.kid) + extra_len(self.ctr)
    }

    /// Appends the header to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let (k_flag, k_field) = field(self.kid);
        let (c_flag, c_field) = field(self.ctr);
        out.push(k_flag << 7 | k_field << 4 | c_flag << 3 | c_field);
        push_be(out, self.kid);
        push_be(out, self.ctr);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Reads a header from the start of `bytes`; returns it and its length.
    ///
    /// Non-minimal integers are accepted: the header is authenticated as it was sent.
    pub fn decode(bytes: &[u8]) -> Result<(SframeHeader, usize), E2eeError> {
        let (&config, rest) = bytes.split_first().ok_or(E2eeError::MalformedHeader)?;
        let (kid, kid_len) = read_value(rest, config >> 7 == 1, (config >> 4) & 0x7)?;
        let (ctr, ctr_len) = read_value(&rest[kid_len..], (config >> 3) & 1 == 1, config & 0x7)?;
        Ok((SframeHeader { kid, ctr }, 1 + kid_len + ctr_len))
    }
}

/// Bytes a value takes after the config byte (0 when it fits in the 3-bit field).
fn extra_len(v: u64) -> usize {
    if v < 8 {
        0
    } else {
        (64 - v.leading_zeros() as usize).div_ceil(8)
    }
}

/// (flag, 3-bit field) for a value.
fn field(v: u64) -> (u8, u8) {
    match extra_len(v) {
        0 => (0, v as u8),
        n => (1, (n - 1) as u8),
    }
}

fn push_be(out: &mut Vec<u8>, v: u64) {
    let n = extra_len(v);
    out.extend_from_slice(&v.to_be_bytes()[8 - n..]);
}

/// A value that is inline (`extended` false: the field is the value) or `field + 1` big-endian
/// bytes at the start of `bytes`.
fn read_value(bytes: &[u8], extended: bool, field: u8) -> Result<(u64, usize), E2eeError> {
    if !extended {
        return Ok((u64::from(field), 0));
    }
    let len = usize::from(field) + 1;
    let raw = bytes.get(..len).ok_or(E2eeError::MalformedHeader)?;
    let value = raw.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    Ok((value, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_inline() {
        assert_eq!(SframeHeader::new(0, 0).encode(), [0x00]);
        assert_eq!(SframeHeader::new(7, 7).encode(), [0x77]);
        assert_eq!(SframeHeader::new(8, 0).encode(), [0x80, 0x08]);
        assert_eq!(
            SframeHeader::new(0x123, 0x4567).encode(),
            [0x99, 0x01, 0x23, 0x45, 0x67]
        );
    }

    #[test]
    fn truncated_headers_are_errors() {
        for bad in [&[][..], &[0x80], &[0x99, 0x01, 0x23, 0x45], &[0xff; 16]] {
            assert_eq!(SframeHeader::decode(bad), Err(E2eeError::MalformedHeader));
        }
    }

    #[test]
    fn non_minimal_encodings_decode_to_their_value() {
        // KID 1 written in one extra byte, CTR 0 in two.
        let (h, len) = SframeHeader::decode(&[0x89, 0x01, 0x00, 0x00]).unwrap();
        assert_eq!((h, len), (SframeHeader::new(1, 0), 4));
    }
}
