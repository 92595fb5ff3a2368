// Adversarial journeys: only the host can act as host. Each attacker is a modified client
// built here from the app's real wire format (lib/wire.mjs, pinned to the Rust encoder), or
// the real app given a key of its own. Each negative is asserted after a positive event that
// must come after the attack (a counter reaching its value, a reply arriving), never after a
// sleep.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { useStack, newPage, openApp, myId, roundTrip } from './lib/harness.mjs';
import { parseLink, SigningKey, participantId, presenceMeta, signalPayload, controlProof, dtlsFingerprint, versionSignature, WIRE_VERSION } from './lib/wire.mjs';
import { rawPeer, replayingServer, until, frames, stillDecoding, counters } from './lib/adversary.mjs';

const stack = useStack();

/** Records data channels and the messages they carry, and the peer connections, of a page. */
function recordPeers() {
  window.__pcs = [];
  window.__channels = [];
  window.__received = [];
  window.__sent = [];
  const Orig = window.RTCPeerConnection;
  const watch = (ch) => {
    window.__channels.push(ch);
    ch.addEventListener('message', (e) => window.__received.push({ label: ch.label, data: e.data }));
    const send = ch.send.bind(ch);
    ch.send = (data) => {
      window.__sent.push({ label: ch.label, data });
      send(data);
    };
  };
  window.RTCPeerConnection = class extends Orig {
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
      this.addEventListener('datachannel', (e) => watch(e.channel));
    }

    createDataChannel(...args) {
      const ch = super.createDataChannel(...args);
      watch(ch);
      return ch;
    }
  };
}

async function startHost() {
  const host = await newPage(stack.browser);
  await host.addInitScript(recordPeers);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  return { host, viewerLink, controllerLink, link: parseLink(controllerLink) };
}

async function join(link) {
  const page = await newPage(stack.browser);
  await page.addInitScript(recordPeers);
  await openApp(page, link);
  await until('the guest to decode the host', async () => (await frames(page)) > 2, 20_000);
  return page;
}

async function hostId(page) {
  const testid = await page.locator('[data-testid=participant-list] > li[data-role=host]').first().getAttribute('data-testid');
  return testid.replace('participant-', '');
}

async function counterReaches(page, name, min) {
  await until(`${name} ≥ ${min}`, async () => ((await counters(page))[name] ?? 0) >= min);
}

test('an impostor host with the room key but not the host key gets nobody, and its signals change nothing', async () => {
  const { host, viewerLink, link } = await startHost();
  const early = await join(viewerLink);
  const realHost = await hostId(early);

  // The attacker holds the viewer link. It runs the real app as the host of this session with
  // a host key (and controller secret) of its own, and shares a screen.
  const attacker = new SigningKey();
  const fragment = `k=${link.room.toString('base64url')}&h=${attacker.public.toString('base64url')}`
    + `&c=${randomBytes(32).toString('base64url')}&hs=${attacker.seed.toString('base64url')}`;
  const impostor = await newPage(stack.browser);
  await impostor.addInitScript(([key, value]) => sessionStorage.setItem(key, value), [`pairux:/s/${link.session}`, fragment]);
  await openApp(impostor, `${stack.server.url}/s/${link.session}`);
  await impostor.getByTestId('share-again').click();
  await impostor.locator('[data-testid=share-state][data-state=sharing]').waitFor({ timeout: 10_000 });
  const impostorId = await myId(impostor);

  // A guest who arrives now sees two "hosts": it connects to the real one only.
  const late = await join(viewerLink);
  assert.equal(await hostId(late), realHost);
  await counterReaches(late, 'impostorHost', 1);
  for (const page of [early, late, host]) {
    assert.equal(await page.getByTestId(`participant-${impostorId}`).count(), 0, 'the impostor is listed');
  }
  // The impostor offers media to guests it sees: unknown sender to them, dropped and counted.
  await counterReaches(late, 'forgedSignals', 1);

  // It pauses its share and ends "the session": signed with its key, so nobody believes it.
  const forgedBefore = (await counters(early)).forgedSignals;
  await impostor.getByTestId('end-session').click();
  await impostor.getByTestId('end-session-confirm').click();
  await counterReaches(early, 'forgedSignals', forgedBefore + 1);
  // Junk on the real host's own data channels (text that is no message, and binary): each
  // guest drops and counts it, and nothing else changes.
  await host.evaluate(() => {
    for (const ch of window.__channels.filter((c) => c.label === 'pairux' && c.readyState === 'open')) {
      ch.send('{not json');
      ch.send(new Uint8Array([123, 125]));
    }
  });
  for (const page of [early, late]) await counterReaches(page, 'unreadableMessages', 2);
  for (const page of [early, late]) {
    await stillDecoding(page, 'a guest');
    assert.equal(await page.getByTestId('session-ended').count(), 0);
    assert.equal(await page.getByTestId('e2ee-state').textContent(), 'ok');
  }
  for (const page of [host, early, late, impostor]) await page.context().close();
});

