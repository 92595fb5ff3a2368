// Removing a participant: their picture and control stop at once and they read "The host
// removed you"; from then on nobody gets in without the host's OK (the removed tab reloaded, or
// anyone new), and the host admits or denies each.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp, myId, decoding, recordPeers, grant } from './lib/harness.mjs';
import { until } from './lib/adversary.mjs';

const stack = useStack();

async function join(link) {
  const page = await newPage(stack.browser);
  await page.addInitScript(recordPeers);
  await openApp(page, link);
  return page;
}

/** Frames decoded so far on every connection the page made (closed ones keep their count). */
async function framesDecoded(page) {
  return page.evaluate(async () => {
    let n = 0;
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') {
        n += pc.__lastDecoded ?? 0;
        continue;
      }
      let decoded = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') decoded += s.framesDecoded ?? 0;
      });
      pc.__lastDecoded = decoded;
      n += decoded;
    }
    return n;
  });
}

/** The page's own participant id, once its list shows it. */
async function idOf(page) {
  await page.locator('[data-testid=participant-list] > li.me').waitFor({ timeout: 15_000 });
  return myId(page);
}

test('the host removes a controller: its picture and control stop, it reads why, the other viewer plays on; its reload and a newcomer need the host\'s OK, also after the host reloads', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const removed = await join(controllerLink);
  const other = await join(viewerLink);
  await decoding(removed);
  await decoding(other);
  const rid = await idOf(removed);
  const oid = await idOf(other);
  await grant(host, removed, rid);
  await host.getByTestId(`revoke-control-${rid}`).waitFor();
  // Before any removal nobody waits: both were let in without asking.
  assert.equal(await host.locator('[data-testid^=join-request-]').count(), 0);
  // A Remove button per guest, none for the host itself.
  await host.getByTestId(`remove-participant-${oid}`).waitFor();
  assert.equal(await host.locator('[data-testid=participant-list] > li.me [data-testid^=remove-participant-]').count(), 0);

  // Its tab is busy (hung, or in a background tab's long task): it cannot hear of it yet, and
  // stays in the list meanwhile. Its row says it was removed, and offers Remove no more.
  // (The long task starts before the host's click: the page's next task.)
  await removed.evaluate(() => setTimeout(() => {
    const until = Date.now() + 8_000;
    while (Date.now() < until);
  }));
  await host.getByTestId(`remove-participant-${rid}`).click();
  await host.locator(`[data-testid=peer-state-${rid}][data-state=removed]`).waitFor({ timeout: 5_000 });
  assert.equal(await host.getByTestId(`peer-state-${rid}`).textContent(), 'removed');
  assert.equal(await host.getByTestId(`remove-participant-${rid}`).isVisible(), false);
  // Control went at once, without the tab's say.
  await host.getByTestId(`revoke-control-${rid}`).waitFor({ state: 'detached', timeout: 5_000 });
  assert.equal(await host.getByTestId(`participant-${rid}`).count(), 1);
  const notice = removed.getByTestId('session-ended');
  await notice.waitFor({ timeout: 15_000 });
  assert.equal(await notice.getAttribute('data-reason'), 'removed');
  assert.match(await notice.textContent(), /The host removed you/);
  // No automatic way back on that page: no rejoin button, no picture, no decoding.
  assert.equal(await removed.getByTestId('rejoin-session').count(), 0);
  assert.equal(await removed.getByTestId('remote-video').count(), 0);
  // Every connection it had is closed: there is nothing left to decode on.
  await until('the removed page\'s connections to close', () =>
    removed.evaluate(() => window.__pcs.length > 0 && window.__pcs.every((pc) => pc.connectionState === 'closed')));
  // Running again, it read why and left the list.
  await host.getByTestId(`participant-${rid}`).waitFor({ state: 'detached', timeout: 10_000 });
  // The other viewer is unaffected.
  const before = await framesDecoded(other);
  const shown = await other.evaluate(() => document.querySelector('[data-testid=remote-video]').getVideoPlaybackQuality().totalVideoFrames);
  await decoding(other, { minFrames: shown + 10, timeout: 10_000 });
  assert.ok((await framesDecoded(other)) > before);
  assert.equal(await other.getByTestId('session-ended').count(), 0);

  // The removed tab reloads (same link, from its sessionStorage): it waits for the host.
  await removed.reload();
  await removed.waitForSelector('.app');
  const wait = removed.getByTestId('waiting-admission');
  await wait.waitFor({ timeout: 15_000 });
  assert.match(await wait.textContent(), /Waiting for the host to let you in/);
  const again = await idOf(removed);
  assert.notEqual(again, rid);
  const ask = host.getByTestId(`join-request-${again}`);
  await ask.waitFor({ timeout: 10_000 });
  // Same tab, same verified identity (its key lives in the tab's sessionStorage): the host is
  // told this is the person it removed.
  assert.match(await ask.textContent(), /asks to join \(you removed them earlier\)/);
  // Still nothing to see while it waits: the host, which has read its join to ask about it,
  // made no connection for it, and it decoded nothing.
  assert.equal(await host.getByTestId(`peer-state-${again}`).getAttribute('data-state'), 'none', 'the host connected to a page it has not let in');
  assert.equal(await framesDecoded(removed), 0, 'a page waiting for the host decodes nothing');
  await host.getByTestId(`admit-${again}`).click();
  await ask.waitFor({ state: 'detached', timeout: 5_000 });
  await decoding(removed);
  assert.equal(await removed.getByTestId('session-ended').count(), 0);

  // A newcomer waits too, and the host denies it: it stays out.
  const newcomer = await join(viewerLink);
  await newcomer.getByTestId('waiting-admission').waitFor({ timeout: 15_000 });
  const nid = await idOf(newcomer);
  await host.getByTestId(`join-request-${nid}`).waitFor({ timeout: 10_000 });
  const asks = await host.getByTestId(`join-request-${nid}`).textContent();
  assert.match(asks, /asks to join/);
  assert.doesNotMatch(asks, /removed/, 'a new identity is not taken for the removed person');
  assert.equal(await host.getByTestId(`peer-state-${nid}`).getAttribute('data-state'), 'none', 'the host connected to a page it has not let in');
  await host.getByTestId(`deny-join-${nid}`).click();
  const denied = newcomer.getByTestId('session-ended');
  await denied.waitFor({ timeout: 5_000 });
  assert.equal(await denied.getAttribute('data-reason'), 'denied');
  // Denied, it ends with nothing decoded and no connection open.
  assert.equal(await framesDecoded(newcomer), 0, 'a denied page decodes nothing');
  assert.ok(await newcomer.evaluate(() => window.__pcs.every((pc) => pc.connectionState === 'closed')), 'a denied page keeps a connection open');
  assert.equal(await newcomer.getByTestId('remote-video').count(), 0);
  await host.getByTestId(`join-request-${nid}`).waitFor({ state: 'detached', timeout: 5_000 });

  // The host reloads its tab: it remembers (in that tab's sessionStorage) whom it let in —
  // both guests play again without asking — and that nobody new gets in without its OK.
  await host.reload();
  await host.locator('.session[data-role=host]').waitFor({ timeout: 15_000 });
  await host.getByTestId('share-again').click();
  for (const page of [other, removed]) {
    const seen = await framesDecoded(page);
    await until('the guest to decode the reloaded host', async () => (await framesDecoded(page)) > seen + 10, 20_000);
    assert.equal(await page.getByTestId('waiting-admission').count(), 0);
    assert.equal(await page.getByTestId('e2ee-state').textContent(), 'ok');
  }
  assert.equal(await host.locator('[data-testid^=join-request-]').count(), 0, 'a guest it let in had to ask again');
  const later = await join(viewerLink);
  await later.getByTestId('waiting-admission').waitFor({ timeout: 15_000 });
  await host.getByTestId(`join-request-${await idOf(later)}`).waitFor({ timeout: 10_000 });

  for (const page of [host, removed, other, newcomer, later]) assert.deepEqual(page.errors, []);
  for (const page of [host, removed, other, newcomer, later]) await page.context().close();
});

