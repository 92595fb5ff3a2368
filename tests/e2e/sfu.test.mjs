// SFU journeys: real Janus and coturn started by pairux-server (`--sfu-nodes 1 --turn`), on the
// namespace's veth address (Janus ignores loopback), real Chromium on both ends.
//
// The host publishes the screen once; viewers and a controller receive it from Janus, decrypting
// SFrame end to end; control stays on the controller's direct data-only connection; cursors
// reach viewers through Janus sealed with the room key. Janus refuses anyone without a token,
// and a killed Janus is reported and recovered from.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startServer, launchBrowser, newPage, openApp, myId, decoding, pictureRect, grant } from './lib/harness.mjs';

const MEDIA_IP = process.env.PAIRUX_MEDIA_IP ?? '198.51.100.1';

/** Keeps every RTCPeerConnection the page makes in `window.__pcs`. */
function recordPeers() {
  const Orig = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Orig {
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
    }
  };
}

/** Outbound video streams that have sent bytes, over all the page's open connections. */
async function outboundVideo(page) {
  return page.evaluate(async () => {
    let n = 0;
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      const report = await pc.getStats();
      report.forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video' && s.bytesSent > 0) n += 1; });
    }
    return n;
  });
}

/** Candidate types of every selected pair of the page's connected connections. */
async function selectedPairs(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const pc of window.__pcs) {
      if (pc.connectionState !== 'connected') continue;
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) return;
        const pair = report.get(s.selectedCandidatePairId);
        const local = report.get(pair.localCandidateId);
        const remote = report.get(pair.remoteCandidateId);
        out.push({ local: local.candidateType, remote: remote.candidateType });
      });
    }
    return out;
  });
}

async function frames(page) {
  return page.evaluate(() => document.querySelector('[data-testid=remote-video]').getVideoPlaybackQuality().totalVideoFrames);
}

function stackWith(args) {
  const s = { server: undefined, browser: undefined, runDir: undefined };
  before(async () => {
    s.runDir = mkdtempSync(path.join(tmpdir(), 'pairux-sfu-'));
    s.server = await startServer({ args: ['--media-ip', MEDIA_IP, '--run-dir', s.runDir, ...args] });
    s.browser = await launchBrowser();
  });
  after(async () => {
    await s.browser?.close();
    await s.server?.stop();
    if (s.runDir) rmSync(s.runDir, { recursive: true, force: true });
  });
  return s;
}

async function hostSfu(stack) {
  const host = await newPage(stack.browser);
  await host.addInitScript(recordPeers);
  await openApp(host, stack.server.url);
  await host.getByTestId('mode-sfu').check();
  await host.getByTestId('start-test-pattern').click();
  await host.locator('[data-testid=session-mode]:text-is("sfu")').waitFor({ timeout: 10_000 });
  return host;
}

async function guest(stack, link) {
  const page = await newPage(stack.browser);
  await page.addInitScript(recordPeers);
  await openApp(page, link);
  await decoding(page, { timeout: 30_000 });
  return page;
}

const sfu = stackWith(['--sfu-nodes', '1', '--turn']);

