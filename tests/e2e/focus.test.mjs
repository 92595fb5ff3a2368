// Session Focus journeys: two real Janus nodes started by pairux-server, real Chromium.
//
// An Auto session starts peer to peer and is moved to an SFU node by the focus when it reaches
// `--sfu-threshold` participants; every guest keeps presenting frames through the move
// (make-before-break). A node whose Janus is killed is left: the host republishes on the other
// node and every guest decodes again, by itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { myId, pictureSource } from './lib/harness.mjs';
import { stackWith, hostSfu } from './lib/sfu.mjs';
import { toneWav, recordVoices, hears, setMic } from './lib/voice.mjs';
import {
  watcher, recordPresentation, largestGap, presentedStream, firstFrameOfOtherStream, janusNode, killJanus, settled,
} from './lib/focus.mjs';

const stack = stackWith(['--sfu-nodes', '2', '--sfu-threshold', '3', '--turn'], () => [
  `--use-file-for-fake-audio-capture=${toneWav()}`,
  '--autoplay-policy=no-user-gesture-required',
]);

test('Auto: the session moves from P2P to an SFU at the threshold and no guest sees a frozen picture', async () => {
  const host = await hostSfu(stack, 'mode-auto', [recordPresentation]);
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  const viewer = await watcher(stack.browser, viewerLink);
  // Two participants: peer to peer, measured (the picture's DTLS peer is the host page) and
  // shown.
  assert.equal(await pictureSource(viewer, host), 'p2p');
  assert.equal(await viewer.getByTestId('session-mode').textContent(), 'p2p');
  assert.equal(await host.getByTestId('session-mode').textContent(), 'p2p');
  await settled(viewer);
  const p2pStream = await presentedStream(viewer);
  assert.ok(p2pStream, 'the viewer presents the P2P picture');
  const since = Date.now();
  // The third participant reaches the threshold: the focus moves the session.
  const controller = await watcher(stack.browser, controllerLink);
  for (const page of [viewer, controller, host]) {
    await page.locator('[data-testid=session-mode]:text-is("sfu")').waitFor({ timeout: 20_000 });
  }
  // The viewer's picture now comes from Janus, and it was never frozen on the way.
  await firstFrameOfOtherStream(viewer, p2pStream, since, 5_000);
  // The window ends once the new picture has played a while.
  await settled(viewer, 500);
  const gap = await largestGap(viewer, since);
  assert.ok(gap.streams >= 2, `the viewer switched pictures (${JSON.stringify(gap)})`);
  assert.ok(gap.max < 1000, `the viewer's picture froze for ${Math.round(gap.max)} ms during the move`);
  for (const page of [viewer, controller]) {
    await page.locator('[data-testid=e2ee-state]:text-is("ok")').waitFor({ timeout: 10_000 });
  }
  // The host stopped sending the viewer its picture: the viewer's only live connection is
  // the SFU subscription. The controller keeps its direct connection (control) besides it.
  await viewer.waitForFunction(
    () => window.__pcs.filter((pc) => pc.connectionState === 'connected').length === 1,
    null,
    { timeout: 10_000 },
  );
  assert.equal(
    await controller.evaluate(() => window.__pcs.filter((pc) => pc.connectionState === 'connected').length),
    2,
  );
  // A newcomer after the move is served by the SFU from the start.
  const late = await watcher(stack.browser, viewerLink);
  assert.equal(await late.getByTestId('session-mode').textContent(), 'sfu');
  assert.equal(await pictureSource(late, host), 'sfu', 'the newcomer\'s picture comes from Janus');
  for (const page of [host, viewer, controller, late]) await page.context().close();
});

test('Failover: kill -9 of the session\'s Janus → the host republishes on the other node and every guest decodes again by itself', async () => {
  const host = await hostSfu(stack, 'mode-sfu', [recordPresentation]);
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  const guests = await Promise.all([
    watcher(stack.browser, viewerLink), watcher(stack.browser, viewerLink), watcher(stack.browser, controllerLink, [recordVoices]),
  ]);
  for (const page of guests) {
    assert.equal(await pictureSource(page, host), 'sfu');
    assert.equal(await page.getByTestId('session-mode').textContent(), 'sfu');
  }
  const node = await janusNode(guests[0]);
  assert.ok(node === 0 || node === 1, `the guests use a Janus node (${node})`);
  await Promise.all(guests.map((page) => settled(page)));
  // The host talks: the controller hears it through the SFU.
  await setMic(host, true);
  await hears(guests[2], 'the controller hearing the host', { once: true });
  const before = await Promise.all(guests.map(presentedStream));
  const killed = killJanus(stack.runDir, node);
  // Every guest presents frames of a new subscription, on the other node, within 5 s.
  const back = await Promise.all(
    guests.map((page, i) => firstFrameOfOtherStream(page, before[i], killed, 8_000)),
  );
  // How long it took is the focus bench's figure (`failover_ms_*`), not asserted here.
  console.log(`failover: every guest decoded again ${Math.max(...back.map((t) => t - killed))} ms after the kill`);
  for (const page of guests) assert.equal(await janusNode(page), 1 - node);
  assert.equal(await janusNode(host), 1 - node);
  // The host's voice was republished on the new node: heard again, once.
  await hears(guests[2], 'the controller hearing the host after the failover', { once: true });
  // The controller still controls: its direct connection never depended on Janus.
  assert.ok(await myId(guests[2]));
  for (const page of [host, ...guests]) await page.context().close();
});

test('Drain: the session\'s node is drained → everyone moves to the other node make-before-break, without a frozen picture', async () => {
  const host = await hostSfu(stack, 'mode-sfu', [recordPresentation]);
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const guests = await Promise.all([watcher(stack.browser, viewerLink), watcher(stack.browser, viewerLink)]);
  const node = await janusNode(guests[0]);
  await Promise.all(guests.map((page) => settled(page)));
  const before = await Promise.all(guests.map(presentedStream));
  // Through a reverse proxy on this machine, a client elsewhere is not this machine: the
  // administration stays closed to it (the proxy's own address is loopback).
  // Whatever address the forwarded header names, this machine's own included.
  for (const forwarded of ['203.0.113.9', '127.0.0.1', 'unknown']) {
    const proxied = await fetch(`${stack.server.url}/focus/drain?node=janus-${node}&on=true`, {
      method: 'POST',
      headers: { 'X-Forwarded-For': forwarded },
    });
    assert.equal(proxied.status, 403, `a request forwarded for ${forwarded} is refused`);
  }
  const since = Date.now();
  const res = await fetch(`${stack.server.url}/focus/drain?node=janus-${node}&on=true`, { method: 'POST' });
  assert.ok(res.ok, `drain refused: ${res.status}`);
  await Promise.all(guests.map((page, i) => firstFrameOfOtherStream(page, before[i], since, 10_000)));
  for (const page of guests) {
    await settled(page, 500);
    assert.equal(await janusNode(page), 1 - node);
    const gap = await largestGap(page, since);
    assert.ok(gap.max < 1000, `a guest's picture froze for ${Math.round(gap.max)} ms during the drain`);
  }
  await fetch(`${stack.server.url}/focus/drain?node=janus-${node}&on=false`, { method: 'POST' });
  for (const page of [host, ...guests]) await page.context().close();
});
