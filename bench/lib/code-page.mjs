// The legibility benchmark's code pages, drawn from their description (code-page.json, made
// once by code-page-gen.mjs and committed). Two renderers read that one file and make the same
// canvas calls in the same order: this one (the floor page and the SSIM reference) and
// src/platform/media.rs `CodePage` (the app's host, which fetches the file from dist/, where
// Trunk copies it). bench/legibility.mjs checks that both give identical pixels.
//
// Drawing: background; each rect [x, y, w, h, colour]; each text [row, col, palette index, text]
// with its left edge at `left + col * advance` (advance = measureText('0').width of the font)
// and its baseline at `top + row * line`.

/** Draws page `k` (modulo the page count) of `description` on the 2D context `ctx`. */
export function drawPage(ctx, description, k) {
  const d = description;
  const texts = d.pages[k % d.pages.length];
  ctx.fillStyle = d.background;
  ctx.fillRect(0, 0, d.width, d.height);
  for (const [x, y, w, h, colour] of d.rects) {
    ctx.fillStyle = colour;
    ctx.fillRect(x, y, w, h);
  }
  ctx.font = d.font;
  const advance = ctx.measureText('0').width;
  for (const [row, col, colour, text] of texts) {
    ctx.fillStyle = d.palette[colour];
    ctx.fillText(text, d.left + col * advance, d.top + row * d.line);
  }
}

/** Loads the description (`url`: code-page.json). */
export async function loadDescription(url) {
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

/**
 * Starts a 30 fps canvas source showing page 0: every 1/30 s the canvas copies its own top-left
 * pixel onto itself (the pixels stay the page's, the canvas counts as drawn), so the capture
 * delivers frames at the rate a screen capture of a still screen does and the encoder keeps
 * refining. `show(k)` draws page k at once and notes the wall time (`shownAt`).
 */
export function startCodePage(canvas, description, fps = 30) {
  canvas.width = description.width;
  canvas.height = description.height;
  const ctx = canvas.getContext('2d');
  const state = {
    page: 0,
    shownAt: 0,
    show(k) {
      drawPage(ctx, description, k);
      state.page = k;
      state.shownAt = performance.timeOrigin + performance.now();
      return state.shownAt;
    },
  };
  state.show(0);
  const timer = setInterval(() => {
    ctx.drawImage(canvas, 0, 0, 1, 1, 0, 0, 1, 1);
  }, 1000 / fps);
  state.stop = () => clearInterval(timer);
  return state;
}
