// `cargo xtask bench media`: time to first frame and glass-to-glass latency of the app's P2P
// screen share, next to the floor (plain pages, one peer each, with the same source and
// settings), measured from the time code in the pattern's pixels (bench/lib/timecode.mjs).
// The glass-to-glass variants run in interleaved rounds (`--rounds`), each keeping its share of
// `--frames`; every figure is over all rounds, each round's p50 is kept beside it.
//
//   node bench/media.mjs --out target/bench/media.json --png target/bench/media.png
//
// xtask runs it inside a loopback-only network namespace with PAIRUX_SERVER_BIN/PAIRUX_DIST set
// (tests/e2e/lib/harness.mjs reads them); it refuses to run where any other interface exists.
// Writes the figures (JSON), the raw samples beside them (`<out>` with `-samples.json`) and a
// PNG of the distributions. Exits non-zero if a measurement failed; what was measured is still
// written.

import { parseArgs } from 'node:util';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, newPage, distDir } from '../tests/e2e/lib/harness.mjs';
import { rawPeer } from '../tests/e2e/lib/adversary.mjs';
import { parseLink, participantId, presenceMeta, SigningKey } from '../tests/e2e/lib/wire.mjs';
import { serveDir } from './lib/serve.mjs';
import { PC_HOOK } from './lib/pc-hook.mjs';
import { assertLoopbackOnly } from './lib/netns.mjs';
import { percentiles, round1, mostFrequent } from './lib/stats.mjs';
import { svg, renderPng } from './lib/plot.mjs';
import { clicksWav, MIC_HOOK, startOnsets, stopOnsets, onsets, pairOnsets } from './lib/voice.mjs';
import { readSettings, flat, differences } from './lib/settings.mjs';
import { WIDTH } from './lib/pattern.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: 'target/bench/media.json' },
    png: { type: 'string', default: 'target/bench/media.png' },
    frames: { type: 'string', default: '330' }, // per g2g variant, after warm-up (≥ 300)
    // The g2g variants run in this many interleaved rounds (floor, floor + worker, …, app; then
    // again), each keeping frames / rounds samples: a floor and the app it is compared with are
    // measured minutes apart otherwise, and the machine's load drifts between them (the plain
    // floor's p50 moved 9.3–13.9 ms between whole runs of this bench on one day).
    rounds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '20' }, // TTFF runs (≥ 20)
    'warmup-ms': { type: 'string', default: '3000' }, // congestion control ramps up first
    only: { type: 'string' }, // comma list of g2g keys and/or `ttff`, `ttff_sfu`, `ttff_returning`, `audio`, `audio_sfu`
    // The server also runs a Janus and coturn (`--sfu-nodes 1 --turn`) and the app is measured
    // through Janus too (`g2g_sfu_*`, `ttff_sfu_*`); `cargo xtask bench sfu` uses it.
    sfu: { type: 'boolean', default: false },
    // Each first visit in a new browser profile (how this bench measured before 2026-12-03)
    // instead of a new tab of a running browser with the origin's data cleared.
    'fresh-profile': { type: 'boolean', default: false },
    // A first visit's signaling as over a wide-area network: every frame of the viewer's
    // Realtime socket is held this long each way (Playwright's routeWebSocket; loopback has no
    // round trip to speak of, and this machine's kernel has no netem). 0: direct.
    'signal-delay-ms': { type: 'string', default: '0' },
    // A first visit's downloads (the page, the app's wasm and JS) as over a link of this many
    // megabits per second with `--rtt-ms` of round trip: CDP network emulation of the viewer's
    // page, which slows that page's own requests — not its E2EE worker's fetches, not WebRTC;
    // for signaling's round trips add `--signal-delay-ms`. 0: loopback as it is.
    'download-mbps': { type: 'string', default: '0' },
    'rtt-ms': { type: 'string', default: '0' },
    // First visits to a session that already has this many other participants: link holders
    // (raw Realtime sockets with valid, signed and sealed viewer metas, tests/e2e/lib/wire.mjs)
    // that every newcomer's page sees in its first presence state. They never answer the
    // host's offers. 0: the host alone.
    others: { type: 'string', default: '0' },
    // Where a first frame's time goes, finer (TTFF runs): the viewer's join frame out; its
    // answer (setRemoteDescription settled, setLocalDescription called and settled, first and
    // last candidate, the first frame on the socket after the offer); both ends' RTP (the
    // viewer's first packet, frame received and decoded; the host's first frame encoded and
    // packet sent; getStats every 4 ms); and the host's side of each viewer's connection
    // (`host_*`: made, offer set, answer received, connected), all on the viewer's time axis.
    // The polls cost both pages' main threads: TTFF figures of a run with --detail
    // (`ttff_detail: true`) are not comparable with one without. The RTP stages are coarse:
    // Chrome answers getStats from a report it keeps ~50 ms (polls every 4 ms saw the same
    // counters for 45-50 ms at a time), so each one marks when a poll first saw the change,
    // up to ~50 ms after it happened; the stages from events (connected, the page's frame)
    // are exact. So are the first frame's stages from both pages' E2EE workers (encoded and
    // encrypted on the host, whole and decrypted at the viewer, WORKER_FRAME_HOOK), whose
    // stamps are installed in every worker of the host's and viewers' pages for the whole run
    // (two pass-through stream stages per pipe: --detail's g2g and audio figures carry them too).
    detail: { type: 'boolean', default: false },
    // Writes a CPU profile of each first visit (CDP Profiler, 200 µs, with the viewer's stages)
    // to <profile>-<n>.json. Names of wasm functions show with a dist whose guest wasm keeps
    // its name section (wasm-bindgen --keep-debug, no wasm-opt; PAIRUX_DIST points at it).
    profile: { type: 'string' },
    // Writes a Chrome trace of each first visit (devtools.timeline: tasks, style, layout,
    // paint, scripts; every process of the browser) to <trace>-<n>.json, with the viewer's
    // stages beside it in <trace>-<n>-stages.json.
    trace: { type: 'string' },
  },
});
const FRAMES = Number(opts.frames);
const ROUNDS = Number(opts.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error(`media bench: --rounds must be a whole number ≥ 1, not ${opts.rounds}`);
  process.exit(2);
}
const AUDIO_MS = 30_000; // 30 bursts
const RUNS = Number(opts.runs);
const WARMUP_MS = Number(opts['warmup-ms']);
const SIGNAL_DELAY_MS = Number(opts['signal-delay-ms']);
const DOWNLOAD_MBPS = Number(opts['download-mbps']);
const RTT_MS = Number(opts['rtt-ms']);
const OTHERS = Number(opts.others);
const DETAIL = opts.detail;
const wanted = (key) => !opts.only || opts.only.split(',').includes(key);
// TTFF figures: a first visit, through Janus with --sfu, and a returning person's (the profile
// opened the app once before: cached files and code), which takes two visits per run, so half
// as many runs. A first visit is a new tab in a browser that already runs, as a person's does,
// with nothing of the app's origin kept (HTTP cache — and with it V8's code cache —, cookies,
// storage: cleared before each run, and the run fails if the wasm did not cross the network).
// It used to be a new browser profile per run, which a person's click on a link never is: a
// trace showed the browser process busy creating the profile (its databases) while the page's
// first layout waited 67 ms on it for fonts (`--fresh-profile` measures it that way).
const TTFF_KINDS = [
  ['ttff', 'p2p', false],
  ...(opts.sfu ? [['ttff_sfu', 'sfu', false]] : []),
  ['ttff_returning', 'p2p', true],
];
const RETURNING_RUNS = Math.max(1, Math.ceil(RUNS / 2));

// Bounded: the whole bench is well under this; a hang ends the process (xtask's namespace
// then kills whatever is left inside it).
// With --sfu every part runs twice (P2P and through Janus); each glass-to-glass round after
// the first opens every variant's pages (and the app's host) once more.
const GIVE_UP_MIN = (opts.sfu ? 12 : 8) + (ROUNDS - 1) * (opts.sfu ? 3 : 2);
setTimeout(() => {
  console.error(`media bench: gave up after ${GIVE_UP_MIN} minutes`);
  process.exit(3);
}, GIVE_UP_MIN * 60_000).unref();

