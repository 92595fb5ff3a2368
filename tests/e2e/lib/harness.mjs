// Shared harness for the browser journeys: a real pairux-server serving the release build, and
// headless Debian Chromium driven by playwright-core.
//
// `cargo xtask test` runs these inside a loopback-only network namespace (PAIRUX_IN_NETNS=1), so
// WebRTC candidates can only be loopback. Run by hand with `cargo xtask test --only e2e`.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const serverBin =
  process.env.PAIRUX_SERVER_BIN ?? path.join(root, 'target/native/pairux-server');
export const distDir = process.env.PAIRUX_DIST ?? path.join(root, 'dist');

/** Chromium flags verified on this machine kind (toolchain.md). */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--auto-accept-this-tab-capture',
  '--auto-select-desktop-capture-source=Entire screen',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts pairux-server on a free loopback port. `restart()` stops it and starts it again on
 * the same port with the same secret (pages that are open keep a valid anon key).
 */
export async function startServer({ secret = randomBytes(32).toString('hex'), args = [] } = {}) {
  if (!existsSync(serverBin)) throw new Error(`no server binary at ${serverBin} (cargo xtask build)`);
  if (!existsSync(path.join(distDir, 'index.html'))) throw new Error(`no app build in ${distDir}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child;
  let log = '';
  const start = async () => {
    child = spawn(
      serverBin,
      // --exit-with-parent: a test or bench process that dies (or exits on a give-up timer)
      // leaves no server, Janus or coturn behind.
      ['--listen', `127.0.0.1:${port}`, '--static', distDir, '--exit-with-parent', ...args],
      { env: { ...process.env, PAIRUX_JWT_SECRET: secret, RUST_LOG: 'pairux_server=warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout.on('data', (d) => { log += d; });
    child.stderr.on('data', (d) => { log += d; });
    await waitForHealth(url, child, () => log);
  };
  const stop = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return { url, port, secret, stop, restart: async () => { await stop(); await start(); }, log: () => log };
}

async function waitForHealth(url, child, log) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`pairux-server exited early:\n${log()}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pairux-server did not become healthy:\n${log()}`);
}

/** Headless Debian Chromium (`extraArgs`: more flags, e.g. a fake microphone's file). */
export async function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [...chromiumArgs, ...extraArgs],
  });
}

/**
 * A new page (in a context of its own, made with `contextOptions`) whose console errors and
 * page errors are collected in `page.errors`.
 */
export async function newPage(browser, contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.errors.push(msg.text());
  });
  return page;
}

/**
 * The host's capture ends as Chrome's "Stop sharing" ends it: its preview's track (any track of
 * the capture ending ends it all) stops and fires `ended`.
 */
export async function stopSharing(host) {
  await host.evaluate(() => {
    const track = document.querySelector('[data-testid=local-preview]').srcObject.getVideoTracks()[0];
    track.stop();
    track.dispatchEvent(new Event('ended'));
  });
}

/** Loads a URL and waits until the Leptos app has mounted. */
export async function openApp(page, url) {
  await page.goto(url);
  await page.waitForSelector('.app', { timeout: 15_000 });
}

/**
 * One server and one browser for a test file: registers `before`/`after` hooks and returns
 * an object whose `server` and `browser` are set once the hooks have run.
 */
export function useStack(serverOptions, browserArgs = []) {
  const stack = { server: undefined, browser: undefined };
  before(async () => {
    stack.server = await startServer(serverOptions);
    stack.browser = await launchBrowser(typeof browserArgs === 'function' ? browserArgs() : browserArgs);
  });
  after(async () => {
    await stack.browser?.close();
    await stack.server?.stop();
  });
  return stack;
}

/** The participant id of the page's own person (from its participant list). */
export async function myId(page) {
  const testid = await page.locator('[data-testid=participant-list] > li.me').getAttribute('data-testid');
  return testid.replace('participant-', '');
}

/** Waits until the page's remote video has decoded more than `minFrames` frames. */
export async function decoding(page, { minFrames = 2, timeout = 20_000 } = {}) {
  await page.waitForFunction((n) => {
    const v = document.querySelector('[data-testid=remote-video]');
    return v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > n;
  }, minFrames, { timeout });
}

/**
 * An init script: keeps every data channel the page receives in `window.__channels`, and what
 * the page's own code sends and receives on them in `window.__sent` / `window.__received`
 * (`{ label, data }`; messages a test sends through `window.__channels` are in `__sent` too).
 */
export function recordChannels() {
  const Orig = window.RTCPeerConnection;
  window.__channels = [];
  window.__sent = [];
  window.__received = [];
  window.RTCPeerConnection = class extends Orig {
    constructor(...args) {
      super(...args);
      this.addEventListener('datachannel', (e) => {
        const ch = e.channel;
        window.__channels.push(ch);
        ch.addEventListener('message', (m) => window.__received.push({ label: ch.label, data: m.data }));
        const send = ch.send.bind(ch);
        ch.send = (data) => {
          window.__sent.push({ label: ch.label, data });
          send(data);
        };
      });
    }
  };
}

/** The `t` of each JSON control message in `records` on the reliable channel (others skipped). */
export function controlTypes(records) {
  return records.filter((r) => r.label === 'pairux' && typeof r.data === 'string').map((r) => {
    try {
      return JSON.parse(r.data).t;
    } catch {
      return null;
    }
  });
}

/**
 * A sentinel on a guest's reliable control channel (recorded with `recordChannels`): sends a
 * ping and waits for the host's pong to it. The channel is ordered and the host handles each
 * message to the end before the next, so once the pong is here the host has handled everything
 * this page sent on the channel before the ping — a negative can be asserted then, not after a
 * sleep. (Pings are rate limited to a burst of 4.)
 */
export async function roundTrip(page, { timeout = 10_000 } = {}) {
  const id = await page.evaluate(() => {
    const ch = window.__channels.find((c) => c.label === 'pairux' && c.readyState === 'open');
    if (!ch) throw new Error('no open control channel recorded');
    const n = 1_000_000 + Math.floor(Math.random() * 1_000_000);
    ch.send(JSON.stringify({ v: 1, t: 'ping', id: n, ts: 0 }));
    return n;
  });
  await page.waitForFunction(
    (n) => window.__received.some((r) => {
      try {
        const m = JSON.parse(r.data);
        return m.t === 'pong' && m.id === n;
      } catch {
        return false;
      }
    }),
    id,
    { timeout },
  );
}

/**
 * An init script: keeps every peer connection the page makes in `window.__pcs`, each with the
 * document's `readyState` when it was made (`__madeWhile`).
 */
export function recordPeers() {
  const Orig = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Orig {
    constructor(...args) {
      super(...args);
      this.__madeWhile = document.readyState;
      window.__pcs.push(this);
    }
  };
}

/**
 * Where a guest's picture comes from, measured (both pages recorded with `recordPeers`): `p2p`
 * when every connection the guest decodes video on ends at one of the host page's own
 * connections (its remote DTLS fingerprint is the host's local one), `sfu` when none does
 * (the only other sender is the SFU), `null` when the guest decodes on no connection.
 */
export async function pictureSource(guest, host) {
  const fingerprints = (sdp) => (sdp ?? '').split(/\r?\n/).filter((l) => l.startsWith('a=fingerprint:'));
  const remote = await guest.evaluate(async () => {
    const out = [];
    for (const pc of window.__pcs) {
      let decoded = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') decoded += s.framesDecoded ?? 0;
      });
      if (decoded > 0) out.push(pc.remoteDescription?.sdp ?? '');
    }
    return out;
  });
  const local = (await host.evaluate(() => window.__pcs.map((pc) => pc.localDescription?.sdp ?? '')))
    .flatMap(fingerprints);
  const direct = remote.map((sdp) => {
    const fp = fingerprints(sdp);
    return fp.length > 0 && fp.every((f) => local.includes(f));
  });
  if (direct.length === 0) return null;
  if (direct.every(Boolean)) return 'p2p';
  if (!direct.some(Boolean)) return 'sfu';
  return 'mixed';
}

/** The shared picture's rectangle on a guest's page (the video is object-fit: contain). */
export async function pictureRect(page) {
  return page.evaluate(() => {
    const v = document.querySelector('[data-testid=remote-video]');
    const r = v.getBoundingClientRect();
    const scale = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
    const w = v.videoWidth * scale;
    const h = v.videoHeight * scale;
    return { x: r.x + (r.width - w) / 2, y: r.y + (r.height - h) / 2, w, h };
  });
}

/**
 * `host` grants `controller` (participant `cid`) control, the controller moves and clicks on
 * its picture, and the host's input log (its diagnostics, opened) names the press.
 */
export async function pressReachesHost(host, controller, cid) {
  await grant(host, controller, cid);
  const r = await pictureRect(controller);
  await controller.mouse.move(r.x + r.w * 0.3, r.y + r.h * 0.3);
  await controller.mouse.click(r.x + r.w * 0.6, r.y + r.h * 0.4);
  await host.locator('[data-testid=diagnostics] > summary').click();
  await host.waitForFunction(
    (id) => [...document.querySelectorAll('[data-testid=sink-log] > li')].some((li) => li.dataset.from === id && li.dataset.kind === 'down'),
    cid,
    { timeout: 10_000 },
  );
}

/** The controller asks for control, the host's toast appears and the host grants it. */
export async function grant(host, controller, cid) {
  await controller.getByTestId('request-control').click();
  assert.equal(await controller.getByTestId('control-state').textContent(), 'requested');
  await host.getByTestId(`control-request-${cid}`).waitFor({ timeout: 10_000 });
  await host.getByTestId(`grant-control-${cid}`).click();
  await controller.locator('[data-testid=control-state]:text-is("granted")').waitFor({ timeout: 10_000 });
}

/**
 * Routes `page`'s Realtime sockets through the test: `page.offline(true)` closes them and
 * refuses new ones until `page.offline(false)`.
 */
export async function routeRealtime(page) {
  let off = false;
  const open = [];
  await page.routeWebSocket(/\/websocket/, (ws) => {
    if (off) {
      ws.close({ code: 1006, reason: 'offline' });
      return;
    }
    open.push({ ws, server: ws.connectToServer() });
  });
  page.offline = async (value) => {
    off = value;
    if (!value) return;
    for (const { ws, server } of open.splice(0)) {
      await server.close();
      await ws.close({ code: 1006, reason: 'offline' });
    }
  };
}
