//! The host's pointer overlay: each remote cursor, and the click ripples and key badges, drawn
//! by a worker on canvases laid over the preview. Moving an element per pointer move was style,
//! layout, paint and a commit of the page; drawing on the page's own canvas was still the
//! drawing, text and each frame's copy — all on the thread that also takes the controller's
//! next input. Here each canvas's control goes to an `OffscreenCanvas` in the worker, which
//! draws and animates there and hands its frames to the compositor itself; the page only posts
//! positions (ARCHITECTURE.md, "Remote control").
//!
//! The worker is a few lines of plain JavaScript started from a `Blob`: it only draws (no keys,
//! no decisions, nothing it reads comes from anyone but this page), and it starts at once,
//! without fetching or compiling anything.

use std::cell::RefCell;

use js_sys::Array;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::{
    Blob, BlobPropertyBag, Element, HtmlCanvasElement, ResizeObserver, ResizeObserverEntry, Url,
    Worker,
};

/// The drawing worker. Messages (arrays): `["canvas", id, OffscreenCanvas]` (transferred),
/// `["drop", id]`, `["size", cssWidth, cssHeight, devicePixelRatio, reducedMotion]`,
/// `["cursor", id, x, y, name, colour]` (x, y: 0..1 of the surface), `["mark", x, y, label]`
/// (an empty label is a click ripple). The marks canvas has the id `""`. `MAX_MARKS` (the most
/// marks shown at once; older ones go first) is defined before this by [`Overlay::start`].
const WORKER_JS: &str = r#"
const canvases = new Map();
const marks = [];
let size = { w: 0, h: 0, dpr: 1, still: false };
let animating = false;
const RIPPLE_MS = 600, BADGE_MS = 1600, MARK = '#f59e0b';
const ARROW = [[0, 0], [0, 16], [4, 12], [7, 18], [10, 17], [7, 11], [13, 11]];
// Sizes the canvas to the surface; true when it had to (which also clears it).
function fit(entry) {
  const { canvas, ctx } = entry;
  const w = Math.round(size.w * size.dpr), h = Math.round(size.h * size.dpr);
  const resized = canvas.width !== w || canvas.height !== h;
  if (resized) { canvas.width = w; canvas.height = h; }
  ctx.setTransform(size.dpr, 0, 0, size.dpr, 0, 0);
  return resized;
}
function prepare(entry) {
  if (!fit(entry)) entry.ctx.clearRect(0, 0, size.w, size.h);
}
const clamp = (v) => Math.min(1, Math.max(0, v));
const PAD = 3;
// The cursor's picture (arrow and name), drawn once per name, colour and pixel ratio; each
// move then copies it instead of drawing shapes and text again.
function sprite(entry, c) {
  const key = `${c.name}\n${c.colour}\n${size.dpr}`;
  if (entry.spriteKey === key) return entry.sprite;
  const font = '600 11px system-ui, sans-serif';
  const probe = new OffscreenCanvas(1, 1).getContext('2d');
  probe.font = font;
  const bw = c.name ? probe.measureText(c.name).width + 10 : 0, bh = 15;
  const w = PAD * 2 + (c.name ? 17 + bw : 14), h = PAD * 2 + (c.name ? 13 + bh : 19);
  const canvas = new OffscreenCanvas(Math.ceil(w * size.dpr), Math.ceil(h * size.dpr));
  const ctx = canvas.getContext('2d');
  ctx.setTransform(size.dpr, 0, 0, size.dpr, PAD * size.dpr, PAD * size.dpr);
  ctx.save();
  ctx.shadowColor = 'rgb(0 0 0 / 50%)'; ctx.shadowBlur = 1; ctx.shadowOffsetY = 1;
  ctx.beginPath();
  ARROW.forEach(([ax, ay], i) => (i ? ctx.lineTo(ax, ay) : ctx.moveTo(ax, ay)));
  ctx.closePath();
  ctx.fillStyle = c.colour; ctx.fill();
  ctx.restore();
  ctx.lineWidth = 1.2; ctx.strokeStyle = '#fff'; ctx.stroke();
  if (c.name) {
    ctx.font = font; ctx.textBaseline = 'middle';
    ctx.beginPath(); ctx.roundRect(17, 13, bw, bh, 4); ctx.fillStyle = c.colour; ctx.fill();
    ctx.fillStyle = '#fff'; ctx.fillText(c.name, 22, 13 + bh / 2);
  }
  entry.spriteKey = key;
  entry.sprite = { canvas, w, h };
  return entry.sprite;
}
function drawCursor(entry) {
  const { ctx } = entry;
  // Only where the cursor was is cleared, unless the canvas was resized (cleared whole).
  if (!fit(entry) && entry.last) ctx.clearRect(...entry.last);
  entry.last = null;
  const c = entry.cursor;
  if (!c || !size.w || !size.h) return;
  const sp = sprite(entry, c);
  const x = clamp(c.x) * size.w - PAD, y = clamp(c.y) * size.h - PAD;
  ctx.drawImage(sp.canvas, x, y, sp.w, sp.h);
  entry.last = [Math.floor(x) - 1, Math.floor(y) - 1, Math.ceil(sp.w) + 3, Math.ceil(sp.h) + 3];
}
function drawMarks(now) {
  const entry = canvases.get('');
  for (let i = marks.length - 1; i >= 0; i--) {
    if (now - marks[i].born >= (marks[i].label ? BADGE_MS : RIPPLE_MS)) marks.splice(i, 1);
  }
  if (!entry) return false;
  prepare(entry);
  const { ctx } = entry;
  for (const m of marks) {
    const px = clamp(m.x) * size.w, py = clamp(m.y) * size.h;
    const t = size.still ? 0 : Math.min(1, (now - m.born) / (m.label ? BADGE_MS : RIPPLE_MS));
    if (!m.label) {
      const eased = 1 - (1 - t) * (1 - t), scale = size.still ? 1 : 0.3 + 1.3 * eased;
      ctx.globalAlpha = size.still ? 1 : 1 - eased;
      ctx.beginPath(); ctx.arc(px, py, 12.5 * scale, 0, 2 * Math.PI);
      ctx.lineWidth = 3 * scale; ctx.strokeStyle = MARK; ctx.stroke();
    } else {
      const fade = Math.min(1, Math.max(0, (t - 0.6) / 0.4));
      ctx.globalAlpha = 1 - fade * fade;
      ctx.font = '600 12px ui-monospace, SFMono-Regular, Menlo, monospace'; ctx.textBaseline = 'middle';
      const bx = px + 12, by = py + 18, bw = ctx.measureText(m.label).width + 12, bh = 20;
      ctx.beginPath(); ctx.roundRect(bx, by, bw, bh, 5); ctx.fillStyle = 'rgb(17 24 39 / 85%)'; ctx.fill();
      ctx.fillStyle = '#fff'; ctx.fillText(m.label, bx + 6, by + bh / 2);
    }
  }
  ctx.globalAlpha = 1;
  return marks.length > 0;
}
function animate() {
  if (animating) return;
  animating = true;
  const step = () => { if (drawMarks(performance.now())) requestAnimationFrame(step); else animating = false; };
  requestAnimationFrame(step);
}
onmessage = ({ data: m }) => {
  if (!Array.isArray(m)) return;
  switch (m[0]) {
    case 'canvas': {
      const ctx = m[2].getContext('2d');
      if (ctx) canvases.set(m[1], { canvas: m[2], ctx, cursor: null, last: null, sprite: null, spriteKey: null });
      break;
    }
    case 'drop': canvases.delete(m[1]); break;
    case 'size':
      size = { w: m[1], h: m[2], dpr: m[3], still: m[4] };
      for (const [id, entry] of canvases) if (id) drawCursor(entry);
      drawMarks(performance.now());
      break;
    case 'cursor': {
      const entry = canvases.get(m[1]);
      if (entry) { entry.cursor = { x: m[2], y: m[3], name: m[4], colour: m[5] }; drawCursor(entry); }
      break;
    }
    case 'mark':
      marks.push({ x: m[1], y: m[2], label: m[3], born: performance.now() });
      if (marks.length > MAX_MARKS) marks.splice(0, marks.length - MAX_MARKS);
      animate();
      break;
  }
};
"#;

