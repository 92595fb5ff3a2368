// The voice journeys' probes: a fake microphone playing a 440 Hz tone, received audio tracks
// recorded per page, the tone's level in what a page receives, and the participant list's
// mute and speaking marks.

import assert from 'node:assert/strict';
import { writeWav, WAV_RATE } from './wav.mjs';

export const TONE_HZ = 440;
/** dB above the spectrum's median: clearly the tone. */
export const HEARS = 25;

/** 2 s of a 440 Hz sine at −10 dBFS (Chromium loops the file). */
export const toneWav = () =>
  writeWav('tone', 2, (i) => Math.sin((2 * Math.PI * TONE_HZ * i) / WAV_RATE) * 0.3);


/** Keeps every received audio track in `window.__voices`. */
export function recordVoices() {
  window.__voices = [];
  window.__vpcs = [];
  const Orig = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Orig {
    constructor(...args) {
      super(...args);
      window.__vpcs.push(this);
      this.addEventListener('track', (ev) => {
        if (ev.track.kind === 'audio') window.__voices.push(ev.track);
      });
    }
  };
}

/**
 * The loudest 440 Hz among the page's received voices, in dB above the spectrum's median
 * (−Infinity when nothing was received). One measuring audio context per page, one analyser
 * per received track, kept between calls; each call reads what played in the last ~0.4 s.
 */
export async function toneLevel(page) {
  return page.evaluate(async ({ hz, hears }) => {
    const m = (window.__measure ??= { ctx: new AudioContext(), analysers: new Map() });
    await m.ctx.resume();
    for (const track of window.__voices.filter((t) => t.readyState === 'live')) {
      if (m.analysers.has(track)) continue; // by track: ids repeat (Janus names them by mid)
      const source = m.ctx.createMediaStreamSource(new MediaStream([track]));
      const analyser = m.ctx.createAnalyser();
      analyser.fftSize = 8192;
      analyser.smoothingTimeConstant = 0;
      source.connect(analyser);
      m.analysers.set(track, analyser);
    }
    // Until the context has rendered a full window since now, the analysers hold old data.
    const until = m.ctx.currentTime + 0.4;
    const deadline = Date.now() + 5000;
    while (m.ctx.currentTime < until && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (m.ctx.currentTime < until) return { level: -Infinity, why: `measuring context ${m.ctx.state}, not rendering` };
    let best = -Infinity;
    let loud = 0;
    for (const analyser of m.analysers.values()) {
      const bins = new Float32Array(analyser.frequencyBinCount);
      analyser.getFloatFrequencyData(bins);
      const at = Math.round(hz / (m.ctx.sampleRate / analyser.fftSize));
      const peak = Math.max(...bins.slice(at - 2, at + 3));
      const sorted = [...bins].filter(Number.isFinite).sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)] ?? -200;
      // A peak that is not far above the floor, or is very quiet, is no tone.
      const level = peak > -70 ? peak - median : -Infinity;
      best = Math.max(best, level);
      if (level >= hears) loud += 1;
    }
    return { level: best, loud, why: `${m.analysers.size} voices` };
  }, { hz: TONE_HZ, hears: HEARS });
}

/** What the page's connections say about voice (for a failure's message). */
export async function voiceStats(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const pc of window.__vpcs) {
      if (pc.connectionState === 'closed') continue;
      for (const r of (await pc.getStats()).values()) {
        if (r.kind !== 'audio' || !/^(in|out)bound-rtp$/.test(r.type)) continue;
        out.push(r.type === 'inbound-rtp'
          ? `in: ${r.packetsReceived} pkts, level ${r.audioLevel?.toFixed(3)}`
          : `out: ${r.packetsSent} pkts`);
      }
      const t = pc.getTransceivers().find((t) => t.receiver.track.kind === 'audio');
      if (t) out.push(`dir ${t.currentDirection}, sending ${!!t.sender.track}`);
    }
    return out.join('; ');
  });
}

/**
 * Waits until `page` hears the tone; `once`: from exactly one of its received tracks. Two at a
 * time are allowed only while they last no longer than a make-before-break move does (the
 * old direct voice stops within 3 s of the new one; the mixer keys sources by person, so a
 * person is mixed once meanwhile): still two after ~6 s of reads fails.
 */
