// P2P screen sharing journeys with real WebRTC in headless Chromium (fake display media), in
// the loopback-only namespace: everyone decodes the host's screen, the soft limit holds, ending
// and leaving reach everyone, and a paused share resumes without anyone rejoining.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp, recordPeers, pictureSource, routeRealtime } from './lib/harness.mjs';
import { SigningKey } from './lib/wire.mjs';

const stack = useStack();

/** Starts a host sharing the fake screen (or the test pattern) and returns its links. */
async function startHost(source = 'start-session') {
  const host = await newPage(stack.browser);
  await host.addInitScript(recordPeers);
  await openApp(host, stack.server.url);
  await host.getByTestId(source).click();
  const viewer = await host.getByTestId('invite-viewer-link').inputValue();
  const controller = await host.getByTestId('invite-controller-link').inputValue();
  return { host, links: { viewer, controller } };
}

/** Keeps where each Worker the page makes was made (`window.__workers`: stack texts). */
function recordWorkers() {
  const Base = window.Worker;
  window.__workers = [];
  window.Worker = class extends Base {
    constructor(url, options) {
      super(url, options);
      window.__workers.push(`${url} ${new Error().stack}`);
    }
  };
}

async function join(link) {
  const page = await newPage(stack.browser);
  await page.addInitScript(recordPeers);
  await page.addInitScript(recordWorkers);
  await openApp(page, link);
  return page;
}

/** Resolves with [width, frames] once the page's remote video decodes `minFrames` more frames. */
async function decodes(page, { minWidth = 640, minFrames = 10, timeout = 20_000 } = {}) {
  const start = await page.evaluate(() => {
    const v = document.querySelector('[data-testid=remote-video]');
    return v ? v.getVideoPlaybackQuality().totalVideoFrames : 0;
  });
  await page.waitForFunction(
    ([w, n]) => {
      const v = document.querySelector('[data-testid=remote-video]');
      return v && v.videoWidth >= w && v.getVideoPlaybackQuality().totalVideoFrames >= n;
    },
    [minWidth, start + minFrames],
    { timeout },
  );
  return page.evaluate(() => {
    const v = document.querySelector('[data-testid=remote-video]');
    return [v.videoWidth, v.getVideoPlaybackQuality().totalVideoFrames];
  });
}

async function closeAll(...pages) {
  for (const p of pages) await p.context().close();
}

test('host, two viewers and a controller all decode the shared screen', async () => {
  const { host, links } = await startHost();
  await host.getByTestId('local-preview').waitFor();
  const guests = [await join(links.viewer), await join(links.viewer), await join(links.controller)];
  for (const g of guests) {
    const [width] = await decodes(g);
    assert.ok(width >= 640, `decoded width ${width}`);
    // The badge says what was measured: this guest decodes on a connection that ends at the
    // host's page itself (its DTLS certificate), so the picture comes peer to peer.
    const measured = await pictureSource(g, host);
    assert.equal(measured, 'p2p', 'the picture comes straight from the host');
    assert.equal(await g.getByTestId('session-mode').textContent(), measured);
    assert.equal(await g.getByTestId('connection-state').getAttribute('data-state'), 'connected');
    // One E2EE worker, the one the page's loader started while the wasm downloaded, taken by
    // the app (which would otherwise have made its own, from its JS glue).
    const workers = await g.evaluate(() => [window.__workers, window.__pairuxEarlyWorker === undefined]);
    assert.equal(workers[0].length, 1, workers[0].join('\n'));
    assert.doesNotMatch(workers[0][0], /pairux-(guest|web)/, 'made by the loader, not the app');
    assert.ok(workers[1], 'the app took the loader\'s worker');
  }
  // The host previews what it shares; only the host has host controls.
  assert.ok(await host.evaluate(() => document.querySelector('[data-testid=local-preview]').videoWidth > 0));
  assert.equal(await host.getByTestId('end-session').count(), 1);
  for (const g of guests) assert.equal(await g.getByTestId('end-session').count(), 0);
  // The stats overlay fills in (resolution, fps, bitrate, RTT, loss, quality dot).
  await guests[0].getByTestId('quality-dot').waitFor({ timeout: 5_000 });
  assert.match(await guests[0].getByTestId('stats-overlay').textContent(), /\d+×\d+.*fps.*Mbps.*RTT.*loss/);
  for (const p of [host, ...guests]) assert.deepEqual(p.errors, []);
  await closeAll(host, ...guests);
});

