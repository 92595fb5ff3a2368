//! The socket URL: the endpoint plus phoenix's query (`apikey`, optional `log_level`, then
//! `vsn` last), each value escaped like JavaScript's `encodeURIComponent`.

use std::fmt::Write as _;

use super::options::ClientOptions;

/// `endpoint?apikey=…[&log_level=…]&vsn=…` (`&` instead of `?` when the endpoint has a query).
pub(crate) fn connect_url(opts: &ClientOptions) -> String {
    let mut url = opts.endpoint.clone();
    url.push(if opts.endpoint.contains('?') {
        '&'
    } else {
        '?'
    });
    url.push_str("apikey=");
    push_component(&mut url, &opts.api_key);
    if let Some(level) = &opts.log_level {
        url.push_str("&log_level=");
        push_component(&mut url, level);
    }
    url.push_str("&vsn=");
    url.push_str(opts.vsn.as_str());
    url
}

/// Appends `value` escaped as `encodeURIComponent` does: every UTF-8 byte except ASCII
/// letters, digits and `-_.!~*'()` becomes `%XX`.
fn push_component(out: &mut String, value: &str) {
    for byte in value.bytes() {
        let unreserved = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        if unreserved {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::Vsn;

    /// `index.html` opens a session link's socket before the wasm runs, and the app adopts it
    /// only if it is the URL built here: the page's copy of the form must stay this one.
    #[test]
    fn the_pages_early_socket_uses_this_form() {
        let page = include_str!("../../../../index.html");
        let opts = ClientOptions::new("ws://h/realtime/v1/websocket", "k");
        assert_eq!(
            connect_url(&opts),
            "ws://h/realtime/v1/websocket?apikey=k&vsn=2.0.0"
        );
        assert!(page.contains(r#"(c.realtimeUrl.includes("?") ? "&" : "?")"#));
        assert!(page.contains(r#""apikey=" + encodeURIComponent(c.anonKey) + "&vsn=2.0.0""#));
    }

    #[test]
    fn hosted_url_has_apikey_then_vsn() {
        let opts = ClientOptions::new("wss://abc.supabase.co/realtime/v1/websocket", "ey.J-w_T");
        assert_eq!(
            connect_url(&opts),
            "wss://abc.supabase.co/realtime/v1/websocket?apikey=ey.J-w_T&vsn=2.0.0"
        );
    }

    #[test]
    fn values_are_escaped_and_an_existing_query_is_kept() {
        let mut opts =
            ClientOptions::new("ws://127.0.0.1:5000/realtime/v1/websocket?x=1", "a+b/c=d é");
        opts.vsn = Vsn::V1;
        opts.log_level = Some("info".into());
        assert_eq!(
            connect_url(&opts),
            "ws://127.0.0.1:5000/realtime/v1/websocket?x=1&apikey=a%2Bb%2Fc%3Dd%20%C3%A9&log_level=info&vsn=1.0.0"
        );
    }
}