test('End asks "for everyone?" while guests are here: Keep cancels, End now ends at once', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const viewer = await join(await host.getByTestId('invite-viewer-link').inputValue());
  await decoding(viewer);
  await host.getByTestId(`participant-${await idOf(viewer)}`).waitFor();

  await host.getByTestId('end-session').click();
  const panel = host.getByTestId('end-session-confirm-panel');
  await panel.waitFor();
  assert.match(await panel.textContent(), /End the session for everyone\?/);
  await host.getByTestId('end-session-cancel').click();
  await panel.waitFor({ state: 'detached' });
  // Cancelled means cancelled: well past the confirmation's own deadline, nothing ended.
  await host.waitForTimeout(4_000);
  assert.equal(await host.getByTestId('session-ended').count(), 0);
  assert.equal(await viewer.getByTestId('session-ended').count(), 0);
  await decoding(viewer, { minFrames: 5 });

  // End now ends it, not the confirmation's deadline: the host page's timers made from here on
  // are Playwright's, and its clock stands still, so the deadline can never come.
  await host.clock.install();
  await host.clock.pauseAt(Date.now() + 1_000);
  await host.getByTestId('end-session').click();
  await host.getByTestId('end-session-confirm').click();
  await host.getByTestId('session-ended').waitFor({ timeout: 5_000 });
  const ended = viewer.getByTestId('session-ended');
  await ended.waitFor({ timeout: 5_000 });
  assert.equal(await ended.getAttribute('data-reason'), 'ended');
  for (const page of [host, viewer]) await page.context().close();
});

