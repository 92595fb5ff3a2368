// `cargo xtask bench legibility`: how legible shared source code is at the viewer, and how fast
// it becomes legible again after a page of it scrolls by.
//
//   node bench/legibility.mjs --out target/bench/legibility.json --png target/bench/legibility.png
//
// Source: 1920×1080 pages of Rust code (13 px monospace, syntax colours) described once in
// bench/lib/code-page.json. The app's host draws them (src/platform/media.rs `CodePage`, offered
// on `/?pattern=code`) and shares them through the real app (pairux-server serving dist/, P2P,
// E2EE as always) to one viewer; the floor page (bench/legibility-floor.html) sends the same
// pages between two peer connections with Chrome's default settings. The script first checks
// that the app's canvas and this bench's renderer give identical pixels.
//
// For each setting (the floor; the app at each `quality` preset, whose viewer cap and height
// name the figures; the app capped at 2.5 Mbps by the bench):
//   - still: page 0 for STILL_MS, then the SSIM of received frames' luma against the source's
//     (bench/lib/ssim.mjs), the median of 5 frames 250 ms apart (`ssim_<kbps>kbps_<height>p`),
//     that frame saved as a PNG;
//   - settle: CHANGES full-page changes; after each, every received frame is kept for WINDOW_MS
//     and scored in order (every frame of the first 500 ms, then every 4th with the skipped ones
//     filled in when one reaches the threshold: lib/legibility-probe.mjs); settle = the first
//     frame with SSIM ≥ 0.95, from the sender's drawing of the page to that frame's arrival at
//     the viewer (`settle_ms_p50/p95_<setting>`).
// Also `ssim_after_change_<setting>`: the median SSIM of the last frame of each change's window
// (the floor adapts its resolution over time, so its still and its settled picture differ).
// Ratios against the floor: `ssim_ratio_<setting>` (app / floor) and `settle_ratio_p50` (the
// 2.5 Mbps setting's p50 / the floor's). Figures that could not be measured are null and the
// script exits non-zero; everything measured is still written, with both sides' settings and
// the load average.

import { parseArgs } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, newPage as newPageIn, distDir } from '../tests/e2e/lib/harness.mjs';
import { serveDir } from './lib/serve.mjs';
import { PC_HOOK } from './lib/pc-hook.mjs';
import { assertLoopbackOnly } from './lib/netns.mjs';
import { percentile, percentiles, round1 } from './lib/stats.mjs';
import { renderPng } from './lib/plot.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: 'target/bench/legibility.json' },
    png: { type: 'string', default: 'target/bench/legibility.png' },
    frames: { type: 'string', default: 'target/bench/legibility' }, // received frames (PNG)
    changes: { type: 'string', default: '6' }, // full-page changes per setting (≥ 5)
    'window-ms': { type: 'string', default: '4000' },
    'still-ms': { type: 'string', default: '3000' },
    only: { type: 'string' }, // comma list of setting ids (floor, low, medium, high, cap2500)
  },
});
const CHANGES = Number(opts.changes);
const WINDOW_MS = Number(opts['window-ms']);
const STILL_MS = Number(opts['still-ms']);
const THRESHOLD = 0.95;
const STILL_FRAMES = 5;
/** The fixed bitrate of the target (issue 15): 2.5 Mbps at 1080p. */
const CAP_BPS = 2_500_000;
/** What runs by default; experiments (below) run only when `--only` names them. */
const DEFAULT_IDS = ['floor', 'low', 'medium', 'high', 'cap2500'];
const wanted = (id) => (opts.only ? opts.only.split(',').includes(id) : DEFAULT_IDS.includes(id));

const GIVE_UP_MIN = 15;
setTimeout(() => {
  console.error(`legibility bench: gave up after ${GIVE_UP_MIN} minutes`);
  process.exit(3);
}, GIVE_UP_MIN * 60_000).unref();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// bypassCSP: the probe and renderer modules are imported from the bench's own origin.
const newPage = (browser) =>
  newPageIn(browser, { bypassCSP: true, viewport: { width: 1280, height: 800 } });

