// `cargo xtask bench sfu`, the parts that are not glass-to-glass (bench/media.mjs --sfu measures
// g2g and TTFF through Janus against P2P in its own run; xtask merges both into sfu.json):
//
// (a) host uplink and host CPU with 1, 2, 4, 8 viewers, P2P and SFU in the same run: the host
//     is the app in a browser of its own (its process tree's CPU is read from /proc), viewers
//     are app pages in another browser; uplink is the host's transports' `bytesSent` over a
//     window. `host_uplink_ratio_8_to_1_{p2p,sfu}`.
// (c) fan-out: the app host publishes once; N load subscribers (plain recvonly connections, a
//     receiver transform that counts each frame and drops it, so nothing decodes) subscribe
//     through one Janus, N = 25, 50, 100, 200. Per N: frames delivered per subscriber against
//     frames the host sent in the window, packet loss, Janus CPU; `max_subscribers_95pct` is
//     the largest N where every subscriber got ≥ 95 % **and** the publisher kept ≥ 27 fps (the
//     load clients share the cores with it; a starved publisher proves nothing about Janus).
//
//   node bench/sfu.mjs --out target/bench/sfu-load.json
//
// Runs only inside the namespace xtask makes (loopback + a TEST-NET-2 veth). A figure it could
// not measure is null and the process exits non-zero.

import { parseArgs } from 'node:util';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { startServer, launchBrowser, chromiumArgs } from '../tests/e2e/lib/harness.mjs';
import { grantFor, withJanusClient } from '../tests/e2e/lib/sfu.mjs';
import { assertLoopbackOnly } from './lib/netns.mjs';
import { PC_HOOK } from './lib/pc-hook.mjs';
import { round1 } from './lib/stats.mjs';

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: 'target/bench/sfu-load.json' },
    viewers: { type: 'string', default: '1,2,4,8' },
    fanout: { type: 'string', default: '25,50,100,200' },
    'window-ms': { type: 'string', default: '5000' },
    'settle-ms': { type: 'string', default: '3000' },
    'per-page': { type: 'string', default: '25' },
  },
});
const VIEWERS = opts.viewers.split(',').map(Number);
const FANOUT = opts.fanout.split(',').map(Number);
const WINDOW_MS = Number(opts['window-ms']);
const SETTLE_MS = Number(opts['settle-ms']);
const PER_PAGE = Number(opts['per-page']);
const MEDIA_IP = process.env.PAIRUX_MEDIA_IP ?? '198.51.100.1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

setTimeout(() => {
  console.error('sfu bench: gave up after 12 minutes');
  process.exit(3);
}, 720_000).unref();

const TICK = 100; // USER_HZ on Linux
/** CPU seconds (user + system) of `pid` and all its descendants, from /proc. */
function treeCpu(pid) {
  const kids = new Map();
  const cpu = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      cpu.set(Number(name), (Number(fields[11]) + Number(fields[12])) / TICK);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    total += cpu.get(p) ?? 0;
    stack.push(...(kids.get(p) ?? []));
  }
  return total;
}

/** Bytes the page's open connections have sent (transports) and video frames sent. */
const sent = (page) =>
  page.evaluate(async () => {
    let bytes = 0;
    let frames = 0;
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      for (const s of (await pc.getStats()).values()) {
        if (s.type === 'transport') bytes += s.bytesSent ?? 0;
        if (s.type === 'outbound-rtp' && s.kind === 'video') frames += s.framesSent ?? 0;
      }
    }
    return { bytes, frames };
  });

async function newHost(browser, url, mode) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(PC_HOOK);
  await page.goto(url);
  await page.waitForSelector('.app', { timeout: 15_000 });
  await page.getByTestId(`mode-${mode}`).check();
  await page.getByTestId('start-test-pattern').click();
  await page.locator(`[data-testid=session-mode]:text-is("${mode}")`).waitFor({ timeout: 15_000 });
  const link = await page.getByTestId('invite-viewer-link').inputValue();
  return { page, link, close: () => context.close() };
}