/**
 * Glass-to-glass variants. `open(env)` returns a page whose `window.__reader` (startReader of
 * bench/lib/timecode.mjs) reads the received track, and whose `window.__pcs` holds its peer
 * connections (and, for a floor of two pages, `sendPage`: the sending one). Each variant yields `<key>_ms_p50/p95/p99`, `<key>_frames`, `<key>_resolution`;
 * the app's variants also `<key>_ratio_p50` = its p50 / the plain floor's p50. Later variants
 * (SFU) are one entry each here.
 *
 * The floors are plain pages (bench/floor.html) with the app's settings and one peer per page,
 * each page in a browser context — so a renderer — of its own, as the app's host and viewer
 * are. E2EE is always on in the app, so `g2g` is the E2EE path: it is also reported as
 * `g2g_e2ee_ms_*` (the same samples). `g2g_floor_e2ee` is the floor with the app's SFrame
 * transform worker in the media path; `e2ee_overhead_ms_p50` = its p50 − the plain floor's,
 * what encryption alone adds (target: ≤ 2 ms). `g2g_floor_passthrough*` hand frames through a
 * worker untouched, which splits that into `e2ee_transform_ms_p50` (any encoded transform) and
 * `e2ee_crypto_ms_p50` (our SFrame work). `g2g_floor_one_page*` are the plain floor and the
 * floor with the worker with both peers in one page (how this bench measured until
 * 2026-12-05; in four runs that day the plain one was 0.1–2.7 ms faster than two pages, the
 * one with the worker within 0.3 ms), reported beside, with `g2g_ratio_one_page_p50` and
 * `e2ee_overhead_one_page_ms_p50`.
 */
const G2G = [
  { key: 'g2g_floor', label: 'floor (plain pages)', open: (env) => openFloor(env), floor: true },
  {
    key: 'g2g_floor_e2ee',
    label: 'floor + SFrame worker',
    open: (env) => openFloor(env, { e2ee: true }),
    floor: true,
  },
  // Where E2EE's cost comes from: the same floor with a worker that hands frames on untouched
  // (on both sides, or receiving only) — what any encoded transform costs before any crypto.
  {
    key: 'g2g_floor_passthrough',
    label: 'floor + pass-through transform (both sides)',
    open: (env) => openFloor(env, { passthrough: 'both' }),
    floor: true,
  },
  {
    key: 'g2g_floor_passthrough_rx',
    label: 'floor + pass-through transform (receiving side)',
    open: (env) => openFloor(env, { passthrough: 'receive' }),
    floor: true,
  },
  {
    key: 'g2g_floor_one_page',
    label: 'floor, both peers in one page',
    open: (env) => openFloor(env, { pages: 1 }),
    floor: true,
  },
  {
    key: 'g2g_floor_one_page_e2ee',
    label: 'floor, both peers in one page + SFrame worker',
    open: (env) => openFloor(env, { pages: 1, e2ee: true }),
    floor: true,
  },
  { key: 'g2g', label: 'app P2P (E2EE)', open: (env) => openAppViewer(env, 'p2p') },
  // The same, while the host talks (its voice goes to the viewer on the same connection).
  { key: 'g2g_voice', label: 'app P2P (E2EE), host talking', open: openTalkingViewer },
  ...(opts.sfu
    ? [
      { key: 'g2g_sfu', label: 'app SFU via Janus (E2EE)', open: (env) => openAppViewer(env, 'sfu'), mode: 'sfu' },
      // P2P through coturn: a second server started with --relay-only beside the first.
      { key: 'g2g_relay', label: 'app P2P relay-only via coturn (E2EE)', open: (env) => openAppViewer(env, 'relay'), mode: 'relay' },
    ]
    : []),
];

// TTFF, measured inside the viewer page: the hook sees <video data-testid="remote-video"> the
// moment it is inserted (MutationObserver from document start, so no polling delay) and asks
// for its first video frame callback. The frame's `presentationTime` (when the compositor got
// it) is on the page's clock (timeOrigin + time); the `t0` node takes right before page.goto is
// put on that clock by the skew between the two, measured after the visit. A waitForFunction
// poll from node would add up to a polling interval plus a CDP round trip to every run.
// It also notes when each stage was reached (ms after navigation start) to show where the time
// goes: wasm and config.json loaded, app mounted, Realtime socket open, joined, first presence,
// first broadcast, peer connection created (a guest page's first: the one index.html makes
// while the wasm downloads), offer received, connected, video element, stream attached, first
// frame.
/** The pattern's width: a viewer's frame this wide is at full resolution. */
const PATTERN_WIDTH = WIDTH;

const TTFF_HOOK = `(() => {
  const stages = {};
  const mark = (name) => { if (!(name in stages)) stages[name] = performance.now(); };
  window.__ttff = { first: null, stages };
  const Base = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Base {
    constructor(...args) {
      super(...args);
      mark('pc_created');
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState === 'connected') mark('pc_connected');
      });
      if (${JSON.stringify(DETAIL)}) {
        this.addEventListener('iceconnectionstatechange', () => mark('v_ice_' + this.iceConnectionState));
      }
      if (${JSON.stringify(DETAIL)}) {
        this.addEventListener('track', () => mark('v_track'));
        this.addEventListener('icecandidate', (e) => mark(e.candidate ? 'v_first_candidate' : 'v_candidates_end'));
        const pc = this;
        const poll = async () => {
          if (window.__ttff.first || pc.connectionState === 'closed') return;
          (await pc.getStats()).forEach((r) => {
            if (r.type !== 'inbound-rtp' || r.kind !== 'video') return;
            if (r.packetsReceived > 0) mark('rtp_first_packet');
            if (r.framesReceived > 0) mark('rtp_frame_received');
            if (r.framesDecoded > 0) mark('rtp_frame_decoded');
            if (r.pliCount > 0) mark('rtp_pli_sent');
          });
          setTimeout(poll, 4);
        };
        setTimeout(poll, 4);
      }
    }
    setRemoteDescription(...args) {
      mark('offer_received');
      const done = super.setRemoteDescription(...args);
      if (${JSON.stringify(DETAIL)}) done.then(() => mark('v_offer_set'), () => {});
      return done;
    }
    setLocalDescription(...args) {
      if (${JSON.stringify(DETAIL)}) mark('v_answer_set_called');
      const done = super.setLocalDescription(...args);
      if (${JSON.stringify(DETAIL)}) done.then(() => mark('v_answer_set'), () => {});
      return done;
    }
  };
  // The app's wasm: when the page asked to compile it (the loader) and to instantiate it (the
  // app's module script), and when each was done (the app's main runs next).
  if (${JSON.stringify(DETAIL)}) {
    for (const [name, step] of [['compileStreaming', 'compile'], ['compile', 'compile'], ['instantiateStreaming', 'instantiate'], ['instantiate', 'instantiate']]) {
      const f = WebAssembly[name];
      if (!f) continue;
      WebAssembly[name] = function (...args) {
        mark('wasm_' + step + '_called');
        const done = f.apply(this, args);
        done.then(() => mark('wasm_' + step + 'd'), () => {});
        return done;
      };
    }
  }
  // The Realtime socket: open, joined (the join's reply), the first presence (the host seen
  // once it verifies), the first signal.
  const Ws = window.WebSocket;
  window.WebSocket = class extends Ws {
    constructor(url, ...rest) {
      super(url, ...rest);
      if (!String(url).includes('/realtime/')) return;
      mark('socket_created');
      this.addEventListener('open', () => mark('socket_open'));
      if (${JSON.stringify(DETAIL)}) {
        // Our phx_join frame, and the first frame out after the offer (sealed, so not read:
        // usually the answer).
        const send = this.send.bind(this);
        this.send = (data) => {
          if (typeof data === 'string' && data.includes('"phx_join"')) mark('v_join_sent');
          if ('offer_received' in stages) mark('v_sent_after_offer');
          return send(data);
        };
      }
      this.addEventListener('message', (m) => {
        if (typeof m.data !== 'string') {
          // Broadcasts come binary (serializer 2.0.0); with --detail, the first one after
          // the host's presence (its offer, or a signal of its that came before the offer).
          if (${JSON.stringify(DETAIL)} && 'presence' in stages) mark('v_signal_in');
          return;
        }
        let event = null;
        try {
          const f = JSON.parse(m.data);
          event = Array.isArray(f) ? f[3] : f.event;
        } catch { return; }
        if (event === 'phx_reply') mark('joined');
        if (event === 'presence_state' || event === 'presence_diff') mark('presence');
        if (event === 'broadcast') mark('first_broadcast');
      });
    }
  };
  const hooked = new WeakSet();
  const hook = (video) => {
    if (hooked.has(video)) return;
    hooked.add(video);
    mark('video_inserted');
    video.addEventListener('loadstart', () => mark('stream_attached'), { once: true });
    // The first frame, and the first at the pattern's full width (a connection's first
    // frames may be smaller: the sharp one is when text can be read).
    const onFrame = (now, meta) => {
      const at = {
        presented: performance.timeOrigin + meta.presentationTime,
        callback: performance.timeOrigin + now,
        timeOrigin: performance.timeOrigin,
        width: meta.width,
        height: meta.height,
      };
      if (!window.__ttff.first) {
        mark('first_frame');
        window.__ttff.first = at;
        // Tells the bench without it polling the page (which would run Playwright's injected
        // script on the page's main thread while the app starts: ~40 ms in a trace).
        console.debug('pairux:ttff-first');
      }
      if (meta.width >= ${PATTERN_WIDTH}) {
        mark('sharp_frame');
        window.__ttff.sharp = at;
        console.debug('pairux:ttff-sharp');
        return;
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  const scan = () => {
    if (document.querySelector('.app')) mark('app_mounted');
    document.querySelectorAll('video[data-testid="remote-video"]').forEach(hook);
  };
  new MutationObserver(scan).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['data-testid'],
  });
})();`;