/** The video sender's parameters and the track's settings on a sending page. */
const sendSettings = (page) =>
  page.evaluate(() => {
    for (const pc of window.__pcs ?? []) {
      if (pc.connectionState === 'closed') continue;
      for (const t of pc.getTransceivers()) {
        const s = t.sender;
        if (s.track?.kind !== 'video') continue;
        const p = s.getParameters();
        const e = p.encodings?.[0] ?? {};
        return {
          negotiated_codec: p.codecs?.[0]?.mimeType ?? null,
          content_hint: s.track.contentHint || '(none)',
          degradation_preference: p.degradationPreference ?? '(default)',
          max_bitrate_bps: e.maxBitrate ?? null,
          max_framerate: e.maxFramerate ?? null,
          scale_resolution_down_by: e.scaleResolutionDownBy ?? null,
          track_size: `${s.track.getSettings().width}x${s.track.getSettings().height}`,
        };
      }
    }
    return null;
  });

/** The receive settings of the video receiver on a receiving page. */
const receiveSettings = (page) =>
  page.evaluate(() => {
    for (const pc of window.__pcs ?? []) {
      for (const r of pc.getReceivers()) {
        if (r.track?.kind !== 'video') continue;
        return {
          jitter_buffer_target_ms: r.jitterBufferTarget ?? null,
          playout_delay_hint: r.playoutDelayHint ?? null,
          transform: r.transform ? r.transform.constructor.name : null,
        };
      }
    }
    return null;
  });

/** Outbound video stats on a sending page (what the encoder did). */
const outboundStats = (page) =>
  page.evaluate(async () => {
    for (const pc of window.__pcs ?? []) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      for (const s of stats.values()) {
        if (s.type === 'outbound-rtp' && s.kind === 'video' && s.framesEncoded) {
          return {
            codec: stats.get(s.codecId)?.mimeType ?? null,
            encoder: s.encoderImplementation ?? null,
            // Absent while the encoder sends nothing (e.g. Chrome's default adapting down).
            size: s.frameWidth ? `${s.frameWidth}x${s.frameHeight}` : null,
            fps: s.framesPerSecond ?? null,
            target_kbps: s.targetBitrate ? Math.round(s.targetBitrate / 1000) : null,
            quality_limitation: s.qualityLimitationReason,
            frames_encoded: s.framesEncoded,
            key_frames_encoded: s.keyFramesEncoded,
            bytes_sent: s.bytesSent,
            qp_sum: s.qpSum,
            encode_ms: (1000 * s.totalEncodeTime) / s.framesEncoded,
          };
        }
      }
    }
    return null;
  });

/** Waits (at most `ms`) until the encoder's target reaches 90 % of `capBps`; returns it (kbps). */
async function rampTo(page, capBps, ms = 15_000) {
  const until = Date.now() + ms;
  let out = await outboundStats(page);
  while (Date.now() < until && !(out?.target_kbps >= (0.9 * capBps) / 1000)) {
    await sleep(500);
    out = await outboundStats(page);
  }
  return out?.target_kbps ?? null;
}

/** Starts the probe on `page` for its received track (`trackExpr` evaluated there). */
async function startProbe(page, benchUrl, trackFn) {
  await page.evaluate(
    async ({ probeUrl, descUrl, trackSrc }) => {
      const { startProbe } = await import(probeUrl);
      // eslint-disable-next-line no-new-func
      const track = new Function(`return (${trackSrc})()`)();
      window.__probe = await startProbe(track, descUrl);
    },
    { probeUrl: `${benchUrl}/lib/legibility-probe.mjs`, descUrl: `${benchUrl}/lib/code-page.json`, trackSrc: trackFn.toString() },
  );
}

/**
 * One setting: page 0 still, then CHANGES changes to pages 1..CHANGES. `show(k)` draws page k
 * on the sender and returns the wall time it did.
 */
