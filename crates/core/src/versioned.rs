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
    let value = parse(text, max_bytes, version)?;
    serde_json::from_value(value).map_err(|e| VersionedError::Malformed(e.to_string()))
}

/// The size and version checks of [`decode`], for a protocol that reads its fields by hand
/// ([`Fields`]): the message as a JSON value whose `v` is `version`.
pub(crate) fn parse(
    text: &str,
    max_bytes: usize,
    version: u8,
) -> Result<serde_json::Value, VersionedError> {
    if text.len() > max_bytes {
        return Err(VersionedError::TooLarge);
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| VersionedError::Malformed(e.to_string()))?;
    match value.get("v").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(version) => Ok(value),
        Some(v) => Err(VersionedError::Version(v)),
        None => Err(VersionedError::Malformed("no version".into())),
    }
}

/// Typed reads of a parsed message's fields, each failing with the field's name. The types
/// accepted are serde's: an integer field takes only a non-negative integer in range, a float
/// field any number, unknown fields are ignored.
pub(crate) struct Fields<'a>(pub &'a serde_json::Value);

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Result<&'a serde_json::Value, VersionedError> {
        self.0
            .get(name)
            .ok_or_else(|| VersionedError::Malformed(format!("missing field `{name}`")))
    }

    fn bad(name: &str) -> VersionedError {
        VersionedError::Malformed(format!("invalid type for field `{name}`"))
    }

    pub fn str(&self, name: &str) -> Result<&'a str, VersionedError> {
        self.get(name)?.as_str().ok_or_else(|| Self::bad(name))
    }

    pub fn string(&self, name: &str) -> Result<String, VersionedError> {
        self.str(name).map(str::to_owned)
    }

    /// A string that may be left out.
    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>, VersionedError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or_else(|| Self::bad(name)),
        }
    }

    pub fn f64(&self, name: &str) -> Result<f64, VersionedError> {
        self.get(name)?.as_f64().ok_or_else(|| Self::bad(name))
    }

    pub fn u64(&self, name: &str) -> Result<u64, VersionedError> {
        self.get(name)?.as_u64().ok_or_else(|| Self::bad(name))
    }

    /// An unsigned integer that must fit `T` (u8, u32…).
    pub fn uint<T: TryFrom<u64>>(&self, name: &str) -> Result<T, VersionedError> {
        T::try_from(self.u64(name)?).map_err(|_| Self::bad(name))
    }

    /// An unsigned integer that may be left out (or null).
    pub fn opt_uint<T: TryFrom<u64>>(&self, name: &str) -> Result<Option<T>, VersionedError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(_) => self.uint(name).map(Some),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool, VersionedError> {
        self.get(name)?.as_bool().ok_or_else(|| Self::bad(name))
    }

    /// A boolean that may be left out (then false).
    pub fn flag(&self, name: &str) -> Result<bool, VersionedError> {
        match self.0.get(name) {
            None => Ok(false),
            Some(v) => v.as_bool().ok_or_else(|| Self::bad(name)),
        }
    }

    pub fn strings(&self, name: &str) -> Result<Vec<String>, VersionedError> {
        let items = self.get(name)?.as_array().ok_or_else(|| Self::bad(name))?;
        items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| Self::bad(name)))
            .collect()
    }

    /// A string field that must be one of `names`; its index.
    pub fn one_of(&self, name: &str, names: &[&str]) -> Result<usize, VersionedError> {
        let got = self.str(name)?;
        names
            .iter()
            .position(|n| *n == got)
            .ok_or_else(|| VersionedError::Malformed(format!("unknown `{name}` \"{got}\"")))
    }
}

/// Writes a message as `{"v":N,"t":tag,…}`, fields in the order they are added (the compact
/// counterpart of [`Fields`]; strings and numbers are written by serde_json).
pub(crate) struct Writer {
    out: String,
    empty: bool,
}

impl Writer {
    pub fn new(version: u8, tag: &str) -> Self {
        let mut w = Writer::object();
        w.u64("v", u64::from(version)).str("t", tag);
        w
    }

    /// A bare object (`{…}`, no version or tag): a message's nested field ([`Self::object_field`]).
    pub fn object() -> Self {
        Writer {
            out: String::from("{"),
            empty: true,
        }
    }

    fn key(&mut self, name: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
    }

    /// A field whose value is the object `inner` wrote.
    pub fn object_field(&mut self, name: &str, inner: Writer) -> &mut Self {
        self.key(name);
        self.out.push_str(&inner.finish());
        self
    }

    fn json<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> &mut Self {
        self.key(name);
        // Writing a str, number, bool or list of strs into a String cannot fail.
        let text = serde_json::to_string(value).unwrap_or_default();
        self.out.push_str(&text);
        self
    }

    pub fn str(&mut self, name: &str, value: &str) -> &mut Self {
        self.json(name, value)
    }

    pub fn f64(&mut self, name: &str, value: f64) -> &mut Self {
        self.json(name, &value)
    }

    pub fn u64(&mut self, name: &str, value: u64) -> &mut Self {
        self.key(name);
        self.out.push_str(&value.to_string());
        self
    }

    pub fn bool(&mut self, name: &str, value: bool) -> &mut Self {
        self.key(name);
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    pub fn strings(&mut self, name: &str, values: &[String]) -> &mut Self {
        self.json(name, values)
    }

    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}