// --detail, evaluated in each E2EE worker of the host's and the viewer's page: every frame
// pipe the worker builds (`readable.pipeThrough`, one per sender or receiver transform) gets a
// pass-through stage before the worker's transform and one after it, which note (wall clock,
// like every stamp here) when each of its first 40 video frames came in and went out, by RTP
// timestamp, and its size. On the host a frame comes in just encoded and goes out encrypted;
// on the viewer it comes in whole (all its packets received) and goes out decrypted. Unlike
// getStats (cached by Chrome for ~50 ms) these are exact.
const WORKER_FRAME_HOOK = `(() => {
  if (self.__frameStamps) return;
  self.__frameStamps = [];
  const now = () => performance.timeOrigin + performance.now();
  const isVideo = (frame) => frame && typeof frame.type === 'string';
  // The frame's RTP timestamp: the same number on both ends of a connection.
  const rtp = (frame) => frame.getMetadata?.().rtpTimestamp ?? frame.timestamp;
  const pipe = ReadableStream.prototype.pipeThrough;
  ReadableStream.prototype.pipeThrough = function (pair, options) {
    const rec = { frames: [], out: [] };
    self.__frameStamps.push(rec);
    const before = new TransformStream({
      transform(frame, out) {
        if (isVideo(frame) && rec.frames.length < 40) {
          const t = now();
          rec.first ??= t;
          rec.frames.push([rtp(frame), t, frame.data.byteLength]);
        }
        out.enqueue(frame);
      },
    });
    const through = pipe.call(pipe.call(this, before), pair, options);
    const pipeTo = through.pipeTo;
    through.pipeTo = function (dest, opts) {
      const after = new TransformStream({
        transform(frame, out) {
          if (isVideo(frame) && rec.out.length < 40) rec.out.push([rtp(frame), now()]);
          out.enqueue(frame);
        },
      });
      return pipeTo.call(pipe.call(this, after), dest, opts);
    };
    return through;
  };
})()`;

/** Every frame pipe's stamps in `workers` (WORKER_FRAME_HOOK). */
async function workerPipes(workers) {
  const pipes = [];
  for (const w of workers) pipes.push(...(await w.evaluate(() => self.__frameStamps ?? []).catch(() => [])));
  return pipes;
}

/** The pipe whose first video frame came first at or after `since` (wall ms). */
function firstPipe(pipes, since) {
  let best = null;
  for (const r of pipes) {
    if (r.first !== undefined && r.first >= since && (!best || r.first < best.first)) best = r;
  }
  return best;
}

// --detail, in the host's page: for each peer connection it makes, when (wall clock) it was
// made, its offer set, the answer set, connected, and its first video frame encoded and first
// packet sent (getStats every 4 ms from the answer until then).
const HOST_DETAIL_HOOK = `(() => {
  window.__hostPcs = [];
  const now = () => performance.timeOrigin + performance.now();
  // The host's Realtime frames: when each presence change came in, when each frame went out.
  window.__hostWs = [];
  const Ws = window.WebSocket;
  window.WebSocket = class extends Ws {
    constructor(url, ...rest) {
      super(url, ...rest);
      if (!String(url).includes('/realtime/')) return;
      const send = this.send.bind(this);
      // Broadcasts (signals) go out binary (serializer 2.0.0); heartbeats and presence are text.
      this.send = (data) => {
        if (typeof data !== 'string') window.__hostWs.push({ t: now(), out: true });
        return send(data);
      };
      // A presence change with someone in its joins (not a leave).
      this.addEventListener('message', (m) => {
        if (typeof m.data === 'string' && m.data.includes('presence_diff') && !/"joins":\\{\\}/.test(m.data)) {
          window.__hostWs.push({ t: now(), presence: true });
        }
      });
    }
  };
  const Base = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Base {
    constructor(...args) {
      super(...args);
      const rec = { pc_created: now() };
      this.__rec = rec;
      window.__hostPcs.push(rec);
      const mark = (k) => { if (!(k in rec)) rec[k] = now(); };
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState === 'connected') mark('connected');
      });
      this.addEventListener('negotiationneeded', () => mark('negotiation_needed'));
      // Its ICE states (checking starts with the viewer's first check, before its answer is
      // here) and when the answer was set (DTLS can finish only then: it needs the fingerprint).
      this.addEventListener('iceconnectionstatechange', () => mark('ice_' + this.iceConnectionState));
      this.addEventListener('signalingstatechange', () => {
        if (this.signalingState === 'stable' && rec.answer_received) mark('answer_set');
      });
      this.addEventListener('icegatheringstatechange', () => {
        if (this.iceGatheringState === 'complete') mark('gathered');
      });
      // Polled from the answer on (a connection made ahead waits for its viewer first).
      const pc = this;
      this.__poll = async () => {
        if (rec.first_packet || pc.connectionState === 'closed' || now() - rec.answer_received > 10000) return;
        (await pc.getStats()).forEach((r) => {
          if (r.type !== 'outbound-rtp' || r.kind !== 'video') return;
          if (r.framesEncoded > 0) mark('first_encoded');
          if (r.packetsSent > 0) mark('first_packet');
        });
        setTimeout(pc.__poll, 4);
      };
    }
    createOffer(...args) {
      this.__rec.create_offer ??= now();
      return super.createOffer(...args);
    }
    setLocalDescription(...args) {
      this.__rec.offer_set ??= now();
      return super.setLocalDescription(...args);
    }
    setRemoteDescription(...args) {
      if (this.__rec.answer_received === undefined) {
        this.__rec.answer_received = now();
        setTimeout(this.__poll, 4);
      }
      return super.setRemoteDescription(...args);
    }
  };
})();`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// The system clock as it is now. A visit's start is put on its page's clock by the skew
// measured at its end (`clockSkew`): Node and Chrome each fix their clocks' offset to the system
// clock once (Node at start, Chrome per renderer process), so a step of the system clock during
// a run (seen once: 13 s) would otherwise be added to every TTFF.
const wallNow = () => Date.now();

/** Our clock minus `page`'s (performance.timeOrigin + now), read within one round trip. */
async function clockSkew(page) {
  const before = wallNow();
  const theirs = await page.evaluate(() => performance.timeOrigin + performance.now());
  return (before + wallNow()) / 2 - theirs;
}

/**
 * The floor page, configured with what the app's own P2P connection to a viewer was read to use
 * (`appSettings`): the same codec, caps, scaling, degradation preference, content hint and
 * receive settings.
 */