test('viewer link holders claiming the controller role are seated as viewers, and the real controller still gets its seat', async () => {
  const { host, controllerLink, link } = await startHost();
  // Three holders of the viewer link (the room key, no controller secret) track metas that
  // claim `controller`, each signed with a key of its own: before, they took the three
  // controller seats and the real controller was told the session is full.
  const viewerOnly = { ...link, controller: null };
  const forgers = [];
  for (let i = 0; i < 3; i++) {
    const [signer, joinedAt] = [new SigningKey(), Date.now()];
    const id = participantId({ link, signer, joinedAt });
    const peer = await rawPeer(stack.server.url, link.topic, id);
    peer.track(presenceMeta({ link: viewerOnly, role: 'controller', joinedAt, profile: { name: `F${i}` }, signer }));
    forgers.push({ id, peer });
  }
  await counterReaches(host, 'forgedRole', 3);
  for (const { id } of forgers) {
    const listed = host.getByTestId(`participant-${id}`);
    await listed.waitFor({ timeout: 10_000 });
    assert.equal(await listed.getAttribute('data-role'), 'viewer', `${id} is listed as what it proved`);
  }
  const controller = await join(controllerLink);
  const cid = await myId(controller);
  assert.equal(await controller.getByTestId('error-banner').count(), 0);
  assert.equal(await host.getByTestId(`participant-${cid}`).getAttribute('data-role'), 'controller');
  assert.equal((await counters(host)).forgedRole, 3, 'the real controller proved its role');
  await controller.getByTestId('request-control').click();
  await host.getByTestId(`control-request-${cid}`).waitFor({ timeout: 10_000 });
  forgers.forEach(({ peer }) => peer.close());
  for (const page of [host, controller]) await page.context().close();
});

/** The metas a raw peer has seen tracked under presence key `key` (without their phx_ref). */
function metasOf(peer, key) {
  const metas = [];
  for (const msg of peer.received) {
    const entries = msg.event === 'presence_state' ? msg.payload : msg.event === 'presence_diff' ? msg.payload.joins : {};
    for (const { phx_ref: _, ...meta } of entries?.[key]?.metas ?? []) metas.push(meta);
  }
  return metas;
}