export async function hears(page, what, { once = false } = {}) {
  let r = { level: -Infinity };
  let twice = 0;
  for (let i = 0; i < 16; i++) {
    r = await toneLevel(page);
    if (r.level >= HEARS) {
      if (!once || r.loud === 1) return r.level;
      twice += 1;
    }
  }
  if (twice > 0 && r.loud > 1) assert.fail(`${what}: the tone still arrives on ${r.loud} tracks after ${twice} reads (heard twice)`);
  assert.fail(
    `${what}: no ${TONE_HZ} Hz tone (${r.level.toFixed(1)} dB over the floor, ${r.why}; ${await voiceStats(page)})`,
  );
}
/**
 * Waits until `page` hears no tone in two reads in a row (one quiet read can fall between a
 * sender's packets). `received: true`: at least one received voice is measured in them (a
 * page with no received track is quiet whatever the product does).
 */
export async function silent(page, what, { received = false } = {}) {
  let r = { level: Infinity };
  let quiet = 0;
  for (let i = 0; i < 16; i++) {
    r = await toneLevel(page);
    // A context that is not rendering proves nothing either way: try again.
    const measured = !/not rendering/.test(r.why) && (!received || r.why !== '0 voices');
    quiet = measured && r.level < 10 ? quiet + 1 : 0;
    if (quiet === 2) return r.level;
  }
  assert.fail(`${what}: not silent (${r.level.toFixed(1)} dB over the floor, ${r.why})`);
}

export async function setMic(page, on) {
  const toggle = page.getByTestId('mic-toggle');
  assert.equal(await toggle.getAttribute('data-state'), on ? 'off' : 'on');
  await toggle.click();
  await page.locator(`[data-testid=mic-toggle][data-state=${on ? 'on' : 'off'}]`).waitFor({ timeout: 10_000 });
}

export async function micShown(page, id, state) {
  await page.locator(`[data-testid=mic-state-${id}][data-state=${state}]`).waitFor({ timeout: 10_000 });
}

export async function speakingShown(page, id, speaking) {
  await page
    .locator(`[data-testid=participant-${id}][data-speaking=${speaking}]`)
    .waitFor({ timeout: 10_000 });
}

/**
 * Starts sampling, every 50 ms, the loudest 440 Hz among the page's received voices (same
 * measure as `toneLevel`), into `window.__toneLog` (`[{t, level}]`, wall-clock ms).
 */
export async function startToneLog(page) {
  await page.evaluate(async ({ hz }) => {
    const ctx = new AudioContext();
    await ctx.resume();
    const analysers = new Map();
    window.__toneLog = [];
    const bins = new Float32Array(4096);
    window.__toneLogTimer = setInterval(() => {
      for (const track of window.__voices.filter((t) => t.readyState === 'live')) {
        if (analysers.has(track)) continue;
        const source = ctx.createMediaStreamSource(new MediaStream([track]));
        const analyser = ctx.createAnalyser();
        analyser.fftSize = 8192;
        analyser.smoothingTimeConstant = 0;
        source.connect(analyser);
        analysers.set(track, analyser);
      }
      let best = -Infinity;
      for (const analyser of analysers.values()) {
        analyser.getFloatFrequencyData(bins);
        const at = Math.round(hz / (ctx.sampleRate / analyser.fftSize));
        const peak = Math.max(...bins.slice(at - 2, at + 3));
        const sorted = [...bins].filter(Number.isFinite).sort((a, b) => a - b);
        const median = sorted[Math.floor(sorted.length / 2)] ?? -200;
        if (peak > -70) best = Math.max(best, peak - median);
      }
      window.__toneLog.push({ t: Date.now(), level: best });
    }, 50);
  }, { hz: TONE_HZ });
}

/** The longest time (ms) without the tone in the page's log between `since` and its end. */
export async function longestSilence(page, since) {
  return page.evaluate(({ since, hears }) => {
    clearInterval(window.__toneLogTimer);
    const heard = window.__toneLog.filter((s) => s.t >= since && s.level >= hears).map((s) => s.t);
    let max = 0;
    for (let i = 1; i < heard.length; i++) max = Math.max(max, heard[i] - heard[i - 1]);
    return { max, samples: heard.length };
  }, { since, hears: HEARS });
}
