// Voice in SFU mode: every speaker publishes its own end-to-end encrypted Opus feed to the
// session's Janus room and announces it in a sealed, signed signal; every listener subscribes
// to the feeds verified participants announced — never to what Janus alone lists — and
// measures who is speaking on what it receives itself.
//
// The fake microphone plays a 440 Hz tone (lib/voice.mjs); one microphone is on at a time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { myId, newPage, openApp, decoding } from './lib/harness.mjs';
import { stackWith, hostSfu, recordPeers, grantFor, withJanusClient, kidTap } from './lib/sfu.mjs';
import {
  toneWav, recordVoices, hears, silent, setMic, micShown, speakingShown, startToneLog, longestSilence,
} from './lib/voice.mjs';
import { rawPeer, until, withholdingServer } from './lib/adversary.mjs';
import { parseLink, SigningKey, participantId, presenceMeta, signalPayload } from './lib/wire.mjs';

// `--sfu-threshold 3`: an Auto session moves to the SFU when its third participant arrives.
const sfu = stackWith(['--sfu-nodes', '1', '--sfu-threshold', '3', '--turn'], () => [
  `--use-file-for-fake-audio-capture=${toneWav()}`,
  '--autoplay-policy=no-user-gesture-required',
]);

async function sfuGuest(link) {
  const page = await newPage(sfu.browser);
  await page.addInitScript(recordPeers);
  await page.addInitScript(recordVoices);
  await openApp(page, link);
  await decoding(page, { timeout: 30_000 });
  assert.equal(await page.getByTestId('session-mode').textContent(), 'sfu');
  return page;
}

/** Audio packets the page's peer connections received, in all. */
function audioPackets(page) {
  return page.evaluate(async () => {
    let packets = 0;
    for (const pc of window.__vpcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'audio') packets += r.packetsReceived;
      });
    }
    return packets;
  });
}

async function counters(page) {
  return page.getByTestId('trust-counters').evaluate((el) => {
    const out = {};
    for (const [k, v] of Object.entries(el.dataset)) out[k] = Number(v);
    return out;
  });
}

test('SFU voice: a guest talks, the host and the other guest hear it once; muted is silent; speaking is measured', async () => {
  const host = await hostSfu(sfu, 'mode-sfu', [recordVoices]);
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  // A viewer (no connection to the host at all) and a controller (a direct data-only one).
  const a = await sfuGuest(viewerLink);
  const b = await sfuGuest(controllerLink);
  const [hostId, aId, bId] = [await myId(host), await myId(a), await myId(b)];
  const everyone = [host, a, b];
  for (const page of everyone) {
    assert.equal(await page.getByTestId('mic-toggle').getAttribute('data-state'), 'off');
    for (const id of [hostId, aId, bId]) await micShown(page, id, 'off');
  }
  await silent(host, 'the host before anyone talks');

  // Guest A talks: its feed goes through Janus to the host and to B.
  await setMic(a, true);
  await hears(host, 'host hearing the viewer through the SFU', { once: true });
  await hears(b, 'controller hearing the viewer through the SFU', { once: true });
  await silent(a, 'the viewer hearing itself');
  for (const page of everyone) {
    await micShown(page, aId, 'on');
    await speakingShown(page, aId, true);
  }
  // A listens to nobody (nobody else talks) and never to itself.
  assert.equal(await a.evaluate(() => window.__voices.length), 0, 'the viewer subscribed to a voice');

  // A mutes: its feed is withdrawn; silence and "not speaking" everywhere.
  await setMic(a, false);
  await silent(host, 'host after the viewer muted');
  await silent(b, 'controller after the viewer muted');
  for (const page of everyone) {
    await micShown(page, aId, 'off');
    await speakingShown(page, aId, false);
  }

  // The host talks: the controller hears it once (not also over its direct connection).
  await setMic(host, true);
  await hears(b, 'controller hearing the host', { once: true });
  await hears(a, 'viewer hearing the host', { once: true });
  for (const page of [a, b]) await speakingShown(page, hostId, true);
  await setMic(host, false);
  await silent(a, 'viewer after the host muted', { received: true });

  // B talks: the viewer hears it.
  await setMic(b, true);
  await hears(a, 'viewer hearing the controller', { once: true });
  await hears(host, 'host hearing the controller', { once: true });
  await setMic(b, false);

  for (const page of everyone) {
    assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  }
  for (const page of everyone) await page.context().close();
});

