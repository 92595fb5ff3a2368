// Leaving: a guest's clean exit (presence gone, peer closed, "You left" with a way back).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp, myId, decoding } from './lib/harness.mjs';

const stack = useStack();

/**
 * `host` (a new page) shares the test pattern and a viewer joins it: resolves with the viewer
 * and its participant id once it decodes and the host lists it with its connection up.
 */
async function viewerOf(host) {
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const viewer = await newPage(stack.browser);
  await openApp(viewer, await host.getByTestId('invite-viewer-link').inputValue());
  await decoding(viewer);
  const id = await myId(viewer);
  await host.getByTestId(`participant-${id}`).waitFor();
  // The host sees that person's connection as the browser reports it.
  await host.locator(`[data-testid=peer-state-${id}][data-state=connected]`).waitFor({ timeout: 10_000 });
  return { viewer, id };
}

test('a guest leaves cleanly and can rejoin from the same tab', async () => {
  const host = await newPage(stack.browser);
  const { viewer, id: first } = await viewerOf(host);

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

// A tab that is closed sends nothing unless it closes its connections itself; the host would
// then keep encoding for it until ICE consent fails (seconds, and one more encoder on its 2
// cores for every guest who left). The guest closes its connection as the page goes, so the
// host closes its side on that, never on a consent timeout ("disconnected" first).
test('a guest who closes the tab frees the host\'s connection at once', async () => {
  const host = await newPage(stack.browser);
  await host.addInitScript(() => {
    window.__pcs = [];
    const Base = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Base {
      constructor(...args) {
        super(...args);
        const rec = { states: [], closedByApp: false };
        window.__pcs.push(rec);
        this.addEventListener('connectionstatechange', () => rec.states.push(this.connectionState));
        this.__rec = rec;
      }
    };
    const close = Base.prototype.close;
    Base.prototype.close = function () {
      const rec = this.__rec;
      if (rec && !rec.closedByApp) {
        rec.statesAtClose = [...rec.states];
        rec.closedByApp = true;
      }
      return close.call(this);
    };
  });
  const { viewer, id } = await viewerOf(host);
  const connected = await host.evaluate(() => window.__pcs.findIndex((r) => r.states.includes('connected')));
  assert.ok(connected >= 0, 'the host has a connected peer connection');

  // As a person closes a tab (the page's unload handlers run).
  await viewer.close();
  // The host drops that person, and its connection with them.
  await host.getByTestId(`participant-${id}`).waitFor({ state: 'detached', timeout: 10_000 });
  await host.getByTestId(`peer-state-${id}`).waitFor({ state: 'detached', timeout: 10_000 });
  await host.waitForFunction((i) => window.__pcs[i].closedByApp, connected, { timeout: 15_000 });
  const rec = await host.evaluate((i) => window.__pcs[i], connected);
  assert.deepEqual(rec.statesAtClose.filter((s) => s !== 'connecting' && s !== 'new'), ['connected'],
    `closed on the guest's own close, not on a consent timeout: ${rec.statesAtClose.join(' → ')}`);
  for (const page of [host, viewer]) await page.context().close();
});