test('a host that reloads its tab is still the host, and its guests take it back; its earlier meta replayed changes nothing', async () => {
  const { host, viewerLink, link } = await startHost();
  const guest = await join(viewerLink);
  const hosts = () => guest.locator('[data-testid=participant-list] > li[data-role=host]')
    .evaluateAll((els) => els.map((e) => e.dataset.testid));
  // The list around the picture is drawn once the first frame is shown, a moment after it.
  await until('the guest to list its host', async () => (await hosts()).length === 1);
  const [before] = await hosts();
  // A link holder keeps what the host tracked before its reload.
  const spy = await rawPeer(stack.server.url, link.topic, `spy-${randomBytes(4).toString('hex')}`);
  const oldId = before.replace('participant-', '');
  await until('the spy to see the host', () => metasOf(spy, oldId).length > 0);
  const [oldMeta] = metasOf(spy, oldId);
  await host.reload();
  await host.locator('.session[data-role=host]').waitFor({ timeout: 15_000 });
  // The same links: the same session, the same host key (kept in this tab only).
  assert.equal(await host.getByTestId('invite-viewer-link').inputValue(), viewerLink);
  await until('the guest to accept the reloaded host', async () => {
    const now = await hosts();
    return now.length === 1 && now[0] !== before;
  });
  // Nothing of the reloaded host's media was measured yet: the badge must not keep the
  // previous host's `ok`.
  await until('the badge to leave ok', async () => (await guest.getByTestId('e2ee-state').textContent()) !== 'ok');
  // A browser needs a click to capture the screen again.
  await host.getByTestId('share-again').click();
  await stillDecoding(guest, 'the guest');
  await guest.locator('[data-testid=e2ee-state]:text-is("ok")').waitFor({ timeout: 5_000 });
  // It tracks the host's earlier join again, under its old key: a verified host of the same
  // chain, joined earlier. The guest keeps the live host (the latest join of a chain), and a
  // newcomer finds it too.
  const [live] = await hosts();
  const replay = await rawPeer(stack.server.url, link.topic, oldId);
  replay.track(oldMeta);
  await until('the guest to list the replayed join', async () => (await hosts()).length === 2);
  assert.deepEqual(await hosts(), [live, before], 'the live host first');
  await stillDecoding(guest, 'the guest');
  const newcomer = await join(viewerLink);
  assert.equal(await hostId(newcomer), live.replace('participant-', ''));
  await stillDecoding(newcomer, 'the newcomer');
  for (const peer of [spy, replay]) peer.close();
  for (const page of [host, guest, newcomer]) await page.context().close();
});

test('a duplicated host tab hosts from the copy: the first tab stops and says so, and guests follow the copy', async () => {
  const { host, viewerLink } = await startHost();
  const guest = await join(viewerLink);
  const first = await hostId(guest);
  // The browser's Duplicate: a new tab of the same address with a copy of this tab's storage.
  const storage = await host.evaluate(() => Object.fromEntries(Object.entries(sessionStorage)));
  const copy = await host.context().newPage();
  await copy.addInitScript((entries) => {
    if (sessionStorage.length === 0) for (const [k, v] of Object.entries(entries)) sessionStorage.setItem(k, v);
  }, storage);
  await copy.goto(host.url());
  await host.getByTestId('session-moved').waitFor({ timeout: 15_000 });
  assert.equal(await host.getByTestId('session-ended').count(), 0);
  await copy.getByTestId('share-again').click({ timeout: 15_000 });
  await until('the guest to follow the copy alone', async () => {
    const ids = await guest.locator('[data-testid=participant-list] > li[data-role=host]')
      .evaluateAll((els) => els.map((e) => e.dataset.testid));
    return ids.length === 1 && ids[0] !== `participant-${first}`;
  });
  await stillDecoding(guest, 'the guest');
  assert.equal(await guest.getByTestId('session-ended').count(), 0);
  // The first tab reloaded hosts again, later still: the copy stops in turn. It does not
  // know whom the copy let in or removed meanwhile, so it asks before seating anyone.
  await host.reload();
  await copy.getByTestId('session-moved').waitFor({ timeout: 15_000 });
  const gid = await myId(guest);
  await host.getByTestId(`admit-${gid}`).click({ timeout: 15_000 });
  await host.getByTestId('share-again').click({ timeout: 15_000 });
  await stillDecoding(guest, 'the guest, back with the first tab');
  await guest.locator('[data-testid=e2ee-state]:text-is("ok")').waitFor({ timeout: 10_000 });
  for (const page of [host, guest]) await page.context().close();
});