test('Auto: voice carries on through the move from P2P to the SFU, and nobody hears anyone twice', async () => {
  const host = await hostSfu(sfu, 'mode-auto', [recordVoices]);
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  const a = await newPage(sfu.browser);
  await a.addInitScript(recordPeers);
  await a.addInitScript(recordVoices);
  await openApp(a, viewerLink);
  await decoding(a, { timeout: 30_000 });
  assert.equal(await a.getByTestId('session-mode').textContent(), 'p2p');
  const aId = await myId(a);
  // The viewer talks peer to peer: the host hears it.
  await setMic(a, true);
  await hears(host, 'host hearing the viewer peer to peer', { once: true });
  await startToneLog(host);
  const since = Date.now();

  // The controller arrives: the focus moves the session; the viewer's voice follows.
  const b = await newPage(sfu.browser);
  await b.addInitScript(recordPeers);
  await b.addInitScript(recordVoices);
  await openApp(b, controllerLink);
  for (const page of [host, a, b]) {
    await page.locator('[data-testid=session-mode]:text-is("sfu")').waitFor({ timeout: 20_000 });
  }
  // Still talking, now through the SFU: heard once by the host and by the controller.
  await until('the host to subscribe to the viewer\'s feed', () => host.evaluate(() => window.__voices.length >= 2));
  await hears(host, 'host hearing the viewer after the move', { once: true });
  // How long the host heard nothing while the voice moved (make-before-break, so ~ a mixer
  // source swap):
  // reported, not asserted (tests never assert on timings).
  const gap = await longestSilence(host, since);
  console.log(`voice gap at the host during the P2P → SFU move: ${gap.max} ms`);
  await hears(b, 'controller hearing the viewer after the move', { once: true });
  await micShown(b, aId, 'on');
  await speakingShown(host, aId, true);
  await setMic(a, false);
  await silent(host, 'host after the viewer muted');

  // The host talks: the controller (direct connection kept for control) hears it once.
  await setMic(host, true);
  await hears(b, 'controller hearing the host after the move', { once: true });
  await hears(a, 'viewer hearing the host after the move', { once: true });
  await setMic(host, false);

  for (const page of [host, a, b]) {
    assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  }
  for (const page of [host, a, b]) await page.context().close();
});

