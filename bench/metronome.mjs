// `cargo xtask bench metronome`: whether Chromium hands received video frames to an encoded
// transform, and to the decoder, on the ticks of a metronome rather than as they arrive — the
// suspected cause of `e2ee_overhead_ms_p50` (bench/media.mjs; ARCHITECTURE.md, "Where the hop's
// time goes"). bench/metronome.html sends the test pattern between two peers in one page and
// stamps each frame where it enters the sending transform, the receiving transform and where
// it is decoded; a second run has no receiving transform.
//
// For a stream of stamps, `*_lock_r` is the mean resultant length of their phases modulo a
// tick of 15.625 ms (Chromium's 64 Hz metronome): 1 when every stamp falls at one phase of
// that grid, ~0 when they are spread over it; `*_phase_ms` is that mean phase (0–15.625 ms,
// on one clock for every stream, so streams on the same ticks show phases a fixed step
// apart). `*_best_period_ms` is the period in 10–20 ms at which the stamps lock best,
// `*_gaps_ms` the most frequent gaps between stamps. The sending side (after the encoder,
// before the pacer and the network) is a control for the worker's own scheduling and the
// capture's timer only: a lock upstream of the receiving transform (packets handled on
// ticks) would look the same as one in the hand-off. The two probes run in the order
// `--order` gives. A figure that could not be measured (under 100 frames) is null and the
// bench exits non-zero.
//
//   node bench/metronome.mjs --out target/bench/metronome.json

import { parseArgs } from 'node:util';
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { launchBrowser, newPage } from '../tests/e2e/lib/harness.mjs';
import { serveDir } from './lib/serve.mjs';
import { assertLoopbackOnly } from './lib/netns.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: 'target/bench/metronome.json' },
    seconds: { type: 'string', default: '15' },
    // Which probe first: `transform` (with a receiving transform) or `plain`.
    order: { type: 'string', default: 'transform' },
  },
});
const TICK_MS = 1000 / 64;
const WARM_MS = 3000;
const MIN_FRAMES = 100;

setTimeout(() => {
  console.error('metronome bench: gave up after 3 minutes');
  process.exit(3);
}, 3 * 60_000).unref();

/** Mean resultant length of `xs` (ms) modulo `period`, and the mean phase (ms). */
function circular(xs, period) {
  let c = 0;
  let s = 0;
  for (const x of xs) {
    const a = (2 * Math.PI * (x % period)) / period;
    c += Math.cos(a);
    s += Math.sin(a);
  }
  const phase = ((Math.atan2(s, c) / (2 * Math.PI)) * period + period) % period;
  return { r: Math.hypot(c, s) / xs.length, phase };
}
const lock = (xs, period) => circular(xs, period).r;

function describe(name, xs, figures) {
  if (xs.length < MIN_FRAMES) {
    for (const k of ['frames', 'lock_r', 'phase_ms', 'best_period_ms', 'gaps_ms']) figures[`${name}_${k}`] = null;
    return false;
  }
  let best = [null, 0];
  for (let p = 10; p <= 20.0001; p += 0.005) {
    const r = lock(xs, p);
    if (r > best[1]) best = [p, r];
  }
  const gaps = {};
  for (let i = 1; i < xs.length; i++) {
    const g = Math.round(xs[i] - xs[i - 1]);
    gaps[g] = (gaps[g] ?? 0) + 1;
  }
  figures[`${name}_frames`] = xs.length;
  const grid = circular(xs, TICK_MS);
  figures[`${name}_lock_r`] = Number(grid.r.toFixed(3));
  figures[`${name}_phase_ms`] = Number(grid.phase.toFixed(2));
  figures[`${name}_best_period_ms`] = Number(best[0].toFixed(3));
  figures[`${name}_gaps_ms`] = Object.entries(gaps)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([g]) => Number(g));
  return true;
}

async function probe(browser, bench, query) {
  const page = await newPage(browser);
  try {
    await page.goto(`${bench.url}/metronome.html${query}`);
    await page.waitForFunction(() => window.ready, null, { timeout: 15_000 }).catch((err) => {
      throw new Error(`the probe page did not start (${page.errors.join('; ') || err.message})`);
    });
    const t0 = await page.evaluate(() => performance.timeOrigin + performance.now());
    await new Promise((r) => setTimeout(r, Number(opts.seconds) * 1000));
    const d = await page.evaluate(() => window.collect());
    const after = (xs) => xs.filter((x) => x > t0 + WARM_MS);
    return { send: after(d.send), receive: after(d.receive), decoded: after(d.decoded), errors: page.errors };
  } finally {
    await page.context().close();
  }
}

async function main() {
  assertLoopbackOnly('metronome');
  const figures = { tick_ms: TICK_MS, load_avg_1m: Number(os.loadavg()[0].toFixed(2)) };
  const browser = await launchBrowser();
  // The probe page needs nothing of the app's build.
  const bench = await serveDir(here);
  let ok = true;
  try {
    if (!['transform', 'plain'].includes(opts.order)) throw new Error(`--order: transform or plain, not ${opts.order}`);
    figures.order = opts.order;
    let plain = opts.order === 'plain' ? await probe(browser, bench, '?transform=0') : null;
    const withTransform = await probe(browser, bench, '');
    plain ??= await probe(browser, bench, '?transform=0');
    ok = describe('send_transform', withTransform.send, figures) && ok;
    ok = describe('receive_transform', withTransform.receive, figures) && ok;
    ok = describe('decoded_with_transform', withTransform.decoded, figures) && ok;
    ok = describe('decoded_plain', plain.decoded, figures) && ok;
    const errors = [...withTransform.errors, ...plain.errors];
    if (errors.length) {
      console.error(`metronome bench: page errors: ${errors.join('; ')}`);
      ok = false;
    }
  } finally {
    await browser.close();
    bench.close();
  }
  await mkdir(path.dirname(opts.out), { recursive: true });
  await writeFile(opts.out, JSON.stringify(figures, null, 2) + '\n');
  if (!ok) console.error('metronome bench: a figure could not be measured (null)');
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error(`metronome bench: ${err.stack ?? err}`);
  process.exit(1);
});
