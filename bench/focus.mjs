// `cargo xtask bench focus`, the media half (xtask runs the assignment simulation itself and
// merges this script's figures into target/bench/focus.json):
//
// (a) P2P → SFU switch: an Auto session on a server with 2 Janus nodes and
//     `--sfu-threshold` = 1 + `--guests` (default 2, the journey: threshold 3); the
//     guests but one watch peer to peer, the last one joins and the focus moves the session. At each guest, the largest gap between frames its `remote-video` presented
//     (requestVideoFrameCallback), from the third join until every guest presents the SFU's
//     picture plus 2 s. `switch_gap_ms_p50` / `switch_gap_ms_max` over guests and runs, and
//     the median interval between frames in the same windows (`frame_interval_ms_p50`): with
//     every participant in one browser on two cores, frames come less often than the pattern
//     draws them, and no switch can show its first frame sooner than the next one.
// (b) failover: an SFU session with `--guests` guests; `kill -9` of its Janus; at each guest the
//     time from the kill to the first frame presented from the new subscription.
//     `failover_ms_p50` / `failover_ms_max` over guests and runs.
//
//   node bench/focus.mjs [--runs 5] [--guests 2]
//
// Runs only inside the namespace xtask makes. Prints progress on stderr and the figures as one
// JSON object on the last stdout line; a figure it could not measure is null and the process
// exits non-zero.

import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, openApp } from '../tests/e2e/lib/harness.mjs';
import { recordPeers } from '../tests/e2e/lib/sfu.mjs';
import {
  watcher, recordPresentation, largestGap, presentedStream, firstFrameOfOtherStream, janusNode, killJanus, settled,
  medianInterval,
} from '../tests/e2e/lib/focus.mjs';
import { assertLoopbackOnly } from './lib/netns.mjs';
import { percentile, round1 } from './lib/stats.mjs';

const { values: opts } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, guests: { type: 'string', default: '2' } },
});
const RUNS = Number(opts.runs);
// Guests watching through the switch: all but the last join before it; the last one's join
// reaches the threshold (host + guests).
const GUESTS = Number(opts.guests);
const MEDIA_IP = process.env.PAIRUX_MEDIA_IP ?? '198.51.100.1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

setTimeout(() => {
  console.error('focus bench: gave up after 10 minutes');
  process.exit(3);
}, 600_000).unref();

assertLoopbackOnly('focus');
const runDir = mkdtempSync(path.join(os.tmpdir(), 'pairux-focus-bench-'));
const server = await startServer({
  args: [
    '--media-ip', MEDIA_IP, '--run-dir', runDir, '--sfu-nodes', '2',
    '--sfu-threshold', String(GUESTS + 1), '--turn',
  ],
});
const browser = await launchBrowser();

async function host(mode) {
  const page = await newPage(browser);
  await page.addInitScript(recordPeers);
  await page.addInitScript(recordPresentation);
  await openApp(page, server.url);
  await page.getByTestId(mode).check();
  await page.getByTestId('start-test-pattern').click();
  const link = await page.getByTestId('invite-viewer-link').inputValue();
  return { page, link };
}

const sfuMode = (page) => page.locator('[data-testid=session-mode]:text-is("sfu")').waitFor({ timeout: 20_000 });

async function switchRun() {
  const h = await host('mode-auto');
  const early = [];
  for (let i = 1; i < GUESTS; i += 1) early.push(await watcher(browser, h.link));
  await Promise.all(early.map((page) => settled(page)));
  const p2p = await Promise.all(early.map(presentedStream));
  const since = Date.now();
  const third = await watcher(browser, h.link);
  const guests = [...early, third];
  await Promise.all(guests.map(sfuMode));
  await Promise.all(early.map((page, i) => firstFrameOfOtherStream(page, p2p[i], since, 10_000)));
  // Every guest plays the SFU's picture (1.5 s of its frames, the last one fresh), so a
  // picture that froze after the switch cannot pass; the gaps are measured up to now.
  await Promise.all(guests.map((page) => settled(page)));
  const gaps = [];
  const intervals = [];
  for (const page of guests) {
    const g = await largestGap(page, since);
    if (page !== third && g.streams < 2) throw new Error(`a guest never switched pictures: ${JSON.stringify(g)}`);
    gaps.push(g.max);
    intervals.push(await medianInterval(page, since));
  }
  for (const page of [h.page, ...guests]) await page.context().close();
  return { gaps, intervals };
}

async function failoverRun() {
  const h = await host('mode-sfu');
  await sfuMode(h.page);
  const guests = [];
  for (let i = 0; i < GUESTS; i += 1) guests.push(await watcher(browser, h.link));
  const node = await janusNode(guests[0]);
  if (node !== 0 && node !== 1) throw new Error(`guests use no known Janus node (${node})`);
  await Promise.all(guests.map((page) => settled(page)));
  const before = await Promise.all(guests.map(presentedStream));
  const killed = killJanus(runDir, node);
  const back = await Promise.all(guests.map((page, i) => firstFrameOfOtherStream(page, before[i], killed, 15_000)));
  // Recovered means playing again, not one frame.
  await Promise.all(guests.map((page) => settled(page)));
  for (const page of [h.page, ...guests]) await page.context().close();
  // The supervisor restarts the killed node; let the focus see it up before the next run.
  await sleep(4000);
  return back.map((t) => t - killed);
}

const gaps = [];
const intervals = [];
const failovers = [];
let failed = false;
try {
  for (let i = 0; i < RUNS; i += 1) {
    const { gaps: g, intervals: f } = await switchRun();
    console.error(`  switch run ${i + 1}: largest gaps ${g.map(Math.round).join(', ')} ms; median frame intervals ${f.map(Math.round).join(', ')} ms`);
    gaps.push(...g);
    intervals.push(...f.filter((x) => x !== null));
  }
  for (let i = 0; i < RUNS; i += 1) {
    const f = await failoverRun();
    console.error(`  failover run ${i + 1}: ${f.map(Math.round).join(', ')} ms`);
    failovers.push(...f);
  }
} catch (err) {
  console.error(`focus bench: ${err.stack ?? err}\n${server.log().slice(-4000)}`);
  failed = true;
} finally {
  await browser.close();
  await server.stop();
  rmSync(runDir, { recursive: true, force: true });
}

const fig = (values, p) => (values.length ? round1(p === 'max' ? Math.max(...values) : percentile(values, p)) : null);
const figures = {
  switch_gap_ms_p50: fig(gaps, 50),
  switch_gap_ms_max: fig(gaps, 'max'),
  // The floor under the gap: how often frames came at all on this machine during the runs.
  frame_interval_ms_p50: fig(intervals, 50),
  failover_ms_p50: fig(failovers, 50),
  failover_ms_max: fig(failovers, 'max'),
  switch_samples: gaps.length,
  failover_samples: failovers.length,
  runs: RUNS,
  guests: GUESTS,
};
console.log(JSON.stringify(figures));
if (failed || Object.values(figures).some((v) => v === null)) process.exit(1);
