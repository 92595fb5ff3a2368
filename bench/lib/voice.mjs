// Mouth-to-ear latency of the app's voice, on loopback.
//
// Every page's fake microphone plays `clicksWav()`: a 1 kHz burst of 40 ms every second (a delay up to 1 s pairs unambiguously).
// An AudioWorklet on each side timestamps burst onsets to the sample: on the host, on the very
// microphone track the app sends (getUserMedia is wrapped to keep it); on the viewer, on the
// voice track it receives. Both timestamps are wall-clock (performance.timeOrigin + the audio
// context's output timestamp), so receive − send is capture → decoded at the listener, through
// Opus, SFrame both ways, the network and the receiver's jitter buffer.

import { writeWav, WAV_RATE } from '../../tests/e2e/lib/wav.mjs';

export const BURST_EVERY_MS = 1000;

/** The fake microphone's file: 4 s, a 40 ms 1 kHz burst at −6 dBFS every BURST_EVERY_MS. */
export function clicksWav() {
  const every = (WAV_RATE * BURST_EVERY_MS) / 1000;
  const burst = (WAV_RATE * 40) / 1000;
  return writeWav('clicks', 4, (i) => {
    const k = i % every;
    return k < burst ? Math.sin((2 * Math.PI * 1000 * k) / WAV_RATE) * 0.5 : 0;
  });
}

/** Init script: the app's microphone stream, kept in `window.__mic`. */
export const MIC_HOOK = `(() => {
  const md = navigator.mediaDevices;
  if (!md || window.__micHooked) return;
  window.__micHooked = true;
  const orig = md.getUserMedia.bind(md);
  md.getUserMedia = async (c) => {
    const s = await orig(c);
    if (s.getAudioTracks().length) window.__mic = s;
    return s;
  };
})();`;

// The worklet: the first sample of each burst (|x| > 0.05 after ≥ 100 ms of quiet), as
// context time. Sent as a data: URL (the pages are opened with bypassCSP).
const WORKLET = `
class Onsets extends AudioWorkletProcessor {
  constructor() { super(); this.quietSince = -1; this.armed = true; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (!ch) return true;
    for (let i = 0; i < ch.length; i++) {
      const t = currentTime + i / sampleRate;
      if (Math.abs(ch[i]) > 0.05) {
        if (this.armed) { this.port.postMessage(t); this.armed = false; }
        this.quietSince = -1;
      } else if (this.quietSince < 0) {
        this.quietSince = t;
      } else if (!this.armed && t - this.quietSince > 0.1) {
        this.armed = true;
      }
    }
    return true;
  }
}
registerProcessor('onsets', Onsets);`;

/** Starts timestamping onsets of `pick()`'s track in `page` (into `window.__onsets`). */
export async function startOnsets(page, pick) {
  await page.evaluate(
    async ({ src, pickSrc }) => {
      const track = new Function(`return (${pickSrc})();`)();
      if (!track) throw new Error('no audio track to measure');
      const ctx = new AudioContext({ latencyHint: 'interactive' });
      await ctx.audioWorklet.addModule(`data:text/javascript,${encodeURIComponent(src)}`);
      const node = new AudioWorkletNode(ctx, 'onsets');
      ctx.createMediaStreamSource(new MediaStream([track])).connect(node);
      // A processor runs only while its output is pulled: a silent path to the destination.
      const mute = ctx.createGain();
      mute.gain.value = 0;
      node.connect(mute).connect(ctx.destination);
      await ctx.resume();
      window.__onsets = [];
      node.port.onmessage = (m) => {
        const ts = ctx.getOutputTimestamp();
        const perf = ts.performanceTime + (m.data - ts.contextTime) * 1000;
        window.__onsets.push(performance.timeOrigin + perf);
      };
      window.__onsetCtx = ctx;
    },
    { src: WORKLET, pickSrc: pick.toString() },
  );
}

export const onsets = (page) => page.evaluate(() => window.__onsets ?? []);

/**
 * Stops `startOnsets`'s detector: its audio context (a real-time audio thread and the worklet)
 * would otherwise keep running in a page that stays open — the media bench's host, whose
 * later first-frame runs then carried that load (TTFF p50 329 ms after the mouth-to-ear
 * phase against 276–292 without it, same build, same run length).
 */
export async function stopOnsets(page) {
  await page.evaluate(async () => {
    const ctx = window.__onsetCtx;
    delete window.__onsetCtx;
    if (ctx) await ctx.close();
  });
}

/**
 * Pairs each received onset with the latest sent one before it (within one burst period):
 * the mouth-to-ear delays, ms.
 */
export function pairOnsets(sent, received) {
  const delays = [];
  for (const r of received) {
    let best = null;
    for (const s of sent) if (s <= r && r - s < BURST_EVERY_MS) best = s;
    if (best !== null) delays.push(r - best);
  }
  return delays;
}
