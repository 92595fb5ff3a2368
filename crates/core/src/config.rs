//! `/config.json`: how the app finds Realtime, ICE servers and the SFU (product.md §5).
//!
//! One type for both sides: pairux-server serialises it, the app deserialises it, and a static
//! deployment writes the same document by hand to point the app at hosted Supabase.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The document served as `/config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientConfig {
    /// WebSocket URL of the Realtime endpoint, without query.
    pub realtime_url: String,
    /// JWT the app presents as `apikey`.
    pub anon_key: String,
    /// STUN/TURN servers, as RTCIceServer dictionaries.
    #[serde(default)]
    pub ice_servers: Vec<IceServer>,
    /// Set when SFU mode is available (rooms and tokens come from `accessUrl`).
    #[serde(default)]
    pub sfu: Option<SfuConfig>,
    /// `POST` here with an [`crate::access::AccessRequest`] for TURN credentials and, in SFU
    /// mode, a room and a Janus token. `None`: a static deployment without a PairUX server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_url: Option<String>,
    /// Further access endpoints (other focus processes), tried in order when `accessUrl` cannot
    /// be reached or answers 5xx.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_fallback_urls: Vec<String>,
    /// The Session Focus's public key (base64url Ed25519): clients act only on focus decisions
    /// signed by it. `None`: no focus (sessions stay in their start mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus_key: Option<String>,
    /// Where this deployment's users are, as a placement hint for the focus (a page's
    /// `?region=` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Every connection goes through TURN (`iceTransportPolicy: "relay"`), P2P and SFU alike.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relay_only: bool,
}

/// One RTCIceServer: `urls` is a string or a list, credentials for TURN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: IceUrls,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `urls` of an RTCIceServer, which WebRTC accepts as one string or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum IceUrls {
    One(String),
    Many(Vec<String>),
}

/// A string or a list of strings, read directly (serde's untagged derive buffers the value and
/// tries each variant, code the app does not need for a two-way choice).
impl<'de> Deserialize<'de> for IceUrls {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Urls;
        impl<'de> serde::de::Visitor<'de> for Urls {
            type Value = IceUrls;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a URL or a list of URLs")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IceUrls, E> {
                Ok(IceUrls::One(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<IceUrls, A::Error> {
                let mut urls = Vec::new();
                while let Some(url) = seq.next_element::<String>()? {
                    urls.push(url);
                }
                Ok(IceUrls::Many(urls))
            }
        }
        deserializer.deserialize_any(Urls)
    }
}

impl IceServer {
    /// One RTCIceServer read from a `Value` (config.json, an access grant).
    pub(crate) fn from_value(value: &Value) -> Result<IceServer, ConfigError> {
        let server = object(value, "iceServers")?;
        let urls = match server.get("urls") {
            None => return Err(ConfigError("missing field `urls`".into())),
            Some(Value::String(url)) => IceUrls::One(url.clone()),
            Some(v @ Value::Array(_)) => IceUrls::Many(strings(v, "urls")?),
            Some(_) => return Err(invalid("urls")),
        };
        Ok(IceServer {
            urls,
            username: optional_string(server, "username")?,
            credential: optional_string(server, "credential")?,
        })
    }
}

pub(crate) fn invalid(name: &str) -> ConfigError {
    ConfigError(format!("invalid type for `{name}`"))
}

pub(crate) fn object<'a>(
    value: &'a Value,
    name: &str,
) -> Result<&'a Map<String, Value>, ConfigError> {
    value.as_object().ok_or_else(|| invalid(name))
}

pub(crate) fn array<'a>(value: &'a Value, name: &str) -> Result<&'a Vec<Value>, ConfigError> {
    value.as_array().ok_or_else(|| invalid(name))
}

pub(crate) fn strings(value: &Value, name: &str) -> Result<Vec<String>, ConfigError> {
    array(value, name)?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| invalid(name)))
        .collect()
}

/// A required non-negative integer field (`u64`), read as the derive reads it.
pub(crate) fn required_u64(doc: &Map<String, Value>, name: &str) -> Result<u64, ConfigError> {
    match doc.get(name) {
        None => Err(ConfigError::missing(name)),
        Some(v) => v.as_u64().ok_or_else(|| invalid(name)),
    }
}

