// Voice: microphones off until turned on, everyone hears everyone else (peer to peer the host
// mixes: each guest hears everybody but themselves), a muted person sends silence, and the
// participant list shows who is muted and who is speaking.
//
// Every page's fake microphone plays the same 440 Hz tone (Chromium's
// --use-file-for-fake-audio-capture), so "who hears whom" is read by turning one microphone on
// at a time and looking for energy at 440 Hz in what each page receives.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp, myId, decoding, grant } from './lib/harness.mjs';
import { toneWav, recordVoices, hears, silent, setMic, micShown, speakingShown } from './lib/voice.mjs';
import { until } from './lib/adversary.mjs';

const stack = useStack(undefined, () => [
  `--use-file-for-fake-audio-capture=${toneWav()}`,
  // Sound plays without a click here; the app's "click to hear" path is for real browsers.
  '--autoplay-policy=no-user-gesture-required',
]);

/** A host sharing the test pattern (its voices recorded), and its two invitation links. */
async function sharingHost(inits = []) {
  const host = await newPage(stack.browser);
  await host.addInitScript(recordVoices);
  for (const init of inits) await host.addInitScript(init);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  return { host, viewerLink, controllerLink };
}

test('host and two guests hear each other, nobody hears themselves, muted is silent', async () => {
  const { host, viewerLink, controllerLink } = await sharingHost();
  const a = await newPage(stack.browser);
  const b = await newPage(stack.browser);
  for (const [page, link] of [[a, viewerLink], [b, controllerLink]]) {
    await page.addInitScript(recordVoices);
    await openApp(page, link);
  }
  await Promise.all([decoding(a), decoding(b)]);
  const [hostId, aId, bId] = [await myId(host), await myId(a), await myId(b)];
  const everyone = [host, a, b];

  // Off until turned on, and shown as muted everywhere.
  for (const page of everyone) {
    assert.equal(await page.getByTestId('mic-toggle').getAttribute('data-state'), 'off');
    for (const id of [hostId, aId, bId]) await micShown(page, id, 'off');
  }
  // Nothing is sent while every microphone is off.
  await silent(a, 'a guest before anyone talks');

  // The host talks: both guests hear it; it is shown unmuted and speaking everywhere.
  await setMic(host, true);
  await hears(a, 'viewer hearing the host');
  await hears(b, 'controller hearing the host');
  for (const page of everyone) {
    await micShown(page, hostId, 'on');
    await speakingShown(page, hostId, true);
  }
  await setMic(host, false);
  for (const page of everyone) await speakingShown(page, hostId, false);
  await silent(a, 'viewer after the host muted', { received: true });

  // Guest A talks: the host hears it, B hears it through the host's mix, A does not hear
  // itself back.
  await setMic(a, true);
  await hears(host, 'host hearing the viewer');
  await hears(b, 'controller hearing the viewer (forwarded by the host)');
  await silent(a, 'the viewer hearing itself');
  for (const page of everyone) {
    await micShown(page, aId, 'on');
    await speakingShown(page, aId, true);
  }

  // A mutes: silence for everyone, shown as muted.
  await setMic(a, false);
  await silent(b, 'controller after the viewer muted');
  await silent(host, 'host after the viewer muted');
  for (const page of everyone) await micShown(page, aId, 'off');

  // B talks: A hears it.
  await setMic(b, true);
  await hears(a, 'viewer hearing the controller');
  await setMic(b, false);

  for (const page of everyone) {
    assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  }
  for (const page of everyone) await page.context().close();
});

/** The host's connection made ahead for the next participant, once it is there: its index in
 * `__vpcs` (an offer set, candidates gathered, no answer). */
async function spareReady(host) {
  const handle = await host.waitForFunction(
    () => {
      const i = window.__vpcs.findIndex(
        (pc) => pc.localDescription?.type === 'offer' && !pc.remoteDescription && pc.iceGatheringState === 'complete',
      );
      return i >= 0 ? { i } : null; // an object: index 0 is falsy
    },
    null,
    { timeout: 15_000 },
  );
  return (await handle.jsonValue()).i;
}

/** A guest opening `link` (the only one coming then): it decodes, and the host's connection `i`, a
 * spare, is the one it answered and connected on. */
async function joinOn(host, i, link, who) {
  const page = await newPage(stack.browser);
  await page.addInitScript(recordVoices);
  await openApp(page, link);
  await decoding(page);
  await host.waitForFunction((i) => window.__vpcs[i].connectionState === 'connected', i, { timeout: 15_000 });
  const answered = await host.evaluate((i) => window.__vpcs[i].remoteDescription?.type === 'answer', i);
  assert.ok(answered, `${who} connected on the spare`);
  return page;
}

test('who comes once the host has been sharing a while gets the connection made ahead: picture, control, voice both ways and the mix', async () => {
  const { host, viewerLink, controllerLink } = await sharingHost();

  // A controller comes after the spare is made: it decodes on that very connection.
  const first = await spareReady(host);
  const controller = await joinOn(host, first, controllerLink, 'the controller');

  // Control works on it (its channels were opened before anyone came).
  await grant(host, controller, await myId(controller));

  // A viewer comes after the next spare is made.
  const second = await spareReady(host);
  assert.notEqual(second, first);
  const viewer = await joinOn(host, second, viewerLink, 'the viewer');

  // Voice both ways on a connection made before anyone's mix existed: the host hears the
  // viewer, the controller hears the viewer through the host's mix, the viewer not itself.
  await setMic(viewer, true);
  await hears(host, 'host hearing the viewer (spare connection)');
  await hears(controller, 'controller hearing the viewer through the mix (spare connection)');
  await silent(viewer, 'the viewer hearing itself');
  await setMic(viewer, false);
  // The host's own microphone goes on its own track (a renegotiation of the spare).
  await setMic(host, true);
  await hears(viewer, 'viewer hearing the host (spare connection, renegotiated)');
  await setMic(host, false);

  for (const page of [host, controller, viewer]) {
    assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  }
  for (const page of [host, controller, viewer]) await page.context().close();
});

