// `cargo xtask bench input`: remote-control input latency (controller event → the host's input
// sink) and cursor relay latency (controller pointer move → that cursor drawn on a viewer), with
// the app's own pages: a host sharing the test pattern, a controller holding control and a
// viewer, in headless Chromium against pairux-server.
//
// Two phases, the same actions in each: first the host and the controller alone — the two pages
// the floor has, so `input_ms_*` and `input_ratio_*` compare like with like — then with the
// viewer joined: the cursor relay (`cursor_ms_*`) and input under the third page's load
// (`input_with_viewer_ms_*`: one more encode on the host, one more decode on the machine).
//
//   node bench/input.mjs --out target/bench/input.json
//
// xtask runs it inside a loopback-only network namespace with PAIRUX_SERVER_BIN/PAIRUX_DIST set
// (tests/e2e/lib/harness.mjs reads them); it refuses to run where any other interface exists.
// Writes the figures (JSON) and the raw samples beside them (`<out>` with `-samples.json`).
//
// All three pages run in one browser on one machine, so every stamp is the same clock:
// `performance.timeOrigin + performance.now()` in each page (the host's sink log carries the
// same, `data-received`). How far apart the three pages' clocks are is measured and reported
// (`clock_skew_ms_max`).
//
// Stamps, all taken in the pages (no polling from node in any measured path):
// - controller: a capturing listener on `window`, installed by an init script before the app,
//   stamps every pointermove/down/up, wheel, keydown/keyup at DOM dispatch, before the app's
//   own listeners on the video frame run;
// - host: the sink's own receipt stamp of each input (`received`), read after each run from the
//   diagnostics panel's "Input log as JSON" (`export-log`, `sink-log-json`). The panel stays
//   closed while a run plays, so the host draws no log list meanwhile — the floor's host draws
//   none either (with the panel open, as this bench once read its stamps, the wire stage alone
//   was 0.1–0.2 ms slower at p50 and 0.3–0.6 ms at p95);
// - viewer: a MutationObserver stamps each position of `remote-cursor-<id>` the moment it is in
//   the DOM (the app re-inserts the element per position), and again at the next animation frame;
// - all three: when an `input` or `cursor` message is handed to a data channel (`send`) and
//   when one arrives (the channel's `message` event, before the app's handler), to split each
//   latency into its stages (controller page, channel, host page / host pacing, channel, viewer).
//
// The floor, in the same run (after the app's pages are closed, before the agent phase): the
// same event mix, played the same way at the same pace, on two plain-JavaScript pages
// (bench/input-floor.html, served from bench/ on 127.0.0.1 like media.mjs serves floor.html): a
// controller page with one focusable element exactly where the app's picture was, and a host
// page, connected by the app's two channels (`pairux` ordered and reliable, `pairux-pointer`
// unordered without retransmits, both opened by the host) carrying the app's JSON messages. The
// same stamps: the controller hook at DOM dispatch, the host at receipt (what the app's sink
// stamps), the wire hook at `send` / `message`. `input_floor_ms_*` and its stages are the floor;
// `input_ratio_p50/p95` = the app's `input_ms` / the floor's at that percentile;
// `input_settings` records what both ran with. Then the same floor again with the screen share's
// load: the host also sends the media floor's picture on that connection and the controller
// shows it (`input_floor_media_ms_*`, `input_ratio_media_p50/p95`), which tells what of the gap
// the picture costs any page; and once more with that picture through a pass-through encoded
// transform on both pages (`input_floor_media_transform_ms_*`, `input_ratio_media_transform_*`),
// which tells what E2EE's transform hop costs any page before any crypto. A figure that was not
// measured is `null` and the run fails.

import { parseArgs } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, openApp, grant } from '../tests/e2e/lib/harness.mjs';
import { assertLoopbackOnly } from './lib/netns.mjs';
import { percentile, percentiles, round1 } from './lib/stats.mjs';
import { agentPhase } from './lib/agent-phase.mjs';
import { serveDir } from './lib/serve.mjs';
import { PC_HOOK } from './lib/pc-hook.mjs';
import { readSettings, flat, differences } from './lib/settings.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: 'target/bench/input.json' },
    moves: { type: 'string', default: '320' }, // pointer moves, each to a distinct position
    'interval-ms': { type: 'string', default: '16' }, // one input action per display frame
    warmup: { type: 'string', default: '30' }, // unrecorded moves first
    // Writes a CPU profile (CDP Profiler, .cpuprofile) of each app page over the first measured
    // run into this directory, and prints where each page's main thread spent its time. The
    // profiler costs the pages: that run's figures carry `input_profiled: true`.
    profile: { type: 'string' },
    // Writes a Chrome trace (devtools.timeline: tasks, style, layout, paint, scripts; every
    // process) of the first measured run to this file. Tracing costs the pages too: that run's
    // figures carry `input_traced: true`.
    trace: { type: 'string' },
  },
});
const MOVES = Number(opts.moves);
const INTERVAL_MS = Number(opts['interval-ms']);
const WARMUP = Number(opts.warmup);
// Besides moves: a click (down + up) every CLICK_EVERY moves, a key press (down + up) every
// KEY_EVERY moves, a wheel notch every WHEEL_EVERY moves — each action on its own tick.
const CLICK_EVERY = 16;
const KEY_EVERY = 12;
const WHEEL_EVERY = 40;

// ~1 minute as a rule; 3 leave room for a floor tried twice. A profiled or traced run takes
// longer (the profiler and tracer slow every page): 2 minutes cut one short before its floors.
const GIVE_UP_MIN = opts.profile || opts.trace ? 5 : 3;
setTimeout(() => {
  console.error(`input bench: gave up after ${GIVE_UP_MIN} minutes`);
  process.exit(3);
}, GIVE_UP_MIN * 60_000).unref();