async function measureSetting({ id, label, receiver, show, framesDir }) {
  await show(0);
  await sleep(STILL_MS);
  // The median of STILL_FRAMES frames 250 ms apart: one frame's score moves with where the
  // encoder's refinement happens to be.
  const stills = [];
  for (let i = 0; i < STILL_FRAMES; i++) {
    if (i) await sleep(250);
    stills.push(await receiver.evaluate(() => window.__probe.still(0)));
  }
  const sorted = [...stills].sort((a, b) => a.ssim - b.ssim);
  const still = { ...sorted[Math.floor(sorted.length / 2)], frames_ssim: stills.map((x) => Math.round(x.ssim * 1e4) / 1e4) };
  const file = path.join(framesDir, `${id}.png`);
  await writeFile(file, Buffer.from(still.png, 'base64'));
  delete still.png;
  for (const x of stills) delete x.png;
  console.error(`  ${label}: still SSIM ${still.ssim.toFixed(4)} (${still.frames_ssim.join(', ')}) at ${still.width}x${still.height} → ${file}`);
  const changes = [];
  for (let k = 1; k <= CHANGES; k++) {
    await receiver.evaluate(() => window.__probe.record());
    await sleep(100);
    const shownAt = await show(k);
    await sleep(WINDOW_MS);
    const r = await receiver.evaluate(
      ({ k, shownAt, threshold }) => window.__probe.settle(k, shownAt, threshold),
      { k, shownAt, threshold: THRESHOLD },
    );
    console.error(
      `  ${label}: change ${k}: settle ${r.settle_ms === null ? `not within ${WINDOW_MS} ms` : `${r.settle_ms.toFixed(0)} ms`}` +
        ` (${r.frames} frames, ${r.scored} scored, final SSIM ${r.final_ssim?.toFixed(4)})`,
    );
    changes.push({ page: k, ...r });
  }
  return { still, changes, still_png: file };
}

