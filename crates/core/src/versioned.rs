//! Versioned JSON messages, `{"v":N,"t":…,…}`: the shape of the data-channel protocol
//! (`control::wire`) and of the agent protocol (`agent::wire`). Every message carries the
//! version, so either side can refuse what it does not speak; a message is size-checked before
//! it is parsed.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why a message was not read (each protocol maps it into its own error type).
pub(crate) enum VersionedError {
    TooLarge,
    Version(u64),
    Malformed(String),
}

#[derive(Serialize)]
struct Out<'a, T> {
    v: u8,
    #[serde(flatten)]
    msg: &'a T,
}

pub(crate) fn encode<T: Serialize>(version: u8, msg: &T) -> String {
    serde_json::to_string(&Out { v: version, msg }).expect("protocol messages always serialise")
}

pub(crate) fn decode<T: DeserializeOwned>(
    text: &str,
    max_bytes: usize,
    version: u8,
) -> Result<T, VersionedError> {
    if text.len() > max_bytes {
        return Err(VersionedError::TooLarge);
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| VersionedError::Malformed(e.to_string()))?;
    match value.get("v").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(version) => {}
        Some(v) => return Err(VersionedError::Version(v)),
        None => return Err(VersionedError::Malformed("no version".into())),
    }
    serde_json::from_value(value).map_err(|e| VersionedError::Malformed(e.to_string()))
}
