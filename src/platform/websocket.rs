//! `WebSocket` with binary frames as `ArrayBuffer`. The socket owns its handler closures and
//! unsets them when dropped, so a dropped socket never calls back into freed state.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast as _;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use super::{js_error, JsError};

/// What the socket reports, in the order the browser delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEvent {
    Open,
    Text(String),
    Binary(Vec<u8>),
    Closed { code: u16, reason: String },
}

pub struct Socket {
    ws: WebSocket,
    on_event: std::rc::Rc<dyn Fn(SocketEvent)>,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Starts connecting to `url`; every event goes to `on_event`.
    pub fn open(url: &str, on_event: impl Fn(SocketEvent) + 'static) -> Result<Socket, JsError> {
        Self::open_with(url, None, on_event)
    }

    /// Like [`Socket::open`], but takes the socket `index.html` opened for this very URL while
    /// the wasm loaded (a session link's Realtime socket), if there is one and it is not
    /// closing; an early socket for another URL is closed. Only the first call looks: later
    /// sockets (reconnections) are opened here.
    pub fn adopt_or_open(
        url: &str,
        on_event: impl Fn(SocketEvent) + 'static,
    ) -> Result<Socket, JsError> {
        let early = take_early_socket();
        match early {
            Some((early_url, ws)) if early_url == url && ws.ready_state() <= WebSocket::OPEN => {
                let open = ws.ready_state() == WebSocket::OPEN;
                let socket = Self::wrap(ws, on_event)?;
                if open {
                    // Already open: say so once the caller has stored the socket (never from
                    // within this call).
                    let cb = socket.on_event.clone();
                    wasm_bindgen_futures::spawn_local(async move { cb(SocketEvent::Open) });
                }
                Ok(socket)
            }
            other => {
                if let Some((_, ws)) = other {
                    let _ = ws.close();
                }
                Self::open(url, on_event)
            }
        }
    }

    /// Like [`Socket::open`], asking for a subprotocol (e.g. Janus's `janus-protocol`).
    pub fn open_with(
        url: &str,
        protocol: Option<&str>,
        on_event: impl Fn(SocketEvent) + 'static,
    ) -> Result<Socket, JsError> {
        let ws = match protocol {
            Some(p) => WebSocket::new_with_str(url, p),
            None => WebSocket::new(url),
        }
        .map_err(js_error)?;
        Self::wrap(ws, on_event)
    }

    fn wrap(ws: WebSocket, on_event: impl Fn(SocketEvent) + 'static) -> Result<Socket, JsError> {
        ws.set_binary_type(BinaryType::Arraybuffer);
        let on_event: std::rc::Rc<dyn Fn(SocketEvent)> = std::rc::Rc::new(on_event);
        let handle = on_event.clone();

        let cb = on_event.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || cb(SocketEvent::Open));
        let cb = on_event.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let data = ev.data();
            if let Some(text) = data.as_string() {
                cb(SocketEvent::Text(text));
            } else if let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                cb(SocketEvent::Binary(js_sys::Uint8Array::new(buf).to_vec()));
            }
        });
        let cb = on_event;
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |ev: CloseEvent| {
            cb(SocketEvent::Closed {
                code: ev.code(),
                reason: ev.reason(),
            });
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            on_event: handle,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    pub fn send_text(&self, text: &str) -> Result<(), JsError> {
        self.ws.send_with_str(text).map_err(js_error)
    }

    pub fn send_binary(&self, bytes: &[u8]) -> Result<(), JsError> {
        self.ws.send_with_u8_array(bytes).map_err(js_error)
    }

    /// Bytes queued but not yet sent (for back-pressure decisions).
    pub fn buffered_amount(&self) -> u32 {
        self.ws.buffered_amount()
    }

    pub fn close(&self, code: u16, reason: &str) {
        // Only 1000 and 3000–4999 may be sent by a script; anything else would throw.
        let code = if code == 1000 || (3000..5000).contains(&code) {
            code
        } else {
            1000
        };
        let _ = self.ws.close_with_code_and_reason(code, reason);
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        if self.ws.ready_state() <= WebSocket::OPEN {
            let _ = self.ws.close();
        }
    }
}

/// Closes the socket `index.html` opened early for a session link, if nobody took it (e.g. the
/// link turned out unusable): it would otherwise stay open until the server's idle timeout.
/// Whatever the page's script does later (its config may still be on the way), it opens none.
pub fn discard_early_socket() {
    if let Some((_, ws)) = take_early_socket() {
        let _ = ws.close();
    }
}

/// The socket `index.html` opened early (`window.__pairuxEarlySocket`: `{url, ws}`), taken at
/// most once; marks it taken so that a config arriving later opens none.
fn take_early_socket() -> Option<(String, WebSocket)> {
    use js_sys::Reflect;
    let window = web_sys::window()?;
    let taken = wasm_bindgen::JsValue::from_str("__pairuxSocketTaken");
    if Reflect::get(&window, &taken).ok()?.is_truthy() {
        return None;
    }
    let _ = Reflect::set(&window, &taken, &wasm_bindgen::JsValue::TRUE);
    let early = super::dom::take_boot_global("__pairuxEarlySocket")?;
    let url = Reflect::get(&early, &"url".into()).ok()?.as_string()?;
    let ws = Reflect::get(&early, &"ws".into())
        .ok()?
        .dyn_into::<WebSocket>()
        .ok()?;
    Some((url, ws))
}
