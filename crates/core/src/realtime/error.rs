//! Errors of the wire codec: what can be wrong with a frame a peer sent, and what cannot be
//! put on the wire.

/// Why a frame could not be decoded. Every decoder returns one of these rather than panicking.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The text is not JSON, or a vsn 1.0.0 object lacks `topic`, `event` or `payload`.
    #[error("text frame is not a valid message: {0}")]
    Json(#[from] serde_json::Error),
    /// A vsn 2.0.0 text frame must be `[join_ref, ref, topic, event, payload, ...]`.
    #[error("vsn 2.0.0 text frame is not an array of at least 5 elements")]
    NotAnArray,
    /// A field is present but has a type the protocol does not allow (e.g. a numeric topic).
    #[error("field `{0}` has the wrong type")]
    FieldType(&'static str),
    /// A binary frame with no bytes at all.
    #[error("binary frame is empty")]
    Empty,
    /// A binary kind other than the user broadcasts (3 and 4) realtime-js exchanges.
    #[error("binary frame kind {0} is not supported (only 3 and 4)")]
    UnsupportedKind(u8),
    /// The length prefixes point past the end of the frame.
    #[error("binary frame truncated: {needed} bytes needed, {len} present")]
    Truncated {
        /// Bytes the header promised.
        needed: usize,
        /// Bytes actually present.
        len: usize,
    },
    /// A header string (topic, event, refs, meta) is not UTF-8.
    #[error("binary field `{0}` is not UTF-8")]
    NotUtf8(&'static str),
    /// The payload encoding byte is neither 0 (binary) nor 1 (JSON).
    #[error("unknown payload encoding {0}")]
    UnknownEncoding(u8),
    /// A JSON-encoded user payload or the metadata is not valid JSON.
    #[error("binary field `{field}` is not valid JSON: {source}")]
    InvalidJsonField {
        /// `payload` or `meta`.
        field: &'static str,
        /// The parser's complaint.
        source: serde_json::Error,
    },
}

/// Why a frame could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Binary headers carry one-byte lengths, so each header field is at most 255 bytes.
    #[error("field `{field}` is {len} bytes, binary frames allow at most 255")]
    FieldTooLong {
        /// Which header field.
        field: &'static str,
        /// Its UTF-8 length.
        len: usize,
    },
    /// The payload could not be serialised (e.g. a map with non-string keys).
    #[error("payload cannot be serialised: {0}")]
    Json(#[from] serde_json::Error),
}