test('a fourth controller is refused, the first three are served', async () => {
  const { host, links } = await startHost('start-test-pattern');
  const controllers = [];
  for (let i = 0; i < 3; i++) {
    controllers.push(await join(links.controller));
    await decodes(controllers[i], { minFrames: 3 });
  }
  const fourth = await join(links.controller);
  const banner = fourth.getByTestId('error-banner');
  await banner.waitFor({ timeout: 15_000 });
  // product.md §3: a clear "session full" message.
  assert.match(await banner.textContent(), /^Session full — ask the host to make room\.$/);
  assert.equal(await fourth.getByTestId('remote-video').count(), 0);
  // The others are unaffected.
  await decodes(controllers[0], { minFrames: 5 });
  await closeAll(host, ...controllers, fourth);
});

test('ending the session reaches everyone; a closed host tab reads as "the host has left"', async () => {
  const { host, links } = await startHost('start-test-pattern');
  const guests = [await join(links.viewer), await join(links.controller)];
  for (const g of guests) await decodes(g, { minFrames: 3 });
  // With guests present, End asks first; unanswered it ends anyway, so a click on
  // `end-session` alone (all product.md names) still ends the session for everyone.
  await host.getByTestId('end-session').click();
  await host.getByTestId('end-session-confirm-panel').waitFor();
  assert.match(await host.getByTestId('end-session-confirm-panel').textContent(), /End the session for everyone\?/);
  await host.getByTestId('session-ended').waitFor({ timeout: 10_000 });
  for (const g of guests) {
    const ended = g.getByTestId('session-ended');
    await ended.waitFor({ timeout: 10_000 });
    assert.match(await ended.textContent(), /The host ended the session/);
    assert.equal(await g.getByTestId('remote-video').count(), 0);
  }
  await closeAll(host, ...guests);

  const second = await startHost('start-test-pattern');
  const viewer = await join(second.links.viewer);
  await decodes(viewer, { minFrames: 3 });
  await second.host.context().close();
  const left = viewer.getByTestId('session-ended');
  await left.waitFor({ timeout: 10_000 });
  assert.match(await left.textContent(), /The host has left/);
  await closeAll(viewer);
});

