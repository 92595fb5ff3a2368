//! Small DOM capabilities components need but must not call directly.

use wasm_bindgen::JsCast as _;

/// Puts `el` in fullscreen, or leaves fullscreen if something already is.
pub fn toggle_fullscreen(el: Option<web_sys::Element>) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if document.fullscreen_element().is_some() {
        document.exit_fullscreen();
    } else if let Some(el) = el {
        // Rejected promises (no user gesture, unsupported) leave the page as it is.
        let _ = el.request_fullscreen();
    }
}

/// Pointer position in CSS pixels. web-sys types `clientX` as `f64` under
/// `web_sys_unstable_apis` (the wasm build) and as `i32` without it (native checks).
#[allow(clippy::useless_conversion)]
pub fn client_xy(ev: &web_sys::MouseEvent) -> (f64, f64) {
    (f64::from(ev.client_x()), f64::from(ev.client_y()))
}

/// The element's box in client px: (x, y, width, height).
pub fn rect(el: &web_sys::Element) -> (f64, f64, f64, f64) {
    let r = el.get_bounding_client_rect();
    (r.x(), r.y(), r.width(), r.height())
}

/// Sets the tab's title (what a person working in another tab or window sees).
pub fn set_title(title: &str) {
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        document.set_title(title);
    }
}

/// Moves keyboard focus to `el`.
pub fn focus(el: &web_sys::HtmlElement) {
    let _ = el.focus();
}

/// Sends the pointer's later events (its release above all) to `el` wherever the pointer
/// goes, until it is released.
pub fn capture_pointer(el: &web_sys::HtmlElement, ev: &web_sys::PointerEvent) {
    let _ = el.set_pointer_capture(ev.pointer_id());
}

/// Whether a `focusout` moves focus to somewhere inside `el` (its `relatedTarget`).
pub fn moves_within(el: &web_sys::HtmlElement, ev: &web_sys::Event) -> bool {
    use wasm_bindgen::JsCast as _;
    js_sys::Reflect::get(ev, &"relatedTarget".into())
        .ok()
        .and_then(|target| target.dyn_into::<web_sys::Node>().ok())
        .is_some_and(|node| el.contains(Some(&node)))
}

/// A text field's `value`, emptied.
pub fn take_value(el: &web_sys::HtmlElement) -> String {
    let value = js_sys::Reflect::get(el, &"value".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    clear_value(el);
    value
}

/// Whether an event says it is part of an input method's composition (`isComposing`).
pub fn is_composing(ev: &web_sys::Event) -> bool {
    js_sys::Reflect::get(ev, &"isComposing".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Whether `el` has the page's focus.
pub fn has_focus(el: &web_sys::HtmlElement) -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.active_element())
        .is_some_and(|active| active == **el)
}

/// Whether focus is on nothing in particular: no element, or the page's body (where it falls
/// when the focused element is removed).
pub fn focus_lost() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| {
            d.active_element().is_none() || d.active_element() == d.body().map(Into::into)
        })
}

/// Whether the keyboard is free for `el` to take: focus is inside `el`, or anywhere but in
/// something a person types into (a text field, a list box, editable content) elsewhere.
pub fn focus_free_or_within(el: &web_sys::HtmlElement) -> bool {
    let Some(active) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.active_element())
    else {
        return true;
    };
    if el.contains(Some(&active)) {
        return true;
    }
    let typing = matches!(
        active.tag_name().to_ascii_lowercase().as_str(),
        "input" | "textarea" | "select"
    ) || active
        .dyn_ref::<web_sys::HtmlElement>()
        .is_some_and(web_sys::HtmlElement::is_content_editable);
    !typing
}

/// Empties a text field (`value`).
pub fn clear_value(el: &web_sys::HtmlElement) {
    let _ = js_sys::Reflect::set(el, &"value".into(), &"".into());
}

/// Whether the page is hidden (another tab or a minimised window): its timers may then run once
/// a second at most, so short waits are not worth making.
pub fn page_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.hidden())
}

/// What index.html's boot script left on `window` under `name` for the app (the early socket,
/// the early worker): taken once, so nothing else finds it there after.
pub fn take_boot_global(name: &str) -> Option<wasm_bindgen::JsValue> {
    let window = web_sys::window()?;
    let key = wasm_bindgen::JsValue::from_str(name);
    let value = js_sys::Reflect::get(&window, &key).ok()?;
    let _ = js_sys::Reflect::delete_property(window.unchecked_ref::<js_sys::Object>(), &key);
    (!value.is_undefined() && !value.is_null()).then_some(value)
}