async function addViewer(browser, link) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(link);
  await page.waitForFunction(() => {
    const v = document.querySelector('[data-testid=remote-video]');
    return v && v.getVideoPlaybackQuality().totalVideoFrames > 5;
  }, null, { timeout: 30_000 });
  return context;
}

/**
 * A Chromium of its own whose process tree can be found: its browser process carries a tag on
 * its command line (an unknown switch, ignored by Chromium). Returns `{ browser, pid }`.
 */
async function taggedBrowser() {
  const tag = `--pairux-bench-tag=${randomBytes(6).toString('hex')}`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [...chromiumArgs, tag],
  });
  const pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
    try {
      return readFileSync(`/proc/${n}/cmdline`, 'utf8').split('\0').includes(tag);
    } catch {
      return false;
    }
  }).map(Number);
  // The browser process is the tagged one whose parent is not tagged.
  const ppid = (p) => Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
  const root = pids.find((p) => !pids.includes(ppid(p)));
  if (!root) throw new Error('cannot find the host browser process');
  return { browser, pid: root };
}

/** (a) one topology: host uplink and CPU at each viewer count. */
async function uplinkSweep(server, mode) {
  const { browser: hostBrowser, pid: hostPid } = await taggedBrowser();
  const viewerBrowser = await launchBrowser();
  const rows = [];
  try {
    const host = await newHost(hostBrowser, server.url, mode);
    const viewers = [];
    for (const n of VIEWERS) {
      while (viewers.length < n) viewers.push(await addViewer(viewerBrowser, host.link));
      await sleep(SETTLE_MS);
      const a = await sent(host.page);
      const cpuA = treeCpu(hostPid);
      const t0 = Date.now();
      await sleep(WINDOW_MS);
      const b = await sent(host.page);
      const cpuB = treeCpu(hostPid);
      const secs = (Date.now() - t0) / 1000;
      const row = {
        mode,
        viewers: n,
        host_uplink_kbps: round1(((b.bytes - a.bytes) * 8) / 1000 / secs),
        host_cpu_percent: round1((100 * (cpuB - cpuA)) / secs),
        host_frames_sent_per_s: round1((b.frames - a.frames) / secs),
      };
      console.error(`  ${mode} ${n} viewer(s): ${JSON.stringify(row)}`);
      rows.push(row);
    }
    for (const v of viewers) await v.close();
    await host.close();
  } finally {
    await hostBrowser.close();
    await viewerBrowser.close();
  }
  return rows;
}

/**
 * Page-side load subscribers: one Janus session per page, one handle and one recvonly
 * connection per subscriber, a receiver transform counting frames and dropping them.
 */
async function startLoad(page, sfu, count) {
  await withJanusClient(page);
  return page.evaluate(async ({ sfu, count }) => {
    const workerSrc = `onrtctransform = (e) => {
      const id = e.transformer.options.id;
      const counts = self.counts ??= {};
      counts[id] = 0;
      e.transformer.readable.pipeTo(new WritableStream({ write() { counts[id]++; } }));
    };
    onmessage = () => postMessage(self.counts ?? {});`;
    const worker = new Worker(URL.createObjectURL(new Blob([workerSrc], { type: 'text/javascript' })));
    const { send } = await window.__janusClient(sfu.janusUrl, sfu.token);
    const session_id = (await send({ janus: 'create' })).data.id;
    setInterval(() => send({ janus: 'keepalive', session_id }), 20_000);
    const probe = (await send({ janus: 'attach', session_id, plugin: 'janus.plugin.videoroom' })).data.id;
    const list = await send({ janus: 'message', session_id, handle_id: probe, body: { request: 'listparticipants', room: sfu.room } });
    const feed = list.plugindata.data.participants.find((p) => p.publisher).id;
    const pcs = [];
    const one = async (i) => {
      const handle_id = (await send({ janus: 'attach', session_id, plugin: 'janus.plugin.videoroom' })).data.id;
      const pc = await window.__janusSubscribeHandle({ send, session_id, handle_id }, sfu, feed, (e) => {
        if (e.track.kind === 'video') e.receiver.transform = new RTCRtpScriptTransform(worker, { id: i });
      });
      pcs.push(pc);
    };
    for (let i = 0; i < count; i += 5) await Promise.all([...Array(Math.min(5, count - i)).keys()].map((k) => one(i + k)));
    window.__load = {
      pcs,
      counts: () => new Promise((r) => { worker.onmessage = (e) => r(e.data); worker.postMessage(0); }),
    };
    return pcs.length;
  }, { sfu, count });
}

