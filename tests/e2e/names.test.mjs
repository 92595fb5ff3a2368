// Names: chosen on the landing page or live in the session, shown everywhere, remembered on
// this device (the name only), and never blocking the picture.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp, decoding } from './lib/harness.mjs';

const stack = useStack();

async function listedNames(page) {
  return page.locator('[data-testid=participant-list] .name').allTextContents();
}

test('a name set on the landing page or live in the session shows everywhere', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();

  // Chosen before joining, on the landing page (Enter applies it).
  const controller = await newPage(stack.browser);
  await openApp(controller, stack.server.url);
  await controller.getByTestId('display-name').fill('Grace');
  await controller.getByTestId('display-name').press('Enter');
  await openApp(controller, controllerLink);
  await host.waitForFunction(() => [...document.querySelectorAll('[data-testid=participant-list] .name')].some((n) => n.textContent === 'Grace'), null, { timeout: 15_000 });
  assert.deepEqual(await controller.evaluate(() => Object.keys(localStorage)), ['pairux:display-name']);

  // Changed live in the session (leaving the field applies it), while the picture plays.
  const viewer = await newPage(stack.browser);
  await openApp(viewer, viewerLink);
  await decoding(viewer);
  await viewer.getByTestId('display-name').fill('  Ada   Lovelace ');
  await viewer.getByTestId('display-name').press('Tab');
  for (const page of [host, controller, viewer]) {
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=participant-list] .name')].some((n) => n.textContent === 'Ada Lovelace'), null, { timeout: 15_000 });
  }
  assert.ok((await listedNames(host)).includes('Grace'));
  // The field shows the name as everyone sees it; cleared, it shows the name kept.
  assert.equal(await viewer.getByTestId('display-name').inputValue(), 'Ada Lovelace');
  await viewer.getByTestId('display-name').fill('   ');
  await viewer.getByTestId('display-name').press('Enter');
  assert.equal(await viewer.getByTestId('display-name').inputValue(), 'Ada Lovelace');

  // The control request toast names the person asking.
  await controller.getByTestId('request-control').click();
  const toast = host.locator('[data-testid^=control-request-]');
  await toast.waitFor({ timeout: 10_000 });
  assert.match(await toast.textContent(), /Grace asks for control/);
  // Renamed after someone else present, the one asking is told apart by a tag of its key: the
  // host cannot be led to grant control to "Ada Lovelace" when it is not her.
  await controller.getByTestId('display-name').fill('Ada Lovelace');
  await controller.getByTestId('display-name').press('Enter');
  await host.waitForFunction(
    () => /^Ada Lovelace · [0-9A-Z]{8} asks for control/.test(document.querySelector('[data-testid^=control-request-]')?.textContent ?? ''),
    null,
    { timeout: 15_000 },
  );
  for (const page of [host, controller, viewer]) await page.context().close();
});

test('renaming many times in a row keeps the session: updates are paced under the server limit', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const viewer = await newPage(stack.browser);
  await openApp(viewer, await host.getByTestId('invite-viewer-link').inputValue());
  await decoding(viewer);
  const me = await viewer.locator('[data-testid=participant-list] > li.me').getAttribute('data-testid');
  // Watch, on both pages, for the viewer's signaling dropping or its entry leaving the host's list.
  await viewer.evaluate(() => {
    window.__dropped = [];
    const badge = document.querySelector('[data-testid=connection-state]');
    new MutationObserver(() => {
      if (badge.dataset.state !== 'connected') window.__dropped.push(badge.dataset.state);
    }).observe(badge, { attributes: true });
  });
  await host.evaluate((id) => {
    window.__gone = 0;
    new MutationObserver(() => {
      if (!document.querySelector(`[data-testid=${id}]`)) window.__gone += 1;
    }).observe(document.querySelector('[data-testid=participant-list]'), { childList: true, subtree: true });
  }, me);
  // The join's track and six renames: past the server's 5 presence calls per 30 s, which would
  // close the channel (and drop the viewer from everyone's list until it rejoins).
  for (let i = 1; i <= 6; i++) {
    await viewer.getByTestId('display-name').fill(`Name ${i}`);
    await viewer.getByTestId('display-name').press('Enter');
  }
  // The first two go at once; the latest of the rest waits its turn (~30 s: the pacer's own
  // timing is the core's PresencePacer tests).
  await host.waitForFunction(() => [...document.querySelectorAll('[data-testid=participant-list] .name')].some((n) => n.textContent === 'Name 2'), null, { timeout: 10_000 });
  // Then the host renames itself: the viewer sees it through its own channel, joined — had the
  // server closed it over the renames, the page would show "reconnecting" first and take the
  // host's name only after rejoining 5 s later.
  await host.getByTestId('display-name').fill('Host Renamed');
  await host.getByTestId('display-name').press('Enter');
  await viewer.waitForFunction(() => [...document.querySelectorAll('[data-testid=participant-list] .name')].some((n) => n.textContent === 'Host Renamed'), null, { timeout: 4_000 });
  assert.deepEqual(await viewer.evaluate(() => window.__dropped), []);
  assert.equal(await host.evaluate(() => window.__gone), 0);
  assert.equal(await viewer.getByTestId('connection-state').getAttribute('data-state'), 'connected');
  for (const page of [host, viewer]) await page.context().close();
});

test('a name set while the app is still fetching its configuration is the one everyone sees', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  // config.json is slow: the session page is up, its channel not yet.
  let release;
  const held = new Promise((r) => (release = r));
  await host.route('**/config.json', async (route) => { await held; await route.continue(); });
  await host.getByTestId('start-test-pattern').click();
  await host.locator('.session[data-role=host]').waitFor();
  await host.getByTestId('display-name').fill('Hedy');
  await host.getByTestId('display-name').press('Enter');
  release();
  const viewer = await newPage(stack.browser);
  await openApp(viewer, await host.getByTestId('invite-viewer-link').inputValue());
  await decoding(viewer);
  await viewer.waitForFunction(() => document.querySelector('[data-testid=participant-list] > li[data-role=host] .name')?.textContent === 'Hedy', null, { timeout: 15_000 });
  for (const page of [host, viewer]) await page.context().close();
});