test('forged ended, share and refused from a link holder change nothing', async () => {
  const { host, viewerLink, link } = await startHost();
  const guest = await join(viewerLink);
  const [realHost, guestId] = [await hostId(guest), await myId(guest)];

  // A link holder joins as a well-formed viewer, then speaks "as the host".
  const mallory = new SigningKey();
  const malloryJoin = Date.now();
  const malloryId = participantId({ link, signer: mallory, joinedAt: malloryJoin });
  const peer = await rawPeer(stack.server.url, link.topic, malloryId);
  // Its name tries a right-to-left override, a zero-width space and 200 characters.
  const name = `\u202Eevil\u200B${'x'.repeat(200)}`;
  peer.track(presenceMeta({ link, role: 'viewer', joinedAt: malloryJoin, profile: { name }, signer: mallory }));
  const epoch = Date.now();
  const forged = [
    { to: null, kind: 'ended', body: null },
    { to: guestId, kind: 'share', body: { sharing: false } },
    { to: guestId, kind: 'refused', body: 'full' },
    { to: null, kind: 'leaving', body: null },
  ];
  forged.forEach((f, i) => peer.signal(signalPayload({ link, from: realHost, ...f, epoch, seq: 100 + i, signer: mallory })));
  await counterReaches(guest, 'forgedSignals', forged.length);
  // Shown sanitised and capped wherever names appear.
  const shown = await host.getByTestId(`participant-${malloryId}`).locator('.name').textContent();
  assert.equal(shown, `evil${'x'.repeat(36)}`);

  await stillDecoding(guest, 'the guest');
  assert.equal(await guest.getByTestId('session-ended').count(), 0);
  assert.equal(await guest.getByTestId('share-paused').count(), 0);
  assert.equal(await guest.getByTestId('e2ee-state').textContent(), 'ok');
  peer.close();
  for (const page of [host, guest]) await page.context().close();
});

test('a socket that knows only the session id cannot hide, replace or rename anyone', async () => {
  const { host, viewerLink, link } = await startHost();
  const guest = await join(viewerLink);
  const [realHost, guestId] = [await hostId(guest), await myId(guest)];

  // No room key: junk metas under the guest's and the host's presence keys, and a junk host
  // (of this wire version: an older one's would be told apart as such).
  const shadows = [
    [guestId, { role: 'viewer', joined_at: 1, profile: 'AAAA', v: WIRE_VERSION }],
    [realHost, { role: 'host', joined_at: 0, profile: 'junk', sig: 'x', v: WIRE_VERSION }],
    ['junk-host', { role: 'host', joined_at: 0, profile: 'junk', v: WIRE_VERSION }],
  ];
  const peers = [];
  for (const [key, meta] of shadows) {
    const peer = await rawPeer(stack.server.url, link.topic, key);
    peer.track(meta);
    peers.push(peer);
  }
  // A link holder (room key, its own signing key) shadows the guest with a signed meta that
  // renames it and claims controller.
  const holder = await rawPeer(stack.server.url, link.topic, guestId);
  holder.track(presenceMeta({ link, id: guestId, role: 'controller', joinedAt: 1, profile: { name: 'Renamed' }, signer: new SigningKey() }));
  peers.push(holder);

  await counterReaches(guest, 'impostorHost', 2);
  await counterReaches(host, 'unreadable', 1);
  await counterReaches(host, 'shadowed', 1);
  // Nobody vanished, nobody was renamed or promoted, no badge changed.
  const listed = host.getByTestId(`participant-${guestId}`);
  assert.equal(await listed.getAttribute('data-role'), 'viewer');
  assert.doesNotMatch(await listed.textContent(), /Renamed/);
  assert.equal(await guest.getByTestId(`participant-${realHost}`).count(), 1);
  assert.equal(await guest.getByTestId('e2ee-state').textContent(), 'ok');
  assert.equal(await guest.getByTestId('error-banner').count(), 0);
  await stillDecoding(guest, 'the guest');

  // The guest renames itself: the server now lists its re-tracked meta behind the holder's,
  // so a page that joins now reads the holder's first. That meta is nobody's (the presence key
  // is not its key's participant id): the late page lists the guest under its new name.
  await guest.getByTestId('display-name').fill('Grace');
  await guest.getByTestId('display-name').press('Enter');
  await until('the host to see the rename', async () => /Grace/.test(await listed.textContent()));
  const late = await join(viewerLink);
  const seen = late.getByTestId(`participant-${guestId}`);
  await until('the late page to list the guest as Grace', async () => (await seen.count()) === 1 && /Grace/.test(await seen.textContent()));
  assert.equal(await seen.getAttribute('data-role'), 'viewer');
  await counterReaches(late, 'shadowed', 1);
  peers.forEach((p) => p.close());
  for (const page of [host, guest, late]) await page.context().close();
});