pub(crate) fn required_string(doc: &Map<String, Value>, name: &str) -> Result<String, ConfigError> {
    match doc.get(name) {
        None => Err(ConfigError(format!("missing field `{name}`"))),
        Some(v) => v.as_str().map(str::to_owned).ok_or_else(|| invalid(name)),
    }
}

pub(crate) fn optional_string(
    doc: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, ConfigError> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_str()
            .map(|s| Some(s.to_owned()))
            .ok_or_else(|| invalid(name)),
    }
}

/// The SFU's public facts (which node a session uses is in its access grant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SfuConfig {
    pub janus_url: String,
}

/// Why a JSON document the app reads by hand (config.json, an access grant) could not be
/// read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    /// What serde_json said of a text that is not JSON.
    pub(crate) fn not_json(err: &serde_json::Error) -> ConfigError {
        ConfigError(err.to_string())
    }

    pub(crate) fn missing(name: &str) -> ConfigError {
        ConfigError(format!("missing field `{name}`"))
    }
}

impl ClientConfig {
    /// Reads a config.json document, as the app does, without the derived `Deserialize`'s
    /// generic code in the app's wasm: the document is read as a `serde_json::Value`, which the
    /// app reads anyway. For objects it accepts and refuses what the derive does, with the same
    /// result (property-tested), but for three things the derive allows and a server never
    /// writes: a JSON array standing for an object — the document, `sfu` or an ICE server — (the
    /// derive reads fields by position; refused here), a repeated key (the derive refuses; the
    /// last is kept here), and an unknown field holding what a `Value` cannot (a number out of
    /// `f64`'s range, a lone `\u` surrogate: the derive skips it unread; refused here).
    pub fn from_json(text: &str) -> Result<ClientConfig, ConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        let doc = object(&value, "config.json")?;
        Ok(ClientConfig {
            realtime_url: required_string(doc, "realtimeUrl")?,
            anon_key: required_string(doc, "anonKey")?,
            ice_servers: match doc.get("iceServers") {
                None => Vec::new(),
                Some(v) => array(v, "iceServers")?
                    .iter()
                    .map(IceServer::from_value)
                    .collect::<Result<_, _>>()?,
            },
            sfu: match doc.get("sfu") {
                None | Some(Value::Null) => None,
                Some(v) => Some(SfuConfig {
                    janus_url: required_string(object(v, "sfu")?, "janusUrl")?,
                }),
            },
            access_url: optional_string(doc, "accessUrl")?,
            access_fallback_urls: match doc.get("accessFallbackUrls") {
                None => Vec::new(),
                Some(v) => strings(v, "accessFallbackUrls")?,
            },
            focus_key: optional_string(doc, "focusKey")?,
            region: optional_string(doc, "region")?,
            relay_only: match doc.get("relayOnly") {
                None => false,
                Some(v) => v.as_bool().ok_or_else(|| invalid("relayOnly"))?,
            },
        })
    }

    /// The config of a server reachable at `public_url` (`http(s)://host[:port]`), whose
    /// Realtime endpoint is `/realtime/v1/websocket` on the same origin (no SFU, no access
    /// endpoint: the server adds those when it has them).
    pub fn for_public_url(public_url: &str, anon_key: String, ice_servers: Vec<IceServer>) -> Self {
        let base = public_url.trim_end_matches('/');
        let ws_base = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_owned()
        };
        ClientConfig {
            realtime_url: format!("{ws_base}/realtime/v1/websocket"),
            anon_key,
            ice_servers,
            sfu: None,
            access_url: None,
            access_fallback_urls: Vec::new(),
            focus_key: None,
            region: None,
            relay_only: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realtime_url_follows_the_public_scheme() {
        let c = ClientConfig::for_public_url("http://127.0.0.1:8080/", "k".into(), vec![]);
        assert_eq!(c.realtime_url, "ws://127.0.0.1:8080/realtime/v1/websocket");
        let c = ClientConfig::for_public_url("https://pairux.example", "k".into(), vec![]);
        assert_eq!(c.realtime_url, "wss://pairux.example/realtime/v1/websocket");
    }

    #[test]
    fn serialises_in_the_documented_shape_and_reads_hand_written_files() {
        let c = ClientConfig::for_public_url(
            "http://h",
            "key".into(),
            vec![IceServer {
                urls: IceUrls::One("stun:127.0.0.1:3478".into()),
                username: None,
                credential: None,
            }],
        );
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "realtimeUrl": "ws://h/realtime/v1/websocket",
                "anonKey": "key",
                "iceServers": [{ "urls": "stun:127.0.0.1:3478" }],
                "sfu": null
            })
        );
        // A hand-written file for hosted Supabase may omit the optional parts.
        let hand: ClientConfig = serde_json::from_str(
            r#"{"realtimeUrl":"wss://x.supabase.co/realtime/v1/websocket","anonKey":"k",
                "iceServers":[{"urls":["turn:t:3478"],"username":"u","credential":"c"}]}"#,
        )
        .unwrap();
        assert_eq!(hand.sfu, None);
        assert_eq!(
            hand.ice_servers[0].urls,
            IceUrls::Many(vec!["turn:t:3478".into()])
        );
        assert!(serde_json::from_str::<ClientConfig>(r#"{"anonKey":"k"}"#).is_err());
    }

    /// Values a config.json field may hold, right or wrong.
    fn field_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..3).prop_map(Value::from),
            Just(Value::from(1.5)),
            "[a-z:/.0-9]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::vec(
                    (
                        prop_oneof![
                            Just("urls".to_owned()),
                            Just("username".to_owned()),
                            Just("credential".to_owned()),
                            Just("janusUrl".to_owned()),
                            Just("other".to_owned()),
                        ],
                        inner
                    ),
                    0..4
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// Whether an array stands where `from_json` wants an object: `sfu`, or an ICE server.
    fn positional(doc: &Value) -> bool {
        doc.get("sfu").is_some_and(Value::is_array)
            || doc
                .get("iceServers")
                .and_then(Value::as_array)
                .is_some_and(|servers| servers.iter().any(Value::is_array))
    }

    /// A config.json object: each known key absent or holding any value, plus a stranger.
    fn config_object() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        const KEYS: [&str; 10] = [
            "realtimeUrl",
            "anonKey",
            "iceServers",
            "sfu",
            "accessUrl",
            "accessFallbackUrls",
            "focusKey",
            "region",
            "relayOnly",
            "somethingNew",
        ];
        // Mostly well-formed values, so that deep fields are reached, and any value sometimes.
        let good = |key: &str| -> BoxedStrategy<Value> {
            match key {
                "realtimeUrl" | "anonKey" | "accessUrl" | "focusKey" | "region" => {
                    "[a-z:/]{0,5}".prop_map(Value::String).boxed()
                }
                "relayOnly" => any::<bool>().prop_map(Value::Bool).boxed(),
                "sfu" => prop_oneof![
                    Just(Value::Null),
                    "[a-z]{0,3}".prop_map(|u| serde_json::json!({ "janusUrl": u })),
                ]
                .boxed(),
                "iceServers" => proptest::collection::vec(
                    prop_oneof![
                        "[a-z]{1,3}".prop_map(|u| serde_json::json!({ "urls": u })),
                        ("[a-z]{1,3}", "[a-z]{1,3}").prop_map(|(u, c)| serde_json::json!({
                            "urls": [u], "username": "x", "credential": c
                        })),
                    ],
                    0..3,
                )
                .prop_map(Value::Array)
                .boxed(),
                _ => proptest::collection::vec("[a-z]{0,3}".prop_map(Value::String), 0..3)
                    .prop_map(Value::Array)
                    .boxed(),
            }
        };
        let fields: Vec<BoxedStrategy<Option<Value>>> = KEYS
            .iter()
            .map(|key| {
                prop_oneof![
                    2 => Just(None),
                    7 => good(key).prop_map(Some),
                    1 => field_value().prop_map(Some),
                ]
                .boxed()
            })
            .collect();
        fields.prop_map(|values| {
            Value::Object(
                KEYS.iter()
                    .zip(values)
                    .filter_map(|(k, v)| Some(((*k).to_owned(), v?)))
                    .collect(),
            )
        })
    }

    proptest::proptest! {
        /// The app's reader takes and refuses what the derived `Deserialize` does, with the same
        /// result, for any config object — but where an array stands for an object, which only
        /// the derive reads (by position).
        #[test]
        fn the_hand_reader_reads_what_the_derive_reads(doc in config_object()) {
            let text = doc.to_string();
            let ours = ClientConfig::from_json(&text).ok();
            let derived = serde_json::from_str::<ClientConfig>(&text).ok();
            if positional(&doc) {
                proptest::prop_assert_eq!(ours, None, "{}", text);
            } else {
                proptest::prop_assert_eq!(ours, derived, "{}", text);
            }
        }

        /// Whatever the text, reading it never panics.
        #[test]
        fn any_text_is_read_or_refused(text in ".{0,64}") {
            let _ = ClientConfig::from_json(&text);
        }
    }

    #[test]
    fn the_hand_reader_reads_the_documented_shapes() {
        let full = r#"{"realtimeUrl":"ws://h/realtime/v1/websocket","anonKey":"k",
            "iceServers":[{"urls":"stun:s"},{"urls":["turn:t"],"username":"u","credential":"c"}],
            "sfu":{"janusUrl":"ws://j"},"accessUrl":"/access","accessFallbackUrls":["http://b"],
            "focusKey":"f","region":"eu","relayOnly":true,"later":{"x":1}}"#;
        assert_eq!(
            ClientConfig::from_json(full).ok(),
            serde_json::from_str::<ClientConfig>(full).ok()
        );
        assert!(ClientConfig::from_json(full).unwrap().relay_only);
        for bad in [
            r#"{"anonKey":"k"}"#,
            r#"{"realtimeUrl":"u","anonKey":"k","iceServers":null}"#,
            r#"{"realtimeUrl":"u","anonKey":"k","iceServers":[{"urls":1}]}"#,
            r#"{"realtimeUrl":"u","anonKey":"k","sfu":{}}"#,
            r#"{"realtimeUrl":"u","anonKey":"k","relayOnly":null}"#,
            "[]",
            "",
        ] {
            assert!(ClientConfig::from_json(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<ClientConfig>(bad).is_err(), "{bad}");
        }
        // What only the derive reads: arrays for objects, unknown fields a `Value` cannot hold.
        for derive_only in [
            r#"["u","k"]"#,
            r#"{"realtimeUrl":"u","anonKey":"k","sfu":["ws://j"]}"#,
            r#"{"realtimeUrl":"u","anonKey":"k","iceServers":[["stun:s"]]}"#,
            r#"{"realtimeUrl":"u","anonKey":"k","later":1e400}"#,
            r#"{"realtimeUrl":"u","anonKey":"k","later":"\ud800"}"#,
        ] {
            assert!(
                ClientConfig::from_json(derive_only).is_err(),
                "{derive_only}"
            );
            assert!(
                serde_json::from_str::<ClientConfig>(derive_only).is_ok(),
                "{derive_only}"
            );
        }
        // A repeated key: the derive refuses, the last one counts here.
        let twice = r#"{"realtimeUrl":"a","realtimeUrl":"b","anonKey":"k"}"#;
        assert!(serde_json::from_str::<ClientConfig>(twice).is_err());
        assert_eq!(ClientConfig::from_json(twice).unwrap().realtime_url, "b");
    }

    /// `urls` reads exactly what the untagged derive read: a string, or a list of strings.
    #[test]
    fn urls_are_a_string_or_a_list_of_strings() {
        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(untagged)]
        enum Untagged {
            One(String),
            Many(Vec<String>),
        }
        for text in [
            r#""stun:a""#,
            r#"["turn:a","turns:b"]"#,
            "[]",
            r#"["a",1]"#,
            "1",
            "null",
            "{}",
            r#"{"0":"a"}"#,
            "true",
            r#"[["a"]]"#,
        ] {
            let ours = serde_json::from_str::<IceUrls>(text).ok();
            let derived = serde_json::from_str::<Untagged>(text)
                .ok()
                .map(|u| match u {
                    Untagged::One(s) => IceUrls::One(s),
                    Untagged::Many(v) => IceUrls::Many(v),
                });
            assert_eq!(ours, derived, "{text}");
        }
    }
}