test('a link to a session nobody hosts says it is not live; one naming another host key says it cannot confirm the host', async () => {
  const h = new SigningKey(Buffer.alloc(32, 1)).public.toString('base64url');
  const unhosted = `${stack.server.url}/s/AAECAwQFBgcICQoLDA0ODw#k=ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8&h=${h}`;
  // A hosted session's viewer link whose host key is someone else's (a mangled or forged `h`):
  // the host is there with the right room key, but nothing the link names vouches for it.
  const { host, links } = await startHost();
  const other = new URL(links.viewer);
  const fragment = new URLSearchParams(other.hash.slice(1));
  fragment.set('h', new SigningKey().public.toString('base64url'));
  other.hash = fragment.toString();
  const [nobody, unconfirmed] = await Promise.all([join(unhosted), join(other.href)]);
  // Both wait for a host first (the deadline is 10 s), together.
  for (const page of [nobody, unconfirmed]) await page.getByTestId('waiting').waitFor();
  const said = async (page) => {
    const banner = page.getByTestId('error-banner');
    await banner.waitFor({ timeout: 20_000 });
    return banner.textContent();
  };
  const [notLive, cannotConfirm] = await Promise.all([said(nobody), said(unconfirmed)]);
  assert.match(notLive, /isn't live/);
  assert.match(cannotConfirm, /can't confirm who is hosting: the host it names isn't here/);
  // It showed nobody's screen and lists no host.
  assert.equal(await unconfirmed.locator('[data-testid=participant-list] [data-role=host]').count(), 0);
  assert.equal(await unconfirmed.getByTestId('remote-video').count(), 0);
  await closeAll(nobody, unconfirmed, host);
});

test('stopping the share pauses it for everyone; sharing again resumes without rejoining', async () => {
  const { host, links } = await startHost();
  const viewer = await join(links.viewer);
  await decodes(viewer, { minFrames: 5 });
  const me = await viewer.locator('[data-testid=participant-list] > li.me').getAttribute('data-testid');

  await stopCapture(host);
  await host.getByTestId('share-again').waitFor();
  assert.equal(await host.getByTestId('share-state').getAttribute('data-state'), 'paused');
  // Every track of the capture is stopped, the preview's too: nothing keeps the screen captured.
  assert.equal(
    await host.evaluate(() => document.querySelector('[data-testid=local-preview]').srcObject.getVideoTracks()[0].readyState),
    'ended',
  );
  await viewer.getByTestId('share-paused').waitFor({ timeout: 10_000 });

  await host.getByTestId('share-again').click();
  await host.locator('[data-testid=share-state][data-state=sharing]').waitFor({ timeout: 10_000 });
  await viewer.getByTestId('share-paused').waitFor({ state: 'detached', timeout: 10_000 });
  await decodes(viewer, { minFrames: 10 });
  // Same participant, same connection: nobody rejoined.
  assert.equal(await viewer.locator('[data-testid=participant-list] > li.me').getAttribute('data-testid'), me);
  assert.equal(await host.locator('[data-testid=participant-list] > li').count(), 2);
  await closeAll(host, viewer);
});

test("the host's signaling down a while (its picture's connection up): a pause meanwhile reaches the viewer once it is back", async () => {
  const host = await newPage(stack.browser);
  await host.addInitScript(recordPeers);
  await routeRealtime(host);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-session').click();
  const viewer = await join(await host.getByTestId('invite-viewer-link').inputValue());
  await decodes(viewer, { minFrames: 5 });

  await host.offline(true);
  await host.locator('[data-testid=connection-state][data-state=reconnecting]').waitFor({ timeout: 10_000 });
  await stopCapture(host);
  await host.getByTestId('share-again').waitFor();
  // Down longer than the client keeps a broadcast it could not send (10 s).
  await new Promise((resolve) => setTimeout(resolve, 13_000));
  assert.equal(await viewer.getByTestId('share-paused').count(), 0);
  await host.offline(false);
  await host.locator('[data-testid=connection-state][data-state=connected]').waitFor({ timeout: 30_000 });
  await viewer.getByTestId('share-paused').waitFor({ timeout: 10_000 });
  await closeAll(host, viewer);
});

/** What Chrome's "Stop sharing" does: the capture ends — here the track the host sends. */
function stopCapture(host) {
  return host.evaluate(() => {
    const track = window.__pcs.flatMap((pc) => pc.getSenders()).map((s) => s.track)
      .find((t) => t && t.kind === 'video');
    track.stop();
    track.dispatchEvent(new Event('ended'));
  });
}

/** Frames `selector`'s video presents over `ms` (requestVideoFrameCallback's count). */
function presented(page, selector, ms) {
  return page.evaluate(([sel, ms]) => new Promise((resolve) => {
    const v = document.querySelector(sel);
    let first = null;
    let last = null;
    const end = performance.now() + ms;
    const step = (_now, meta) => {
      first ??= meta.presentedFrames;
      last = meta.presentedFrames;
      if (performance.now() < end) v.requestVideoFrameCallback(step);
      else resolve(last - first);
    };
    v.requestVideoFrameCallback(step);
  }), [selector, ms]);
}

test('the host\'s own preview draws at a low rate; the track guests get keeps the capture\'s', async () => {
  const { host, links } = await startHost('start-test-pattern');
  const viewer = await join(links.viewer);
  await decodes(viewer, { minFrames: 5 });
  const rates = await host.evaluate(() => {
    const preview = document.querySelector('[data-testid=local-preview]').srcObject.getVideoTracks()[0];
    const sent = window.__pcs.flatMap((pc) => pc.getSenders()).map((s) => s.track).find((t) => t && t.kind === 'video');
    return { preview: preview.getSettings().frameRate, sent: sent.getSettings().frameRate, same: preview === sent };
  });
  assert.deepEqual(rates, { preview: 10, sent: 30, same: false });
  // The pattern is drawn at 30 fps: the preview shows at most 10 of them a second, and does
  // show them.
  const preview = await presented(host, '[data-testid=local-preview]', 3000);
  assert.ok(preview >= 5 && preview <= 33, `the preview presented ${preview} frames in 3 s`);
  await closeAll(host, viewer);
});

test('quality presets set the picture\'s height as well as its bitrate: Low really sends 720p', async () => {
  const { host, links } = await startHost();
  const viewer = await join(links.viewer);
  await decodes(viewer);
  const height = () => viewer.evaluate(() => document.querySelector('[data-testid=remote-video]').videoHeight);
  const captured = await host.evaluate(() => document.querySelector('[data-testid=local-preview]').videoHeight);
  assert.ok(captured > 720, `the fake screen is taller than 720 px (${captured})`);
  // Medium (the default) sends the capture as it is, up to 1080 lines.
  await viewer.waitForFunction((h) => document.querySelector('[data-testid=remote-video]').videoHeight === h, Math.min(captured, 1080), { timeout: 10_000 });
  await host.getByTestId('quality').selectOption('low');
  await viewer.waitForFunction(() => {
    const v = document.querySelector('[data-testid=remote-video]');
    return v.videoHeight > 0 && v.videoHeight <= 720;
  }, null, { timeout: 10_000 });
  assert.ok((await height()) >= 700, `Low is 720p, not less (${await height()})`);
  await host.getByTestId('quality').selectOption('high');
  await viewer.waitForFunction((h) => document.querySelector('[data-testid=remote-video]').videoHeight === h, Math.min(captured, 1080), { timeout: 10_000 });
  await closeAll(host, viewer);
});
