// Voice: microphones off until turned on, everyone hears everyone else (peer to peer the host
// mixes: each guest hears everybody but themselves), a muted person sends silence, and the
// participant list shows who is muted and who is speaking.
//
// Every page's fake microphone plays the same 440 Hz tone (Chromium's
// --use-file-for-fake-audio-capture), so "who hears whom" is read by turning one microphone on
// at a time and looking for energy at 440 Hz in what each page receives.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp, myId, decoding } from './lib/harness.mjs';
import { writeWav, WAV_RATE } from './lib/wav.mjs';

const TONE_HZ = 440;

/** 2 s of a 440 Hz sine at −10 dBFS (Chromium loops the file). */
const toneWav = () =>
  writeWav('tone', 2, (i) => Math.sin((2 * Math.PI * TONE_HZ * i) / WAV_RATE) * 0.3);

const stack = useStack(undefined, () => [
  `--use-file-for-fake-audio-capture=${toneWav()}`,
  // Sound plays without a click here; the app's "click to hear" path is for real browsers.
  '--autoplay-policy=no-user-gesture-required',
]);

/** Keeps every received audio track in `window.__voices`. */
function recordVoices() {
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
async function toneLevel(page) {
  return page.evaluate(async (hz) => {
    const m = (window.__measure ??= { ctx: new AudioContext(), analysers: new Map() });
    await m.ctx.resume();
    for (const track of window.__voices.filter((t) => t.readyState === 'live')) {
      if (m.analysers.has(track.id)) continue;
      const source = m.ctx.createMediaStreamSource(new MediaStream([track]));
      const analyser = m.ctx.createAnalyser();
      analyser.fftSize = 8192;
      analyser.smoothingTimeConstant = 0;
      source.connect(analyser);
      m.analysers.set(track.id, analyser);
    }
    // Until the context has rendered a full window since now, the analysers hold old data.
    const until = m.ctx.currentTime + 0.4;
    const deadline = Date.now() + 5000;
    while (m.ctx.currentTime < until && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (m.ctx.currentTime < until) return { level: -Infinity, why: `measuring context ${m.ctx.state}, not rendering` };
    let best = -Infinity;
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
    }
    return { level: best, why: `${m.analysers.size} voices` };
  }, TONE_HZ);
}

/** What the page's connections say about voice (for a failure's message). */
async function voiceStats(page) {
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

const HEARS = 25; // dB above the median: clearly the tone
async function hears(page, what) {
  let r = { level: -Infinity };
  for (let i = 0; i < 16; i++) {
    r = await toneLevel(page);
    if (r.level >= HEARS) return r.level;
  }
  assert.fail(
    `${what}: no ${TONE_HZ} Hz tone (${r.level.toFixed(1)} dB over the floor, ${r.why}; ${await voiceStats(page)})`,
  );
}
async function silent(page, what) {
  let r = { level: Infinity };
  for (let i = 0; i < 16; i++) {
    r = await toneLevel(page);
    // A context that is not rendering proves nothing either way: try again.
    if (r.level < 10 && !/not rendering/.test(r.why)) return r.level;
  }
  assert.fail(`${what}: still hears the tone (${r.level.toFixed(1)} dB over the floor, ${r.why})`);
}

async function setMic(page, on) {
  const toggle = page.getByTestId('mic-toggle');
  assert.equal(await toggle.getAttribute('data-state'), on ? 'off' : 'on');
  await toggle.click();
  await page.locator(`[data-testid=mic-toggle][data-state=${on ? 'on' : 'off'}]`).waitFor({ timeout: 10_000 });
}

async function micShown(page, id, state) {
  await page.locator(`[data-testid=mic-state-${id}][data-state=${state}]`).waitFor({ timeout: 10_000 });
}

async function speakingShown(page, id, speaking) {
  await page
    .locator(`[data-testid=participant-${id}][data-speaking=${speaking}]`)
    .waitFor({ timeout: 10_000 });
}

test('host and two guests hear each other, nobody hears themselves, muted is silent', async () => {
  const host = await newPage(stack.browser);
  await host.addInitScript(recordVoices);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  const a = await newPage(stack.browser);
  const b = await newPage(stack.browser);
  for (const [page, link] of [[a, viewerLink], [b, controllerLink]]) {
    await page.addInitScript(recordVoices);
    await openApp(page, link);
  }
  await Promise.all([decoding(a), decoding(b)]);
  const [hostId, aId, bId] = [await myId(host), await myId(a), await myId(b)];
  const everyone = [host, a, b];

  // Off until turned on, and shown as muted everywhere.
  for (const page of everyone) {
    assert.equal(await page.getByTestId('mic-toggle').getAttribute('data-state'), 'off');
    for (const id of [hostId, aId, bId]) await micShown(page, id, 'off');
  }
  // Nothing is sent while every microphone is off.
  await silent(a, 'a guest before anyone talks');

  // The host talks: both guests hear it; it is shown unmuted and speaking everywhere.
  await setMic(host, true);
  await hears(a, 'viewer hearing the host');
  await hears(b, 'controller hearing the host');
  for (const page of everyone) {
    await micShown(page, hostId, 'on');
    await speakingShown(page, hostId, true);
  }
  await setMic(host, false);
  for (const page of everyone) await speakingShown(page, hostId, false);
  await silent(a, 'viewer after the host muted');

  // Guest A talks: the host hears it, B hears it through the host's mix, A does not hear
  // itself back.
  await setMic(a, true);
  await hears(host, 'host hearing the viewer');
  await hears(b, 'controller hearing the viewer (forwarded by the host)');
  await silent(a, 'the viewer hearing itself');
  for (const page of everyone) {
    await micShown(page, aId, 'on');
    await speakingShown(page, aId, true);
  }

  // A mutes: silence for everyone, shown as muted.
  await setMic(a, false);
  await silent(b, 'controller after the viewer muted');
  await silent(host, 'host after the viewer muted');
  for (const page of everyone) await micShown(page, aId, 'off');

  // B talks: A hears it.
  await setMic(b, true);
  await hears(a, 'viewer hearing the controller');
  await setMic(b, false);

  for (const page of everyone) {
    assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  }
  for (const page of everyone) await page.context().close();
});