const CLOCK = 'performance.timeOrigin + performance.now()';

// Controller: stamps at DOM dispatch (capture phase on window runs before the app's listeners on
// the video frame). `queued` is the event's own timeStamp: how long the browser held the event
// before dispatching it (pointermove/wheel are aligned to animation frames in Chromium).
const CONTROLLER_HOOK = `(() => {
  window.__ctl = [];
  const rec = (e) => {
    const t = ${CLOCK};
    window.__ctl.push({
      type: e.type, t, queued: t - (performance.timeOrigin + e.timeStamp),
      x: e.clientX, y: e.clientY, key: e.key,
    });
  };
  for (const type of ['pointermove', 'pointerdown', 'pointerup', 'wheel', 'keydown', 'keyup']) {
    window.addEventListener(type, rec, { capture: true, passive: true });
  }
})();`;

/**
 * What the host's sink received from `since` on (its clock), from the diagnostics panel's JSON
 * export, read once a run is over; the panel is closed again after.
 */
async function readSink(host, since) {
  const panel = host.locator('[data-testid=diagnostics] summary');
  await panel.click();
  await host.getByTestId('export-log').click();
  const text = await host.getByTestId('sink-log-json').textContent({ timeout: 5_000 });
  await panel.click();
  // The clicks scrolled the panel into view: the next run starts from the top, as the first.
  await host.evaluate(() => window.scrollTo(0, 0));
  const lines = JSON.parse(text);
  // The log keeps its latest 1000 lines: a run longer than that would lose its first inputs,
  // which would then read as lost.
  if (lines.length >= 1000 && lines[0].received >= since) {
    throw new Error('the host kept too few input lines for this run (its log holds 1000)');
  }
  return lines
    .filter((l) => l.received >= since)
    .map((l) => ({ from: l.from, seq: l.seq, kind: l.kind, x: l.x, y: l.y, received: l.received, key: l.detail.split(' ')[0] }));
}

// Viewer: each position the remote cursor takes, when it is in the DOM (`t`) and the next
// animation frame after that (`frame`, ≈ when it is painted).
const VIEWER_HOOK = `(() => {
  window.__cur = [];
  const last = new Map();
  const isCursor = (n) => n.nodeType === 1 && (n.dataset?.testid ?? '').startsWith('remote-cursor-');
  new MutationObserver((muts) => {
    const t = ${CLOCK};
    const batch = [];
    const take = (el) => {
      const id = el.dataset.testid.slice('remote-cursor-'.length);
      const pos = el.dataset.x + ':' + el.dataset.y;
      if (last.get(id) === pos) return;
      last.set(id, pos);
      const r = { id, x: Number(el.dataset.x), y: Number(el.dataset.y), t, frame: null };
      batch.push(r);
      window.__cur.push(r);
    };
    for (const m of muts) {
      if (m.type === 'attributes') {
        if (isCursor(m.target)) take(m.target);
        continue;
      }
      for (const n of m.addedNodes) {
        if (isCursor(n)) take(n);
        else if (n.nodeType === 1) n.querySelectorAll('[data-testid^="remote-cursor-"]').forEach(take);
      }
    }
    if (batch.length) requestAnimationFrame(() => {
      const f = ${CLOCK};
      for (const r of batch) r.frame = f;
    });
  }).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['data-x', 'data-y'],
  });
})();`;

// Every page: data-channel messages of interest, out (`send`) and in (`message`, listened to
// from the channel's creation, so before the app's `onmessage`).
const WIRE_HOOK = `(() => {
  window.__wire = [];
  const note = (dir, data) => {
    if (typeof data !== 'string' || !/"t":"(input|cursor)"/.test(data)) return;
    const t = ${CLOCK};
    const m = JSON.parse(data);
    window.__wire.push(m.t === 'input'
      ? { dir, t, type: 'input', seq: m.seq }
      : { dir, t, type: 'cursor', id: m.id, x: m.x, y: m.y });
  };
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (data) {
    note('out', data);
    return send.call(this, data);
  };
  const watch = (ch) => ch.addEventListener('message', (e) => note('in', e.data));
  const Base = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Base {
    constructor(...args) {
      super(...args);
      this.addEventListener('datachannel', (e) => watch(e.channel));
    }
    createDataChannel(...args) {
      const ch = super.createDataChannel(...args);
      watch(ch);
      return ch;
    }
  };
})();`;

// This page's clock minus the system wall clock: read at the instant Date.now() ticks to the
// next millisecond (median of 7), so the three pages can be compared.
function clockOffset() {
  const offs = [];
  for (let i = 0; i < 7; i++) {
    const d = Date.now();
    for (;;) {
      const n = Date.now();
      const p = performance.timeOrigin + performance.now();
      if (n !== d) {
        offs.push(p - n);
        break;
      }
    }
  }
  offs.sort((a, b) => a - b);
  return offs[3];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function open(browser, url, hook = null) {
  const context = await browser.newContext();
  if (hook) await context.addInitScript(hook);
  await context.addInitScript(PC_HOOK);
  await context.addInitScript(WIRE_HOOK);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(String(err)));
  page.on('console', (msg) => msg.type() === 'error' && page.errors.push(msg.text()));
  await openApp(page, url);
  return page;
}

async function join(browser, link, hook) {
  const page = await open(browser, link, hook);
  await page.waitForFunction(() => {
    const v = document.querySelector('[data-testid=remote-video]');
    return v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 2;
  }, null, { timeout: 20_000 });
  return page;
}