test('signals replayed and reordered by the server are counted and ignored; media keeps playing', async () => {
  const { host, viewerLink } = await startHost();
  const guest = await newPage(stack.browser);
  // This guest's signaling goes through a server that records and replays.
  const replayer = await replayingServer(guest);
  await openApp(guest, viewerLink);
  await until('the guest to decode the host', async () => (await frames(guest)) > 2, 20_000);
  const recorded = replayer.recorded.slice();
  assert.ok(recorded.length >= 2, `recorded ${recorded.length} signals`);

  // Replayed verbatim, newest first (so also out of order).
  replayer.replay(recorded.reverse());
  await counterReaches(guest, 'replayedSignals', recorded.length);
  await stillDecoding(guest, 'the guest');
  assert.equal(await guest.getByTestId('session-ended').count(), 0);
  assert.equal(await guest.getByTestId('e2ee-state').textContent(), 'ok');
  for (const page of [host, guest]) await page.context().close();
});

test('a relayed control proof is refused; the same proof bound to its own connection is not', async () => {
  // Mallory holds a controller's seat of its own (a viewer's is never challenged), and tries
  // a proof made over another controller's connection.
  const { host, controllerLink, link } = await startHost();
  const controller = await join(controllerLink);
  const mallory = await join(controllerLink);
  const malloryId = await myId(mallory);
  const nonce = await until('mallory\'s challenge', () => mallory.evaluate(() => {
    const m = window.__received.map((r) => JSON.parse(r.data)).find((x) => x.t === 'challenge');
    return m?.nonce;
  }));
  const fingerprints = (page) => page.evaluate(() => {
    const pc = window.__pcs.find((p) => p.remoteDescription);
    return { local: pc.localDescription.sdp, remote: pc.remoteDescription.sdp };
  });
  // What a relay gets: the real controller tricked into answering mallory's challenge over
  // its own connection to the host.
  const c = await fingerprints(controller);
  const relayed = controlProof({
    secret: link.controller, nonce, id: malloryId,
    hostFingerprint: dtlsFingerprint(c.remote), participantFingerprint: dtlsFingerprint(c.local),
  });
  const send = (proof) => mallory.evaluate((p) => {
    const ch = window.__channels.find((x) => x.label === 'pairux');
    ch.send(JSON.stringify({ v: 1, t: 'request', proof: p }));
  }, proof);
  await send(relayed);
  await until('the host to deny the relayed proof', () => mallory.evaluate(
    () => window.__received.some((r) => JSON.parse(r.data).t === 'deny')));
  assert.equal(await host.getByTestId(`control-request-${malloryId}`).count(), 0);

  // The control: the same secret and nonce bound to mallory's own connection is accepted, so
  // it is the binding that refused the relay.
  const m = await fingerprints(mallory);
  await send(controlProof({
    secret: link.controller, nonce, id: malloryId,
    hostFingerprint: dtlsFingerprint(m.remote), participantFingerprint: dtlsFingerprint(m.local),
  }));
  await host.getByTestId(`control-request-${malloryId}`).waitFor({ timeout: 10_000 });
  for (const page of [host, controller, mallory]) await page.context().close();
});