test('a host page back before the server answers offers no End or Share that would do nothing; once it answers, both work', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  await host.getByTestId('invite-viewer-link').waitFor();
  // The page is as if served without the settings in it (static hosting: the boot script
  // finds no config block), and the server's config.json does not answer: the host's tab,
  // reloaded, comes back as the host with nothing started yet (no socket, no session to end,
  // nobody to share with).
  const config = /\/config\.json(\?|$)/;
  await host.route(config, (route) => route.fulfill({ status: 503, body: 'down' }));
  await host.addInitScript(() => {
    const byId = Document.prototype.getElementById;
    Document.prototype.getElementById = function (id) {
      return id === 'pairux-config' ? null : byId.call(this, id);
    };
  });
  await host.reload();
  const end = host.getByTestId('end-session');
  const share = host.getByTestId('share-again');
  await share.waitFor({ timeout: 15_000 });
  await host.getByTestId('connection-state').waitFor();
  assert.equal(await end.isDisabled(), true, 'End before the session started');
  assert.equal(await share.isDisabled(), true, 'Share before the session started');
  // A quality picked meanwhile is the one the session starts with.
  await host.getByTestId('quality').selectOption('low');
  await host.unroute(config);
  await host.locator('[data-testid=end-session]:not([disabled])').waitFor({ timeout: 20_000 });
  assert.equal(await share.isDisabled(), false);
  await share.click();
  await host.locator('[data-testid=share-state][data-state=sharing]').waitFor({ timeout: 10_000 });
  const viewer = await join(await host.getByTestId('invite-viewer-link').inputValue());
  await decoding(viewer);
  assert.ok(await host.evaluate(() => document.querySelector('[data-testid=local-preview]').videoHeight > 720), 'the screen is taller than Low sends');
  // Low's 720 lines (a connection's first frames are smaller still, until it is up).
  await viewer.waitForFunction(() => {
    const v = document.querySelector('[data-testid=remote-video]');
    return v.videoHeight >= 700 && v.videoHeight <= 720;
  }, null, { timeout: 10_000 });
  await end.click();
  await host.getByTestId('end-session-confirm').click();
  await host.getByTestId('session-ended').waitFor({ timeout: 5_000 });
  await viewer.getByTestId('session-ended').waitFor({ timeout: 5_000 });
  for (const page of [host, viewer]) await page.context().close();
});