/// The id of the marks canvas (cursor canvases are named by their participant's id).
pub const MARKS: &str = "";

/// A `ResizeObserver` and the callback it calls.
type SizeWatch = (ResizeObserver, Closure<dyn FnMut(Array)>);

/// The page's handle on the drawing worker; dropping it ends the worker.
pub struct Overlay {
    worker: Worker,
    /// The script's `blob:` URL: the worker fetches it after construction, so it is revoked
    /// only when the worker ends.
    url: String,
    /// Watches the surface's size for the canvases (see [`Overlay::follow_size`]).
    resize: RefCell<Option<SizeWatch>>,
}

impl Overlay {
    /// Starts the worker, showing at most `max_marks` ripples and badges at once; `None` where
    /// workers or `Blob` URLs are unavailable.
    pub fn start(max_marks: usize) -> Option<Overlay> {
        let source = format!("const MAX_MARKS = {max_marks};{WORKER_JS}");
        let parts = Array::of1(&JsValue::from_str(&source));
        let options = BlobPropertyBag::new();
        options.set_type("text/javascript");
        let blob = Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
        let url = Url::create_object_url_with_blob(&blob).ok()?;
        match Worker::new(&url) {
            Ok(worker) => Some(Overlay {
                worker,
                url,
                resize: RefCell::new(None),
            }),
            Err(_) => {
                let _ = Url::revoke_object_url(&url);
                None
            }
        }
    }

