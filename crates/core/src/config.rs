//! `/config.json`: how the app finds Realtime, ICE servers and the SFU (product.md §5).
//!
//! One type for both sides: pairux-server serialises it, the app deserialises it, and a static
//! deployment writes the same document by hand to point the app at hosted Supabase.

use serde::{Deserialize, Serialize};

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

/// The SFU's public facts (which node a session uses is in its access grant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SfuConfig {
    pub janus_url: String,
}

impl ClientConfig {
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