async function openFloor(env, { pages = 2, ...options } = {}) {
  const settings = await appSettings(env);
  const opened = [];
  const close = async () => {
    await Promise.allSettled(opened.map((p) => p.context().close()));
  };
  const open = async () => {
    const page = await newPage(env.browser);
    opened.push(page);
    await page.goto(`${env.bench.url}/floor.html`);
    await page.waitForFunction(() => window.floor);
    return page;
  };
  try {
    if (pages === 1) {
      const page = await open();
      await page.evaluate((o) => window.floor.start(o), { ...options, settings });
      return { page, close };
    }
    // One peer per page, each in a context (so a renderer) of its own, as the app's host and
    // viewer are: the bench carries their descriptions and candidates.
    const sendPage = await open();
    const page = await open();
    const relay = (to) => (m) => to.evaluate((msg) => window.floor.fromPeer(msg), m);
    await sendPage.exposeFunction('__toPeer', relay(page));
    await page.exposeFunction('__toPeer', relay(sendPage));
    await page.evaluate((o) => window.floor.start(o), { ...options, settings, role: 'receive' });
    await sendPage.evaluate((o) => window.floor.start(o), { ...options, settings, role: 'send' });
    return { page, sendPage, close };
  } catch (err) {
    // Nothing of a floor that did not start stays to load the machine.
    await close();
    throw err;
  }
}

/**
 * The settings of the app's P2P host → viewer connection, read once from a real app viewer
 * (bench/lib/settings.mjs), flattened.
 */
async function appSettings(env) {
  if (env.appSettings) return env.appSettings;
  const host = await appHost(env, 'p2p');
  const viewer = await openAppViewer(env, 'p2p');
  try {
    await viewer.page.waitForFunction(() => window.__reader?.frames > 0, null, { timeout: 15_000 });
    const settings = flat({ send: (await readSettings(host.page)).send, receive: (await readSettings(viewer.page)).receive });
    if (!settings.codec) throw new Error(`the app's sender settings could not be read: ${JSON.stringify(settings)}`);
    env.appSettings = settings;
    return settings;
  } finally {
    await viewer.close();
  }
}

/** `e2ee-state` as a page shows it (`ok` once its worker measured encrypted frames). */
const e2eeWord = (page) => page.getByTestId('e2ee-state').first().textContent({ timeout: 5_000 }).catch(() => null);

/** The floor's E2EE side: which API carried frames, the states the worker reported, rejections. */
const e2eeState = (page) =>
  page.evaluate(() => {
    const e = window.__e2ee;
    // Pass-through workers encrypt nothing and report nothing.
    if (!e?.workers.length || e.passthrough) return null;
    const names = ['ok', 'waiting-key', 'decrypt-failed'];
    return { api: e.api, states: e.states.map((s) => names[s] ?? s), rejected: e.rejected };
  });

/**
 * The app's host in `mode` (`p2p` or `sfu`): landing page → the mode → "Share a test pattern"
 * → its viewer link. Started once per mode, on one server.
 */
