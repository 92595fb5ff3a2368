// Live roster over Realtime: pages on one link see each other arrive and leave, and come back
// without ghosts or duplicates after the server restarts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp } from './lib/harness.mjs';

const stack = useStack();

/** The participant ids a page lists, sorted, once the list settles on `count` entries. */
async function rosterOf(page, count, timeout = 15_000) {
  const items = page.locator('[data-testid="participant-list"] > li');
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-testid="participant-list"] > li').length === n,
    count,
    { timeout },
  );
  const ids = await items.evaluateAll((els) => els.map((e) => e.dataset.testid));
  return ids.sort();
}

async function state(page) {
  return page.getByTestId('connection-state').getAttribute('data-state');
}

test('three pages see each other, a leaver disappears, a server restart leaves no ghosts', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-session').click();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();

  const viewer = await newPage(stack.browser);
  await openApp(viewer, viewerLink);
  const controller = await newPage(stack.browser);
  await openApp(controller, controllerLink);

  const pages = [host, viewer, controller];
  const all = await rosterOf(host, 3);
  for (const page of pages) {
    assert.deepEqual(await rosterOf(page, 3), all);
    await page.waitForSelector('[data-testid="connection-state"][data-state="connected"]');
  }
  // Roles are shown as tracked, host first.
  const roles = await host.locator('[data-testid="participant-list"] > li')
    .evaluateAll((els) => els.map((e) => e.dataset.role));
  assert.equal(roles[0], 'host');
  assert.deepEqual([...roles].sort(), ['controller', 'host', 'viewer']);
  // Each page marks itself.
  for (const page of pages) {
    assert.equal(await page.locator('[data-testid="participant-list"] > li.me').count(), 1);
  }

  // The viewer closes its tab: the others see it leave.
  const viewerId = (await viewer.locator('[data-testid="participant-list"] > li.me').getAttribute('data-testid'));
  await viewer.context().close();
  const remaining = all.filter((id) => id !== viewerId);
  assert.deepEqual(await rosterOf(host, 2), remaining);
  assert.deepEqual(await rosterOf(controller, 2), remaining);

  // The server restarts: every page shows reconnecting, then the same roster, once each.
  // While it is down, the host's badge counts down to each try and says when it tries: every
  // text it shows is recorded.
  await host.evaluate(() => {
    const badge = document.querySelector('[data-testid="connection-state"]');
    window.__badgeTexts = [];
    new MutationObserver(() => window.__badgeTexts.push(badge.textContent))
      .observe(badge, { subtree: true, childList: true, characterData: true });
  });
  await stack.server.stop();
  for (const page of [host, controller]) {
    await page.waitForSelector('[data-testid="connection-state"][data-state="reconnecting"]', { timeout: 15_000 });
    assert.match(await page.getByTestId('connection-state').textContent(), /Reconnecting/);
  }
  // The second wait is 2 s (realtime-js's 1 s, 2 s, 5 s, 10 s): it shows 2, then 1 without a
  // new event from the client, then the try itself.
  await host.waitForFunction(() => {
    const texts = window.__badgeTexts;
    const two = texts.indexOf('Reconnecting — next try in 2 s');
    return two >= 0 && texts.indexOf('Reconnecting — next try in 1 s', two) > two
      && texts.indexOf('Reconnecting…', two) > two;
  }, null, { timeout: 15_000 });
  await stack.server.restart();
  const restartedAt = Date.now();
  for (const page of [host, controller]) {
    await page.waitForSelector('[data-testid="connection-state"][data-state="connected"]', { timeout: 12_000 });
    assert.deepEqual(await rosterOf(page, 2, 12_000 - (Date.now() - restartedAt)), remaining);
  }
  // Late presence diffs must not add ghosts. The sentinel: someone joins after the restart;
  // the server sends each page the diffs in order, so once both list the newcomer they have
  // handled every diff from the re-joins before it. Then: the same people plus the newcomer,
  // once each; and when the newcomer leaves, exactly the same people again.
  const newcomer = await newPage(stack.browser);
  await openApp(newcomer, viewerLink);
  await newcomer.locator('[data-testid="participant-list"] > li.me').waitFor({ timeout: 15_000 });
  const newcomerId = await newcomer.locator('[data-testid="participant-list"] > li.me').getAttribute('data-testid');
  assert.ok(!remaining.includes(newcomerId));
  for (const page of [host, controller]) {
    await page.getByTestId(newcomerId).waitFor({ timeout: 15_000 });
    const listed = await page.locator('[data-testid="participant-list"] > li')
      .evaluateAll((els) => els.map((e) => e.dataset.testid));
    assert.deepEqual(listed.sort(), [...remaining, newcomerId].sort());
  }
  await newcomer.context().close();
  for (const page of [host, controller]) {
    await page.getByTestId(newcomerId).waitFor({ state: 'detached', timeout: 15_000 });
    assert.deepEqual(await rosterOf(page, 2), remaining);
    assert.equal(await state(page), 'connected');
    assert.deepEqual(page.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(e)), []);
  }
  await host.context().close();
  await controller.context().close();
});
