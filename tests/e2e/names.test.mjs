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

  // The control request toast names the person asking.
  await controller.getByTestId('request-control').click();
  const toast = host.locator('[data-testid^=control-request-]');
  await toast.waitFor({ timeout: 10_000 });
  assert.match(await toast.textContent(), /Grace asks for control/);
  for (const page of [host, controller, viewer]) await page.context().close();
});
