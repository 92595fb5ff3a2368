// A browser that cannot transform encoded frames cannot encrypt media end to end: the host is
// told before sharing (and cannot start), a guest is told instead of waiting on "Connecting…".
// Simulated by hiding the transform APIs before the app loads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp, decoding } from './lib/harness.mjs';

const stack = useStack();
const SENTENCE = "This browser can't do end-to-end encryption; use Chrome or Edge 86+.";

function hideTransforms() {
  delete window.RTCRtpScriptTransform;
  delete window.RTCRtpSender.prototype.createEncodedStreams;
  delete window.RTCRtpReceiver.prototype.createEncodedStreams;
}

async function oldBrowserPage() {
  const page = await newPage(stack.browser);
  await page.addInitScript(hideTransforms);
  return page;
}

test('without encoded transforms the host is told before sharing and cannot start', async () => {
  const page = await oldBrowserPage();
  await openApp(page, stack.server.url);
  assert.equal(await page.getByTestId('error-banner').textContent(), SENTENCE);
  assert.ok(await page.getByTestId('start-session').isDisabled());
  assert.ok(await page.getByTestId('start-test-pattern').isDisabled());
  await page.context().close();
});

test('without encoded transforms a guest is told why there is no picture', async () => {
  // A host in a capable browser, sharing.
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const link = await host.getByTestId('invite-viewer-link').inputValue();
  // A capable guest decodes; the old browser's guest reads the sentence instead.
  const able = await newPage(stack.browser);
  await openApp(able, link);
  await decoding(able);
  const old = await oldBrowserPage();
  await openApp(old, link);
  await old.getByTestId('error-banner').waitFor({ timeout: 5_000 });
  assert.equal(await old.getByTestId('error-banner').textContent(), SENTENCE);
  // Nothing pretends to connect, and no connection was even tried.
  assert.equal(await old.getByTestId('remote-video').count(), 0);
  assert.equal(await old.getByText('Connecting to the host…').count(), 0);
  assert.deepEqual(old.errors, []);
  for (const p of [host, able, old]) await p.context().close();
});

// The E2EE worker can fail to start where encoded transforms exist (its wasm blocked or cut off,
// or its own start check failing). Media then stays closed (the worker handles nothing), and the
// person is told why instead of watching "Connecting…" or a black picture.
const FAILED = "End-to-end encryption couldn't start in this tab, so no picture can be sent or shown. Reload the page to try again.";

async function brokenWorkerPage() {
  const page = await newPage(stack.browser);
  await page.context().route('**/pairux-worker_bg.wasm*', (route) => route.abort());
  return page;
}

test('if the E2EE worker cannot start, the host is told, shares nothing, and guests read why nothing is shared', async () => {
  const host = await brokenWorkerPage();
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  await host.getByTestId('error-banner').filter({ hasText: FAILED }).waitFor({ timeout: 10_000 });
  assert.equal(await host.getByTestId('e2ee-state').textContent(), 'off');
  // Nothing is shared (the capture is gone from the preview), and sharing cannot be started
  // again in this tab.
  await host.locator('[data-testid=share-state][data-state=paused]').waitFor({ timeout: 10_000 });
  assert.ok(await host.getByTestId('share-again').isDisabled());
  assert.equal(await host.getByTestId('local-preview').evaluate((v) => v.srcObject), null);
  // Nor is the host's voice: the microphone stays off, and says why.
  await host.getByTestId('mic-toggle').click();
  await host.getByTestId('mic-problem').filter({ hasText: "Your voice can't be encrypted" }).waitFor({ timeout: 5_000 });
  assert.notEqual(await host.getByTestId('mic-toggle').getAttribute('data-state'), 'on');
  // A guest in a capable browser, joining after the failure, is told at once why there is no
  // picture: not "Connecting…", nor that the host hasn't shared (yet).
  const link = await host.getByTestId('invite-viewer-link').inputValue();
  const guest = await newPage(stack.browser);
  await openApp(guest, link);
  const unable = guest.getByTestId('share-unable');
  await unable.waitFor({ timeout: 10_000 });
  assert.match(await unable.textContent(), /can't encrypt their screen.*reload their page/);
  assert.equal(await guest.locator('[data-testid=waiting-share], [data-testid=share-paused], [data-testid=share-late]').count(), 0);
  assert.equal(await guest.getByText('Connecting to the host…').count(), 0);
  assert.equal(await guest.getByTestId('error-banner').count(), 0);
  for (const p of [host, guest]) await p.context().close();
});

test('if the E2EE worker cannot start, a guest is told instead of waiting for a picture, and leaves', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const link = await host.getByTestId('invite-viewer-link').inputValue();
  const people = host.locator('[data-testid=participant-list] > li');
  // The worker's wasm fails only once the host has seen the guest join.
  const guest = await newPage(stack.browser);
  let joined;
  const seen = new Promise((resolve) => { joined = resolve; });
  await guest.context().route('**/pairux-worker_bg.wasm*', async (route) => {
    await seen;
    await route.abort();
  });
  await openApp(guest, link);
  await host.waitForFunction(() => document.querySelectorAll('[data-testid=participant-list] > li').length === 2);
  joined();
  await guest.getByTestId('error-banner').filter({ hasText: FAILED }).waitFor({ timeout: 10_000 });
  assert.equal(await guest.getByTestId('e2ee-state').textContent(), 'off');
  // It left: the host holds no connection for a tab that can show nothing.
  await host.waitForFunction(() => document.querySelectorAll('[data-testid=participant-list] > li').length === 1);
  assert.equal(await people.count(), 1);
  // A capable guest of the same session still decodes: one tab's failure is its own.
  const able = await newPage(stack.browser);
  await openApp(able, link);
  await decoding(able);
  for (const p of [host, guest, able]) await p.context().close();
});