test('a guest cannot open data channels to the host or flood it', async () => {
  const { host, viewerLink, controllerLink } = await startHost();
  const controller = await join(controllerLink);
  const mallory = await join(viewerLink);
  // A channel the guest opens itself, even under the protocol's own label, is closed unread:
  // the input it carries (which the host's gate would count, from someone not in control) is
  // counted nowhere, once a round trip on the real channel shows the host reading after it.
  const notHolder = () => host.getByTestId('gate-counters').evaluate((el) => Number(el.dataset.notHolder));
  const dropped = await notHolder();
  const state = await mallory.evaluate(() => new Promise((resolve) => {
    const pc = window.__pcs.find((p) => p.remoteDescription);
    const ch = pc.createDataChannel('pairux');
    ch.onopen = () => {
      for (let i = 0; i < 5; i++) {
        ch.send(JSON.stringify({ v: 1, t: 'input', seq: 1e9 + i, ts: 0, k: 'key_down', key: 'z', code: 'KeyZ', m: 0, rep: false }));
      }
    };
    ch.onclose = () => resolve('closed');
    setTimeout(() => resolve(ch.readyState), 15_000);
  }));
  assert.equal(state, 'closed');
  await roundTrip(mallory);
  assert.equal(await notHolder(), dropped, 'the host read the channel it closed');
  // A flood on its real channel is cut before parsing; the host keeps serving others.
  await host.locator('[data-testid=diagnostics] summary').click();
  const budget = () => host.getByTestId('budget-counters').evaluate((el) => ({
    overRate: Number(el.dataset.overRate),
    pingsLimited: Number(el.dataset.pingsLimited),
  }));
  const cut = await budget();
  const flooded = Date.now();
  await mallory.evaluate(() => {
    const ch = window.__channels.find((x) => x.label === 'pairux');
    for (let i = 0; i < 2000; i++) ch.send(JSON.stringify({ v: 1, t: 'ping', id: i, ts: 0 }));
  });
  // The sentinel: a ping after the flood (once the rate limit lets one through) is answered on
  // the same ordered channel, so every pong to the flood has arrived before its pong.
  await until('a ping after the flood to be answered', async () => {
    try {
      await roundTrip(mallory, { timeout: 1_000 });
      return true;
    } catch {
      return false;
    }
  });
  const seconds = (Date.now() - flooded) / 1000;
  const pongs = await mallory.evaluate(() => window.__received
    .map((r) => JSON.parse(r.data))
    .filter((m) => m.t === 'pong' && m.id < 2000).length);
  // Pings get 4 at once and 4 a second (control/budget.rs), however slowly this machine
  // delivered the flood; every other ping of it was counted as cut.
  assert.ok(pongs <= 4 + Math.ceil(4 * seconds), `${pongs} pings answered in ${seconds} s`);
  // (The counters are drawn a moment later; the sentinel's own tries may add to them.)
  await until('the cut pings to be counted', async () => {
    const after = await budget();
    return after.overRate - cut.overRate + after.pingsLimited - cut.pingsLimited + pongs >= 2000;
  }, 10_000);
  const cid = await myId(controller);
  await controller.getByTestId('request-control').click();
  await host.getByTestId(`control-request-${cid}`).waitFor({ timeout: 10_000 });
  for (const page of [host, controller, mallory]) await page.context().close();
});

test('an unsolicited grant leaves a viewer at none; a cancelled request cannot be granted late', async () => {
  const { host, viewerLink, controllerLink } = await startHost();
  const viewer = await join(viewerLink);
  const controller = await join(controllerLink);
  const [viewerId, controllerId] = [await myId(viewer), await myId(controller)];
  const releases = (page) => page.evaluate(
    () => window.__sent.filter((r) => JSON.parse(r.data).t === 'release').length);
  // The host's page sends a grant and a state naming each guest without any request.
  const grantEveryone = (ids) => host.evaluate((holders) => {
    for (const ch of window.__channels.filter((x) => x.label === 'pairux' && x.readyState === 'open')) {
      ch.send(JSON.stringify({ v: 1, t: 'grant' }));
      ch.send(JSON.stringify({ v: 1, t: 'state', holders }));
    }
  }, ids);

  await grantEveryone([viewerId]);
  await until('the viewer to hand the unsolicited grant back', async () => (await releases(viewer)) >= 2);
  assert.equal(await viewer.getByTestId('control-state').textContent(), 'none');
  assert.equal(await host.getByTestId('control-holders').count(), 0);

  // Cancel request: the toast goes away; a grant that arrives late does nothing.
  await controller.getByTestId('request-control').click();
  await host.getByTestId(`control-request-${controllerId}`).waitFor({ timeout: 10_000 });
  await controller.getByTestId('release-control').click();
  await host.getByTestId(`control-request-${controllerId}`).waitFor({ state: 'detached', timeout: 10_000 });
  const before = await releases(controller);
  await grantEveryone([controllerId]);
  await until('the controller to hand the late grant back', async () => (await releases(controller)) >= before + 2);
  assert.equal(await controller.getByTestId('control-state').textContent(), 'none');
  assert.equal(await host.getByTestId('control-holders').count(), 0);
  for (const page of [host, viewer, controller]) await page.context().close();
});

