// What the realtime server sees: every WebSocket frame of a session, recorded in the pages,
// carries no key, no DTLS fingerprint, no ICE candidate and no display name.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp, recordChannels, controlTypes, decoding } from './lib/harness.mjs';
import { rawPeer } from './lib/adversary.mjs';
import { parseLink, openSignal } from './lib/wire.mjs';

const stack = useStack();

function record(page, frames) {
  page.on('websocket', (ws) => {
    const keep = (f) => frames.push(typeof f.payload === 'string' ? f.payload : Buffer.from(f.payload).toString('latin1'));
    ws.on('framesent', keep);
    ws.on('framereceived', keep);
  });
}

test('the realtime server relays nothing it could read or tamper with', async () => {
  const frames = [];
  const host = await newPage(stack.browser);
  record(host, frames);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const guests = [];
  for (const link of [viewerLink, controllerLink]) {
    const page = await newPage(stack.browser);
    await page.addInitScript(recordChannels);
    record(page, frames);
    await openApp(page, link);
    await page.waitForFunction(() => {
      const v = document.querySelector('[data-testid=remote-video]');
      return v && v.getVideoPlaybackQuality().totalVideoFrames > 3;
    }, null, { timeout: 20_000 });
    guests.push(page);
  }
  // Everyone sees everyone's name in the app…
  await host.waitForFunction(() => document.querySelectorAll('[data-testid=participant-list] > li').length === 3);
  const names = await host.locator('[data-testid=participant-list] .name').allTextContents();
  assert.equal(names.length, 3);
  // …a control request and grant went over the data channel, not the server: the controller
  // sent its request and received its grant on the channel, and while that happened no frame
  // but heartbeats crossed the server, to or from anyone.
  const controller = guests[1];
  const quiet = frames.length;
  const sentBefore = await controller.evaluate(() => window.__sent.length);
  const receivedBefore = await controller.evaluate(() => window.__received.length);
  await controller.getByTestId('request-control').click();
  await host.locator('[data-testid^=grant-control-]').click({ timeout: 10_000 });
  await controller.locator('[data-testid=control-state]:text-is("granted")').waitFor({ timeout: 10_000 });
  const sent = controlTypes(await controller.evaluate((n) => window.__sent.slice(n), sentBefore));
  const received = controlTypes(await controller.evaluate((n) => window.__received.slice(n), receivedBefore));
  assert.ok(sent.includes('request'), `the controller sent ${sent.join(',')} on its channel`);
  assert.ok(received.includes('grant'), `the controller received ${received.join(',')} on its channel`);
  const during = frames.slice(quiet).filter((f) => !/^\[[^,]*,[^,]*,"phoenix",/.test(f));
  assert.equal(during.length, 0, `frames crossed the server while control was requested and granted: ${during.map((f) => f.slice(0, 100)).join(' | ')}`);
  const roomKey = new URLSearchParams(new URL(viewerLink).hash.slice(1)).get('k');
  const secret = new URLSearchParams(new URL(controllerLink).hash.slice(1)).get('c');

  const all = frames.join('\n');
  assert.ok(frames.length > 20, `recorded ${frames.length} frames`);
  assert.match(all, /realtime:pairux:/, 'the recording saw the session channel');
  assert.match(all, /"sealed"/, 'signaling went through the server, sealed');
  // Nor what kind of message each signal is (offers, refusals, the end, new media keys).
  for (const kind of ['"kind"', '"description"', '"media_key"', '"share"']) {
    assert.ok(!all.includes(kind), `a frame contains ${kind}`);
  }
  for (const needle of [roomKey, secret, 'a=fingerprint', 'fingerprint:', 'candidate:', 'v=0\\r\\n', ...names]) {
    assert.ok(!all.includes(needle), `a frame contains ${JSON.stringify(needle)}`);
  }
  for (const p of [host, ...guests]) await p.context().close();
});

test('a viewer with the wrong key sees "Can\'t decrypt — check the link" and no picture', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const link = new URL(await host.getByTestId('invite-viewer-link').inputValue());
  // Same session and host, another (well-formed) room key.
  const params = new URLSearchParams(link.hash.slice(1));
  link.hash = `#k=${Buffer.alloc(32, 7).toString('base64url')}&h=${params.get('h')}`;
  const viewer = await newPage(stack.browser);
  await openApp(viewer, link.toString());
  const banner = viewer.getByTestId('error-banner');
  await banner.waitFor({ timeout: 15_000 });
  assert.match(await banner.textContent(), /Can't decrypt — check the link/);
  assert.equal(await viewer.getByTestId('e2ee-state').textContent(), 'decrypt-failed');
  assert.equal(await viewer.getByTestId('remote-video').count(), 0);
  // The host never sees the stranger: it has no profile the host can open (counted first).
  await host.waitForFunction(() => Number(document.querySelector('[data-testid=trust-counters]')?.dataset.unreadable) >= 1, null, { timeout: 10_000 });
  assert.equal(await host.locator('[data-testid=participant-list] > li').count(), 1);
  for (const p of [host, viewer]) await p.context().close();
});

test('media is end-to-end encrypted: the viewer decrypts every frame it shows', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-session').click();
  // Nothing was encrypted yet (nobody to send to): the host does not claim "ok".
  assert.equal(await host.getByTestId('e2ee-state').textContent(), 'waiting-key');
  const viewer = await newPage(stack.browser);
  await openApp(viewer, await host.getByTestId('invite-viewer-link').inputValue());
  await viewer.locator('[data-testid=e2ee-state]:text-is("ok")').waitFor({ timeout: 20_000 });
  await viewer.waitForFunction(() => {
    const v = document.querySelector('[data-testid=remote-video]');
    return v && v.videoWidth >= 640 && v.getVideoPlaybackQuality().totalVideoFrames > 10;
  }, null, { timeout: 20_000 });
  // "ok" is reported by the transform worker only for frames that authenticated and
  // decrypted (tests/web_transform.rs shows a wrong key yields decrypt-failed and no frames),
  // and on the host only once its worker encrypted and sent frames.
  assert.equal(await viewer.getByTestId('e2ee-state').textContent(), 'ok');
  await host.locator('[data-testid=e2ee-state]:text-is("ok")').waitFor({ timeout: 10_000 });
  for (const p of [host, viewer]) await p.context().close();
});

test('a link holder who listens reads no description or address meant for someone else', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const link = parseLink(viewerLink);
  // Another holder of the link (the room key) on the channel, tracking no presence: it
  // receives every signal broadcast there, and opens each with the room key.
  const listener = await rawPeer(stack.server.url, link.topic, 'listener');
  const viewer = await newPage(stack.browser);
  await openApp(viewer, viewerLink);
  await decoding(viewer);
  const signals = listener.received
    .filter((m) => m.event === 'broadcast' && m.payload?.event === 'signal')
    .map((m) => m.payload.payload);
  const directed = signals.filter((s) => s.to !== null);
  // The host's offer and the viewer's answer, with their candidates, at least.
  assert.ok(directed.length >= 2, `${directed.length} signals addressed to someone went by`);
  for (const s of directed) {
    const plain = openSignal(link, s).toString('latin1');
    for (const secret of ['v=0', 'fingerprint', 'candidate:', 'typ host', 'ufrag', '127.0.0.1']) {
      assert.ok(!plain.includes(secret), `a signal from ${s.from} to ${s.to} shows "${secret}" to the listener`);
    }
  }
  listener.close();
  for (const page of [host, viewer]) await page.context().close();
});