/**
 * Where the picture is on the controller's page, in client px: the app maps pointer positions
 * through the video frame's box (the focusable element around `remote-video`) with the picture
 * `object-fit: contain`ed in it (VideoLayout::content_rect), at zoom 1.
 */
const pictureRect = (page) =>
  page.evaluate(() => {
    const v = document.querySelector('[data-testid=remote-video]');
    const r = v.closest('[tabindex]').getBoundingClientRect();
    const scale = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
    const w = v.videoWidth * scale;
    const h = v.videoHeight * scale;
    return { x: r.x + (r.width - w) / 2, y: r.y + (r.height - h) / 2, w, h };
  });

/**
 * The actions, one per tick: moves along a snake over a grid of distinct integer pixel
 * positions inside the picture, with clicks, key presses and wheel notches in between. Every
 * move goes somewhere no other move goes, so a move is identified by its position. The first
 * `warmup` moves (and what comes with them) are marked `warm`.
 */
function plan(rect, moves, warmup) {
  const cols = Math.ceil(Math.sqrt(moves * (rect.w / rect.h)));
  const rows = Math.ceil(moves / cols);
  const px = (i, n, from, size) => Math.round(from + size * (0.05 + (0.9 * i) / Math.max(1, n - 1)));
  const points = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const cc = r % 2 ? cols - 1 - c : c;
      points.push([px(cc, cols, rect.x, rect.w), px(r, rows, rect.y, rect.h)]);
    }
  }
  const keys = 'abcdefghijklmnopqrstuvwxyz';
  const steps = [];
  let k = 0;
  for (let i = 0; i < moves; i++) {
    const warm = i < warmup;
    steps.push({ op: 'move', x: points[i][0], y: points[i][1], warm });
    // The first click comes early (in the warm-up): it focuses the video frame, which keys need.
    if (i % CLICK_EVERY === 2) steps.push({ op: 'down', warm }, { op: 'up', warm });
    if (i % KEY_EVERY === 7) {
      const key = keys[k++ % keys.length];
      steps.push({ op: 'keydown', key, warm }, { op: 'keyup', key, warm });
    }
    if (i % WHEEL_EVERY === 20) steps.push({ op: 'wheel', warm });
  }
  return steps;
}

/**
 * Plays the steps at one per INTERVAL_MS on a fixed schedule. Each is awaited (Playwright waits
 * for Chromium's ack of the input event), so on a loaded machine the pace drops below one per
 * INTERVAL_MS rather than events piling up; `pace_ms` and `actions_per_s` show what it was.
 */
async function play(page, steps) {
  const t0 = performance.now();
  for (let i = 0; i < steps.length; i++) {
    const wait = t0 + i * INTERVAL_MS - performance.now();
    if (wait > 0) await sleep(wait);
    const s = steps[i];
    if (s.op === 'move') await page.mouse.move(s.x, s.y);
    else if (s.op === 'down') await page.mouse.down();
    else if (s.op === 'up') await page.mouse.up();
    else if (s.op === 'keydown') await page.keyboard.down(s.key);
    else if (s.op === 'keyup') await page.keyboard.up(s.key);
    else if (s.op === 'wheel') await page.mouse.wheel(0, 40);
  }
  return { ms: performance.now() - t0 };
}

const KIND = {
  pointermove: 'move', pointerdown: 'down', pointerup: 'up', wheel: 'wheel',
  keydown: 'key_down', keyup: 'key_up',
};

/**
 * Matching controller stamps to sink entries. Each controller event gets a key: pointer kinds
 * `kind@px,py` (integer client px: the app normalises integer `clientX/Y`, and the sink's
 * normalised x,y are mapped back through the same picture rectangle and rounded), keys
 * `kind@key`. Controller events are queued per key in dispatch order; the sink entries, taken in
 * sequence order, each take the first of their key's queue. Moves go to distinct positions, so
 * a move's key is unique unless Chromium dispatches an extra pointermove at the same place —
 * the queue pairs those in order. What a queue still holds was sent but never reached the sink
 * (unreliable channel, gate drops); a sink entry finding its queue empty is unmatched too.
 */
function matchInput(ctl, sink, rect) {
  const keyOfCtl = (e) => {
    const kind = KIND[e.type];
    return e.type.startsWith('key') ? `${kind}@${e.key}` : `${kind}@${e.x},${e.y}`;
  };
  const keyOfSink = (s) =>
    s.x === null
      ? `${s.kind}@${s.key}`
      : `${s.kind}@${Math.round(rect.x + s.x * rect.w)},${Math.round(rect.y + s.y * rect.h)}`;
  const queues = new Map();
  for (const e of ctl) {
    const k = keyOfCtl(e);
    if (!queues.has(k)) queues.set(k, []);
    queues.get(k).push(e);
  }
  const pairs = [];
  let unmatchedSink = 0;
  for (const s of [...sink].sort((a, b) => a.seq - b.seq)) {
    const e = queues.get(keyOfSink(s))?.shift();
    if (e) pairs.push({ ctl: e, sink: s, ms: s.received - e.t });
    else unmatchedSink++;
  }
  const unmatchedCtl = [...queues.values()].reduce((n, q) => n + q.length, 0);
  return { pairs, unmatchedSink, unmatchedCtl };
}

/**
 * Cursor positions on the viewer are matched to the move the host's sink received with exactly
 * the same normalised coordinates (the numbers travel as JSON and are written with Rust's
 * round-trip `to_string` both times, so equal positions compare equal); that move's controller
 * stamp is the start. Should one position occur twice, the latest sink entry received before
 * the cursor was drawn is taken. The host relays at most one position per 16 ms frame
 * (CursorRelay), so only some moves appear on the viewer; those are the ones measured.
 */