async function appSide(env, failures) {
  env.server = await startServer();
  const host = await newPage(env.browser);
  await host.addInitScript(PC_HOOK);
  await host.goto(`${env.server.url}/?pattern=code`);
  await host.waitForSelector('.app', { timeout: 15_000 });
  await host.getByTestId('mode-p2p').check();
  const start = host.getByTestId('start-code-pattern');
  if ((await start.count()) === 0) throw new Error('no data-testid="start-code-pattern" on /?pattern=code');
  await start.click();
  const invite = host.getByTestId('invite-viewer-link');
  await invite.waitFor({ timeout: 15_000 });
  const link = await invite.inputValue();
  await host.waitForFunction(() => window.__pairuxCodePage?.show, null, { timeout: 10_000 });
  await host.locator('[data-testid=session-mode]:text-is("p2p")').waitFor({ timeout: 15_000 });

  // One source of truth, checked: the app's canvas and the bench's renderer, pixel for pixel.
  const identical = await host.evaluate(async (url) => {
    const { drawPage, loadDescription } = await import(`${url}/lib/code-page.mjs`);
    const d = await loadDescription(`${url}/lib/code-page.json`);
    const app = window.__pairuxCodePage;
    const c = document.createElement('canvas');
    c.width = d.width;
    c.height = d.height;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    const out = [];
    for (const k of [0, 1, d.pages.length - 1]) {
      app.show(k);
      drawPage(ctx, d, k);
      const a = app.canvas.getContext('2d').getImageData(0, 0, d.width, d.height).data;
      const b = ctx.getImageData(0, 0, d.width, d.height).data;
      let differing = 0;
      for (let i = 0; i < a.length; i += 4) {
        if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) differing++;
      }
      out.push({ page: k, differing_pixels: differing, size: `${app.canvas.width}x${app.canvas.height}` });
    }
    app.show(0);
    return out;
  }, env.bench.url);
  env.raw.source_check = identical;
  if (identical.some((p) => p.differing_pixels !== 0 || p.size !== '1920x1080')) {
    throw new Error(`the app's code page differs from the bench's: ${JSON.stringify(identical)}`);
  }

  const viewer = await newPage(env.browser);
  await viewer.addInitScript(PC_HOOK);
  await viewer.goto(link);
  await viewer.waitForFunction(
    () => document.querySelector('[data-testid="remote-video"]')?.srcObject?.getVideoTracks().length > 0,
    null,
    { timeout: 20_000 },
  );
  await viewer.locator('[data-testid=e2ee-state]:text-is("ok")').waitFor({ timeout: 15_000 });
  await startProbe(viewer, env.bench.url, () =>
    document.querySelector('[data-testid="remote-video"]').srcObject.getVideoTracks()[0]);
  const show = (k) => host.evaluate((k) => window.__pairuxCodePage.show(k), k);

  const settings = [
    { id: 'low', quality: 'low' },
    { id: 'medium', quality: 'medium' },
    { id: 'high', quality: 'high' },
    { id: 'cap2500', quality: 'medium', capBps: CAP_BPS },
    // Experiments for product decisions, only with `--only`: the Low preset's bitrate at 1080p,
    // and 2.5 Mbps without the app's contentHint "text" (degradation preference kept).
    { id: 'cap1500', quality: 'medium', capBps: 1_500_000 },
    { id: 'cap2500_nohint', quality: 'medium', capBps: CAP_BPS, contentHint: '', suffix: '_nohint' },
  ];
  const results = {};
  for (const s of settings.filter((s) => wanted(s.id))) {
    try {
      await host.getByTestId('quality').selectOption(s.quality);
      await sleep(500);
      if (s.capBps) {
        // Bench-only: no preset sends 2.5 Mbps, so the host's video sender is capped here.
        await host.evaluate(async (bps) => {
          for (const pc of window.__pcs) {
            for (const sender of pc.getSenders()) {
              if (sender.track?.kind !== 'video') continue;
              const p = sender.getParameters();
              for (const e of p.encodings) e.maxBitrate = bps;
              await sender.setParameters(p);
            }
          }
        }, s.capBps);
      }
      // Bench-only: the capture track's content hint for this setting (restored after).
      const setHint = (hint) =>
        host.evaluate((hint) => {
          for (const pc of window.__pcs) {
            for (const sender of pc.getSenders()) if (sender.track?.kind === 'video') sender.track.contentHint = hint;
          }
        }, hint);
      if (s.contentHint !== undefined) await setHint(s.contentHint);
      const send = await sendSettings(host);
      if (!send?.max_bitrate_bps) throw new Error(`no bitrate cap on the host's sender: ${JSON.stringify(send)}`);
      const srcHeight = Number(send.track_size.split('x')[1]);
      const height = Math.round(srcHeight / (send.scale_resolution_down_by ?? 1));
      const name = `${Math.round(send.max_bitrate_bps / 1000)}kbps_${height}p${s.suffix ?? ''}`;
      const label = `app ${s.quality}${s.capBps ? ' + bench cap' : ''} (${name})`;
      const target = await rampTo(host, send.max_bitrate_bps);
      console.error(`legibility bench: ${label}, encoder target ${target} kbps …`);
      const r = await measureSetting({ id: s.id, label, receiver: viewer, show, framesDir: env.framesDir });
      const after = await sendSettings(host);
      if (s.contentHint !== undefined) await setHint('text');
      if (after.max_bitrate_bps !== send.max_bitrate_bps) {
        throw new Error(`the sender's cap moved during the measurement: ${JSON.stringify(after)}`);
      }
      results[s.id] = {
        name,
        label,
        quality: s.quality,
        bench_cap: s.capBps
          ? `maxBitrate ${s.capBps} set by the bench with RTCRtpSender.setParameters on the host's video sender (quality ${s.quality})` +
            (s.contentHint !== undefined ? `, and the capture track's contentHint set to "${s.contentHint}" by the bench` : '')
          : null,
        sender: send,
        receiver: await receiveSettings(viewer),
        encoder: await outboundStats(host),
        target_kbps_before: target,
        ...r,
      };
    } catch (err) {
      failures.push(`${s.id}: ${err.message}`);
    }
  }
  const probe = await viewer.evaluate(() => ({ ...window.__probe.state, recording: null, latest: null }));
  env.raw.app_probe = probe;
  env.raw.app_errors = [...host.errors, ...viewer.errors];
  await viewer.evaluate(() => window.__probe.stop());
  await viewer.context().close();
  await host.context().close();
  return results;
}

async function floorSide(env) {
  const page = await newPage(env.browser);
  await page.goto(`${env.bench.url}/legibility-floor.html`);
  await page.waitForFunction(() => window.floor);
  await page.evaluate(() => window.floor.start());
  await startProbe(page, env.bench.url, () => window.__track);
  // Chrome's default bandwidth estimate starts low and ramps; give it what the app gets.
  const target = await rampTo(page, 2_500_000);
  const show = (k) => page.evaluate((k) => window.__source.show(k), k);
  console.error(`legibility bench: floor (Chrome defaults), encoder target ${target} kbps …`);
  const r = await measureSetting({ id: 'floor', label: 'floor', receiver: page, show, framesDir: env.framesDir });
  const result = {
    name: 'floor',
    label: 'floor: Chrome defaults (no contentHint, default degradationPreference, no cap)',
    sender: await sendSettings(page),
    receiver: await receiveSettings(page),
    encoder: await outboundStats(page),
    target_kbps_before: target,
    ...r,
  };
  env.raw.floor_errors = page.errors;
  await page.evaluate(() => window.__probe.stop());
  await page.context().close();
  return result;
}