test('SFU voice: a feed nobody verified announced is never played — not from Janus\'s list, not from a forged announcement, not claimed by another', async () => {
  const host = await hostSfu(sfu, 'mode-sfu', [recordVoices]);
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const a = await sfuGuest(viewerLink);
  const [hostId, aId] = [await myId(host), await myId(a)];
  const link = parseLink(viewerLink);
  // Mallory and Trudy, verified participants (link holders).
  const [mallory, trudy] = [new SigningKey(), new SigningKey()];
  const joinedAt = Date.now();
  const malloryId = participantId({ link, signer: mallory, joinedAt });
  const trudyId = participantId({ link, signer: trudy, joinedAt });

  // Mallory publishes the tone straight to the room under her own name, as the app would
  // (Janus lists it to every publisher), in clear, without announcing it.
  const rogue = await newPage(sfu.browser);
  await rogue.goto(`${sfu.server.url}/config.json`);
  const grant = (await grantFor(sfu.server.url, viewerLink)).sfu;
  await withJanusClient(rogue);
  const feed = await rogue.evaluate(async ([sfu, display]) => {
    const { ws, send } = await window.__janusClient(sfu.janusUrl, sfu.token);
    setInterval(() => send({ janus: 'keepalive', session_id }), 20_000);
    const session_id = (await send({ janus: 'create' })).data.id;
    const handle_id = (await send({ janus: 'attach', session_id, plugin: 'janus.plugin.videoroom' })).data.id;
    const joined = await send({
      janus: 'message', session_id, handle_id,
      body: { request: 'join', ptype: 'publisher', room: sfu.room, pin: sfu.pin, display },
    });
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    const pc = new RTCPeerConnection();
    window.__rogue = { ws, pc };
    pc.addTransceiver(mic.getAudioTracks()[0], { direction: 'sendonly' });
    const published = await window.__janusPublish({ send, session_id, handle_id }, pc);
    await pc.setRemoteDescription(published.jsep);
    return joined.plugindata.data.id;
  }, [grant, `${malloryId}/voice`]);
  assert.ok(feed, 'the rogue feed is published');

  // Mallory announces the rogue feed as the host's and as the viewer's voice, signing with
  // her own key.
  const peer = await rawPeer(sfu.server.url, link.topic, malloryId);
  peer.track(presenceMeta({ link, role: 'viewer', joinedAt, profile: { name: 'Mallory' }, signer: mallory }));
  const trudyPeer = await rawPeer(sfu.server.url, link.topic, trudyId);
  trudyPeer.track(presenceMeta({ link, role: 'viewer', joinedAt, profile: { name: 'Trudy' }, signer: trudy }));
  for (const id of [malloryId, trudyId]) {
    await host.getByTestId(`participant-${id}`).waitFor({ timeout: 10_000 });
    await a.getByTestId(`participant-${id}`).waitFor({ timeout: 10_000 });
  }
  const route = { room: grant.room, feed };
  const [hostBefore, aBefore] = [await counters(host), await counters(a)];
  peer.signal(signalPayload({ link, from: hostId, kind: 'voice', body: route, epoch: joinedAt, seq: 1, signer: mallory }));
  peer.signal(signalPayload({ link, from: aId, to: hostId, kind: 'voice', body: route, epoch: joinedAt, seq: 2, signer: mallory }));
  await until('the forged announcements dropped', async () =>
    (await counters(a)).forgedSignals > (aBefore.forgedSignals ?? 0)
    && (await counters(host)).forgedSignals > (hostBefore.forgedSignals ?? 0));
  // Trudy announces it as her own voice (she signs for herself: accepted), but Janus names
  // its publisher Mallory: no place, no subscription.
  trudyPeer.signal(signalPayload({ link, from: trudyId, kind: 'voice', body: route, epoch: joinedAt, seq: 1, signer: trudy }));
  // Announced by Mallory as her own voice, the feed is received — and decrypted with
  // Mallory's key, which the rogue's clear frames do not pass: nothing plays.
  peer.signal(signalPayload({ link, from: malloryId, kind: 'voice', body: route, epoch: joinedAt, seq: 3, signer: mallory }));
  for (const [page, who] of [[a, 'viewer'], [host, 'host']]) {
    await until(`the ${who} to receive a second of the feed Mallory announced`, () => audioPackets(page).then((n) => n > 50));
    // The forged announcements and Trudy's claim, handled before it, subscribed to nothing:
    // the one voice is Mallory's (one subscription per speaker: another would be a second
    // voice of the same feed, asked for first).
    assert.equal(await page.evaluate(() => window.__voices.length), 1, `the ${who} subscribed to a feed not announced by its publisher`);
  }
  await silent(a, 'the viewer, on a feed whose frames are not its announcer\'s', { received: true });

  peer.close();
  trudyPeer.close();
  for (const page of [host, a, rogue]) await page.context().close();
});

test('SFU voice: a microphone the room has no place for goes off, the person is told, and it works once a place frees', async () => {
  const host = await hostSfu(sfu, 'mode-sfu', [recordVoices]);
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const a = await sfuGuest(viewerLink);

  // A link holder fills the room: publishers up to the room's 16 (the host's screen is one).
  const filler = await newPage(sfu.browser);
  await filler.goto(`${sfu.server.url}/config.json`);
  const grant = (await grantFor(sfu.server.url, viewerLink)).sfu;
  await withJanusClient(filler);
  const refused = await filler.evaluate(async (sfu) => {
    const { send } = await window.__janusClient(sfu.janusUrl, sfu.token);
    const session_id = (await send({ janus: 'create' })).data.id;
    setInterval(() => send({ janus: 'keepalive', session_id }), 20_000);
    window.__fillers = [];
    // Janus counts a publisher once its media is up: each filler connects before the next.
    while (window.__fillers.length < 40) {
      const handle_id = (await send({ janus: 'attach', session_id, plugin: 'janus.plugin.videoroom' })).data.id;
      await send({
        janus: 'message', session_id, handle_id,
        body: { request: 'join', ptype: 'publisher', room: sfu.room, pin: sfu.pin, display: `filler ${window.__fillers.length}` },
      });
      const pc = new RTCPeerConnection();
      pc.addTransceiver('audio', { direction: 'sendonly' });
      const published = await window.__janusPublish({ send, session_id, handle_id }, pc);
      if (!published.jsep) {
        pc.close();
        return published.plugindata?.data?.error_code;
      }
      await pc.setRemoteDescription(published.jsep);
      await new Promise((r) => {
        if (pc.connectionState === 'connected') r();
        pc.onconnectionstatechange = () => { if (pc.connectionState === 'connected') r(); };
      });
      window.__fillers.push({ session_id, handle_id, pc, send });
    }
    return null;
  }, grant);
  assert.equal(refused, 432, 'the room refuses a publisher once full');
  assert.equal(await filler.evaluate(() => window.__fillers.length), 15);

  // The viewer unmutes: there is no place for its feed, so its microphone goes off and it
  // reads why (not a microphone that says "on" while nobody hears it).
  await a.getByTestId('mic-toggle').click();
  await a.locator('[data-testid=mic-toggle][data-state=failed]').waitFor({ timeout: 15_000 });
  assert.match(await a.getByTestId('mic-problem').textContent(), /as many open microphones as its video server takes/);
  assert.equal(await a.evaluate(() => navigator.mediaDevices && window.__vpcs.filter((pc) => pc.connectionState !== 'closed'
    && pc.getSenders().some((s) => s.track?.kind === 'audio' && s.track.readyState === 'live')).length), 0,
  'no live microphone track is left sending');

  // A place frees; unmuted again, the viewer is heard.
  await filler.evaluate(async () => {
    const f = window.__fillers.pop();
    await f.send({ janus: 'message', session_id: f.session_id, handle_id: f.handle_id, body: { request: 'unpublish' } });
    f.pc.close();
  });
  await a.getByTestId('mic-toggle').click();
  await a.locator('[data-testid=mic-toggle][data-state=on]').waitFor({ timeout: 10_000 });
  await hears(host, 'host hearing the viewer once a place freed');
  for (const page of [host, a, filler]) await page.context().close();
});

