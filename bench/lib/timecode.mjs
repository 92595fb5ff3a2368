// The test pattern's time code, written once here: drawn by bench/lib/pattern.mjs (the app's
// test pattern and every floor page's) and read by every reader (floor and app).
//
// A row of 64 cells, 20×20 px each, at the top-left of a 1280×720 frame: 8 marker cells
// `1 0 1 1 0 0 1 0`, 48 bits of the capture time in ms since the Unix epoch (mod 2^48, most
// significant first), 8 check bits (XOR of the six time bytes). White = 1, black = 0.
//
// This module has no imports and touches browser APIs only inside the functions that need them,
// so node can import it too (unit test, nothing else).

export const CELLS = 64;
export const CELL_PX = 20;
/** The frame width the layout is defined at; readers scale cell centres to the decoded width. */
export const FRAME_WIDTH = 1280;
export const MARKER = [1, 0, 1, 1, 0, 0, 1, 0];
const MOD = 2 ** 48;

/** Wall-clock milliseconds, the same clock in every page of the machine. */
export function wallMs() {
  return performance.timeOrigin + performance.now();
}

function timeBytes(ms) {
  const t = Math.floor(ms) % MOD;
  const bytes = [];
  for (let i = 5; i >= 0; i--) bytes.push(Math.floor(t / 2 ** (8 * i)) % 256);
  return bytes;
}

/** The 64 cells (0/1) for time `ms`. */
export function encode(ms) {
  const bytes = timeBytes(ms);
  const cells = [...MARKER];
  for (const b of bytes) for (let i = 7; i >= 0; i--) cells.push((b >> i) & 1);
  const check = bytes.reduce((a, b) => a ^ b, 0);
  for (let i = 7; i >= 0; i--) cells.push((check >> i) & 1);
  return cells;
}

/** The time a row of cells carries, or null if the marker or the check bits disagree. */
export function decode(cells) {
  if (cells.length !== CELLS) return null;
  for (let i = 0; i < 8; i++) if (cells[i] !== MARKER[i]) return null;
  let ms = 0;
  for (let i = 8; i < 56; i++) ms = ms * 2 + cells[i];
  let check = 0;
  for (let i = 56; i < 64; i++) check = (check << 1) | cells[i];
  return check === timeBytes(ms).reduce((a, b) => a ^ b, 0) ? ms : null;
}

/** Milliseconds from encoded time `ms` to wall time `nowMs`, across the 2^48 wrap. */
export function elapsed(ms, nowMs) {
  return (((nowMs % MOD) - ms) % MOD + MOD) % MOD;
}

/** Draws the time code for `ms` on a 2D context (at 1280-wide frame coordinates). */
export function draw(ctx, ms) {
  const cells = encode(ms);
  for (let i = 0; i < CELLS; i++) {
    ctx.fillStyle = cells[i] ? '#fff' : '#000';
    ctx.fillRect(i * CELL_PX, 0, CELL_PX, CELL_PX);
  }
}

const Y_FIRST = new Set(['I420', 'I420A', 'I422', 'I422A', 'I444', 'I444A', 'NV12']);
const RGB = { RGBA: [0, 1, 2], RGBX: [0, 1, 2], BGRA: [2, 1, 0], BGRX: [2, 1, 0] };
let scratch = new Uint8Array(0);

/**
 * Reads the time code of a decoded `VideoFrame` from its luma: only the rows holding the code
 * are copied (`copyTo` with a rect), each cell's centre (3×3 px, scaled to the decoded width)
 * is averaged and thresholded at 128. Returns `{ ms, width, height }`, `ms` null when the row
 * does not decode (marker or check bits wrong, unknown pixel format).
 */
export async function readFrame(frame) {
  const width = frame.displayWidth;
  const height = frame.displayHeight;
  const vr = frame.visibleRect;
  const format = frame.format;
  if (!vr || !(Y_FIRST.has(format) || format in RGB)) return { ms: null, width, height };
  const scale = vr.width / FRAME_WIDTH;
  // Rows 0 .. cell height (+1 for the 3×3 sample), rounded up to even for chroma subsampling.
  const rows = Math.min(vr.height - (vr.height % 2), 2 * Math.ceil((CELL_PX * scale + 2) / 2));
  const rect = { x: vr.x, y: vr.y, width: vr.width, height: rows };
  const size = frame.allocationSize({ rect });
  if (scratch.length < size) scratch = new Uint8Array(size);
  const layout = await frame.copyTo(scratch, { rect });
  const { offset, stride } = layout[0];
  const rgb = RGB[format];
  const luma = (x, y) => {
    const at = offset + y * stride;
    if (!rgb) return scratch[at + x];
    const p = at + 4 * x;
    return 0.299 * scratch[p + rgb[0]] + 0.587 * scratch[p + rgb[1]] + 0.114 * scratch[p + rgb[2]];
  };
  const cy = Math.min(rows - 2, Math.max(1, Math.round((CELL_PX / 2) * scale)));
  const cells = new Array(CELLS);
  for (let i = 0; i < CELLS; i++) {
    const cx = Math.min(vr.width - 2, Math.max(1, Math.round((i * CELL_PX + CELL_PX / 2) * scale)));
    let sum = 0;
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) sum += luma(cx + dx, cy + dy);
    cells[i] = sum / 9 >= 128 ? 1 : 0;
  }
  return { ms: decode(cells), width, height };
}

/**
 * Reads every frame of a video track (MediaStreamTrackProcessor on this page's main thread, as
 * toolchain.md verified for headless Chromium) and keeps, per distinct time code, the latency
 * from the encoded time to the moment the decoded frame was handed to us.
 * Returns a handle: `samples` (ms), `resolutions` (counts by "WxH"), `unreadable`, `stop()`.
 */
export function startReader(track) {
  const processor = new MediaStreamTrackProcessor({ track });
  const reader = processor.readable.getReader();
  const state = { samples: [], resolutions: {}, frames: 0, unreadable: 0, repeated: 0, error: null };
  let last = null;
  let stopped = false;
  (async () => {
    try {
      while (!stopped) {
        const { value: frame, done } = await reader.read();
        if (done) break;
        // The clock stops when the decoded frame reaches us, before the copy.
        const now = wallMs();
        try {
          const { ms, width, height } = await readFrame(frame);
          state.frames++;
          const res = `${width}x${height}`;
          state.resolutions[res] = (state.resolutions[res] ?? 0) + 1;
          if (ms === null) state.unreadable++;
          else if (ms === last) state.repeated++;
          else {
            last = ms;
            state.samples.push(elapsed(ms, now));
          }
        } finally {
          frame.close();
        }
      }
    } catch (err) {
      state.error = String(err);
    }
  })();
  state.stop = () => {
    stopped = true;
    reader.cancel().catch(() => {});
  };
  return state;
}