async function appHost(env, mode = 'p2p') {
  env.hosts ??= {};
  if (env.hosts[mode]) return env.hosts[mode];
  const mediaIp = process.env.PAIRUX_MEDIA_IP ?? '198.51.100.1';
  if (!env.server) {
    const args = [];
    if (opts.sfu) {
      env.runDir = await mkdtemp(path.join(os.tmpdir(), 'pairux-bench-'));
      args.push('--sfu-nodes', '1', '--turn', '--run-dir', env.runDir, '--media-ip', mediaIp);
    }
    env.server = await startServer({ args });
  }
  if (mode === 'relay' && !env.relayServer) {
    // Its coturn on other ports than the first server's.
    env.relayRunDir = await mkdtemp(path.join(os.tmpdir(), 'pairux-bench-relay-'));
    env.relayServer = await startServer({
      args: ['--relay-only', '--turn-port', '3479', '--turn-relay-base', '50200',
        '--run-dir', env.relayRunDir, '--media-ip', mediaIp],
    });
  }
  const server = mode === 'relay' ? env.relayServer : env.server;
  const pick = mode === 'sfu' ? 'sfu' : 'p2p';
  // bypassCSP: the voice bench's onset worklet is loaded from a data: URL.
  const page = await newPage(env.browser, { bypassCSP: true });
  await page.addInitScript(PC_HOOK);
  await page.addInitScript(MIC_HOOK);
  if (DETAIL) {
    await page.addInitScript(HOST_DETAIL_HOOK);
    page.__workers = [];
    page.on('worker', (w) => {
      page.__workers.push(w);
      w.evaluate(WORKER_FRAME_HOOK).catch(() => {});
    });
  }
  await page.goto(server.url);
  await page.waitForSelector('.app', { timeout: 15_000 });
  await page.getByTestId(`mode-${pick}`).check();
  const start = page.getByTestId('start-test-pattern');
  if ((await start.count()) === 0) {
    throw new Error('the landing page has no data-testid="start-test-pattern" (app side missing)');
  }
  await start.click();
  const invite = page.getByTestId('invite-viewer-link');
  await invite.waitFor({ timeout: 15_000 });
  const link = await invite.inputValue();
  if (!/\/s\/[^#]+#k=/.test(link)) throw new Error(`unexpected viewer link: ${link}`);
  // Sharing for real: the host previews what it sends.
  await page.getByTestId('local-preview').waitFor({ timeout: 15_000 });
  await page.locator(`[data-testid=session-mode]:text-is("${pick}")`).waitFor({ timeout: 15_000 });
  env.hosts[mode] = { page, link };
  return env.hosts[mode];
}

async function openAppViewer(env, mode) {
  const host = await appHost(env, mode);
  // bypassCSP: the reader module is imported from the bench's own origin.
  const page = await newPage(env.browser, { bypassCSP: true });
  await page.addInitScript(PC_HOOK);
  await page.goto(host.link);
  await page.waitForFunction(
    () => document.querySelector('[data-testid="remote-video"]')?.srcObject?.getVideoTracks().length > 0,
    null,
    { timeout: 20_000 },
  );
  await page.evaluate(async (url) => {
    const { startReader } = await import(url);
    const video = document.querySelector('[data-testid="remote-video"]');
    window.__reader = startReader(video.srcObject.getVideoTracks()[0]);
  }, `${env.bench.url}/lib/timecode.mjs`);
  return { page, close: () => page.context().close() };
}

/** Turns the page's microphone on or off with `mic-toggle`, and waits until it says so. */
async function setMic(page, on) {
  const want = on ? 'on' : 'off';
  const toggle = page.getByTestId('mic-toggle');
  if ((await toggle.getAttribute('data-state')) !== want) await toggle.click();
  await page.locator(`[data-testid=mic-toggle][data-state=${want}]`).waitFor({ timeout: 10_000 });
}

/** A P2P viewer while the host's microphone is on. */
async function openTalkingViewer(env) {
  const host = await appHost(env, 'p2p');
  await setMic(host.page, true);
  const viewer = await openAppViewer(env, 'p2p');
  return {
    page: viewer.page,
    close: async () => {
      await viewer.close();
      await setMic(host.page, false);
    },
  };
}

/**
 * Mouth-to-ear: the host talks (bursts from the fake microphone), one viewer listens — peer
 * to peer, or through Janus (`mode` 'sfu': the host's own voice feed, the viewer's
 * subscription to it); onsets timestamped on both sides (bench/lib/voice.mjs). Returns the
 * delays (ms).
 */
async function measureAudio(env, mode = 'p2p') {
  await onlyHost(env, mode);
  const host = await appHost(env, mode);
  await setMic(host.page, true);
  const viewer = await openAppViewer(env, mode);
  try {
    // The host's own voice: peer to peer its own receive-only track (the other audio track
    // is the mix of everyone else, sendrecv), through Janus the subscription's.
    const hostVoice = () => window.__pcs?.flatMap((pc) => pc.getTransceivers()).find(
      (t) => t.receiver.track.kind === 'audio' && t.currentDirection === 'recvonly' && t.receiver.track.readyState === 'live',
    )?.receiver.track;
    await viewer.page.waitForFunction(hostVoice, null, { timeout: 15_000 });
    await sleep(1500); // the jitter buffer settles
    await startOnsets(host.page, () => window.__mic?.getAudioTracks()[0]);
    await startOnsets(viewer.page, hostVoice);
    await sleep(AUDIO_MS);
    const [sent, received] = [await onsets(host.page), await onsets(viewer.page)];
    const delays = pairOnsets(sent, received);
    console.error(`  ${sent.length} bursts sent, ${received.length} heard, ${delays.length} paired`);
    if (delays.length < 10) {
      throw new Error(`only ${delays.length} bursts heard of ${sent.length} sent`);
    }
    return { delays, sent: sent.length, received: received.length };
  } finally {
    // The detector first: nothing that fails after may leave it running in the host's page.
    await stopOnsets(host.page).catch((err) => console.error(`  could not stop the host's onset detector: ${err.message}`));
    await viewer.close();
    await setMic(host.page, false).catch(() => {});
  }
}

const readerState = (page) =>
  page.evaluate(() => {
    const r = window.__reader;
    if (!r) return null;
    const { samples, resolutions, frames, unreadable, repeated, error } = r;
    return { count: samples.length, resolutions, frames, unreadable, repeated, error };
  });

/** Waits for readable frames, lets the connection warm up, then keeps `frames` samples. */
async function collect(page, label, frames) {
  const until = Date.now() + 20_000;
  let s = await readerState(page);
  while (!(s?.count > 0)) {
    if (s?.error) throw new Error(`${label}: reader failed: ${s.error}`);
    if (Date.now() > until) {
      throw new Error(`${label}: no readable time code within 20 s (reader: ${JSON.stringify(s)})`);
    }
    await sleep(100);
    s = await readerState(page);
  }
  await sleep(WARMUP_MS);
  await page.evaluate(() => {
    const r = window.__reader;
    Object.assign(r, { samples: [], resolutions: {}, frames: 0, unreadable: 0, repeated: 0 });
  });
  // 30 fps: frames / 30 s, with generous slack for a loaded machine.
  const deadline = Date.now() + (frames / 30) * 3000 + 10_000;
  for (;;) {
    s = await readerState(page);
    if (s.error) throw new Error(`${label}: reader failed: ${s.error}`);
    if (s.count >= frames) break;
    if (Date.now() > deadline) throw new Error(`${label}: only ${s.count}/${frames} frames in time`);
    await sleep(250);
  }
  return page.evaluate(() => {
    const r = window.__reader;
    r.stop();
    const { samples, resolutions, frames, unreadable, repeated } = r;
    return { samples, resolutions, frames, unreadable, repeated };
  });
}

/** getStats of every peer connection on the page: what the encoder and decoder did. */
const rtpStats = (page) =>
  page.evaluate(async () => {
    const out = [];
    for (const pc of window.__pcs ?? []) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      for (const s of stats.values()) {
        if (s.kind !== 'video') continue;
        const codec = stats.get(s.codecId)?.mimeType ?? null;
        if (s.type === 'inbound-rtp' && s.framesDecoded) {
          out.push({
            dir: 'in', codec, size: `${s.frameWidth}x${s.frameHeight}`, fps: s.framesPerSecond,
            decode_ms: (1000 * s.totalDecodeTime) / s.framesDecoded,
            jitter_buffer_ms: (1000 * s.jitterBufferDelay) / s.jitterBufferEmittedCount,
            // What the receiver aimed for (its jitter estimate, decode and render delay) beside
            // what frames spent: first packet → decoded, and first → last packet.
            jitter_target_ms: (1000 * s.jitterBufferTargetDelay) / s.jitterBufferEmittedCount,
            processing_ms: (1000 * s.totalProcessingDelay) / s.framesDecoded,
            assembly_ms: s.framesAssembledFromMultiplePackets
              ? (1000 * s.totalAssemblyTime) / s.framesAssembledFromMultiplePackets
              : null,
            frames_dropped: s.framesDropped, packets_lost: s.packetsLost,
          });
        }
        if (s.type === 'outbound-rtp' && s.framesEncoded) {
          out.push({
            dir: 'out', codec, size: `${s.frameWidth}x${s.frameHeight}`, fps: s.framesPerSecond,
            encode_ms: (1000 * s.totalEncodeTime) / s.framesEncoded,
            quality_limitation: s.qualityLimitationReason, target_kbps: s.targetBitrate / 1000,
          });
        }
      }
    }
    return out;
  });

/**
 * Closes the app hosts of every mode but `keep`: each measurement runs with exactly one host
 * encoding on the machine, whatever ran before it (like for like).
 */
async function onlyHost(env, keep) {
  for (const [mode, host] of Object.entries(env.hosts ?? {})) {
    if (mode === keep) continue;
    await host.page.context().close();
    delete env.hosts[mode];
  }
}

async function measureG2g(env, variant, frames = FRAMES) {
  await onlyHost(env, variant.floor ? null : variant.mode ?? 'p2p');
  const opened = await variant.open(env);
  try {
    const r = await collect(opened.page, variant.label, frames);
    const e2ee = await e2eeState(opened.page);
    // A floor of two pages: its sending worker's rejections count too.
    const sent = opened.sendPage ? await e2eeState(opened.sendPage) : null;
    if (sent?.rejected.length) throw new Error(`${variant.label}: sending worker rejected ${sent.rejected}`);
    if (e2ee) {
      // Frames that were read went through the workers (the sender drops what it cannot
      // encrypt, the decoder cannot decode SFrame); still, the receiver must have said `ok`.
      if (e2ee.rejected.length) throw new Error(`${variant.label}: worker rejected ${e2ee.rejected}`);
      if (!e2ee.states.includes('ok')) {
        throw new Error(`${variant.label}: the receiving worker never reported ok (${e2ee.states})`);
      }
      r.e2ee = e2ee;
    }
    const stats = [...(await rtpStats(opened.page))];
    const host = variant.floor ? null : env.hosts?.[variant.mode ?? 'p2p'];
    // The page that sends: the app's host, a two-page floor's sender, or the floor's one page.
    const sendPage = host?.page ?? opened.sendPage ?? null;
    if (sendPage) stats.push(...(await rtpStats(sendPage)));
    // What each side really used: the floor's one page, or the sending page (send) and the
    // receiving one (receive).
    const here = await readSettings(opened.page);
    r.settings = flat(sendPage ? { send: (await readSettings(sendPage)).send, receive: here.receive } : here);
    if (host) {
      // The app's frames were encrypted: both pages' workers say so (the host's badge is `ok`
      // only after its worker encrypted and sent frames; the viewer's after it decrypted).
      const words = { host: await e2eeWord(host.page), viewer: await e2eeWord(opened.page) };
      if (words.host !== 'ok' || words.viewer !== 'ok') {
        throw new Error(`${variant.label}: frames not shown as end-to-end encrypted (e2ee-state ${JSON.stringify(words)})`);
      }
      r.e2ee = { verified: words };
    }
    const errors = [...opened.page.errors, ...(sendPage?.errors ?? [])];
    return { ...r, stats, errors };
  } finally {
    await opened.close();
  }
}

/**
 * One variant's rounds as one measurement: samples and counts together, each round's own
 * samples kept (`rounds`), stats per round; a round whose settings differ from the first's fails
 * the variant (its frames would not be like the others').
 */
function joinRounds(sofar, r, label) {
  const round = { frames: r.samples.length, ms_p50: percentiles('x', r.samples, [50]).x_p50 };
  if (!sofar) return { ...r, stats: [r.stats], rounds: [round] };
  const diff = differences(r.settings, sofar.settings);
  if (diff.length) throw new Error(`${label}: settings changed between rounds (${diff.join('; ')})`);
  const resolutions = { ...sofar.resolutions };
  for (const [k, n] of Object.entries(r.resolutions)) resolutions[k] = (resolutions[k] ?? 0) + n;
  return {
    ...sofar,
    samples: [...sofar.samples, ...r.samples],
    resolutions,
    frames: sofar.frames + r.frames,
    unreadable: sofar.unreadable + r.unreadable,
    repeated: sofar.repeated + r.repeated,
    stats: [...sofar.stats, r.stats],
    errors: [...sofar.errors, ...r.errors],
    rounds: [...sofar.rounds, round],
  };
}

/** `f` of two variants' p50s round by round (the rounds both completed). */
const pairRounds = (a, b, f) =>
  a.rounds.slice(0, Math.min(a.rounds.length, b.rounds.length)).map((x, i) => f(x.ms_p50, b.rounds[i].ms_p50));

async function ttffRun(env, link, returning = null) {
  const host = DETAIL ? env.ttffHost : null;
  const context = returning ?? (await firstVisitContext(env));
  const page = await context.newPage();
  try {
    if (SIGNAL_DELAY_MS > 0) await delaySignaling(page, SIGNAL_DELAY_MS);
    if (!returning && !opts['fresh-profile']) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.clearBrowserCache');
      await cdp.send('Network.clearBrowserCookies');
      await cdp.send('Storage.clearDataForOrigin', { origin: new URL(link).origin, storageTypes: 'all' });
      await cdp.detach();
    }
    if (DOWNLOAD_MBPS > 0 || RTT_MS > 0) {
      // Stays attached for the visit (emulation ends with the session).
      const net = await context.newCDPSession(page);
      await net.send('Network.enable');
      const bytesPerSecond = DOWNLOAD_MBPS > 0 ? (DOWNLOAD_MBPS * 1e6) / 8 : -1;
      await net.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: RTT_MS,
        downloadThroughput: bytesPerSecond,
        uploadThroughput: bytesPerSecond,
      });
    }
    // The first frame is reported by a console message (TTFF_HOOK): nothing is evaluated in
    // the page until then.
    const firstFrame = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no first frame within 15 s')), 15_000);
      page.on('console', (m) => {
        if (m.text() === 'pairux:ttff-first') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    // The first full-width frame, or none within 5 s of navigation past the first (`null`).
    const sharpFrame = new Promise((resolve) => {
      page.on('console', (m) => {
        if (m.text() === 'pairux:ttff-sharp') resolve(true);
      });
      firstFrame.then(() => setTimeout(() => resolve(false), 5_000), () => resolve(false));
    });
    let profiler = null;
    if (opts.profile) {
      profiler = await context.newCDPSession(page);
      await profiler.send('Profiler.enable');
      await profiler.send('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.send('Profiler.start');
    }
    const tracing = opts.trace ? { browser: context.browser(), n: (env.traces = (env.traces ?? 0) + 1) } : null;
    if (tracing) {
      await tracing.browser.startTracing(null, {
        path: `${opts.trace}-${tracing.n}.json`,
        categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'toplevel', 'blink', 'loading', 'v8.execute', 'webrtc', 'media'],
      });
    }
    const viewerWorkers = [];
    if (DETAIL) {
      page.on('worker', (w) => {
        viewerWorkers.push(w);
        w.evaluate(WORKER_FRAME_HOOK).catch(() => {});
      });
    }
    const t0 = wallNow();
    await page.goto(link, { waitUntil: 'commit' });
    await firstFrame;
    const sharp = (await sharpFrame) ? await page.evaluate(() => window.__ttff.sharp) : null;
    const first = await page.evaluate(() => window.__ttff.first);
    const start = t0 - (await clockSkew(page));
    let firstFrameBytes = null;
    const { stages, wasmBytes, app } = await page.evaluate(() => {
      const s = { ...window.__ttff.stages };
      let wasmBytes = null;
      for (const e of performance.getEntriesByType('resource')) {
        // The guest app (content-hashed) or the full app: whichever index.html's loader chose.
        if (/\/pairux-(guest-[0-9a-f]+|web)_bg\.wasm$/.test(e.name)) {
          s.wasm_loaded = e.responseEnd;
          wasmBytes = e.transferSize;
        }
        if (e.name.endsWith('/config.json')) s.config_loaded = e.responseEnd;
      }
      // The page itself, and when the app's wasm was asked for and began to arrive.
      const nav = performance.getEntriesByType('navigation')[0];
      if (nav) {
        s.doc_response_end = nav.responseEnd;
        s.dom_interactive = nav.domInteractive;
      }
      for (const e of performance.getEntriesByType('resource')) {
        if (/\/pairux-(guest-[0-9a-f]+|web)_bg\.wasm$/.test(e.name)) {
          s.wasm_request = e.requestStart;
          s.wasm_response_start = e.responseStart;
        }
        if (/\/pairux-(guest-[0-9a-f]+|web)\.js$/.test(e.name)) s.app_js_loaded = e.responseEnd;
      }
      return { stages: s, wasmBytes, app: window.__pairuxApp?.full ? 'full' : 'guest' };
    });
    if (DETAIL && host) {
      // The host's connection to this viewer, on the viewer's axis (ms after its navigation
      // start; one clock for both pages).
      const origin = first.timeOrigin;
      // The one that took this viewer's answer: the host may have made it before the visit
      // (a spare), so its pc_created can come before navigation start. The others (spares not
      // yet taken) stay for the next visit.
      const pcs = await host.evaluate((since) => {
        const used = window.__hostPcs.filter((r) => r.answer_received >= since);
        window.__hostPcs = window.__hostPcs.filter((r) => r.answer_received === undefined);
        return used;
      }, origin);
      for (const [k, v] of Object.entries(pcs.at(-1) ?? {})) stages[`host_${k}`] = v - origin;
      // The first presence change with a join the host heard after this visit began (the
      // viewer's), and the host's first broadcast after it (its offer, or a signal before it).
      const frames = await host.evaluate((since) => {
        const seen = window.__hostWs.filter((f) => f.t >= since);
        window.__hostWs = [];
        return seen;
      }, origin);
      const heard = frames.find((f) => f.presence);
      const sent = heard && frames.find((f) => f.out && f.t >= heard.t);
      if (heard) stages.host_presence_in = heard.t - origin;
      if (sent) stages.host_first_out = sent.t - origin;
      // Exact first frames (WORKER_FRAME_HOOK), matched by RTP timestamp: encoded on the host
      // and out of its encryption, whole at the viewer and out of its decryption.
      const got = firstPipe(await workerPipes(viewerWorkers), origin);
      const [ts, whole] = got?.frames[0] ?? [];
      if (typeof ts === 'number') {
        stages.v_frame_whole = whole - origin;
        const decrypted = got.out.find(([t]) => t === ts);
        if (decrypted) stages.v_frame_decrypted = decrypted[1] - origin;
        // Any of the host's pipes since the visit began that carried that frame.
        const sent = (await workerPipes(host.__workers ?? [])).filter((r) => r.first >= origin);
        const encoded = sent.flatMap((r) => r.frames).find(([t]) => t === ts);
        const out = sent.flatMap((r) => r.out).find(([t]) => t === ts);
        if (encoded) {
          stages.host_frame_encoded = encoded[1] - origin;
          firstFrameBytes = encoded[2];
        }
        if (out) stages.host_frame_sent = out[1] - origin;
      }
    }
    if (tracing) {
      await tracing.browser.stopTracing();
      await writeFile(`${opts.trace}-${tracing.n}-stages.json`, JSON.stringify({ stages, timeOrigin: first.timeOrigin }));
    }
    if (profiler) {
      const { profile } = await profiler.send('Profiler.stop');
      env.profiles = (env.profiles ?? 0) + 1;
      await writeFile(`${opts.profile}-${env.profiles}.json`, JSON.stringify({ profile, stages }));
    }
    // A viewer runs the guest app; a run that did not measured something else.
    if (app !== 'guest') throw new Error(`the viewer ran the ${app} app, not the guest app`);
    return {
      stages,
      // Bytes of the app's wasm that crossed the network (0: from the browser's cache).
      wasm_transfer_bytes: wasmBytes,
      // --detail: the first frame's size as the host's encoder made it.
      first_frame_bytes: firstFrameBytes,
      ms: first.presented - start,
      // The first frame at the pattern's full width (`null`: none within 5 s).
      sharp_ms: sharp ? sharp.presented - start : null,
      from_nav_start_ms: first.presented - first.timeOrigin,
      callback_ms: first.callback - start,
      size: `${first.width}x${first.height}`,
    };
  } finally {
    if (returning || !opts['fresh-profile']) await page.close();
    else await context.close();
  }
}

