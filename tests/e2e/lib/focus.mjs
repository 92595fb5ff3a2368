// Probes of the Session Focus journeys and benchmark: what a guest's screen presents, frame by
// frame, while the focus moves its session (P2P → SFU, or off a failed node).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { newPage, openApp, decoding } from './harness.mjs';
import { recordPeers } from './sfu.mjs';

/** A guest page (in `browser`) that records what its screen presents, once it decodes. */
export async function watcher(browser, link, inits = []) {
  const page = await newPage(browser);
  await page.addInitScript(recordPeers);
  await page.addInitScript(recordPresentation);
  for (const init of inits) await page.addInitScript(init);
  await openApp(page, link);
  await decoding(page, { timeout: 30_000 });
  return page;
}

/**
 * Init script: logs every frame presented by the page's `remote-video` element
 * (`requestVideoFrameCallback`) with its time and which MediaStream object it came from, in
 * `window.__presented` (`[{t, stream}]`, at most the last 20,000), and every WebSocket URL the
 * page opens in `window.__sockets`.
 */
export function recordPresentation() {
  window.__presented = [];
  window.__sockets = [];
  const OrigWs = window.WebSocket;
  window.WebSocket = class extends OrigWs {
    constructor(url, ...rest) {
      super(url, ...rest);
      window.__sockets.push(String(url));
    }
  };
  // Stream ids say little (Janus names every stream "janus"): each MediaStream object gets a
  // number of its own.
  const ids = new WeakMap();
  let next = 0;
  const streamId = (stream) => {
    if (!stream) return null;
    if (!ids.has(stream)) ids.set(stream, `s${(next += 1)}`);
    return ids.get(stream);
  };
  // Every video element is watched once; a frame counts when its element is the one that
  // shows the remote picture right then (the app may cover a switch with a second element).
  const watched = new WeakSet();
  const watch = () => {
    for (const v of document.querySelectorAll('video')) {
      if (watched.has(v)) continue;
      watched.add(v);
      // A new source may drop pending callbacks: each load starts a new chain, older ones end.
      let generation = 0;
      const start = () => {
        const mine = ++generation;
        const onFrame = (now) => {
          if (mine !== generation) return;
          if (v.dataset.testid === 'remote-video') {
            const log = window.__presented;
            log.push({ t: performance.timeOrigin + now, stream: streamId(v.srcObject) });
            if (log.length > 20000) log.splice(0, 10000);
          }
          v.requestVideoFrameCallback(onFrame);
        };
        v.requestVideoFrameCallback(onFrame);
      };
      v.addEventListener('loadeddata', start);
      start();
    }
    setTimeout(watch, 50);
  };
  watch();
}

/** The largest gap (ms) between consecutive presented frames at or after `since` (epoch ms). */
export async function largestGap(page, since) {
  return page.evaluate((since) => {
    const log = window.__presented.filter((f) => f.t >= since);
    // Up to now: a picture that froze after its last frame is a gap too.
    const now = performance.timeOrigin + performance.now();
    let max = log.length ? now - log.at(-1).t : now - since;
    for (let i = 1; i < log.length; i += 1) max = Math.max(max, log[i].t - log[i - 1].t);
    return { max, frames: log.length, streams: [...new Set(log.map((f) => f.stream))].length };
  }, since);
}

/** The median interval (ms) between presented frames at or after `since` (epoch ms). */
export async function medianInterval(page, since) {
  return page.evaluate((since) => {
    const t = window.__presented.filter((f) => f.t >= since).map((f) => f.t);
    const d = t.slice(1).map((x, i) => x - t[i]).sort((a, b) => a - b);
    return d.length ? d[Math.floor(d.length / 2)] : null;
  }, since);
}

/**
 * Waits until the page has presented frames of one stream only for `ms` (no switch under way).
 */
export async function settled(page, ms = 1500, timeout = 15_000) {
  await page.waitForFunction(
    (ms) => {
      const log = window.__presented;
      const last = log.at(-1);
      if (!last || performance.timeOrigin + performance.now() - last.t > 500) return false;
      const first = log.findLastIndex((f) => f.stream !== last.stream);
      const since = first < 0 ? log[0].t : log[first + 1].t;
      return last.t - since >= ms;
    },
    ms,
    { timeout, polling: 100 },
  );
}

/** The stream id whose frames the page presents now. */
export async function presentedStream(page) {
  return page.evaluate(() => window.__presented.at(-1)?.stream ?? null);
}

/**
 * Waits until the page presents a frame of a stream other than `old`, after `since` (epoch
 * ms); returns when (epoch ms).
 */
export async function firstFrameOfOtherStream(page, old, since, timeout) {
  const handle = await page.waitForFunction(
    ({ old, since }) => window.__presented.find((f) => f.t >= since && f.stream && f.stream !== old)?.t,
    { old, since },
    { timeout, polling: 20 },
  );
  return handle.jsonValue();
}

/** The Janus node (index) the page talks to: from the WebSocket URLs it opened, the last. */
export async function janusNode(page, portBase = 8188) {
  const urls = await page.evaluate(() => window.__sockets);
  const janus = urls.filter((u) => !u.includes('/realtime/')).at(-1);
  if (!janus) return null;
  return Number(new URL(janus).port) - portBase;
}

/** `kill -9` of node `i`'s Janus (its pid file in the server's run dir); returns when (epoch ms). */
export function killJanus(runDir, i) {
  const pid = Number(readFileSync(path.join(runDir, `janus-${i}.pid`), 'utf8').trim());
  const at = Date.now();
  process.kill(pid, 'SIGKILL');
  return at;
}
