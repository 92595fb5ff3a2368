//! Media sources and sinks: screen capture (`getDisplayMedia`), the test pattern (a canvas
//! with the time code in its pixels), the legibility benchmark's code pages, and attaching
//! streams to `<video>` elements.

use js_sys::{Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    CanvasRenderingContext2d, HtmlCanvasElement, HtmlVideoElement, MediaStream, MediaStreamTrack,
};

use super::{js_error, window, JsError};

/// Frame rate the canvas sources are captured at (the test pattern draws at the same rate).
pub const PATTERN_FPS: u32 = 30;

// The test pattern is drawn by bench/lib/pattern.mjs, the very module every benchmark floor
// page draws with (same pixels, same sub-millisecond time code: bench/lib/timecode.mjs); Trunk
// copies both next to the app (index.html) and the host imports it when it starts the pattern.
#[wasm_bindgen(inline_js = "export function load_pattern() { return import('/pattern.mjs'); }")]
extern "C" {
    fn load_pattern() -> js_sys::Promise;
}

/// Frame rate of the host's own preview of what it shares (`local-preview`). The host sees
/// its screen itself; the preview says what is shared and carries the guests' pointers, which
/// the overlay worker draws at their own rate (`platform::overlay`). Each preview frame is a
/// composite of the whole picture in the host's browser (in software where there is no GPU:
/// ~15 % of a core at 30 fps on the benchmark machine, ~7 % at 10), paid on the machine that
/// also encodes the share and runs whatever the pair is working on.
pub const PREVIEW_FPS: u32 = 10;

/// A captured video source and what keeps it running.
pub struct Capture {
    pub stream: MediaStream,
    pub track: MediaStreamTrack,
    /// The host's preview: a clone of `track` at [`PREVIEW_FPS`] (the browser drops the other
    /// frames for this track only; `track` keeps the capture's rate).
    pub preview: MediaStream,
    preview_track: MediaStreamTrack,
    /// What keeps a canvas source drawing (the test pattern or the code pages), if any.
    _pattern: Option<Box<dyn std::any::Any>>,
}

impl Capture {
    fn new(
        stream: MediaStream,
        track: MediaStreamTrack,
        pattern: Option<Box<dyn std::any::Any>>,
    ) -> Result<Self, JsError> {
        // web-sys's inherent `clone` is JS `track.clone()`: a new track of the same source.
        let preview_track = track.clone();
        let constraints = Object::new();
        set(&constraints, "frameRate", &max(PREVIEW_FPS));
        if let Ok(promise) =
            preview_track.apply_constraints_with_constraints(constraints.unchecked_ref())
        {
            // A browser that cannot lower the rate rejects it: the preview then runs at the
            // capture's rate, as it always did.
            super::settle(promise);
        }
        let preview = match MediaStream::new_with_tracks(&js_sys::Array::of1(&preview_track)) {
            Ok(preview) => preview,
            Err(err) => {
                // Nothing will hold these tracks: stopped now, or the screen stays captured.
                track.stop();
                preview_track.stop();
                return Err(js_error(err));
            }
        };
        Ok(Self {
            stream,
            track,
            preview,
            preview_track,
            _pattern: pattern,
        })
    }

    /// Stops the source (the browser's "sharing" indicator goes away once every track of it,
    /// the preview's too, has stopped).
    pub fn stop(&self) {
        self.track.stop();
        self.preview_track.stop();
    }
}

/// Asks the person to pick a screen, window or tab. Must start inside a click handler.
pub async fn capture_screen() -> Result<Capture, JsError> {
    let devices = window()?.navigator().media_devices().map_err(js_error)?;
    let video = Object::new();
    set(&video, "frameRate", &ideal(30));
    set(&video, "width", &max(1920));
    set(&video, "height", &max(1080));
    let constraints = Object::new();
    set(&constraints, "video", &video);
    set(&constraints, "audio", &JsValue::FALSE);
    // Offer the current tab last: sharing the PairUX tab itself is rarely wanted.
    set(&constraints, "selfBrowserSurface", &"exclude".into());
    set(&constraints, "surfaceSwitching", &"include".into());
    let promise = devices
        .get_display_media_with_constraints(constraints.unchecked_ref())
        .map_err(js_error)?;
    let stream: MediaStream = JsFuture::from(promise)
        .await
        .map_err(js_error)?
        .unchecked_into();
    let track: MediaStreamTrack = stream
        .get_video_tracks()
        .get(0)
        .dyn_into()
        .map_err(|_| JsError("the capture has no video track".into()))?;
    prepare_for_text(&track);
    Capture::new(stream, track, None)
}