function matchCursors(cur, movePairs) {
  const byPos = new Map();
  for (const p of movePairs) {
    const k = `${p.sink.x}:${p.sink.y}`;
    if (!byPos.has(k)) byPos.set(k, []);
    byPos.get(k).push(p);
  }
  const out = [];
  let unmatched = 0;
  for (const c of cur) {
    const cands = (byPos.get(`${c.x}:${c.y}`) ?? []).filter((p) => p.sink.received <= c.t);
    const p = cands[cands.length - 1];
    if (!p) {
      unmatched++;
      continue;
    }
    out.push({
      pos: `${c.x}:${c.y}`,
      drawn: c.t,
      received: p.sink.received,
      ms: c.t - p.ctl.t,
      relay_ms: c.t - p.sink.received,
      frame_ms: c.frame === null ? null : c.frame - p.ctl.t,
    });
  }
  return { samples: out, unmatched };
}

/**
 * Stages of each latency from the data-channel stamps. Input: controller page (DOM dispatch →
 * `send`), channel (→ `message` on the host, by sequence number), host page (→ sink). Cursor:
 * host (sink → the relayed `send`, pacing included), channel (→ `message` on the viewer), viewer
 * page (→ in the DOM); cursor messages are paired by position, the latest one before the next
 * stage.
 */
function stages(pairs, cursors, wire) {
  const bySeq = (list, dir) => {
    const m = new Map();
    for (const w of list) if (w.dir === dir && w.type === 'input' && !m.has(w.seq)) m.set(w.seq, w.t);
    return m;
  };
  const sent = bySeq(wire.controller, 'out');
  const arrived = bySeq(wire.host, 'in');
  const input = { controller: [], channel: [], host: [] };
  for (const p of pairs) {
    const a = sent.get(p.sink.seq);
    const b = arrived.get(p.sink.seq);
    if (a === undefined || b === undefined) continue;
    input.controller.push(a - p.ctl.t);
    input.channel.push(b - a);
    input.host.push(p.sink.received - b);
  }
  const byPos = (list, dir) => {
    const m = new Map();
    for (const w of list) {
      if (w.dir !== dir || w.type !== 'cursor') continue;
      const k = `${w.x}:${w.y}`;
      if (!m.has(k)) m.set(k, []);
      m.get(k).push(w.t);
    }
    return m;
  };
  const latestBefore = (ts, t) => ts?.filter((x) => x <= t).pop();
  const relayed = byPos(wire.host, 'out');
  const delivered = byPos(wire.viewer, 'in');
  const cursor = { host: [], channel: [], viewer: [] };
  for (const c of cursors) {
    const b = latestBefore(delivered.get(c.pos), c.drawn);
    const a = b === undefined ? undefined : latestBefore(relayed.get(c.pos), b);
    if (a === undefined) continue;
    cursor.host.push(a - c.received);
    cursor.channel.push(b - a);
    cursor.viewer.push(c.drawn - b);
  }
  return { input, cursor };
}

/**
 * How busy each page's main thread is, from Chromium's own counters (CDP Performance metrics,
 * seconds of task/script/layout+style time): `take()` now, `since(before)` → percent of wall
 * time over the interval. Messages from a data channel wait for the main thread, so this reads
 * directly into the channel stage.
 */
async function mainThread(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const take = async () =>
    Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  return {
    take,
    since: async (a) => {
      const b = await take();
      const pct = (k) => round1((100 * (b[k] - a[k])) / (b.Timestamp - a.Timestamp));
      return {
        busy_pct: pct('TaskDuration'),
        script_pct: pct('ScriptDuration'),
        render_pct: round1(pct('LayoutDuration') + pct('RecalcStyleDuration')),
      };
    },
  };
}

/** Starts the V8 sampling profiler (100 µs) in each page. */
async function startProfiles(pages) {
  const out = {};
  for (const [name, page] of Object.entries(pages)) {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    await cdp.send('Profiler.start');
    out[name] = cdp;
  }
  return out;
}

/** Stops the profilers of startProfiles, writes `<dir>/<page>.cpuprofile` and prints each
 * page's 15 largest self times (function, url:line; V8's "(idle)", "(program)" — the page's
 * native work: style, layout, paint, WebRTC — and "(garbage collector)" among them). */
async function stopProfiles(profiling, dir) {
  await mkdir(dir, { recursive: true });
  for (const [name, cdp] of Object.entries(profiling)) {
    const { profile } = await cdp.send('Profiler.stop');
    await writeFile(path.join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    const self = new Map();
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const deltas = profile.timeDeltas;
    let total = 0;
    profile.samples.forEach((id, i) => {
      const n = byId.get(id);
      const f = n.callFrame;
      const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
      const us = deltas[i + 1] ?? 0;
      total += us;
      self.set(key, (self.get(key) ?? 0) + us);
    });
    const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15);
    console.error(`  profile ${name}: ${(total / 1000).toFixed(0)} ms sampled`);
    for (const [k, us] of top) console.error(`    ${(us / 1000).toFixed(1).padStart(8)} ms  ${k}`);
  }
}

/** The input gate's counters (accepted, notHolder, replay, …), from the host's diagnostics'
 * data attributes (never from its text); `null` when the page shows none. */
const GATE_KEYS = ['accepted', 'notHolder', 'replay', 'rateLimited', 'outOfBounds', 'malformed'];
const gateCounters = (host) =>
  host.evaluate((keys) => {
    const el = document.querySelector('[data-testid=gate-counters]');
    if (!el) return null;
    const out = {};
    for (const k of keys) {
      const v = el.dataset[k];
      if (v === undefined || !/^\d+$/.test(v)) return null;
      out[k] = Number(v);
    }
    return out;
  }, GATE_KEYS);