/** Holds every frame of `page`'s Realtime socket `ms` each way, in order (`--signal-delay-ms`). */
async function delaySignaling(page, ms) {
  await page.routeWebSocket(/\/realtime\/v1\/websocket/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => setTimeout(() => server.send(m), ms));
    server.onMessage((m) => setTimeout(() => ws.send(m), ms));
  });
}

/** The browser context a first visit opens its tab in (see TTFF_KINDS). */
async function firstVisitContext(env) {
  if (opts['fresh-profile']) {
    const context = await env.browser.newContext();
    await context.addInitScript(TTFF_HOOK);
    return context;
  }
  if (!env.visitContext) {
    env.visitContext = await env.browser.newContext();
    await env.visitContext.addInitScript(TTFF_HOOK);
  }
  return env.visitContext;
}

/**
 * A returning person: the same browser profile opened the app before (one visit to the first
 * frame, then long enough on the page — 3 s — for V8 to cache the compiled module beside the
 * HTTP cache's copy of the content-hashed wasm), then opens a new session link.
 */
async function ttffReturningRun(env, link) {
  const context = await env.browser.newContext();
  await context.addInitScript(TTFF_HOOK);
  try {
    const first = await context.newPage();
    await first.goto(link, { waitUntil: 'commit' });
    await first.waitForFunction(() => window.__ttff?.first, null, { timeout: 15_000, polling: 25 });
    await sleep(3000);
    await first.close();
    await sleep(400);
    const run = await ttffRun(env, link, context);
    if (run.wasm_transfer_bytes !== 0) {
      throw new Error(`a returning visit fetched the app's wasm again (${run.wasm_transfer_bytes} bytes): not a returning visit`);
    }
    return run;
  } finally {
    await context.close();
  }
}