const loadStats = (page) =>
  page.evaluate(async () => {
    const counts = await window.__load.counts();
    const per = [];
    for (const pc of window.__load.pcs) {
      let s = { received: 0, lost: 0, connected: pc.connectionState === 'connected' };
      for (const r of (await pc.getStats()).values()) {
        if (r.type === 'inbound-rtp' && r.kind === 'video') {
          s = { ...s, received: r.packetsReceived ?? 0, lost: Math.max(0, r.packetsLost ?? 0) };
        }
      }
      per.push(s);
    }
    return { counts: Object.values(counts), per };
  });

/** (c) fan-out through one Janus. */
async function fanout(server) {
  const hostBrowser = await launchBrowser();
  const loadBrowser = await launchBrowser();
  const rows = [];
  try {
    const host = await newHost(hostBrowser, server.url, 'sfu');
    await sleep(1000);
    const pidFile = path.join(server.runDir, 'janus-0.pid');
    for (const n of FANOUT) {
      const { sfu } = await grantFor(server.url, host.link);
      const pages = [];
      let subscribed = 0;
      try {
        for (let i = 0; i < n; i += PER_PAGE) {
          const page = await (await loadBrowser.newContext()).newPage();
          pages.push(page);
          subscribed += await startLoad(page, sfu, Math.min(PER_PAGE, n - i));
        }
        await sleep(SETTLE_MS);
        const janusPid = Number((await readFile(pidFile, 'utf8')).trim());
        const before = await Promise.all(pages.map(loadStats));
        const sentA = await sent(host.page);
        const cpuA = treeCpu(janusPid);
        const t0 = Date.now();
        await sleep(WINDOW_MS);
        const after = await Promise.all(pages.map(loadStats));
        const sentB = await sent(host.page);
        const cpuB = treeCpu(janusPid);
        const secs = (Date.now() - t0) / 1000;
        const published = sentB.frames - sentA.frames;
        const shares = [];
        let received = 0;
        let lost = 0;
        after.forEach((page, p) => {
          page.counts.forEach((c, i) => shares.push((c - (before[p].counts[i] ?? 0)) / published));
          page.per.forEach((s, i) => {
            received += s.received - before[p].per[i].received;
            lost += s.lost - before[p].per[i].lost;
          });
        });
        while (shares.length < n) shares.push(0);
        shares.sort((a, b) => a - b);
        // Janus can only be judged while the publisher keeps its frame rate: the load clients
        // share this machine's cores with it, and a starved publisher sends few frames that
        // are then trivially all delivered.
        // A row that proves nothing says so: its delivery figures are null (and fail the run).
        const publishedFps = published / secs;
        const valid = published > 0 && publishedFps >= 0.9 * 30;
        const share = (q) => (valid ? round1(100 * q) : null);
        const row = {
          subscribers: n,
          subscribed,
          published_frames: published,
          published_fps: round1(publishedFps),
          publisher_kept_its_rate: valid,
          delivered_min_percent: share(shares[0]),
          delivered_p50_percent: share(shares[Math.floor(shares.length / 2)]),
          all_at_least_95: valid ? shares.every((s) => s >= 0.95) : null,
          loss_percent: received + lost > 0 ? round1((100 * lost) / (received + lost)) : null,
          janus_cpu_percent: round1((100 * (cpuB - cpuA)) / secs),
        };
        console.error(`  fan-out ${n}: ${JSON.stringify(row)}`);
        rows.push(row);
      } catch (err) {
        console.error(`  fan-out ${n}: FAILED ${err.message}`);
        rows.push({ subscribers: n, subscribed, error: err.message });
      } finally {
        for (const page of pages) await page.context().close();
        await sleep(1000);
      }
    }
    await host.close();
  } finally {
    await hostBrowser.close();
    await loadBrowser.close();
  }
  return rows;
}

