// Nothing waits forever: each of a guest's waiting states reaches its sentence by its deadline
// (host there but not sharing; session ended while joining). Waiting for a host that never
// comes is media.test.mjs's "not live"; waiting for the host's OK is remove.test.mjs's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp, decoding, stopSharing } from './lib/harness.mjs';

const stack = useStack();

/** The guest's deadline for a host that does not share (core: `SHARE_WAIT_MS`). */
const SHARE_WAIT_MS = 10_000;

test('a host that is there but not sharing: the guest is told so at once, and by the deadline that it may take a while', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  // The host stops sharing before anyone arrives (what Chrome's "Stop sharing" does).
  await host.locator('[data-testid=local-preview]').waitFor();
  await host.waitForFunction(() => document.querySelector('[data-testid=local-preview]')?.srcObject);
  await stopSharing(host);
  await host.getByTestId('share-again').waitFor();

  const guest = await newPage(stack.browser);
  const opened = Date.now();
  await openApp(guest, viewerLink);
  const first = guest.getByTestId('waiting-share');
  await first.waitFor({ timeout: 10_000 });
  assert.match(await first.textContent(), /Waiting for the host to share/);
  const late = guest.getByTestId('share-late');
  await late.waitFor({ timeout: SHARE_WAIT_MS + 5_000 });
  assert.match(await late.textContent(), /The host hasn't started sharing yet — you'll see their screen as soon as they do\./);
  // Not before its deadline (counted from when the guest learnt the host is not sharing,
  // which is after the page opened).
  assert.ok(Date.now() - opened >= SHARE_WAIT_MS, `late notice after ${Date.now() - opened} ms`);

  // The host shares: the picture comes without the guest doing anything.
  await host.getByTestId('share-again').click();
  await decoding(guest);
  await late.waitFor({ state: 'detached' });
  for (const page of [host, guest]) await page.context().close();
});

test('joining a session that has just ended says it ended, at once', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  // Nobody else is here: End does not ask.
  await host.getByTestId('end-session').click();
  await host.getByTestId('session-ended').waitFor({ timeout: 2_000 });
  assert.equal(await host.getByTestId('end-session-confirm-panel').count(), 0);

  const guest = await newPage(stack.browser);
  await openApp(guest, viewerLink);
  // Told by the host's page (reason `ended`), well before the "not live" deadline (10 s,
  // an error banner) would speak.
  const notice = guest.getByTestId('session-ended');
  await notice.waitFor({ timeout: 8_000 });
  assert.equal(await notice.getAttribute('data-reason'), 'ended');
  assert.match(await notice.textContent(), /The host ended the session/);
  assert.equal(await guest.getByTestId('error-banner').count(), 0);
  for (const page of [host, guest]) await page.context().close();
});

/** The guest's deadline for a connection that does not come up (core: `CONNECT_WAIT_MS`). */
const CONNECT_WAIT_MS = 15_000;

/**
 * A network that lets signaling through but no WebRTC: the page's peer connections gather no
 * candidate (relay only, and no relay server) and take none from the other side.
 */
function blockWebRtc() {
  const Base = window.RTCPeerConnection;
  const blocked = (config = {}) => ({ ...config, iceServers: [], iceTransportPolicy: 'relay' });
  window.RTCPeerConnection = class extends Base {
    constructor(config) {
      super(blocked(config));
    }
    setConfiguration(config) {
      return super.setConfiguration(blocked(config));
    }
    addIceCandidate() {
      return Promise.resolve();
    }
    setRemoteDescription(desc) {
      const sdp = desc?.sdp?.split('\r\n').filter((l) => !l.startsWith('a=candidate')).join('\r\n');
      return super.setRemoteDescription(desc && sdp !== undefined ? { type: desc.type, sdp } : desc);
    }
  };
}

test('a host that cannot be reached: the guest hears at once that it is connecting, and by the deadline what may be wrong', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();

  const guest = await newPage(stack.browser);
  await guest.addInitScript(blockWebRtc);
  const opened = Date.now();
  await openApp(guest, viewerLink);
  await guest.getByTestId('connecting').waitFor({ timeout: 10_000 });
  const late = guest.getByTestId('connect-late');
  await late.waitFor({ timeout: CONNECT_WAIT_MS + 10_000 });
  assert.match(await late.textContent(), /Still can't reach the host — this network may block WebRTC \(a relay-only server may help\)/);
  assert.ok(Date.now() - opened >= CONNECT_WAIT_MS, `late notice after ${Date.now() - opened} ms`);
  // Still trying, never pretending: no picture, no final notice.
  assert.equal(await guest.getByTestId('session-ended').count(), 0);
  assert.equal(
    await guest.evaluate(() => document.querySelector('[data-testid=remote-video]')?.videoWidth ?? 0),
    0,
  );
  for (const page of [host, guest]) await page.context().close();
});