/// What a capture track shows (`displaySurface`) and its size in pixels.
pub fn surface(track: &MediaStreamTrack) -> (pairux_core::agent::SurfaceKind, u32, u32) {
    use pairux_core::agent::SurfaceKind;
    let settings: JsValue = track.get_settings().into();
    let get = |k: &str| Reflect::get(&settings, &k.into()).ok();
    let kind = match get("displaySurface").and_then(|v| v.as_string()).as_deref() {
        Some("monitor") => SurfaceKind::Monitor,
        Some("window") => SurfaceKind::Window,
        Some("browser") => SurfaceKind::Browser,
        _ => SurfaceKind::Other,
    };
    let px = |k: &str| get(k).and_then(|v| v.as_f64()).map_or(0, |v| v as u32);
    (kind, px("width"), px("height"))
}

/// The test pattern as a capture source.
pub async fn capture_test_pattern() -> Result<Capture, JsError> {
    let pattern = TestPattern::start().await?;
    let canvas = Clone::clone(&pattern.canvas);
    capture_canvas(&canvas, Box::new(pattern))
}

/// The legibility benchmark's code pages as a capture source (the landing page offers it only
/// when opened with `?pattern=code`): see [`CodePage`].
pub async fn capture_code_page() -> Result<Capture, JsError> {
    let description: CodePageDescription = super::fetch::json(CODE_PAGE_URL)
        .await
        .map_err(|e| JsError(format!("{CODE_PAGE_URL}: {e}")))?;
    let page = CodePage::start(description)?;
    let canvas = Clone::clone(&page.canvas);
    capture_canvas(&canvas, Box::new(page))
}

/// A canvas of `width`×`height` outside the document (nothing but capture reads it), and its
/// 2D context.
fn canvas_2d(
    width: u32,
    height: u32,
) -> Result<(HtmlCanvasElement, CanvasRenderingContext2d), JsError> {
    let canvas: HtmlCanvasElement = window()?
        .document()
        .ok_or_else(|| JsError("no document".into()))?
        .create_element("canvas")
        .map_err(js_error)?
        .unchecked_into();
    canvas.set_width(width);
    canvas.set_height(height);
    let ctx: CanvasRenderingContext2d = canvas
        .get_context("2d")
        .map_err(js_error)?
        .ok_or_else(|| JsError("no 2d context".into()))?
        .unchecked_into();
    Ok((canvas, ctx))
}

/// A canvas's `captureStream` at [`PATTERN_FPS`], prepared for text.
fn capture_canvas(
    canvas: &HtmlCanvasElement,
    pattern: Box<dyn std::any::Any>,
) -> Result<Capture, JsError> {
    let f: js_sys::Function = Reflect::get(canvas, &"captureStream".into())
        .map_err(js_error)?
        .unchecked_into();
    let stream: MediaStream = f
        .call1(canvas, &JsValue::from(PATTERN_FPS))
        .map_err(js_error)?
        .unchecked_into();
    let track: MediaStreamTrack = stream
        .get_video_tracks()
        .get(0)
        .dyn_into()
        .map_err(|_| JsError("the pattern has no video track".into()))?;
    prepare_for_text(&track);
    Capture::new(stream, track, Some(pattern))
}

/// Screen content is text: tell the encoder to keep detail over motion.
fn prepare_for_text(track: &MediaStreamTrack) {
    set(track, "contentHint", &"text".into());
}

/// Calls `f` when the capture ends (e.g. "Stop sharing" in the browser's own bar, which ends
/// every track of it; any one of its tracks ending ends the capture). The handler lives as
/// long as the returned value.
pub fn on_ended(capture: &Capture, f: impl FnMut() + 'static) -> EndedListener {
    let closure = Closure::<dyn FnMut()>::new(f);
    // `Clone::clone`, not `.clone()`: web-sys's inherent `MediaStreamTrack::clone` is the
    // JS `track.clone()`, which makes a new track.
    let tracks = [
        Clone::clone(&capture.track),
        Clone::clone(&capture.preview_track),
    ];
    listen_ended(tracks.to_vec(), closure)
}