/** The gate's counts over the run (after − before), or `null` if either reading failed. */
function gateDelta(before, after) {
  if (!before || !after) return null;
  return Object.fromEntries(GATE_KEYS.map((k) => [k, after[k] - before[k]]));
}

/**
 * Empties every page's records, plays `steps` on `controller`, and returns how long the play
 * took and each page's main-thread load over it; then waits a second for stragglers.
 */
async function playMeasured(pages, controller, steps) {
  for (const page of Object.values(pages)) {
    await page.evaluate(() => {
      for (const k of ['__ctl', '__sink', '__cur', '__wire']) window[k]?.splice(0);
    });
  }
  const threads = {};
  for (const [name, page] of Object.entries(pages)) threads[name] = await mainThread(page);
  const before = {};
  for (const name of Object.keys(pages)) before[name] = await threads[name].take();
  const played = await play(controller, steps);
  const busy = {};
  for (const name of Object.keys(pages)) busy[name] = await threads[name].since(before[name]);
  await sleep(1000); // stragglers
  return { played, busy };
}

/**
 * One measured run of the app's `pages` (host and controller, and the viewer when there is one):
 * plays `steps` on the controller (playMeasured) and takes what each page stamped, with the
 * input matched (controller stamps to the host's sink) and the host gate's counts over the run.
 * The picture must not have moved.
 */
async function appPhase(pages, controller, steps, cid, rect) {
  const gateBefore = await gateCounters(pages.host);
  const since = await pages.host.evaluate(() => performance.timeOrigin + performance.now());
  const { played, busy } = await playMeasured(pages, controller, steps);
  const gate = gateDelta(gateBefore, await gateCounters(pages.host));
  if (!deepEqualRect(rect, await pictureRect(controller))) {
    throw new Error('the controller picture moved during the run; coordinates would not match');
  }
  const ctl = (await controller.evaluate(() => window.__ctl)).filter((e) => KIND[e.type]);
  const sink = (await readSink(pages.host, since)).filter((s) => s.from === cid);
  const cur = pages.viewer
    ? (await pages.viewer.evaluate(() => window.__cur)).filter((c) => c.id === cid)
    : [];
  const wire = {};
  for (const name of ['host', 'controller', 'viewer']) {
    wire[name] = pages[name] ? await pages[name].evaluate(() => window.__wire) : [];
  }
  return { played, busy, gate, ctl, sink, cur, wire, input: matchInput(ctl, sink, rect) };
}

/**
 * A phase's input figures into `figures`: `<key>_ms_*` and its breakdowns (pointer moves on the
 * unordered channel, clicks/keys/wheel on the ordered one; the stages), what was sent and not
 * matched, and the pace the controller produced. `key` is `input` (the phase like the floor's:
 * `events`, `input_ms_*`, `pace_ms_*`, … as before), `input_with_viewer`, or a floor's
 * `input_floor` / `input_floor_media` / `input_floor_media_transform` (every name carries it: `input_with_viewer_events`,
 * `with_viewer_pace_ms_*`, `floor_pace_ms_*`, …). Returns the phase's matching and its input
 * stages (`{ input, split }`).
 */
function inputFigures(figures, key, phase, actions) {
  const { input } = phase;
  const ctx = key === 'input' ? '' : `${key.replace(/^input_/, '')}_`;
  const ms = input.pairs.map((p) => p.ms);
  const split = stages(input.pairs, [], phase.wire);
  figures[key === 'input' ? 'events' : `${key}_events`] = input.pairs.length;
  Object.assign(figures, percentiles(`${key}_ms`, ms, [50, 95, 99]));
  figures[`${key}_ms_max`] = ms.length ? round1(Math.max(...ms)) : null;
  const moveMs = input.pairs.filter((p) => p.sink.kind === 'move').map((p) => p.ms);
  const reliableMs = input.pairs.filter((p) => p.sink.kind !== 'move').map((p) => p.ms);
  figures[`${key}_move_events`] = moveMs.length;
  Object.assign(figures, percentiles(`${key}_move_ms`, moveMs, [50, 95]));
  figures[`${key}_reliable_events`] = reliableMs.length;
  Object.assign(figures, percentiles(`${key}_reliable_ms`, reliableMs, [50, 95]));
  for (const [name, xs] of Object.entries(split.input)) {
    Object.assign(figures, percentiles(`${key}_stage_${name}_ms`, xs, [50, 95]));
  }
  // What was sent and what did not arrive or could not be paired.
  figures[key === 'input' ? 'events_dispatched' : `${key}_events_dispatched`] = phase.ctl.length;
  figures[`${key}_unmatched_controller`] = input.unmatchedCtl;
  figures[`${key}_unmatched_sink`] = input.unmatchedSink;
  // Context: the pace the controller actually produced, and how long Chromium held input
  // before dispatching it on the controller (not part of the latency).
  const moveTimes = phase.ctl.filter((e) => e.type === 'pointermove').map((e) => e.t);
  Object.assign(figures, percentiles(`${ctx}pace_ms`, moveTimes.slice(1).map((t, i) => t - moveTimes[i]), [50, 95]));
  Object.assign(figures, percentiles(`${ctx}controller_queued_ms`, phase.ctl.map((e) => e.queued), [50, 95]));
  figures[`${ctx}actions_per_s`] = round1(actions / (phase.played.ms / 1000));
  return { input, split: split.input };
}

