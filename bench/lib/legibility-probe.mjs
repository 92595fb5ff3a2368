// The legibility benchmark's receiving side, imported into the viewer page (the app's viewer or
// the floor page): reads every decoded frame of the received track (MediaStreamTrackProcessor,
// as toolchain.md verified for headless Chromium, where drawImage of a remote <video> reads
// zeros), and scores frames by SSIM of their luma against the code page drawn here from the same
// description (lib/code-page.json) with the same renderer as the sender's.
//
// Luma of a received frame: the browser converts it to RGBA by the colour space the frame
// declares (decoded VP8 says BT.709 here, so the decoder's Y plane is not 0.299/0.587/0.114
// luma), then Y = 0.299 R + 0.587 G + 0.114 B like the source's. While a change is recorded only
// the decoder's planes are copied (cheap); conversion and scoring happen after the window, so
// they do not compete with the encoder. A frame smaller than the source is upscaled bilinearly
// to the source's size before SSIM.

import { drawPage, loadDescription } from './code-page.mjs';
import { lumaFromRgba, prepare, resize, ssimAgainst } from './ssim.mjs';

const wallMs = () => performance.timeOrigin + performance.now();

/** A cheap fingerprint of a plane (every 61st byte), to skip frames identical to the previous. */
function fingerprint(bytes) {
  let h = 2166136261;
  for (let i = 0; i < bytes.length; i += 61) h = Math.imul(h ^ bytes[i], 16777619);
  return h >>> 0;
}