/// Calls `f` when `track` ends by itself (a microphone unplugged, its permission taken
/// back); not when the page stops it. The handler lives as long as the returned value.
pub fn on_track_ended(track: &MediaStreamTrack, f: impl FnMut() + 'static) -> EndedListener {
    listen_ended(vec![Clone::clone(track)], Closure::<dyn FnMut()>::new(f))
}

fn listen_ended(tracks: Vec<MediaStreamTrack>, closure: Closure<dyn FnMut()>) -> EndedListener {
    for track in &tracks {
        track.set_onended(Some(closure.as_ref().unchecked_ref()));
    }
    EndedListener {
        tracks,
        _closure: closure,
    }
}

pub struct EndedListener {
    tracks: Vec<MediaStreamTrack>,
    _closure: Closure<dyn FnMut()>,
}

impl Drop for EndedListener {
    fn drop(&mut self) {
        for track in &self.tracks {
            track.set_onended(None);
        }
    }
}

/// Shows `stream` in `video` (muted and inline so autoplay is allowed), or clears it.
pub fn attach(video: &HtmlVideoElement, stream: Option<&MediaStream>) {
    video.set_muted(true);
    video.set_autoplay(true);
    let _ = video.set_attribute("playsinline", "");
    video.set_src_object(stream);
    if stream.is_some() {
        // play() rejects harmlessly if a newer srcObject replaces this one.
        if let Ok(promise) = video.play() {
            super::settle(promise);
        }
    }
}

/// Whether `video` plays `stream` (the same object).
pub fn shows(video: &HtmlVideoElement, stream: &MediaStream) -> bool {
    video
        .src_object()
        .is_some_and(|shown| js_sys::Object::is(&shown, stream))
}

/// Runs `f` once `video` has handed a frame to the compositor (`requestVideoFrameCallback`,
/// which calls back in the rendering step after that frame was presented), or at once where
/// the browser has no such callback. What a page adds to itself here is laid out after the
/// picture is on screen instead of in front of it.
pub fn after_frame_presented(video: &HtmlVideoElement, f: impl FnOnce() + 'static) {
    let request = Reflect::get(video, &JsValue::from_str("requestVideoFrameCallback"))
        .ok()
        .and_then(|v| v.dyn_into::<js_sys::Function>().ok());
    match request {
        Some(request) => {
            let callback = Closure::once_into_js(move |_now: JsValue, _meta: JsValue| f());
            // It throws only for an element that is gone: nothing will call back then.
            let _ = request.call1(video, &callback);
        }
        None => f(),
    }
}

/// Intrinsic size of what a video element plays (0×0 until the first frame).
pub fn video_size(video: &HtmlVideoElement) -> (u32, u32) {
    (video.video_width(), video.video_height())
}

/// The shared test pattern (bench/lib/pattern.mjs) drawing on a canvas of ours; dropping it
/// stops the drawing.
struct TestPattern {
    canvas: HtmlCanvasElement,
    stop: js_sys::Function,
}

impl TestPattern {
    async fn start() -> Result<Self, JsError> {
        let module = JsFuture::from(load_pattern())
            .await
            .map_err(|e| JsError(format!("cannot load the test pattern: {}", js_error(e).0)))?;
        let start: js_sys::Function = Reflect::get(&module, &"startPattern".into())
            .map_err(js_error)?
            .dyn_into()
            .map_err(|_| JsError("the test pattern module has no startPattern".into()))?;
        // The module sizes the canvas itself.
        let (canvas, _) = canvas_2d(1, 1)?;
        let stop = start
            .call1(&JsValue::NULL, &canvas)
            .map_err(js_error)?
            .dyn_into()
            .map_err(|_| JsError("startPattern returned no stop function".into()))?;
        Ok(TestPattern { canvas, stop })
    }
}

impl Drop for TestPattern {
    fn drop(&mut self) {
        let _ = self.stop.call0(&JsValue::NULL);
    }
}

/// Where Trunk puts the code pages' description (index.html copies bench/lib/code-page.json).
const CODE_PAGE_URL: &str = "/code-page.json";

/// The code pages' description, made once by bench/lib/code-page-gen.mjs: the one source of
/// truth that this renderer and bench/lib/code-page.mjs (the floor and the SSIM reference) both
/// draw, with the same canvas calls in the same order.
#[derive(serde::Deserialize)]
struct CodePageDescription {
    width: u32,
    height: u32,
    background: String,
    font: String,
    left: f64,
    top: f64,
    line: f64,
    palette: Vec<String>,
    /// `[x, y, w, h, colour]`
    rects: Vec<(f64, f64, f64, f64, String)>,
    /// Per page: `[row, col, palette index, text]`.
    pages: Vec<Vec<(f64, f64, usize, String)>>,
}