/**
 * Settle percentiles over the changes. A change that never reached the threshold within the
 * window counts as ∞: a percentile that lands on one is null, and said so in `not_reached`
 * (measured: the picture stayed below the threshold), which is not a failure to measure.
 */
function settleFigures(changes) {
  const xs = changes.map((c) => (c.settle_ms === null ? Infinity : c.settle_ms));
  const p = percentiles('x', xs, [50, 95]);
  const fin = (v) => (Number.isFinite(v) ? v : null);
  const best = Math.max(...changes.map((c) => c.final_ssim ?? 0));
  return { p50: fin(p.x_p50), p95: fin(p.x_p95), reached: xs.filter(Number.isFinite).length, best };
}

/**
 * The plot: SSIM of the received frames against the new page over the time after each change
 * (thin lines, one per change, through the scored frames; a dot for the window's last frame),
 * per setting, with the threshold and the target's 500 ms; legend with the still SSIM and
 * settle p50.
 */
function trajectorySvg(drawn, caption) {
  const [W, H] = [1000, 520];
  const M = { left: 60, right: 330, top: 40, bottom: 50 };
  const [pw, ph] = [W - M.left - M.right, H - M.top - M.bottom];
  const [ymin, ymax] = [0.7, 1.0];
  const sx = (ms) => M.left + (Math.min(ms, WINDOW_MS) / WINDOW_MS) * pw;
  const sy = (v) => M.top + (1 - (Math.max(ymin, Math.min(ymax, v)) - ymin) / (ymax - ymin)) * ph;
  const colors = ['#57606a', '#d1242f', '#1a7f37', '#9a6700', '#1f6feb', '#8250df'];
  const esc = (t) => String(t).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 20}" font-family="sans-serif">`];
  out.push('<rect width="100%" height="100%" fill="#fff"/>');
  out.push(`<text x="${M.left + pw / 2}" y="24" text-anchor="middle" font-size="16" font-weight="600">SSIM against the new page after a full-page change</text>`);
  for (let ms = 0; ms <= WINDOW_MS; ms += 500) {
    out.push(`<line x1="${sx(ms)}" x2="${sx(ms)}" y1="${M.top}" y2="${M.top + ph}" stroke="#eaeef2"/>`);
    out.push(`<text x="${sx(ms)}" y="${M.top + ph + 18}" text-anchor="middle" font-size="12">${ms}</text>`);
  }
  for (let v = ymin; v <= ymax + 1e-9; v += 0.05) {
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eaeef2"/>`);
    out.push(`<text x="${M.left - 6}" y="${sy(v) + 4}" text-anchor="end" font-size="12">${v.toFixed(2)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#57606a"/>`);
  out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${sy(THRESHOLD)}" y2="${sy(THRESHOLD)}" stroke="#57606a" stroke-dasharray="5 4"/>`);
  out.push(`<line x1="${sx(500)}" x2="${sx(500)}" y1="${M.top}" y2="${M.top + ph}" stroke="#57606a" stroke-dasharray="5 4"/>`);
  out.push(`<text x="${sx(500) + 4}" y="${M.top + 14}" font-size="11" fill="#57606a">target: ${THRESHOLD} within 500 ms (p50)</text>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 10}" text-anchor="middle" font-size="13">ms after the sender drew the new page (frame arrival at the viewer)</text>`);
  drawn.forEach(([id, r], i) => {
    const color = colors[i % colors.length];
    for (const c of r.changes) {
      // The scored frames up to the settle point as a line; the window's last frame as a dot
      // (the frames between are not scored once the threshold is reached).
      const points = c.trajectory.slice(0, -1);
      const d = points.map(([t, v], j) => `${j ? 'L' : 'M'}${sx(t).toFixed(1)},${sy(v).toFixed(1)}`).join(' ');
      if (d) out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5" opacity="0.8"/>`);
      const last = c.trajectory[c.trajectory.length - 1];
      if (last) out.push(`<circle cx="${sx(last[0]).toFixed(1)}" cy="${sy(last[1]).toFixed(1)}" r="3" fill="${color}"/>`);
    }
    const s = settleFigures(r.changes);
    const settle = s.p50 === null ? `not ${THRESHOLD} in ${WINDOW_MS} ms` : `settle p50 ${s.p50.toFixed(0)} ms`;
    const y = M.top + 10 + 36 * i;
    out.push(`<line x1="${W - M.right + 16}" x2="${W - M.right + 40}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${W - M.right + 46}" y="${y + 4}" font-size="12">${esc(id === 'floor' ? 'floor (Chrome defaults)' : `app ${r.name}`)}</text>`);
    out.push(`<text x="${W - M.right + 46}" y="${y + 19}" font-size="11" fill="#57606a">${esc(`still ${r.still.ssim.toFixed(4)} at ${r.still.width}x${r.still.height}; ${settle}`)}</text>`);
  });
  out.push(`<text x="12" y="${H + 12}" font-size="11" fill="#57606a">${esc(caption)}</text>`);
  out.push('</svg>');
  return out.join('\n');
}