test('a host on another version of the app is named as such; a link holder cannot claim to be one', async () => {
  // A session of our own making: the test holds its host key, as a host page of another
  // version would, and speaks for that host through a raw socket.
  const hostKey = new SigningKey();
  const session = randomBytes(16).toString('base64url');
  const url = `${stack.server.url}/s/${session}#k=${randomBytes(32).toString('base64url')}&h=${hostKey.public.toString('base64url')}`;
  const link = parseLink(url);
  const joinedAt = Date.now();
  const id = participantId({ link, signer: hostKey, joinedAt });
  // What a page of another version tracks: nothing of it but `v` and `vsig` is read here.
  const otherHost = (wire, signer) => ({
    role: 'host', joined_at: joinedAt, profile: 'sealed in another shape', sig: 'x', v: wire,
    vsig: versionSignature({ link, id, joinedAt, wire, signer }),
  });
  const peer = await rawPeer(stack.server.url, link.topic, id);
  // A link holder claims the host is newer, signing with a key of its own.
  peer.track(otherHost(WIRE_VERSION + 1, new SigningKey()));
  const guest = await newPage(stack.browser);
  await openApp(guest, url);
  await counterReaches(guest, 'otherVersion', 1);
  const banner = guest.getByTestId('error-banner');
  assert.equal(await banner.count(), 0, 'a claim nobody can check tells the guest nothing');

  // The real host, on a newer version: the guest is told to reload, at once.
  peer.track(otherHost(WIRE_VERSION + 1, hostKey));
  await until('the guest to be told the host is newer', async () => /newer version of PairUX\. Reload this page/.test((await banner.count()) ? await banner.textContent() : ''));
  assert.equal(await guest.getByTestId('remote-video').count(), 0);
  // And on an older one: the host is the one to reload.
  peer.track(otherHost(WIRE_VERSION - 1, hostKey));
  await until('the guest to be told the host is older', async () => /older version of PairUX\. Ask the host to reload/.test(await banner.textContent()));
  peer.close();
  await guest.context().close();
});

test('a host hears that someone on a newer version is trying to join, and its Reload keeps the session', async () => {
  const { host, viewerLink, link } = await startHost();
  const guest = await join(viewerLink);
  await until('the guest to decode the host', async () => (await frames(guest)) > 2, 20_000);
  // Someone on an older version: counted, nothing said (they are the ones to reload).
  const older = await rawPeer(stack.server.url, link.topic, 'older-guest');
  older.track({ role: 'viewer', joined_at: Date.now(), profile: 'x', sig: 'x', v: WIRE_VERSION - 1 });
  await counterReaches(host, 'otherVersion', 1);
  const notice = host.getByTestId('version-notice');
  assert.equal(await notice.count(), 0);
  // Someone on a newer version.
  const newer = await rawPeer(stack.server.url, link.topic, 'newer-guest');
  newer.track({ role: 'viewer', joined_at: Date.now(), profile: 'x', sig: 'x', v: WIRE_VERSION + 1 });
  await until('the host to hear of the newer version', async () => (await notice.count()) === 1);
  assert.match(await notice.textContent(), /newer version of PairUX/);
  // Nobody else is told, nothing stops.
  assert.equal(await guest.getByTestId('error-banner').count(), 0);
  await stillDecoding(guest, 'the guest');
  // The notice's Reload: the same session, as its host; its guest takes the picture back.
  await notice.getByRole('button', { name: 'Reload' }).click();
  await host.getByTestId('share-again').click({ timeout: 15_000 });
  assert.equal(await host.getByTestId('invite-viewer-link').inputValue(), viewerLink);
  await until('the guest to decode the reloaded host', async () => (await frames(guest)) > 2 && (await guest.getByTestId('e2ee-state').textContent()) === 'ok', 20_000);
  await stillDecoding(guest, 'the guest');
  // Still told while the newer page is here (this host speaks what it spoke), gone with it.
  await until('the reloaded host to hear of the newer version', async () => (await notice.count()) === 1);
  newer.close();
  await until('the notice to go with them', async () => (await notice.count()) === 0);
  older.close();
  for (const page of [host, guest]) await page.context().close();
});