/// A 1920×1080 editor showing Rust code (bench/lib/code-page.json), redrawn only when the page
/// changes; every 1/30 s the canvas copies its own top-left pixel onto itself, so capture
/// delivers frames like a still screen's while the pixels stay the page's.
///
/// The benchmark drives it through `window.__pairuxCodePage`: `show(k)` draws page `k` and
/// returns the wall time it did (`performance.timeOrigin + now()`); `canvas` is the source.
/// Only a host that started from `/?pattern=code` has it.
struct CodePage {
    canvas: HtmlCanvasElement,
    _ticker: gloo_timers::callback::Interval,
    _show: Closure<dyn FnMut(u32) -> f64>,
}

const CODE_PAGE_HOOK: &str = "__pairuxCodePage";

impl CodePage {
    fn start(description: CodePageDescription) -> Result<Self, JsError> {
        if description.pages.is_empty() {
            return Err(JsError("the code page description has no pages".into()));
        }
        let window = window()?;
        let (canvas, ctx) = canvas_2d(description.width, description.height)?;
        draw_code_page(&ctx, &description, 0)?;
        let tick_ctx = Clone::clone(&ctx);
        let tick_canvas = Clone::clone(&canvas);
        let ticker = gloo_timers::callback::Interval::new(1000 / PATTERN_FPS, move || {
            let _ = tick_ctx
                .draw_image_with_html_canvas_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
                    &tick_canvas,
                    0.0,
                    0.0,
                    1.0,
                    1.0,
                    0.0,
                    0.0,
                    1.0,
                    1.0,
                );
        });
        let show = Closure::<dyn FnMut(u32) -> f64>::new(move |k: u32| {
            if let Err(err) = draw_code_page(&ctx, &description, k as usize) {
                leptos::logging::error!("cannot draw code page {k}: {err}");
            }
            super::clock::precise_wall_ms()
        });
        let hook = Object::new();
        set(&hook, "show", show.as_ref());
        set(&hook, "canvas", &canvas);
        set(&window, CODE_PAGE_HOOK, &hook);
        Ok(CodePage {
            canvas,
            _ticker: ticker,
            _show: show,
        })
    }
}

impl Drop for CodePage {
    fn drop(&mut self) {
        if let Ok(window) = window() {
            let _ = Reflect::delete_property(&window, &CODE_PAGE_HOOK.into());
        }
    }
}

/// Draws page `k` (modulo the page count): background, rects, then each text at
/// `left + col * advance` (advance: `measureText("0")`), baseline `top + row * line`.
fn draw_code_page(
    ctx: &CanvasRenderingContext2d,
    d: &CodePageDescription,
    k: usize,
) -> Result<(), JsError> {
    let texts = &d.pages[k % d.pages.len()];
    ctx.set_fill_style_str(&d.background);
    ctx.fill_rect(0.0, 0.0, f64::from(d.width), f64::from(d.height));
    for (x, y, w, h, colour) in &d.rects {
        ctx.set_fill_style_str(colour);
        ctx.fill_rect(*x, *y, *w, *h);
    }
    ctx.set_font(&d.font);
    let measure: js_sys::Function = Reflect::get(ctx, &"measureText".into())
        .map_err(js_error)?
        .unchecked_into();
    let metrics = measure.call1(ctx, &"0".into()).map_err(js_error)?;
    let advance = Reflect::get(&metrics, &"width".into())
        .map_err(js_error)?
        .as_f64()
        .ok_or_else(|| JsError("measureText gave no width".into()))?;
    for (row, col, colour, text) in texts {
        let colour = d
            .palette
            .get(*colour)
            .ok_or_else(|| JsError(format!("no palette colour {colour}")))?;
        ctx.set_fill_style_str(colour);
        ctx.fill_text(text, d.left + col * advance, d.top + row * d.line)
            .map_err(js_error)?;
    }
    Ok(())
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &key.into(), value);
}

fn ideal(v: u32) -> JsValue {
    let o = Object::new();
    set(&o, "ideal", &JsValue::from(v));
    o.into()
}

fn max(v: u32) -> JsValue {
    let o = Object::new();
    set(&o, "max", &JsValue::from(v));
    o.into()
}