/**
 * The floor: bench/input-floor.html as host and controller, each in a context of its own with
 * the same hooks as the app's pages, the controller's element at `rect` (where the app's picture
 * was); signaled through node with complete offers/answers. The same warm-up, then the same
 * measured steps played the same way; with `media` the host also sends the media floor's
 * picture, shown in the controller's element. Returns the controller stamps, the host's
 * receipts, the wire stamps, the play and the pages' main-thread load, their clock offsets and
 * errors.
 */
/** `f()`, or an error saying `what` if it has not settled within `ms`. */
async function within(ms, what, f) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([f(), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function floorPhase(browser, benchUrl, rect, steps, { media = false, transform = false, send = null } = {}) {
  const contexts = [];
  const open = async (hooks) => {
    const context = await browser.newContext();
    contexts.push(context);
    for (const hook of hooks) await context.addInitScript(hook);
    const page = await context.newPage();
    page.errors = [];
    page.on('pageerror', (err) => page.errors.push(String(err)));
    page.on('console', (msg) => msg.type() === 'error' && page.errors.push(msg.text()));
    await page.goto(`${benchUrl}/input-floor.html`);
    await page.waitForFunction(() => window.floor);
    return page;
  };
  try {
    const host = await open([PC_HOOK, WIRE_HOOK]);
    const controller = await open([CONTROLLER_HOOK, PC_HOOK, WIRE_HOOK]);
    // Connected with both channels open within 20 s, or this attempt fails (a floor whose
    // connection never came up once held the whole run until its give-up timer).
    await within(20_000, 'the floor pages did not connect', async () => {
      const offer = await host.evaluate(([r, m, t, s]) => window.floor.host(r, { media: m, transform: t, send: s }), [rect, media, transform, send]);
      const answer = await controller.evaluate(([o, r, t]) => window.floor.controller(o, r, { transform: t }), [offer, rect, transform]);
      await host.evaluate((a) => window.floor.accept(a), answer);
      await controller.evaluate(() => window.floor.ready);
    });
    if (media) {
      // Decoding, like the app's pages before their run.
      await controller.waitForFunction(() => {
        const v = document.querySelector('video');
        return v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 2;
      }, null, { timeout: 20_000 });
    }
    // What the picture was sent and received with, read from the browser like the app's.
    const settings = media
      ? flat({ send: (await readSettings(host)).send, receive: (await readSettings(controller)).receive })
      : null;
    await play(controller, steps.filter((s) => s.warm));
    await sleep(500);
    const measured = steps.filter((s) => !s.warm);
    const { played, busy } = await playMeasured({ host, controller }, controller, measured);
    return {
      played,
      busy,
      settings,
      ctl: (await controller.evaluate(() => window.__ctl)).filter((e) => KIND[e.type]),
      sink: await host.evaluate(() => window.__sink),
      wire: {
        host: await host.evaluate(() => window.__wire),
        controller: await controller.evaluate(() => window.__wire),
        viewer: [],
      },
      offsets: [await host.evaluate(clockOffset), await controller.evaluate(clockOffset)],
      errors: [host, controller].flatMap((p) => p.errors),
    };
  } finally {
    for (const context of contexts) await context.close().catch(() => {});
  }
}

/**
 * A floor's figures into `figures`: `input_<variant>_ms_*` (variant `floor`, `floor_media` or
 * `floor_media_transform`) with the same breakdowns as the app's (inputFigures), its context,
 * and the app's ratio to it at p50 and p95 (`input_ratio_p50` against the plain floor,
 * `input_ratio_media_p50` against the one with the picture, `input_ratio_media_transform_p50`
 * against the picture through pass-through transforms), from the
 * unrounded percentiles of `appMs`. Returns its raw samples.
 */
function floorFigures(figures, variant, floor, rect, appMs, actions) {
  const { input, split } = inputFigures(figures, `input_${variant}`, { ...floor, input: matchInput(floor.ctl, floor.sink, rect) }, actions);
  const ms = input.pairs.map((p) => p.ms);
  const ratio = { floor: 'input_ratio', floor_media: 'input_ratio_media', floor_media_transform: 'input_ratio_media_transform' }[variant];
  for (const p of [50, 95]) {
    figures[`${ratio}_p${p}`] = appMs.length && ms.length ? ratioOf(percentile(appMs, p), percentile(ms, p)) : null;
  }
  for (const [name, b] of Object.entries(floor.busy)) figures[`${variant}_${name}_main_busy_pct`] = b.busy_pct;
  figures[`${variant}_clock_skew_ms_max`] = round1(Math.max(...floor.offsets) - Math.min(...floor.offsets));
  figures[`${variant}_page_errors`] = floor.errors.length;
  figures[`load_avg_1m_after_${variant}`] = round1(os.loadavg()[0]);
  if (floor.errors.length) console.error(`  ${variant} page errors: ${floor.errors.slice(0, 5).join(' | ')}`);
  return { ...floor, split, pairs: input.pairs.map((p) => ({ seq: p.sink.seq, kind: p.sink.kind, ms: p.ms })) };
}

/** `a / b` to two decimals, `null` unless both were measured (and b is not 0). */
const ratioOf = (a, b) => (a === null || b === null || b === 0 ? null : Math.round((100 * a) / b) / 100);

async function main() {
  const began = Date.now();
  assertLoopbackOnly('input');
  const server = await startServer();
  const browser = await launchBrowser();
  // What both the app and the floor ran with.
  const figures = {
    input_settings: {
      moves: MOVES,
      warmup_moves: WARMUP,
      interval_ms: INTERVAL_MS,
      click_every: CLICK_EVERY,
      key_every: KEY_EVERY,
      wheel_every: WHEEL_EVERY,
      element_px: null,
      channels: 'pairux (ordered, reliable): clicks, keys, wheel; pairux-pointer (unordered, maxRetransmits 0): moves',
      driven_by: 'Playwright page.mouse / page.keyboard, each action awaited, on a fixed schedule',
      floor_media: 'bench/lib/pattern.mjs on a canvas, host to controller, sent and received with the app\'s settings as read from the app\'s pages (app_media); floor_media_read: what the floor\'s pages then ran with',
      floor_media_transform: 'floor_media, the picture through a pass-through RTCRtpScriptTransform on both pages',
      app_media: null,
      floor_media_read: null,
      floor_media_transform_read: null,
    },
  };
  const raw = { started: new Date().toISOString(), load_avg: os.loadavg() };
  let failure = null;
  let bench = null;
  try {
    console.error('input bench: host and controller …');
    const host = await open(browser, server.url);
    await host.getByTestId('start-test-pattern').click();
    await host.getByTestId('local-preview').waitFor({ timeout: 15_000 });
    const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
    const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
    const controller = await join(browser, controllerLink, CONTROLLER_HOOK);
    const me = await controller
      .locator('[data-testid=participant-list] > li.me')
      .getAttribute('data-testid');
    const cid = me.replace('participant-', '');

    await grant(host, controller, cid);
    // What the app's picture is sent and received with (the browser's word): the floor's
    // picture is configured from it, and checked against it.
    const appMedia = flat({ send: (await readSettings(host)).send, receive: (await readSettings(controller)).receive });
    figures.input_settings.app_media = appMedia;

    const rect = await pictureRect(controller);
    const steps = plan(rect, MOVES + WARMUP, WARMUP);
    figures.input_settings.element_px = [round1(rect.w), round1(rect.h)];
    const warm = steps.filter((s) => s.warm);
    const measured = steps.filter((s) => !s.warm);

    // Phase 1, like for like with the floor: the host and the controller alone, the same two
    // pages the floor has. Warm-up (first renders, JIT) unrecorded, then the measured run.
    await play(controller, warm);
    await sleep(500);
    console.error(`input bench: host and controller, ${measured.length} actions, one per ${INTERVAL_MS} ms …`);
    const profiling = opts.profile ? await startProfiles({ host, controller }) : null;
    if (opts.trace) {
      await browser.startTracing(null, {
        path: opts.trace,
        categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'toplevel', 'blink', 'v8.execute', 'webrtc'],
      });
    }
    const two = await appPhase({ host, controller }, controller, measured, cid, rect);
    if (profiling) {
      await stopProfiles(profiling, opts.profile);
      figures.input_profiled = true;
    }
    if (opts.trace) {
      await browser.stopTracing();
      figures.input_traced = true;
    }
    // Its figures at once: they stay in the file should the second phase fail.
    const { input, split: twoSplit } = inputFigures(figures, 'input', two, measured.length);
    for (const [name, b] of Object.entries(two.busy)) figures[`${name}_main_busy_pct`] = b.busy_pct;

    // Phase 2: a viewer joins (one more encode on the host, one more decode on the machine);
    // the same actions again, for the cursor relay to the viewer and input under that load.
    const viewer = await join(browser, viewerLink, VIEWER_HOOK);
    if (!deepEqualRect(rect, await pictureRect(controller))) {
      throw new Error('the controller picture moved when the viewer joined; coordinates would not match');
    }
    await play(controller, warm);
    await sleep(500);
    console.error('input bench: the same with a viewer …');
    const three = await appPhase({ host, controller, viewer }, controller, measured, cid, rect);
    // The gate over both measured runs (not the warm-ups, not the viewer's joining).
    const gate = two.gate && three.gate
      ? Object.fromEntries(GATE_KEYS.map((k) => [k, two.gate[k] + three.gate[k]]))
      : null;

    const offsets = {};
    for (const [name, page] of [['host', host], ['controller', controller], ['viewer', viewer]]) {
      offsets[name] = await page.evaluate(clockOffset);
    }
    const errors = [host, controller, viewer].flatMap((p) => p.errors);

    const { split: threeSplit } = inputFigures(figures, 'input_with_viewer', three, measured.length);
    for (const [name, b] of Object.entries(three.busy)) figures[`with_viewer_${name}_main_busy_pct`] = b.busy_pct;
    const cursor = matchCursors(three.cur, three.input.pairs.filter((p) => p.sink.kind === 'move'));
    const cursorSplit = stages([], cursor.samples, three.wire);
    figures.cursor_events = cursor.samples.length;
    Object.assign(figures, percentiles('cursor_ms', cursor.samples.map((s) => s.ms), [50, 95, 99]));
    // The relay hop alone (host sink → viewer DOM); to the viewer's next frame.
    Object.assign(figures, percentiles('cursor_relay_ms', cursor.samples.map((s) => s.relay_ms), [50, 95]));
    Object.assign(figures, percentiles('cursor_frame_ms', cursor.samples.map((s) => s.frame_ms).filter((x) => x !== null), [50, 95]));
    for (const [name, xs] of Object.entries(cursorSplit.cursor)) {
      Object.assign(figures, percentiles(`cursor_stage_${name}_ms`, xs, [50, 95]));
    }
    const threeMoves = three.input.pairs.filter((p) => p.sink.kind === 'move').length;
    figures.cursor_moves_relayed_pct = threeMoves ? round1((100 * cursor.samples.length) / threeMoves) : null;
    figures.cursor_unmatched = cursor.unmatched;
    // The host's input gate over both measured runs: accepted, and dropped for any reason (not
    // holder, replay, rate limit, bounds, malformed; by reason in the samples file).
    figures.host_gate_accepted = gate ? gate.accepted : null;
    figures.host_gate_dropped = gate ? GATE_KEYS.reduce((n, k) => (k === 'accepted' ? n : n + gate[k]), 0) : null;
    const skews = Object.values(offsets);
    figures.clock_skew_ms_max = round1(Math.max(...skews) - Math.min(...skews));
    figures.load_avg_1m_before = round1(raw.load_avg[0]);
    figures.load_avg_1m_after = round1(os.loadavg()[0]);
    figures.page_errors = errors.length;
    const ms = input.pairs.map((p) => p.ms);

    // The floors, with the app's pages closed (they load neither them nor the agent phase).
    for (const page of [host, controller, viewer]) await page.context().close();
    await sleep(1000);
    bench = await serveDir(here);
    Object.assign(raw, { floor: {} });
    const unlike = [];
    const FLOORS = [
      ['floor', 'the plain-JavaScript floor', {}],
      ['floor_media', 'the floor with the picture', { media: true, send: appMedia }],
      ['floor_media_transform', 'the floor with the picture through pass-through transforms', { media: true, transform: true, send: appMedia }],
    ];
    for (const [variant, label, options] of FLOORS) {
      console.error(`input bench: ${label} …`);
      // A floor is plain pages on loopback: one whose connection did not come up is tried once
      // more (the attempts are in the figures); failing twice leaves its figures null.
      for (let attempt = 1; attempt <= 2; attempt++) {
        try {
          const floor = await floorPhase(browser, bench.url, rect, steps, options);
          raw.floor[variant] = floorFigures(figures, variant, floor, rect, ms, measured.length);
          figures[`input_${variant}_attempts`] = attempt;
          if (floor.settings) {
            figures.input_settings[`${variant}_read`] = floor.settings;
            const differ = differences(appMedia, floor.settings);
            if (differ.length) {
              // Not like for like: its ratios say nothing, and the run fails (below).
              const ratio = { floor_media: 'input_ratio_media', floor_media_transform: 'input_ratio_media_transform' }[variant];
              figures[`${ratio}_p50`] = null;
              figures[`${ratio}_p95`] = null;
              unlike.push(`${label} ran with other media settings than the app: ${differ.join('; ')}`);
            }
          }
          break;
        } catch (err) {
          console.error(`  ${label}: ${err.message}${attempt < 2 ? '; once more' : ''}`);
          figures[`input_${variant}_attempts`] = attempt;
        }
      }
    }

    // The agent stage: the same controller events applied to a real X server by pairux-agent.
    console.error('input bench: through the agent to an X client …');
    const agent = await agentPhase(server.url);
    figures.agent_events = agent.samples.length;
    Object.assign(figures, percentiles('agent_ms', agent.samples, [50, 95, 99]));
    figures.agent_unmatched = agent.unmatched;
    figures.agent_clock_rtt_ms = round1(agent.rtt);
    raw.agent = agent;

    const rawPhase = (ph, split) => ({
      ...ph,
      input: undefined,
      split,
      pairs: ph.input.pairs.map((p) => ({ seq: p.sink.seq, kind: p.sink.kind, ms: p.ms })),
    });
    Object.assign(raw, { rect, offsets, gate, errors, app: rawPhase(two, twoSplit), with_viewer: rawPhase(three, threeSplit), cursor: cursor.samples, cursor_split: cursorSplit.cursor });
    if (errors.length) console.error(`  page errors: ${errors.slice(0, 5).join(' | ')}`);
    if (unlike.length) throw new Error(unlike.join(' | '));
  } catch (err) {
    // Whatever was measured is still written; the run fails.
    failure = err;
  } finally {
    await browser.close().catch(() => {});
    await server.stop();
    await bench?.close();
  }
  // The floor's headline figures are there, `null` when not measured.
  const FLOOR_KEYS = [
    'input_floor_ms_p50', 'input_floor_ms_p95', 'input_ratio_p50', 'input_ratio_p95',
    'input_floor_media_ms_p50', 'input_floor_media_ms_p95', 'input_ratio_media_p50', 'input_ratio_media_p95',
    'input_floor_media_transform_ms_p50', 'input_floor_media_transform_ms_p95',
    'input_ratio_media_transform_p50', 'input_ratio_media_transform_p95',
  ];
  for (const k of FLOOR_KEYS) {
    figures[k] ??= null;
  }
  figures.duration_s = Math.round((Date.now() - began) / 1000);
  await mkdir(path.dirname(opts.out), { recursive: true });
  await writeFile(opts.out, `${JSON.stringify(figures, null, 2)}\n`);
  await writeFile(opts.out.replace(/\.json$/, '') + '-samples.json', `${JSON.stringify(raw)}\n`);
  console.error(`input bench: done in ${figures.duration_s} s`);
  if (failure) {
    console.error(`input bench: FAILED: ${failure.stack ?? failure}`);
    process.exitCode = 1;
  } else if (!figures.events || !figures.input_with_viewer_events || !figures.cursor_events || !figures.agent_events) {
    console.error('input bench: FAILED: no matched input (either phase), cursor or agent events');
    process.exitCode = 1;
  } else if (FLOOR_KEYS.some((k) => figures[k] === null)) {
    console.error(`input bench: FAILED: not measured: ${FLOOR_KEYS.filter((k) => figures[k] === null).join(', ')}`);
    process.exitCode = 1;
  } else if (figures.host_gate_accepted === null || figures.host_gate_dropped === null) {
    console.error('input bench: FAILED: the host\'s gate counters (data-* of gate-counters) could not be read');
    process.exitCode = 1;
  }
}

function deepEqualRect(a, b) {
  return ['x', 'y', 'w', 'h'].every((k) => Math.abs(a[k] - b[k]) < 0.5);
}

main().catch((err) => {
  console.error(`input bench: ${err.stack ?? err}`);
  process.exit(1);
});