export async function startProbe(track, descriptionUrl) {
  const description = await loadDescription(descriptionUrl);
  const { width: W, height: H } = description;
  const canvas = document.createElement('canvas');
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const refs = new Map();
  /** The prepared reference of page k (kept for the last two pages asked). */
  const reference = (k) => {
    if (!refs.has(k)) {
      drawPage(ctx, description, k);
      const rgba = ctx.getImageData(0, 0, W, H).data;
      refs.set(k, { prepared: prepare(lumaFromRgba(rgba, W, H), W, H), fingerprint: fingerprint(rgba) });
      while (refs.size > 2) refs.delete(refs.keys().next().value);
    }
    return refs.get(k);
  };

  const state = {
    frames: 0,
    error: null,
    recording: null, // [{ at, w, h, y, fullRange, hash }] while recording
    latest: null, // the last frame (a VideoFrame clone) for grab()
    formats: {},
  };
  const processor = new MediaStreamTrackProcessor({ track });
  const reader = processor.readable.getReader();
  let stopped = false;

  /**
   * The frame's pixels as the decoder gave them (a cheap copy, no conversion), with what it
   * takes to rebuild a VideoFrame later: `{ w, h, buf, init, hash }`.
   */
  async function raw(frame) {
    const vr = frame.visibleRect;
    const rect = { x: vr.x, y: vr.y, width: vr.width, height: vr.height };
    const buf = new Uint8Array(frame.allocationSize({ rect }));
    const layout = await frame.copyTo(buf, { rect });
    const colorSpace = frame.colorSpace?.toJSON?.() ?? undefined;
    state.formats[`${frame.format}/${JSON.stringify(colorSpace)}`] = true;
    const init = { format: frame.format, codedWidth: vr.width, codedHeight: vr.height, timestamp: 0, layout, colorSpace };
    // The first plane (luma, or all of RGBA) fingerprints the picture.
    const first = buf.subarray(layout[0].offset, layout[0].offset + layout[0].stride * vr.height);
    return { w: vr.width, h: vr.height, buf, init, hash: fingerprint(first) };
  }

  /**
   * Luma 0–255 at the source's size: the browser converts the frame to RGBA by the colour
   * space the frame declares, then Y = 0.299 R + 0.587 G + 0.114 B, upscaled if smaller.
   */
  async function luma({ w, h, buf, init }) {
    const frame = new VideoFrame(buf, init);
    try {
      const rgba = new Uint8Array(w * h * 4);
      await frame.copyTo(rgba, { format: 'RGBA' });
      return resize(lumaFromRgba(rgba, w, h), w, h, W, H);
    } finally {
      frame.close();
    }
  }

  (async () => {
    try {
      while (!stopped) {
        const { value: frame, done } = await reader.read();
        if (done) break;
        const at = wallMs();
        state.frames++;
        try {
          if (state.recording) {
            const copy = await raw(frame);
            copy.at = at;
            state.recording.push(copy);
          }
          state.latest?.close();
          state.latest = frame.clone();
        } finally {
          frame.close();
        }
      }
    } catch (err) {
      state.error = String(err);
    }
  })();

  /** The next frame that arrives after now (a VideoFrame the caller closes). */
  async function nextFrame(timeoutMs = 5000) {
    const seen = state.frames;
    const until = Date.now() + timeoutMs;
    while (state.frames === seen || !state.latest) {
      if (state.error) throw new Error(state.error);
      if (Date.now() > until) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return state.latest.clone();
  }

  /** A PNG (data URL) of a VideoFrame, in colour, at its own size. */
  async function png(frame) {
    const vr = frame.visibleRect;
    const c = new OffscreenCanvas(vr.width, vr.height);
    const rgba = new Uint8ClampedArray(vr.width * vr.height * 4);
    await frame.copyTo(rgba, { rect: { x: vr.x, y: vr.y, width: vr.width, height: vr.height }, format: 'RGBA' });
    c.getContext('2d').putImageData(new ImageData(rgba, vr.width, vr.height), 0, 0);
    const blob = await c.convertToBlob({ type: 'image/png' });
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }

  return {
    state,
    /** Fingerprint of the RGBA pixels of page k as drawn here (the sender's must match). */
    pageFingerprint: (k) => reference(k).fingerprint,
    /** SSIM of the next received frame against page k, with a PNG of that frame. */
    async still(k) {
      const frame = await nextFrame();
      try {
        const copy = await raw(frame);
        const t = performance.now();
        const ssim = ssimAgainst(reference(k).prepared, await luma(copy));
        return {
          ssim,
          width: copy.w,
          height: copy.h,
          upscaled: copy.w !== W || copy.h !== H,
          color_space: copy.init.colorSpace ?? null,
          format: copy.init.format,
          ssim_compute_ms: performance.now() - t,
          png: await png(frame),
        };
      } finally {
        frame.close();
      }
    },
    record() {
      state.recording = [];
    },
    /**
     * Stops recording and scores what was recorded after `shownAt` (the sender's wall time of
     * the change) against page k, in arrival order, until a frame reaches `threshold`. Every
     * frame of the first `denseMs` is scored; after that every `stride`-th, and when one reaches
     * the threshold the frames skipped before it are scored too, so the first frame that reaches
     * it is found unless the score rose above and fell back below the threshold between two
     * scored frames (`stride` frames apart). Frames identical to the one before take its score.
     * Returns the settle time (ms from `shownAt` to that frame's arrival; null if none reached
     * it), the scored trajectory (which ends with the last frame) and the last frame's score.
     */
    async settle(k, shownAt, threshold, { denseMs = 500, stride = 4 } = {}) {
      const frames = (state.recording ?? []).filter((f) => f.at > shownAt);
      state.recording = null;
      const ref = reference(k).prepared;
      const scores = new Map();
      const score = async (i) => {
        if (!scores.has(i)) {
          const f = frames[i];
          const prev = i > 0 && scores.has(i - 1) && frames[i - 1].hash === f.hash;
          scores.set(i, prev ? scores.get(i - 1) : ssimAgainst(ref, await luma(f)));
        }
        return scores.get(i);
      };
      let hit = null;
      let scored = -1; // the frame scored last before i
      for (let i = 0; i < frames.length && hit === null; ) {
        if ((await score(i)) >= threshold) {
          for (let j = scored + 1; j <= i; j++) {
            if ((await score(j)) >= threshold) {
              hit = j;
              break;
            }
          }
        }
        scored = i;
        i += frames[i].at - shownAt < denseMs ? 1 : stride;
      }
      const final = frames.length ? await score(frames.length - 1) : null;
      const trajectory = [...scores.keys()].sort((a, b) => a - b).map((i) => [
        Math.round((frames[i].at - shownAt) * 10) / 10,
        Math.round(scores.get(i) * 1e4) / 1e4,
        `${frames[i].w}x${frames[i].h}`,
      ]);
      return {
        settle_ms: hit === null ? null : frames[hit].at - shownAt,
        frames: frames.length,
        scored: scores.size,
        trajectory,
        final_ssim: final,
      };
    },
    stop() {
      stopped = true;
      reader.cancel().catch(() => {});
      state.latest?.close();
    },
  };
}