test('SFU: the host publishes once; viewers and a controller decode through Janus; control and cursors work', async () => {
  const host = await hostSfu(sfu);
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  const [v1, v2, controller] = await Promise.all([
    guest(sfu, viewerLink),
    guest(sfu, viewerLink),
    guest(sfu, controllerLink),
  ]);
  for (const page of [v1, v2, controller]) {
    assert.equal(await page.getByTestId('session-mode').textContent(), 'sfu');
    await page.locator('[data-testid=e2ee-state]:text-is("ok")').waitFor({ timeout: 10_000 });
  }
  // One outbound video stream whatever the number of viewers: the publication.
  assert.equal(await outboundVideo(host), 1);
  // Guests receive from Janus: no guest has a connection with the host's video.
  for (const page of [v1, v2]) {
    const pcs = await page.evaluate(() => window.__pcs.filter((pc) => pc.connectionState === 'connected').length);
    assert.equal(pcs, 1, 'a viewer has one live connection, to Janus');
  }

  // Control over the direct data-only connection; input reaches the host's sink.
  const cid = await myId(controller);
  await grant(host, controller, cid);
  const r = await pictureRect(controller);
  await controller.mouse.move(r.x + r.w * 0.25, r.y + r.h * 0.75);
  await controller.mouse.click(r.x + r.w * 0.5, r.y + r.h * 0.5);
  await host.locator('[data-testid=diagnostics] summary').click();
  await host.waitForFunction(
    (id) => [...document.querySelectorAll('[data-testid=sink-log] > li')].some((li) => li.dataset.from === id && li.dataset.kind === 'down'),
    cid,
    { timeout: 10_000 },
  );
  // Viewers (no connection to the host) see the controller's cursor, relayed sealed via Janus.
  await controller.mouse.move(r.x + r.w * 0.6, r.y + r.h * 0.4);
  for (const page of [v1, v2]) {
    await page.getByTestId(`remote-cursor-${cid}`).waitFor({ timeout: 10_000 });
    await page.waitForFunction(
      (id) => Math.abs(Number(document.querySelector(`[data-testid=remote-cursor-${id}]`).dataset.x) - 0.6) < 0.02,
      cid,
      { timeout: 10_000 },
    );
  }
  // Revoke: the cursor goes away for viewers too, and input stops.
  await host.getByTestId(`revoke-control-${cid}`).click();
  await controller.locator('[data-testid=control-state]:text-is("none")').waitFor({ timeout: 10_000 });
  await v1.getByTestId(`remote-cursor-${cid}`).waitFor({ state: 'detached', timeout: 10_000 });

  for (const page of [host, v1, v2, controller]) {
    assert.deepEqual(page.errors.filter((e) => !/favicon/.test(e)), []);
    await page.context().close();
  }
});

test('Janus refuses a client without a valid token, and room creation by clients', async () => {
  const config = await (await fetch(`${sfu.server.url}/config.json`)).json();
  assert.ok(config.sfu?.janusUrl, 'config.json names the SFU');
  const ask = (frame) => new Promise((resolve, reject) => {
    const ws = new WebSocket(config.sfu.janusUrl, 'janus-protocol');
    ws.on('open', () => ws.send(JSON.stringify(frame)));
    ws.on('message', (m) => { resolve(JSON.parse(String(m))); ws.close(); });
    ws.on('error', reject);
  });
  const none = await ask({ janus: 'create', transaction: 'a' });
  assert.equal(none.janus, 'error');
  assert.equal(none.error.code, 403);
  const made = await ask({ janus: 'create', transaction: 'b', token: 'made-up' });
  assert.equal(made.janus, 'error');
  assert.equal(made.error.code, 403);
  // The access endpoint refuses a request not signed by the session's pinned verifier.
  const res = await fetch(`${sfu.server.url}/api/access`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"session":"x"}',
  });
  assert.ok(res.status >= 400 && res.status < 500);
});

test('a Janus killed mid-session is reported and media comes back when it restarts', async () => {
  const host = await hostSfu(sfu);
  const viewer = await guest(sfu, await host.getByTestId('invite-viewer-link').inputValue());
  const pidFile = path.join(sfu.runDir, 'janus-0.pid');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  process.kill(pid, 'SIGKILL');
  await viewer.getByTestId('media-problem').waitFor({ timeout: 15_000 });
  // The server restarts its Janus; the host republishes, the viewer resubscribes by itself.
  await viewer.getByTestId('media-problem').waitFor({ state: 'detached', timeout: 30_000 });
  const before = await frames(viewer);
  await viewer.waitForFunction((n) => document.querySelector('[data-testid=remote-video]').getVideoPlaybackQuality().totalVideoFrames > n + 10, before, { timeout: 20_000 });
  assert.notEqual(Number(readFileSync(pidFile, 'utf8').trim()), pid, 'a new Janus runs');
  await host.context().close();
  await viewer.context().close();
});

const relay = stackWith(['--sfu-nodes', '1', '--relay-only']);

test('relay only: P2P and SFU sessions decode over a TURN relay', async () => {
  for (const mode of ['mode-p2p', 'mode-sfu']) {
    const host = await newPage(relay.browser);
    await host.addInitScript(recordPeers);
    await openApp(host, relay.server.url);
    await host.getByTestId(mode).check();
    await host.getByTestId('start-test-pattern').click();
    const viewer = await guest(relay, await host.getByTestId('invite-viewer-link').inputValue());
    const pairs = await selectedPairs(viewer);
    assert.ok(pairs.length >= 1, `${mode}: a connected pair`);
    for (const p of pairs) assert.equal(p.local, 'relay', `${mode}: ${JSON.stringify(pairs)}`);
    await host.context().close();
    await viewer.context().close();
  }
});