    /// What tells this worker from any other the page starts (its script's `blob:` URL).
    pub fn id(&self) -> &str {
        &self.url
    }

    fn post(&self, parts: &[JsValue]) {
        let message: Array = parts.iter().collect();
        let _ = self.worker.post_message(&message);
    }

    /// Hands `canvas` to the worker to draw on as `id` (a cursor, or [`MARKS`]). A canvas can
    /// be handed over once; where the browser cannot, it stays blank.
    pub fn adopt(&self, id: &str, canvas: &HtmlCanvasElement) {
        let Ok(offscreen) = canvas.transfer_control_to_offscreen() else {
            return;
        };
        let message = Array::of3(&"canvas".into(), &id.into(), &offscreen);
        let _ = self
            .worker
            .post_message_with_transfer(&message, &Array::of1(&offscreen));
    }

    /// `id`'s canvas is gone.
    pub fn forget(&self, id: &str) {
        self.post(&["drop".into(), id.into()]);
    }

    /// Keeps the canvases' size that of `surface` (all of them cover it), in CSS pixels, and
    /// says whether to keep marks still (`prefers-reduced-motion`); each change redraws
    /// everything. The size comes from a `ResizeObserver`: after layout, once per change.
    pub fn follow_size(&self, surface: &Element) {
        let worker = self.worker.clone();
        let callback = Closure::<dyn FnMut(Array)>::new(move |entries: Array| {
            let Some(entry) = entries.get(0).dyn_into::<ResizeObserverEntry>().ok() else {
                return;
            };
            let rect = entry.content_rect();
            let message: Array = size_message(rect.width(), rect.height()).iter().collect();
            let _ = worker.post_message(&message);
        });
        let Ok(observer) = ResizeObserver::new(callback.as_ref().unchecked_ref()) else {
            return;
        };
        observer.observe(surface);
        if let Some((old, _)) = self.resize.replace(Some((observer, callback))) {
            old.disconnect();
        }
    }

    /// Draws `id`'s cursor at (x, y), 0..1 of the surface.
    pub fn cursor(&self, id: &str, x: f64, y: f64, name: &str, colour: &str) {
        self.post(&[
            "cursor".into(),
            id.into(),
            x.into(),
            y.into(),
            name.into(),
            colour.into(),
        ]);
    }

    /// Shows a click ripple (`label` empty) or a key badge at (x, y) for its lifetime.
    pub fn mark(&self, x: f64, y: f64, label: &str) {
        self.post(&["mark".into(), x.into(), y.into(), label.into()]);
    }
}

/// `["size", w, h, devicePixelRatio, reducedMotion]`.
fn size_message(w: f64, h: f64) -> [JsValue; 5] {
    let window = web_sys::window();
    let dpr = window
        .as_ref()
        .map(web_sys::Window::device_pixel_ratio)
        .filter(|d| d.is_finite() && *d > 0.0)
        .unwrap_or(1.0);
    let still = window
        .and_then(|w| {
            w.match_media("(prefers-reduced-motion: reduce)")
                .ok()
                .flatten()
        })
        .is_some_and(|q| q.matches());
    ["size".into(), w.into(), h.into(), dpr.into(), still.into()]
}

impl Drop for Overlay {
    fn drop(&mut self) {
        if let Some((observer, _)) = self.resize.take() {
            observer.disconnect();
        }
        self.worker.terminate();
        let _ = Url::revoke_object_url(&self.url);
    }
}
