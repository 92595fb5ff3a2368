// Relay only (`--relay-only`): every connection goes through coturn with the TURN REST
// credentials /api/access granted, P2P and SFU alike.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stackWith, hostSfu, guest, selectedPairs, frames, recordPeers } from './lib/sfu.mjs';
import { newPage, openApp, decoding, myId, pressReachesHost, routeRealtime } from './lib/harness.mjs';
import { until } from './lib/adversary.mjs';

const relay = stackWith(['--sfu-nodes', '1', '--relay-only']);

test('relay only: P2P and SFU sessions decode over a TURN relay', async () => {
  for (const mode of ['mode-p2p', 'mode-sfu']) {
    const host = await hostSfu(relay, mode);
    const viewer = await guest(relay, await host.getByTestId('invite-viewer-link').inputValue());
    const pairs = await selectedPairs(viewer);
    assert.ok(pairs.length >= 1, `${mode}: a connected pair`);
    for (const p of pairs) assert.equal(p.local, 'relay', `${mode}: ${JSON.stringify(pairs)}`);
    await host.context().close();
    await viewer.context().close();
  }
});

test("relay only, peer to peer: every one of the host's connections gets a relay, so its seventh viewer sees the picture too", async () => {
  // coturn gives each TURN username 16 allocations and Chrome makes three per connection here:
  // a page that gave every connection one grant's credentials had none left for the sixth.
  const host = await hostSfu(relay, 'mode-p2p');
  const link = await host.getByTestId('invite-viewer-link').inputValue();
  const viewers = [];
  for (let i = 0; i < 7; i++) {
    const viewer = await guest(relay, link);
    viewers.push(viewer);
    await viewer.evaluate(() => document.querySelector('[data-testid=remote-video]').pause());
  }
  for (const page of [...viewers, host]) await page.context().close();
});