async function main() {
  const began = Date.now();
  assertLoopbackOnly('legibility');
  await mkdir(opts.frames, { recursive: true });
  const env = {
    browser: await launchBrowser(),
    bench: await serveDir(here, { dist: distDir }),
    framesDir: opts.frames,
    raw: { started: new Date().toISOString(), load_avg_start: os.loadavg() },
  };
  const failures = [];
  let floor = null;
  let app = {};
  try {
    await env.browser.newPage().then(async (p) => {
      // The source page, as drawn by the bench's renderer, to look at beside the received ones.
      await p.goto(`${env.bench.url}/legibility-floor.html`);
      const b64 = await p.evaluate(async () => {
        const { drawPage, loadDescription } = await import('./lib/code-page.mjs');
        const d = await loadDescription('./lib/code-page.json');
        const c = new OffscreenCanvas(d.width, d.height);
        drawPage(c.getContext('2d'), d, 0);
        const bytes = new Uint8Array(await (await c.convertToBlob({ type: 'image/png' })).arrayBuffer());
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(s);
      });
      await writeFile(path.join(opts.frames, 'source.png'), Buffer.from(b64, 'base64'));
      await p.close();
    });
    if (wanted('floor')) {
      try {
        floor = await floorSide(env);
      } catch (err) {
        failures.push(`floor: ${err.message}`);
      }
    }
    try {
      app = await appSide(env, failures);
    } catch (err) {
      failures.push(`app: ${err.message}`);
    }

    const figures = {};
    const settings = {};
    // Figures that are null because the picture never reached the threshold (measured), with why.
    const notReached = {};
    const add = (r, key) => {
      figures[`ssim_${key}`] = r ? Math.round(r.still.ssim * 1e4) / 1e4 : null;
      figures[`resolution_${key}`] = r ? `${r.still.width}x${r.still.height}` : null;
      const s = r ? settleFigures(r.changes) : { p50: null, p95: null, reached: 0 };
      figures[`settle_ms_p50_${key}`] = round1(s.p50);
      figures[`settle_ms_p95_${key}`] = round1(s.p95);
      figures[`settle_reached_${key}`] = r ? `${s.reached}/${r.changes.length}` : null;
      // Where the picture ends up: the last frame of each change's window (WINDOW_MS after it).
      const finals = r ? r.changes.map((c) => c.final_ssim).filter((x) => x !== null) : [];
      figures[`ssim_after_change_${key}`] =
        finals.length === (r?.changes.length ?? -1) ? Math.round(1e4 * percentile(finals, 50)) / 1e4 : null;
      if (r && s.reached < r.changes.length) {
        const why =
          `${r.changes.length - s.reached} of ${r.changes.length} changes stayed below SSIM ${THRESHOLD} ` +
          `for ${WINDOW_MS} ms (best final ${s.best.toFixed(4)}, received ${r.still.width}x${r.still.height})`;
        for (const p of ['p50', 'p95']) if (s[p] === null) notReached[`settle_ms_${p}_${key}`] = why;
      }
    };
    if (wanted('floor')) add(floor, 'floor');
    const names = {};
    const expected = {
      low: '1500kbps_720p', medium: '3000kbps_1080p', high: '6000kbps_1080p', cap2500: '2500kbps_1080p',
      cap1500: '1500kbps_1080p', cap2500_nohint: '2500kbps_1080p_nohint',
    };
    for (const id of Object.keys(expected).filter(wanted)) {
      const r = app[id];
      // Name from what the host's sender really had; the expected name when it failed.
      const key = r?.name ?? expected[id];
      names[id] = key;
      add(r, key);
      if (wanted('floor')) {
        figures[`ssim_ratio_${key}`] =
          r && floor ? Math.round((1e4 * r.still.ssim) / floor.still.ssim) / 1e4 : null;
      }
    }
    if (wanted('cap2500')) {
      const key = names.cap2500;
      figures.settle_ms_p50 = figures[`settle_ms_p50_${key}`];
      figures.settle_ms_p95 = figures[`settle_ms_p95_${key}`];
      if (wanted('floor')) {
        const a = figures.settle_ms_p50;
        const f = figures.settle_ms_p50_floor;
        figures.settle_ratio_p50 = a !== null && f ? Math.round((100 * a) / f) / 100 : null;
        if (figures.settle_ratio_p50 === null && (notReached.settle_ms_p50_floor || notReached[`settle_ms_p50_${key}`])) {
          notReached.settle_ratio_p50 = 'a settle p50 it divides never reached the threshold (see above)';
        }
      }
      for (const p of ['p50', 'p95']) {
        if (notReached[`settle_ms_${p}_${key}`]) notReached[`settle_ms_${p}`] = notReached[`settle_ms_${p}_${key}`];
      }
    }
    figures.threshold = THRESHOLD;
    figures.changes_per_setting = CHANGES;
    figures.load_avg_1m = round1(os.loadavg()[0]);
    for (const [id, r] of Object.entries({ floor, ...app })) {
      if (!r) continue;
      settings[id] = {
        label: r.label,
        bench_cap: r.bench_cap ?? null,
        sender: r.sender,
        receiver: r.receiver,
        encoder: r.encoder,
        target_kbps_before: r.target_kbps_before,
        received: `${r.still.width}x${r.still.height}`,
        upscaled_to_source: r.still.upscaled,
        frame_png: r.still_png,
      };
    }
    const out = {
      ...figures,
      source: '1920x1080 code pages (bench/lib/code-page.json), 13px monospace, 30 fps canvas capture',
      ssim: 'mean SSIM, 11x11 Gaussian (sigma 1.5), K1 0.01, K2 0.03, luma Y = 0.299R+0.587G+0.114B, at 1920x1080 (smaller received frames upscaled bilinearly)',
      settle: `ms from the sender drawing a new page to the first received frame with SSIM >= ${THRESHOLD}, frames read with MediaStreamTrackProcessor at the viewer; a change not reaching it within ${WINDOW_MS} ms counts as infinite`,
      settings,
      load_avg: os.loadavg().map((x) => Math.round(x * 100) / 100),
      load_avg_start: env.raw.load_avg_start.map((x) => Math.round(x * 100) / 100),
    };
    out.not_reached = notReached;
    const missing = Object.entries(figures)
      .filter(([k, v]) => v === null && !(k in notReached))
      .map(([k]) => k);
    if (missing.length) failures.push(`not measured: ${missing.join(', ')}`);

    await mkdir(path.dirname(opts.out), { recursive: true });
    await writeFile(opts.out, `${JSON.stringify(out, null, 2)}\n`);
    await writeFile(
      opts.out.replace(/\.json$/, '') + '-samples.json',
      `${JSON.stringify({ ...env.raw, floor, app })}\n`,
    );

    const drawn = Object.entries({ floor, ...app }).filter(([, r]) => r);
    if (drawn.length) {
      const caption =
        `PairUX legibility bench ${env.raw.started}, 1920×1080 code pages, loopback, ${CHANGES} page changes per setting, ` +
        `load avg ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`;
      await renderPng(env.browser, trajectorySvg(drawn, caption), opts.png);
    }
  } finally {
    await env.browser.close().catch(() => {});
    await env.server?.stop();
    await env.bench.close();
  }
  console.error(`legibility bench: done in ${((Date.now() - began) / 1000).toFixed(0)} s`);
  if (failures.length) {
    for (const f of failures) console.error(`legibility bench: FAILED ${f}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(`legibility bench: ${err.stack ?? err}`);
  process.exit(1);
});