/** Keeps every track a page's capture calls make (`window.__tracks`): microphone, screen and
 * the test pattern's canvas. */
function recordTracks() {
  window.__tracks = [];
  const keep = (stream) => { window.__tracks.push(...stream.getTracks()); return stream; };
  const md = navigator.mediaDevices;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => gum(c).then(keep);
  const gdm = md.getDisplayMedia?.bind(md);
  if (gdm) md.getDisplayMedia = (c) => gdm(c).then(keep);
  const capture = HTMLCanvasElement.prototype.captureStream;
  HTMLCanvasElement.prototype.captureStream = function (...args) { return keep(capture.apply(this, args)); };
}

/** The kinds of `page`'s capture tracks still live. */
function liveTracks(page) {
  return page.evaluate(() => window.__tracks.filter((t) => t.readyState === 'live').map((t) => t.kind).sort());
}

async function nothingLive(page, what) {
  await until(`${what}: every microphone and capture track to stop`, async () => (await liveTracks(page)).length === 0, 5_000)
    .catch(async (e) => { throw new Error(`${e.message}; still live: ${await liveTracks(page)}`); });
}

test('once the session is over for a page, nothing of it records: a guest who left, a host who ended, a host who went back', async () => {
  const { host, viewerLink } = await sharingHost([recordTracks]);
  const a = await newPage(stack.browser);
  await a.addInitScript(recordVoices);
  await a.addInitScript(recordTracks);
  await openApp(a, viewerLink);
  await decoding(a);
  await setMic(a, true);
  await setMic(host, true);
  await hears(host, 'host hearing the viewer');
  assert.deepEqual(await liveTracks(a), ['audio']);
  assert.deepEqual(await liveTracks(host), ['audio', 'video']);

  // The viewer leaves: its page has no microphone toggle any more, and no microphone.
  await a.getByTestId('leave-session').click();
  await a.locator('[data-testid=session-ended][data-reason=you-left]').waitFor({ timeout: 5_000 });
  await nothingLive(a, 'the viewer who left');

  // The host ends the session: capture and microphone stop.
  await host.getByTestId('end-session').click();
  await host.getByTestId('session-ended').waitFor({ timeout: 10_000 });
  await nothingLive(host, 'the host who ended');
  assert.equal(await host.getByTestId('invite-viewer-link').count(), 0, 'an ended session still offers its links');
  assert.equal(await host.getByTestId('participant-list').isVisible(), false, 'an ended session still offers to remove people');

  // A host who goes back to the start page while sharing and talking stops both; forward
  // again, it is the host of the same session, sharing nothing until asked.
  const second = await newPage(stack.browser);
  await second.addInitScript(recordVoices);
  await second.addInitScript(recordTracks);
  await openApp(second, stack.server.url);
  await second.getByTestId('start-test-pattern').click();
  await second.locator('[data-testid=share-state][data-state=sharing]').waitFor({ timeout: 10_000 });
  await setMic(second, true);
  assert.deepEqual(await liveTracks(second), ['audio', 'video']);
  await second.goBack();
  await second.getByTestId('start-session').waitFor({ timeout: 5_000 });
  await nothingLive(second, 'the host who went back');
  await second.goForward();
  await second.locator('.session[data-role=host]').waitFor({ timeout: 10_000 });
  assert.deepEqual(await liveTracks(second), []);
  for (const page of [host, a, second]) await page.context().close();
});

/** Ends `page`'s live microphone track as the browser does when it is unplugged or its
 * permission is taken back (a page's own `stop()` fires no `ended`). */
function unplugMic(page) {
  return page.evaluate(() => {
    const mic = window.__tracks.find((t) => t.kind === 'audio' && t.readyState === 'live');
    mic.stop();
    mic.dispatchEvent(new Event('ended'));
  });
}

test('a microphone that stops by itself goes off for everyone, and its person reads why', async () => {
  const { host } = await sharingHost([recordTracks]);
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const a = await newPage(stack.browser);
  await a.addInitScript(recordTracks);
  await openApp(a, viewerLink);
  await decoding(a);
  const [hostId, aId] = [await myId(host), await myId(a)];
  await setMic(a, true);
  await setMic(host, true);
  await micShown(host, aId, 'on');
  await micShown(a, hostId, 'on');

  for (const [page, id, other] of [[a, aId, host], [host, hostId, a]]) {
    await unplugMic(page);
    await page.locator('[data-testid=mic-toggle][data-state=failed]').waitFor({ timeout: 5_000 });
    assert.match(await page.getByTestId('mic-problem').textContent(), /Your microphone stopped \(unplugged, or its permission was taken back\)/);
    await micShown(other, id, 'off');
    await micShown(page, id, 'off');
  }
  // Turned on again, it is heard. (Its mark on the host's list follows within the presence
  // pacing's window: this is the viewer's third change of its presence in a few seconds.)
  await a.getByTestId('mic-toggle').click();
  await a.locator('[data-testid=mic-toggle][data-state=on]').waitFor({ timeout: 10_000 });
  await hears(host, 'the host hearing the viewer again');
  for (const page of [host, a]) await page.context().close();
});