async function main() {
  assertLoopbackOnly('sfu');
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'pairux-bench-sfu-'));
  const server = await startServer({
    args: ['--sfu-nodes', '1', '--turn', '--media-ip', MEDIA_IP, '--run-dir', runDir],
  });
  server.runDir = runDir;
  const figures = {};
  const raw = { started: new Date().toISOString(), load_avg: os.loadavg() };
  const failures = [];
  try {
    raw.uplink = [];
    for (const mode of ['p2p', 'sfu']) {
      console.error(`sfu bench: host uplink, ${mode} …`);
      try {
        raw.uplink.push(...(await uplinkSweep(server, mode)));
      } catch (err) {
        failures.push(`uplink ${mode}: ${err.message}`);
      }
    }
    for (const r of raw.uplink) {
      figures[`host_uplink_kbps_${r.mode}_${r.viewers}`] = r.host_uplink_kbps;
      figures[`host_cpu_percent_${r.mode}_${r.viewers}`] = r.host_cpu_percent;
    }
    for (const mode of ['p2p', 'sfu']) {
      const one = raw.uplink.find((r) => r.mode === mode && r.viewers === 1)?.host_uplink_kbps;
      const eight = raw.uplink.find((r) => r.mode === mode && r.viewers === 8)?.host_uplink_kbps;
      figures[`host_uplink_ratio_8_to_1_${mode}`] = one && eight ? round1((100 * eight) / one) / 100 : null;
    }
    console.error('sfu bench: fan-out through one Janus …');
    try {
      raw.fanout = await fanout(server);
    } catch (err) {
      failures.push(`fan-out: ${err.message}`);
      raw.fanout = [];
    }
    for (const r of raw.fanout) {
      figures[`fanout_${r.subscribers}_published_fps`] = r.published_fps ?? null;
      figures[`fanout_${r.subscribers}_delivered_min_percent`] = r.delivered_min_percent ?? null;
      figures[`fanout_${r.subscribers}_loss_percent`] = r.loss_percent ?? null;
      figures[`fanout_${r.subscribers}_janus_cpu_percent`] = r.janus_cpu_percent ?? null;
    }
    // The most subscribers that each got ≥ 95 % of the frames, with every smaller step
    // measured and passing too: a step whose publisher was starved (or that failed) ends what
    // is known, and a first step that proves nothing leaves the figure unmeasured.
    let max = null;
    for (const r of [...raw.fanout].sort((a, b) => a.subscribers - b.subscribers)) {
      if (r.all_at_least_95 === true) max = r.subscribers;
      else if (r.all_at_least_95 === false) {
        max ??= 0;
        break;
      } else {
        failures.push(
          `fan-out ${r.subscribers}: ${r.error ?? `the publisher sent ${r.published_fps} fps, under 27`}; what it delivered proves nothing`,
        );
        break;
      }
    }
    figures.max_subscribers_95pct = max;
    figures.load_avg_1m = round1(raw.load_avg[0]);
  } finally {
    await server.stop();
    await rm(runDir, { recursive: true, force: true });
  }
  for (const [k, v] of Object.entries(figures)) if (v === null) failures.push(`${k} not measured`);
  await mkdir(path.dirname(opts.out), { recursive: true });
  await writeFile(opts.out, `${JSON.stringify(figures, null, 2)}\n`);
  await writeFile(opts.out.replace(/\.json$/, '') + '-samples.json', `${JSON.stringify(raw)}\n`);
  if (failures.length) {
    for (const f of failures) console.error(`sfu bench: FAILED ${f}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(`sfu bench: ${err.stack ?? err}`);
  process.exit(1);
});
