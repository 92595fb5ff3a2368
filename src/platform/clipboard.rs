//! Copying invite links: the async Clipboard API, and where the browser refuses it (a page
//! without focus, a permissions policy), the older copy command on a selection of our own.

use wasm_bindgen::JsCast as _;

use super::{js_error, window, JsError};

pub async fn copy(text: &str) -> Result<(), JsError> {
    let promise = window()?.navigator().clipboard().write_text(text);
    match wasm_bindgen_futures::JsFuture::from(promise).await {
        Ok(_) => Ok(()),
        Err(err) => copy_by_command(text).map_err(|_| js_error(err)),
    }
}

/// `document.execCommand("copy")` on a throwaway field holding `text`, never shown.
fn copy_by_command(text: &str) -> Result<(), JsError> {
    let document = window()?
        .document()
        .ok_or_else(|| JsError("no document".into()))?;
    let field: web_sys::HtmlTextAreaElement = document
        .create_element("textarea")
        .map_err(js_error)?
        .unchecked_into();
    field.set_value(text);
    let _ = field.set_attribute("readonly", "");
    let _ = field.set_attribute("aria-hidden", "true");
    let _ = field.style().set_property("position", "fixed");
    let _ = field.style().set_property("opacity", "0");
    let body = document.body().ok_or_else(|| JsError("no body".into()))?;
    body.append_child(&field).map_err(js_error)?;
    field.select();
    let exec = js_sys::Reflect::get(&document, &"execCommand".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let copied = exec
        .and_then(|f| f.call1(&document, &"copy".into()).ok())
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    field.remove();
    if copied {
        Ok(())
    } else {
        Err(JsError("the browser refused to copy".into()))
    }
}