async function measureTtff(env, mode = 'p2p', returning = false) {
  await onlyHost(env, mode);
  const host = await appHost(env, mode);
  env.ttffHost = host.page;
  // Each kind of TTFF run may have a host (and session) of its own: the others join whichever
  // session this one measures.
  if (OTHERS > 0 && env.others?.link !== host.link) {
    for (const peer of env.others?.peers ?? []) peer.close();
    const link = parseLink(host.link);
    const joinedAt = Date.now();
    const peers = [];
    let last = null;
    for (let i = 0; i < OTHERS; i++) {
      const signer = new SigningKey();
      last = participantId({ link, signer, joinedAt: joinedAt + i });
      const peer = await rawPeer(env.server.url, link.topic, last);
      peer.track(presenceMeta({ link, role: 'viewer', joinedAt: joinedAt + i, profile: { name: `Other ${i}` }, signer }));
      peers.push(peer);
    }
    env.others = { link: host.link, peers };
    // The host believes them all before the first visit.
    if (last) await host.page.getByTestId(`participant-${last}`).waitFor({ timeout: 15_000 });
  }
  const runs = [];
  // One unrecorded run first: the server's first static responses and the OS page cache.
  for (let i = 0; i <= (returning ? RETURNING_RUNS : RUNS); i++) {
    const run = returning ? await ttffReturningRun(env, host.link) : await ttffRun(env, host.link);
    if (!returning && !(run.wasm_transfer_bytes > 0)) {
      throw new Error(`a first visit took the app's wasm from a cache (${run.wasm_transfer_bytes} bytes crossed the network): not a first visit`);
    }
    if (i > 0) runs.push(run);
    // Let the host see the viewer leave before the next one joins.
    await sleep(400);
  }
  return runs;
}

/** The p50 of samples `xs`. */
const p50 = (xs) => percentiles('x', xs, [50]).x_p50;

/**
 * `<name>_p50` = `app`'s p50 / `floor`'s, and per round (`<name>_p50_rounds`) — like for like
 * or nothing: where `floor` (`what`) did not run with the app's settings, null and a failure.
 */
function putRatio(figures, failures, name, app, floor, what) {
  const diff = differences(app.settings, floor.settings);
  if (diff.length) {
    figures[`${name}_p50`] = null;
    failures.push(`${name}_p50: ${what} did not run with the app's settings (${diff.join('; ')})`);
    return;
  }
  figures[`${name}_p50`] = Number((p50(app.samples) / p50(floor.samples)).toFixed(3));
  figures[`${name}_p50_rounds`] = pairRounds(app, floor, (a, b) => Number((a / b).toFixed(3)));
}

/** `<name>_ms_p50` = the p50 of the floor with the worker − the plain one's, and per round. */
function putOverhead(figures, name, withWorker, plain) {
  figures[`${name}_ms_p50`] = round1(p50(withWorker.samples) - p50(plain.samples));
  figures[`${name}_ms_p50_rounds`] = pairRounds(withWorker, plain, (a, b) => round1(a - b));
}