test('a relay that dies mid-session: the picture comes back by itself over new allocations, with words if it takes long', async () => {
  const host = await hostSfu(relay, 'mode-p2p');
  const viewer = await guest(relay, await host.getByTestId('invite-viewer-link').inputValue());
  const pidFile = path.join(relay.runDir, 'turnserver.pid');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  // Every sentence the viewer is shown about its media, however briefly (under load the host's
  // ICE restart can bring the picture back within a frame or two of the message appearing).
  await viewer.evaluate(() => {
    window.__problems = [];
    const seen = () => {
      const el = document.querySelector('[data-testid=media-problem]');
      if (el && el.textContent !== window.__problems.at(-1)) window.__problems.push(el.textContent);
    };
    new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  const allocations = async () => (await selectedPairs(viewer)).map((p) => p.at).join(' ');
  const before = await allocations();
  assert.ok(before, 'a connected relay pair before the kill');
  // The allocations die with coturn; pairux-server starts a new one a second later. Then
  // either the outage outlasts ICE's patience — the viewer is told, and the host's ICE restart
  // brings the picture back — or the browsers allocate again on the new coturn and find each
  // other before that (Chrome gathers continually; the new candidates trickle). Either way the
  // picture moves again over new allocations; a sentence, if shown, says what happens.
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 40_000;
  let healed = false;
  while (Date.now() < deadline) {
    if ((await viewer.evaluate(() => window.__problems.length)) > 0) break;
    const now = await allocations();
    if (now && now !== before) {
      healed = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const told = await viewer.evaluate(() => window.__problems);
  if (!healed && told.length === 0) {
    const states = await viewer.evaluate(() => (window.__pcs ?? []).map((pc) => pc.connectionState));
    assert.fail(`within 40 s of the kill neither a media sentence nor new allocations (peer connections: ${states}; relay ${before})`);
  }
  if (told.length > 0) {
    assert.match(told[0], /Reconnecting video|Can't reach the host/);
    await viewer.getByTestId('media-problem').waitFor({ state: 'detached', timeout: 40_000 });
  }
  const start = await frames(viewer);
  await viewer.waitForFunction(
    (n) => document.querySelector('[data-testid=remote-video]').getVideoPlaybackQuality().totalVideoFrames > n + 10,
    start,
    { timeout: 20_000 },
  );
  const after = await allocations();
  assert.ok(after && after !== before, `the picture moves over new allocations (before ${before}, after ${after})`);
  const pairs = await selectedPairs(viewer);
  for (const p of pairs) assert.equal(p.local, 'relay', JSON.stringify(pairs));
  await host.context().close();
  await viewer.context().close();
});

function coturnPid(stack) {
  return Number(readFileSync(path.join(stack.runDir, 'turnserver.pid'), 'utf8').trim());
}

/** Waits until `page`'s video has presented 10 frames more than it had. */
async function movesAgain(page, timeout) {
  const start = await frames(page);
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid=remote-video]').getVideoPlaybackQuality().totalVideoFrames > n + 10,
    start,
    { timeout },
  );
}

/**
 * A guest whose Realtime socket passes through the test, which can hold back the signals
 * broadcast to it (`page.dropSignals(true)`), presence and everything else passing on.
 */
async function signalDroppingGuest(stack, link) {
  const page = await newPage(stack.browser);
  await page.addInitScript(recordPeers);
  let dropping = false;
  page.dropped = 0;
  await page.routeWebSocket(/\/websocket/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((message) => {
      // Broadcasts come as binary frames (vsn 2.0.0, kind 4): topic, event, then the payload.
      if (dropping && typeof message !== 'string' && message.toString('latin1').includes('signal{"from"')) {
        page.dropped += 1;
        return;
      }
      ws.send(message);
    });
    ws.onMessage((message) => server.send(message));
  });
  page.dropSignals = (value) => { dropping = value; };
  await openApp(page, link);
  await decoding(page, { timeout: 30_000 });
  return page;
}

test("an ICE-restart offer that never reached the guest does not leave the host's connection unable to negotiate again: the microphone turned on later reaches it", async () => {
  const host = await hostSfu(relay, 'mode-p2p');
  const viewer = await signalDroppingGuest(relay, await host.getByTestId('invite-viewer-link').inputValue());
  const pid = coturnPid(relay);
  process.kill(pid, 'SIGSTOP');
  let index;
  try {
    viewer.dropSignals(true);
    // The connection goes down; the host restarts ICE and its offer is lost on the way.
    const lost = await host.waitForFunction(
      () => 1 + window.__pcs.findIndex((pc) => pc.signalingState === 'have-local-offer' && pc.connectionState !== 'new'),
      null,
      { timeout: 30_000 },
    );
    index = (await lost.jsonValue()) - 1;
    // The offer is in the host's page now; on its way through the server it is dropped.
    await until('the offer to be held back', () => viewer.dropped > 0, 10_000);
    viewer.dropSignals(false);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  // The path comes back by itself; the offer nobody answered is taken back, so the
  // connection can negotiate again.
  await host.waitForFunction(
    (i) => window.__pcs[i].connectionState === 'connected' && window.__pcs[i].signalingState === 'stable',
    index,
    { timeout: 40_000 },
  );
  await host.getByTestId('mic-toggle').click();
  await host.waitForFunction(
    (i) => window.__pcs[i].signalingState === 'stable'
      && window.__pcs[i].getTransceivers().some((t) => t.sender.track?.kind === 'audio' && /send/.test(t.currentDirection ?? '')),
    index,
    { timeout: 15_000 },
  );
  await viewer.waitForFunction(
    () => window.__pcs.some((pc) => pc.getTransceivers()
      .some((t) => t.receiver.track.kind === 'audio' && /recv/.test(t.currentDirection ?? ''))),
    null,
    { timeout: 5_000 },
  );
  await host.context().close();
  await viewer.context().close();
});

/** A guest whose Realtime socket passes through the test (`routeRealtime`). */
async function routedGuest(stack, link) {
  const page = await newPage(stack.browser);
  await page.addInitScript(recordPeers);
  await routeRealtime(page);
  await openApp(page, link);
  await decoding(page, { timeout: 30_000 });
  return page;
}

test("a controller away from the session while its connection was down drives again when it is back, on the host's new connection", async () => {
  const host = await hostSfu(relay, 'mode-p2p');
  const link = await host.getByTestId('invite-controller-link').inputValue();
  const controller = await routedGuest(relay, link);
  const cid = await myId(controller);
  const pid = coturnPid(relay);
  process.kill(pid, 'SIGSTOP');
  try {
    // The connection goes down on both sides…
    await controller.getByTestId('media-problem').waitFor({ timeout: 20_000 });
    // (The host's other connection is the one it keeps ready for the next participant.)
    const down = await host.waitForFunction(
      () => 1 + window.__pcs.findIndex((pc) => ['disconnected', 'failed'].includes(pc.connectionState)),
      null,
      { timeout: 20_000 },
    );
    const index = (await down.jsonValue()) - 1;
    // …and the controller's page loses its signaling too (a laptop closed, a train tunnel):
    // gone from presence with its connection down, so the host closes that connection.
    await controller.offline(true);
    await host.waitForFunction((i) => window.__pcs[i].connectionState === 'closed', index, { timeout: 30_000 });
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  const before = await controller.evaluate(() => window.__pcs.length);
  await controller.offline(false);
  // Back: the host admits it again on a new connection, the controller answers on a new one
  // of its own, and control works over it.
  try {
    await controller.getByTestId('media-problem').waitFor({ state: 'detached', timeout: 30_000 });
    await movesAgain(controller, 15_000);
    await pressReachesHost(host, controller, cid);
  } catch (err) {
    const seen = await controller.evaluate(() => ({
      pcs: window.__pcs.map((pc) => `${pc.connectionState}/${pc.signalingState}`),
      control: document.querySelector('[data-testid=control-state]')?.textContent,
      text: document.body.innerText.slice(0, 400),
    }));
    const hostPcs = await host.evaluate(() => window.__pcs.map((pc) => `${pc.connectionState}/${pc.signalingState}`));
    console.log('AWAY-DIAG', JSON.stringify({ seen, hostPcs }));
    throw err;
  }
  const pcs = await controller.evaluate(() => window.__pcs.map((pc) => pc.connectionState));
  assert.ok(pcs.length > before && pcs.at(-1) === 'connected', `a new connection (${pcs})`);
  await host.context().close();
  await controller.context().close();
});

/** A host sharing the pattern peer to peer, its Realtime socket through the test. */
async function routedHost(stack) {
  const page = await newPage(stack.browser);
  await page.addInitScript(recordPeers);
  await routeRealtime(page);
  await openApp(page, stack.server.url);
  await page.getByTestId('mode-p2p').check();
  await page.getByTestId('start-test-pattern').click();
  return page;
}

test('a host away from the session while the connections were down (a laptop closed) is taken back when it returns, and control works again', async () => {
  const host = await routedHost(relay);
  const link = await host.getByTestId('invite-controller-link').inputValue();
  const controller = await guest(relay, link);
  const cid = await myId(controller);
  const pid = coturnPid(relay);
  process.kill(pid, 'SIGSTOP');
  try {
    await controller.getByTestId('media-problem').waitFor({ timeout: 20_000 });
    // Gone from presence with the connection down: the controller is told the host left.
    await host.offline(true);
    await controller.locator('[data-testid=session-ended][data-reason=left]').waitFor({ timeout: 20_000 });
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await host.offline(false);
  // The same host (the same participant: its page never went) is back: taken back, not "left".
  await controller.locator('[data-testid=session-ended]').waitFor({ state: 'detached', timeout: 30_000 });
  await controller.getByTestId('media-problem').waitFor({ state: 'detached', timeout: 30_000 });
  await movesAgain(controller, 15_000);
  await pressReachesHost(host, controller, cid);
  await host.context().close();
  await controller.context().close();
});