test('SFU voice: a microphone whose feed can never reach Janus goes off and its person reads why, while the picture plays on', async () => {
  const host = await hostSfu(sfu, 'mode-sfu');
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const janus = new URL((await grantFor(sfu.server.url, viewerLink)).sfu.janusUrl);
  const a = await newPage(sfu.browser);
  await a.addInitScript(recordPeers);
  // The page's first socket to Janus (its picture) goes through; every later one (its voice's
  // publication, each try) is closed as it opens — a network that lets nothing more through.
  let sockets = 0;
  await a.routeWebSocket((url) => url.host === janus.host, (ws) => {
    sockets += 1;
    if (sockets === 1) ws.connectToServer();
    else ws.close({ code: 1011, reason: 'unreachable' });
  });
  await openApp(a, viewerLink);
  await decoding(a, { timeout: 30_000 });
  assert.equal(sockets, 1);
  await a.getByTestId('mic-toggle').click();
  // Every quick attempt fails (0.5 s to 4 s apart, ~25 s in all): off, and said.
  await a.locator('[data-testid=mic-toggle][data-state=failed]').waitFor({ timeout: 60_000 });
  assert.match(await a.getByTestId('mic-problem').textContent(), /can't reach the video server/);
  assert.ok(sockets > 5, `tried again before giving up (${sockets - 1} tries)`);
  const before = await a.evaluate(() => document.querySelector('[data-testid=remote-video]').getVideoPlaybackQuality().totalVideoFrames);
  await a.waitForFunction((n) => document.querySelector('[data-testid=remote-video]').getVideoPlaybackQuality().totalVideoFrames > n + 10, before, { timeout: 10_000 });
  for (const page of [host, a]) await page.context().close();
});

test('nothing anyone sends through Janus is ever in the room key\'s epoch, which every link holder has: not from the start, nor after a removal and a handover', async () => {
  const host = await hostSfu(sfu, 'mode-sfu', [recordVoices]);
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const viewer = await sfuGuest(viewerLink);
  const controller = await sfuGuest(await host.getByTestId('invite-controller-link').inputValue());
  const removed = await sfuGuest(viewerLink);
  await setMic(viewer, true);

  // A link holder's subscription to every feed, reading only which epoch each frame is in.
  const tap = await newPage(sfu.browser);
  await tap.goto(`${sfu.server.url}/config.json`);
  await kidTap(tap, (await grantFor(sfu.server.url, viewerLink)).sfu);
  const kids = (from = 0) => tap.evaluate((from) => window.__kids.slice(from), from);
  const latest = async (kind) => (await kids()).filter((k) => k.kind === kind).at(-1)?.epoch;
  // The method works: the host's screen and the viewer's voice, in epoch 1 from the start —
  // never the room key's epoch 0, which this link holder, seated nowhere and listed by
  // nobody, could open.
  await until('the tap to read the screen and the voice in epoch 1', async () =>
    (await latest('video')) === 1 && (await latest('audio')) === 1, 20_000);
  assert.equal((await kids()).filter((k) => k.epoch === 0).length, 0, 'nothing ever in the room key');

  // A removal: everyone moves to epoch 2.
  await host.getByTestId(`remove-participant-${await myId(removed)}`).click();
  await removed.getByTestId('session-ended').waitFor({ timeout: 10_000 });
  await until('the screen and the voice to move to epoch 2', async () =>
    (await latest('video')) === 2 && (await latest('audio')) === 2);
  const mark = (await kids()).length;

  // The role goes to the controller, whose tab loads again as the host and shares.
  const cid = await myId(controller);
  await host.getByTestId(`hand-over-${cid}`).click();
  await controller.getByTestId('host-offer').waitFor({ timeout: 10_000 });
  await controller.getByTestId('take-host').click();
  await controller.locator('.session[data-role=host]').waitFor({ timeout: 20_000 });
  await controller.getByTestId('share-again').click();
  await controller.locator('[data-testid=share-state][data-state=sharing]').waitFor({ timeout: 10_000 });
  // The new host's epoch reaches the screen and the voice (or a frame the removed person can
  // open comes first).
  let after = [];
  const open = () => after.filter((k) => k.epoch === 0);
  await until('the new host\'s screen and the viewer\'s voice in a later epoch', async () => {
    after = await kids(mark);
    const later = (kind) => after.filter((k) => k.kind === kind && k.epoch > 1).length;
    return open().length > 0 || (later('video') > 30 && later('audio') > 50);
  }, 30_000);
  // Since the removal, not one frame was in epoch 0: the removed person, who holds the room
  // key, can open nothing anyone sent.
  assert.equal(open().length, 0, `${open().length} of ${after.length} frames since the removal in epoch 0`);
  assert.equal(after.filter((k) => k.epoch === null).length, 0, 'every frame has an SFrame header');
  await hears(controller, 'the new host hearing the viewer');
  for (const page of [host, viewer, controller, removed, tap]) await page.context().close();
});

test('a guest whose seat\'s secret the server withholds sends no voice anyone could read, and reads waiting-key', async () => {
  const host = await hostSfu(sfu, 'mode-sfu', [recordVoices]);
  const link = await host.getByTestId('invite-viewer-link').inputValue();
  // The signaling server passes the seat (the route into the SFU) and drops every copy of the
  // media secret — the first and the host's resends.
  const guest = await newPage(sfu.browser);
  await guest.addInitScript(recordPeers);
  const server = await withholdingServer(guest, parseLink(link), (kind) => kind === 'media_key');
  await openApp(guest, link);
  // Seated (its list shows the host), but no picture: the SFU's stays undecryptable.
  await guest.getByTestId(`participant-${await myId(host)}`).waitFor({ timeout: 30_000 });
  await guest.locator('[data-testid=e2ee-state]:text-is("waiting-key")').waitFor({ timeout: 30_000 });
  await setMic(guest, true);

  // A link holder's subscription to every feed: the host's screen, and the guest's microphone
  // once it publishes.
  const tap = await newPage(sfu.browser);
  await tap.goto(`${sfu.server.url}/config.json`);
  await kidTap(tap, (await grantFor(sfu.server.url, link)).sfu);
  const kids = () => tap.evaluate(() => window.__kids);
  const feeds = () => tap.evaluate(() => window.__tap.pcs.filter((pc) => pc.connectionState === 'connected').length);
  await until('the tap to take the guest\'s published feed too', async () => (await feeds()) >= 2, 30_000);
  // Three seconds of the host's screen after that (the guest's microphone, had it sent, would
  // be ~150 audio frames by then).
  const shown = (await kids()).filter((k) => k.kind === 'video').length;
  await until('the tap to read 90 more frames of the host\'s screen', async () =>
    (await kids()).filter((k) => k.kind === 'video').length > shown + 90, 20_000);
  const all = await kids();
  const screen = new Set(all.filter((k) => k.kind === 'video').map((k) => k.feed));
  const voice = all.filter((k) => k.kind === 'audio' && !screen.has(k.feed));
  assert.equal(all.filter((k) => k.epoch === 0).length, 0, 'nothing in the room key\'s epoch');
  assert.equal(voice.length, 0, `the guest sent ${voice.length} voice frames without a media secret`);
  assert.ok(server.withheld >= 1, 'the server withheld the secret');
  assert.equal(await guest.getByTestId('e2ee-state').textContent(), 'waiting-key');
  for (const page of [host, guest, tap]) await page.context().close();
});
