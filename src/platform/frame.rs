//! The next animation frame: where drawing goes, once per frame, however many events came.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast as _;

/// A callback at the next animation frame (`requestAnimationFrame`); dropping it first cancels
/// it. A hidden page gets no frames: the callback waits until the page is shown again.
pub struct Frame {
    id: i32,
    _callback: Closure<dyn FnMut()>,
}

impl Frame {
    /// Calls `f` once at the next animation frame unless the `Frame` is dropped first; `None`
    /// (and `f` never called) where the page has no window.
    pub fn next(f: impl FnOnce() + 'static) -> Option<Frame> {
        let window = web_sys::window()?;
        let callback = Closure::once(f);
        let id = window
            .request_animation_frame(callback.as_ref().unchecked_ref())
            .ok()?;
        Some(Frame {
            id,
            _callback: callback,
        })
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        if let Some(window) = web_sys::window() {
            // After the frame has come this cancels nothing.
            let _ = window.cancel_animation_frame(self.id);
        }
    }
}
