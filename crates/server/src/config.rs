//! `GET /config.json`: how the app finds Realtime, ICE servers and the SFU (product.md §5).
//!
//! A static deployment writes the same file by hand to point the app at hosted Supabase.

use serde::Serialize;

/// The document served as `/config.json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientConfig {
    /// WebSocket URL of the Realtime endpoint, without query.
    pub realtime_url: String,
    /// JWT the app presents as `apikey`.
    pub anon_key: String,
    /// RTCIceServer objects.
    pub ice_servers: Vec<serde_json::Value>,
    /// Janus endpoint when SFU mode is available.
    pub sfu: Option<SfuConfig>,
}

/// Where the Janus SFU listens.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SfuConfig {
    pub janus_url: String,
}

impl ClientConfig {
    pub fn new(public_url: &str, anon_key: String, ice_servers: Vec<serde_json::Value>) -> Self {
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realtime_url_follows_the_public_scheme() {
        let c = ClientConfig::new("http://127.0.0.1:8080/", "k".into(), vec![]);
        assert_eq!(c.realtime_url, "ws://127.0.0.1:8080/realtime/v1/websocket");
        let c = ClientConfig::new("https://pairux.example", "k".into(), vec![]);
        assert_eq!(c.realtime_url, "wss://pairux.example/realtime/v1/websocket");
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["anonKey"], "k");
        assert!(json["sfu"].is_null());
        assert!(json["iceServers"].is_array());
    }
}
