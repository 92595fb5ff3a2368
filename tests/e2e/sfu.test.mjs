// SFU journeys: real Janus and coturn started by pairux-server (`--sfu-nodes 1 --turn`), on the
// namespace's veth address (Janus ignores loopback), real Chromium on both ends.
//
// The host publishes the screen once; viewers and a controller receive it from Janus, decrypting
// SFrame end to end; control stays on the controller's direct data-only connection; cursors
// reach viewers through Janus sealed in the host's media epoch, and a replay of them is dropped. Janus refuses anyone without a token,
// a killed Janus is reported and recovered from, and the host role can be handed on.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import {
  myId, pictureRect, pictureSource, pressReachesHost, grant, newPage, openApp, decoding, recordChannels,
} from './lib/harness.mjs';
import { until, stillDecoding, counters } from './lib/adversary.mjs';
import {
  stackWith, hostSfu, guest, outboundVideo, frames, grantFor, plainSubscriber, readablePictures,
  recordPeers, recordWorkerTraffic, shadowSubscriber, withTimecode, replayReceived,
} from './lib/sfu.mjs';

const sfu = stackWith(['--sfu-nodes', '1', '--turn']);

test('SFU: the host publishes once; viewers and a controller decode through Janus; control and cursors work', async () => {
  const host = await hostSfu(sfu);
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  const [v1, v2, controller] = await Promise.all([
    guest(sfu, viewerLink, [recordChannels]),
    guest(sfu, viewerLink),
    guest(sfu, controllerLink),
  ]);
  for (const page of [v1, v2, controller]) {
    assert.equal(await page.getByTestId('session-mode').textContent(), 'sfu');
    await page.locator('[data-testid=e2ee-state]:text-is("ok")').waitFor({ timeout: 10_000 });
    // What the badge says is what decodes: the picture's connection is not the host's.
    assert.equal(await pictureSource(page, host), 'sfu');
  }
  // One outbound video stream whatever the number of viewers: the publication.
  assert.equal(await outboundVideo(host), 1);
  // The host's list says how each gets the picture: viewers through the server (no
  // connection of the host's to measure), the controller over its own connection too.
  for (const page of [v1, v2]) {
    const id = await myId(page);
    await host.locator(`[data-testid=peer-state-${id}][data-state=sfu]`).waitFor({ timeout: 10_000 });
    assert.equal(await host.getByTestId(`peer-state-${id}`).textContent(), 'sfu');
  }
  await host.locator(`[data-testid=peer-state-${await myId(controller)}][data-state=connected]`).waitFor({ timeout: 10_000 });
  // Guests receive from Janus: no guest has a connection with the host's video.
  for (const page of [v1, v2]) {
    const pcs = await page.evaluate(() => window.__pcs.filter((pc) => pc.connectionState === 'connected').length);
    assert.equal(pcs, 1, 'a viewer has one live connection, to Janus');
    // The connection its page made while the wasm came (index.html) is in use or closed, never
    // left idle: a subscription to Janus needs the grant's ICE servers, not the config's.
    const early = await page.evaluate(() => [window.__pcs[0]?.connectionState, window.__pcs[0]?.signalingState]);
    assert.ok(early[0] === 'connected' || early[1] === 'closed', `the early connection is ${early}`);
  }

  // Control over the direct data-only connection; input reaches the host's sink.
  const cid = await myId(controller);
  await pressReachesHost(host, controller, cid);
  const r = await pictureRect(controller);
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
  const held = await v1.evaluate(() => window.__received.length);
  await host.getByTestId(`revoke-control-${cid}`).click();
  await controller.locator('[data-testid=control-state]:text-is("none")').waitFor({ timeout: 10_000 });
  await v1.getByTestId(`remote-cursor-${cid}`).waitFor({ state: 'detached', timeout: 10_000 });

  // Janus plays again what it relayed while the controller held control (who holds it, its
  // cursor): older than what the viewer took, each is counted and dropped, and the cursor
  // stays gone.
  const before = (await counters(v1)).unreadableMessages;
  assert.ok(held > 0, 'the viewer got relayed messages');
  assert.equal(await replayReceived(v1, held), held);
  await until('the replayed messages to be counted', async () => (await counters(v1)).unreadableMessages >= before + held);
  await v1.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  assert.equal(await v1.getByTestId(`remote-cursor-${cid}`).count(), 0, 'a replayed cursor is not shown');

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

test('what Janus relays is ciphertext: a subscriber without the room key never sees the picture', async () => {
  const host = await hostSfu(sfu);
  const link = await host.getByTestId('invite-viewer-link').inputValue();
  // A real viewer shows the host's picture (its time code reads back) …
  const viewer = await guest(sfu, link);
  assert.ok(await readablePictures(viewer) > 10, 'the viewer sees the pattern');
  // … while a plain subscriber with a valid token and pin, as Janus itself would, receives
  // the packets but not one frame of the picture (a VP8 decoder may render noise from the
  // clear key-frame header; the time code never reads back).
  const { sfu: grant } = await grantFor(sfu.server.url, link);
  const page = await sfu.browser.newPage();
  const got = await plainSubscriber(page, grant);
  assert.ok(got.packets > 20, `packets arrived: ${JSON.stringify(got)}`);
  assert.equal(got.pictures, 0, `the picture without the key: ${JSON.stringify(got)}`);
  await page.close();
  await host.context().close();
  await viewer.context().close();
});

test('removal sticks against a tab that ignores it: with the room key, its worker\'s keys and a Janus grant it decodes nothing new, while the others play on', async () => {
  const host = await hostSfu(sfu);
  const link = await host.getByTestId('invite-viewer-link').inputValue();
  const kept = await guest(sfu, link);
  const controller = await guest(sfu, await host.getByTestId('invite-controller-link').inputValue());
  const mallory = await newPage(sfu.browser);
  await mallory.addInitScript(recordPeers);
  await mallory.addInitScript(recordWorkerTraffic);
  await openApp(mallory, link);
  await decoding(mallory, { timeout: 30_000 });
  const [hostId, mid] = [await myId(host), await myId(mallory)];

  // Mallory's own subscription, outside the app: a fresh Janus grant (any link holder gets
  // one) and a copy of the app's worker with every key the app gave it. Before the removal
  // it shows the picture, so the method works.
  const { sfu: access } = await grantFor(sfu.server.url, link);
  await shadowSubscriber(mallory, access, hostId);
  const shadow = () => mallory.evaluate(() => window.__shadow.reader?.samples.length ?? 0);
  await until('the shadow subscription to show the picture', async () => (await shadow()) > 10, 20_000);
  await withTimecode(kept);
  await kept.evaluate(() => {
    const track = document.querySelector('[data-testid=remote-video]').srcObject.getVideoTracks()[0];
    window.__kept = window.__startReader(track);
  });
  const shown = () => kept.evaluate(() => window.__kept.samples.length);

  await host.getByTestId(`remove-participant-${mid}`).click();
  await mallory.locator('[data-testid=session-ended][data-reason=removed]').waitFor({ timeout: 10_000 });
  // Within seconds the shadow stops: a second in which the kept viewer shows ≥ 15 pictures
  // and the shadow none.
  await until('the shadow to stop while the kept viewer plays', async () => {
    const [s0, k0] = [await shadow(), await shown()];
    await new Promise((r) => setTimeout(r, 1000));
    return (await shadow()) === s0 && (await shown()) - k0 >= 15;
  }, 15_000);
  // And it stays stopped: 90 more pictures at the kept viewer, not one at the shadow.
  const [s1, k1] = [await shadow(), await shown()];
  await until('90 more pictures at the kept viewer', async () => (await shown()) - k1 >= 90, 15_000);
  assert.equal(await shadow(), s1, 'the removed tab still reads the picture through Janus');
  // The shadow still receives the packets: it is the key, not the subscription, that is gone.
  const packets = () => mallory.evaluate(async () => {
    let n = 0;
    (await window.__shadow.pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n = s.packetsReceived; });
    return n;
  });
  const p0 = await packets();
  await until('the shadow to keep receiving packets', async () => (await packets()) > p0 + 20);
  assert.equal(await kept.getByTestId('e2ee-state').textContent(), 'ok');
  // What the host relays through Janus moved to the new epoch too, and the kept viewer still
  // reads it: a controller's cursor.
  const cid = await myId(controller);
  await grant(host, controller, cid);
  const r = await pictureRect(controller);
  await controller.mouse.move(r.x + r.w * 0.3, r.y + r.h * 0.6);
  await kept.waitForFunction(
    (id) => Math.abs(Number(document.querySelector(`[data-testid=remote-cursor-${id}]`)?.dataset.x) - 0.3) < 0.02,
    cid,
    { timeout: 10_000 },
  );

  for (const page of [host, kept, controller]) assert.deepEqual(page.errors, []);
  for (const page of [host, kept, controller, mallory]) await page.context().close();
});

test('a Janus killed mid-session is reported to host and viewer, and media comes back when it restarts', async () => {
  const host = await hostSfu(sfu);
  const viewer = await guest(sfu, await host.getByTestId('invite-viewer-link').inputValue());
  assert.equal(await host.getByTestId('media-problem').count(), 0, 'no notice while publishing');
  // Every notice the host's page shows, however briefly (the host may republish quickly).
  await host.evaluate(() => {
    window.__notices = [];
    const seen = () => {
      const el = document.querySelector('[data-testid=media-problem]');
      if (el && window.__notices.at(-1) !== el.textContent) window.__notices.push(el.textContent);
    };
    new MutationObserver(seen).observe(document.body, { childList: true, subtree: true, characterData: true });
  });
  const pidFile = path.join(sfu.runDir, 'janus-0.pid');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  process.kill(pid, 'SIGKILL');
  await viewer.getByTestId('media-problem').waitFor({ timeout: 15_000 });
  // The server restarts its Janus; the host republishes, the viewer resubscribes by itself.
  await viewer.getByTestId('media-problem').waitFor({ state: 'detached', timeout: 30_000 });
  const before = await frames(viewer);
  await viewer.waitForFunction((n) => document.querySelector('[data-testid=remote-video]').getVideoPlaybackQuality().totalVideoFrames > n + 10, before, { timeout: 20_000 });
  assert.notEqual(Number(readFileSync(pidFile, 'utf8').trim()), pid, 'a new Janus runs');
  // The host was told its viewers' picture stood still, in words, and the notice is gone
  // now that they see it again.
  const notices = await host.evaluate(() => window.__notices);
  assert.ok(notices.length >= 1 && notices.every((t) => t.trim().length > 10), `the host's notices: ${JSON.stringify(notices)}`);
  await host.getByTestId('media-problem').waitFor({ state: 'detached', timeout: 10_000 });
  await host.context().close();
  await viewer.context().close();
});

test('SFU: the host hands its role to a controller, who publishes through Janus; the viewer follows and the former host controls the new one', async () => {
  const host = await hostSfu(sfu);
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const [viewer, controller] = await Promise.all([
    guest(sfu, viewerLink),
    guest(sfu, await host.getByTestId('invite-controller-link').inputValue()),
  ]);
  const [firstHost, cid] = [await myId(host), await myId(controller)];
  const hostsOf = (page) => page.locator('[data-testid=participant-list] > li[data-role=host]')
    .evaluateAll((els) => els.map((e) => e.dataset.testid.replace('participant-', '')));

  await host.getByTestId(`hand-over-${cid}`).click();
  await controller.getByTestId('host-offer').waitFor({ timeout: 10_000 });
  await controller.getByTestId('take-host').click();
  await host.getByTestId('handed').waitFor({ timeout: 10_000 });

  // The taker's tab loads again as the host of the same SFU session and publishes its screen.
  await controller.locator('.session[data-role=host]').waitFor({ timeout: 20_000 });
  await controller.getByTestId('share-again').click();
  await controller.locator('[data-testid=share-state][data-state=sharing]').waitFor({ timeout: 10_000 });
  // The badge says sfu once its publication is connected (nothing is published before it shares).
  await controller.locator('[data-testid=session-mode]:text-is("sfu")').waitFor({ timeout: 10_000 });
  const newHost = await myId(controller);
  assert.notEqual(newHost, firstHost);
  // The former host's tab is a controller now, receiving through Janus like any guest.
  await host.locator('.session[data-role=controller]').waitFor({ timeout: 20_000 });
  for (const [page, what] of [[viewer, 'the viewer'], [host, 'the former host']]) {
    await until(`${what} to follow the new host`, async () => {
      const hosts = await hostsOf(page);
      return hosts.length === 1 && hosts[0] === newHost;
    }, 20_000);
    // (A new host reaches its guests peer to peer first, as a reloaded one does, until they
    // hear that its session is an SFU one.)
    await page.locator('[data-testid=session-mode]:text-is("sfu")').waitFor({ timeout: 20_000 });
    // Decoding the new host's publication (the former host's ended when its tab reloaded),
    // end to end: frames keep coming and the transform says so.
    await until(`${what} to decode the new host`, async () =>
      (await page.getByTestId('e2ee-state').textContent()) === 'ok' && (await pictureSource(page, controller)) === 'sfu', 20_000);
    await stillDecoding(page, what, 15_000);
  }
  // Published once, by the new host only.
  assert.equal(await outboundVideo(controller), 1);
  assert.equal(await outboundVideo(host), 0);

  // The former host, as a controller, drives the new host over its direct data connection.
  const formerId = await myId(host);
  await pressReachesHost(controller, host, formerId);
  // The viewer sees the former host's cursor, relayed sealed through Janus by the new host.
  await viewer.getByTestId(`remote-cursor-${formerId}`).waitFor({ timeout: 10_000 });

  for (const page of [viewer, controller, host]) {
    assert.deepEqual(page.errors.filter((e) => !/favicon/.test(e)), []);
    await page.context().close();
  }
});