async function main() {
  const began = Date.now();
  assertLoopbackOnly('media');
  const env = {
    // Every page's fake microphone plays the voice bench's bursts; sound plays without a click.
    browser: await launchBrowser([
      `--use-file-for-fake-audio-capture=${clicksWav()}`,
      '--autoplay-policy=no-user-gesture-required',
    ]),
    bench: await serveDir(here, { dist: distDir }),
  };
  const figures = {};
  const raw = { started: new Date().toISOString(), load_avg: os.loadavg(), g2g: {}, ttff: null };
  const failures = [];
  const g2g = {};
  try {
    // One unrecorded floor run first: the browser's first peer connection and video pipeline
    // pay start-up costs (processes, code caches) that the first measured variant would
    // otherwise carry alone — it made the plain floor look 5 ms slower than the floor with
    // the worker in one run.
    if (G2G.some((v) => wanted(v.key))) {
      console.error('media bench: warm-up (not recorded) …');
      await measureG2g(env, G2G[0]).catch((err) => console.error(`  warm-up: ${err.message}`));
    }
    // Interleaved rounds: every variant once per round, in the same order, so each one's
    // samples come from the same stretches of the run as the floor's.
    const failed = new Set();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const v of G2G.filter((v) => wanted(v.key) && !failed.has(v.key))) {
        console.error(`media bench: ${v.label} (round ${round}/${ROUNDS}) …`);
        try {
          const r = await measureG2g(env, v, Math.ceil(FRAMES / ROUNDS));
          g2g[v.key] = joinRounds(g2g[v.key], r, v.label);
          raw.g2g[v.key] = g2g[v.key];
          console.error(`  ${r.samples.length} frames; ${JSON.stringify(r.stats)}`);
          if (r.e2ee) console.error(`  E2EE: ${JSON.stringify(r.e2ee)}`);
          if (r.errors.length) console.error(`  page errors: ${r.errors.slice(0, 5).join(' | ')}`);
        } catch (err) {
          failures.push(`${v.key}: ${err.message}`);
          failed.add(v.key);
          delete g2g[v.key];
          delete raw.g2g[v.key];
        }
      }
    }
    for (const mode of opts.sfu ? ['p2p', 'sfu'] : ['p2p']) {
      const key = mode === 'p2p' ? 'audio' : 'audio_sfu';
      if (!wanted(key)) continue;
      console.error(`media bench: mouth-to-ear (host talks, a viewer hears, ${mode}) …`);
      try {
        raw[key] = await measureAudio(env, mode);
      } catch (err) {
        failures.push(`${key}: ${err.message}`);
      }
    }
    const ttffs = {};
    for (const [key, mode, returning] of TTFF_KINDS) {
      if (!wanted(key)) continue;
      console.error(`media bench: TTFF (${key}), ${returning ? RETURNING_RUNS : RUNS} viewers …`);
      try {
        const runs = await measureTtff(env, mode, returning);
        ttffs[key] = runs;
        raw[key] = runs;
        const names = [...new Set(runs.flatMap((r) => Object.keys(r.stages)))];
        const median = (n) => percentiles('x', runs.map((r) => r.stages[n]).filter((x) => x !== undefined), [50]).x_p50;
        const line = names.map((n) => [n, median(n)]).sort((a, b) => a[1] - b[1]);
        console.error(`  median ms after navigation start: ${line.map(([n, m]) => `${n} ${m}`).join(', ')}`);
        // Where the first frame's time went, in the figures too (ms after navigation start,
        // in the order reached; the stages --detail adds are there only with it).
        figures[`${key}_stages_ms_p50`] = Object.fromEntries(line);
        const bytes = runs.map((r) => r.first_frame_bytes).filter((b) => typeof b === 'number');
        if (bytes.length) {
          figures[`${key}_first_frame_bytes_p50`] = percentiles('x', bytes, [50]).x_p50;
          console.error(`  first frame (host's encoder): ${figures[`${key}_first_frame_bytes_p50`]} bytes (median of ${bytes.length})`);
        }
        // Viewers that left should not keep the host encoding for them.
        await sleep(1000);
        raw[`host_open_pcs_after_${key}`] = await env.hosts[mode].page.evaluate(
          () => window.__pcs.filter((pc) => pc.connectionState !== 'closed').length,
        );
        console.error(`  host peer connections still open after the runs: ${raw[`host_open_pcs_after_${key}`]}`);
      } catch (err) {
        failures.push(`${key}: ${err.message}`);
      }
    }

    for (const [key] of TTFF_KINDS) {
      const runs = ttffs[key];
      if (runs) {
        Object.assign(figures, percentiles(`${key}_ms`, runs.map((r) => r.ms), [50, 95]));
        figures[`${key}_runs`] = runs.length;
        // Until text is readable: the first frame at full width, in every run or not at all.
        const sharp = runs.map((r) => r.sharp_ms);
        if (sharp.every((x) => typeof x === 'number')) {
          Object.assign(figures, percentiles(`${key}_sharp_ms`, sharp, [50, 95]));
        } else {
          figures[`${key}_sharp_ms_p50`] = null;
          figures[`${key}_sharp_ms_p95`] = null;
          failures.push(`${key}: no full-width frame within 5 s in ${sharp.filter((x) => x === null).length} of ${runs.length} runs`);
        }
      } else if (wanted(key)) {
        // Not measured: null, and the bench fails (above).
        figures[`${key}_ms_p50`] = null;
        figures[`${key}_ms_p95`] = null;
        figures[`${key}_sharp_ms_p50`] = null;
        figures[`${key}_sharp_ms_p95`] = null;
      }
    }
    const floor = g2g.g2g_floor;
    for (const v of G2G) {
      const r = g2g[v.key];
      if (!r) {
        // Asked for and not measured (it failed in some round: failures says why): null.
        if (wanted(v.key)) {
          for (const f of ['ms_p50', 'ms_p95', 'ms_p99', 'frames', 'ms_p50_rounds', 'resolution']) {
            figures[`${v.key}_${f}`] = null;
          }
          if (!v.floor) figures[`${v.key}_ratio_p50`] = null;
        }
        continue;
      }
      Object.assign(figures, percentiles(`${v.key}_ms`, r.samples, [50, 95, 99]));
      figures[`${v.key}_frames`] = r.samples.length;
      // Each round's own p50: how far the figure moved within this run.
      figures[`${v.key}_ms_p50_rounds`] = r.rounds.map((x) => x.ms_p50);
      figures[`${v.key}_resolution`] = mostFrequent(r.resolutions);
      // The floor was asked for and failed (failures says why): no ratio to give.
      if (!v.floor && !floor && wanted('g2g_floor')) figures[`${v.key}_ratio_p50`] = null;
      if (!v.floor && floor) {
        putRatio(figures, failures, `${v.key}_ratio`, r, floor, 'the floor');
      }
    }
    if (g2g.g2g) figures.settings_app = g2g.g2g.settings;
    if (SIGNAL_DELAY_MS > 0) figures.ttff_signal_delay_ms_each_way = SIGNAL_DELAY_MS;
    if (DETAIL) figures.ttff_detail = true;
    if (DOWNLOAD_MBPS > 0) figures.ttff_download_mbps = DOWNLOAD_MBPS;
    if (RTT_MS > 0) figures.ttff_rtt_ms = RTT_MS;
    if (OTHERS > 0) figures.ttff_other_participants = OTHERS;
    if (floor) figures.settings_floor = floor.settings;
    // The app encrypts every session: its figures are the E2EE ones, under their own names too.
    if (g2g.g2g && g2g.g2g_relay) {
      figures.g2g_relay_minus_direct_ms_p50 = round1(p50(g2g.g2g_relay.samples) - p50(g2g.g2g.samples));
    }
    if (g2g.g2g && g2g.g2g_sfu) {
      figures.g2g_sfu_minus_p2p_ms_p50 = round1(p50(g2g.g2g_sfu.samples) - p50(g2g.g2g.samples));
    }
    if (g2g.g2g) {
      Object.assign(figures, percentiles('g2g_e2ee_ms', g2g.g2g.samples, [50, 95, 99]));
      figures.g2g_e2ee_frames = g2g.g2g.samples.length;
    }
    if (wanted('g2g_floor_e2ee') && !(floor && g2g.g2g_floor_e2ee)) {
      figures.e2ee_overhead_ms_p50 = null;
      figures.e2ee_overhead_ms_p50_rounds = null;
    }
    if (floor && g2g.g2g_floor_e2ee) {
      putOverhead(figures, 'e2ee_overhead', g2g.g2g_floor_e2ee, floor);
      // Split by the pass-through floor: what any encoded transform costs in Chrome (the
      // receiver's jitter buffer grows with one), and what our SFrame work adds on top.
      if (g2g.g2g_floor_passthrough) {
        const through = p50(g2g.g2g_floor_passthrough.samples);
        figures.e2ee_transform_ms_p50 = round1(through - p50(floor.samples));
        figures.e2ee_crypto_ms_p50 = round1(p50(g2g.g2g_floor_e2ee.samples) - through);
      }
    }
    // The floors' earlier form (both peers in one page), beside: its ratio and E2EE overhead.
    const onePage = g2g.g2g_floor_one_page;
    if (onePage && g2g.g2g) {
      putRatio(figures, failures, 'g2g_ratio_one_page', g2g.g2g, onePage, 'the one-page floor');
    } else if (wanted('g2g_floor_one_page') && wanted('g2g')) figures.g2g_ratio_one_page_p50 = null;
    if (onePage && g2g.g2g_floor_one_page_e2ee) {
      putOverhead(figures, 'e2ee_overhead_one_page', g2g.g2g_floor_one_page_e2ee, onePage);
    } else if (wanted('g2g_floor_one_page') && wanted('g2g_floor_one_page_e2ee')) figures.e2ee_overhead_one_page_ms_p50 = null;
    for (const key of opts.sfu ? ['audio', 'audio_sfu'] : ['audio']) {
      if (raw[key]) {
        Object.assign(figures, percentiles(`${key}_ms`, raw[key].delays, [50, 95]));
        figures[`${key}_bursts`] = raw[key].delays.length;
      } else if (wanted(key)) {
        // Not measured: null, and the bench fails (above).
        figures[`${key}_ms_p50`] = null;
        figures[`${key}_ms_p95`] = null;
      }
    }
    if (g2g.g2g && g2g.g2g_voice) {
      figures.g2g_voice_minus_silent_ms_p50 = round1(p50(g2g.g2g_voice.samples) - p50(g2g.g2g.samples));
    }
    figures.load_avg_1m = round1(raw.load_avg[0]);

    await mkdir(path.dirname(opts.out), { recursive: true });
    await writeFile(opts.out, `${JSON.stringify(figures, null, 2)}\n`);
    await writeFile(opts.out.replace(/\.json$/, '') + '-samples.json', `${JSON.stringify(raw)}\n`);
    const caption =
      `PairUX media bench ${raw.started}, 1280×720 @ 30 fps VP8, loopback, ` +
      `load avg ${raw.load_avg.map((x) => x.toFixed(2)).join(' ')}`;
    const panels = [
      {
        title: 'Glass-to-glass latency (CDF)',
        unit: 'ms, time code in the pixels → frame decoded at the receiver',
        series: G2G.filter((v) => g2g[v.key]).map((v) => ({ label: v.label, values: g2g[v.key].samples })),
        marks: [{ x: 50, label: 'target p50' }, { x: 100, label: 'target p95' }],
      },
    ];
    if (Object.keys(ttffs).length) {
      panels.push({
        title: 'Time to first frame (CDF)',
        unit: 'ms, viewer opens the link → first presented frame',
        series: Object.entries(ttffs).map(([key, runs]) => ({
          label: { ttff: 'app P2P viewer', ttff_sfu: 'app SFU viewer (via Janus)', ttff_returning: 'app P2P viewer, returning' }[key],
          values: runs.map((r) => r.ms),
        })),
        marks: [{ x: 500, label: 'target p50' }],
      });
    }
    await mkdir(path.dirname(opts.png), { recursive: true });
    await renderPng(env.browser, svg(panels, caption), opts.png);
  } finally {
    for (const peer of env.others?.peers ?? []) peer.close();
    await env.browser.close().catch(() => {});
    await env.server?.stop();
    await env.relayServer?.stop();
    for (const dir of [env.runDir, env.relayRunDir]) if (dir) await rm(dir, { recursive: true, force: true });
    await env.bench.close();
  }
  console.error(`media bench: done in ${((Date.now() - began) / 1000).toFixed(0)} s`);
  if (failures.length) {
    for (const f of failures) console.error(`media bench: FAILED ${f}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(`media bench: ${err.stack ?? err}`);
  process.exit(1);
});
