// Leaving: a guest's clean exit (presence gone, peer closed, "You left" with a way back).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp, myId, decoding } from './lib/harness.mjs';

const stack = useStack();

test('a guest leaves cleanly and can rejoin from the same tab', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const viewer = await newPage(stack.browser);
  await openApp(viewer, await host.getByTestId('invite-viewer-link').inputValue());
  await decoding(viewer);
  const first = await myId(viewer);
  await host.getByTestId(`participant-${first}`).waitFor();
  // The host sees that person's connection as the browser reports it.
  await host.locator(`[data-testid=peer-state-${first}][data-state=connected]`).waitFor({ timeout: 10_000 });

  await viewer.getByTestId('leave-session').click();
  const notice = viewer.getByTestId('session-ended');
  await notice.waitFor({ timeout: 5_000 });
  assert.equal(await notice.getAttribute('data-reason'), 'you-left');
  assert.equal(await viewer.getByTestId('connection-state').getAttribute('data-state'), 'offline');
  // The host sees them go (presence untracked, peer closed).
  await host.getByTestId(`participant-${first}`).waitFor({ state: 'detached', timeout: 10_000 });
  await host.waitForFunction(() => document.querySelectorAll('[data-testid=participant-list] > li').length === 1);

  // The way back: the tab kept its link, so "Rejoin" joins again as a new participant.
  await viewer.getByTestId('rejoin-session').click();
  await viewer.waitForSelector('.app');
  await decoding(viewer);
  const second = await myId(viewer);
  assert.notEqual(second, first);
  await host.getByTestId(`participant-${second}`).waitFor({ timeout: 10_000 });
  for (const page of [host, viewer]) await page.context().close();
});
