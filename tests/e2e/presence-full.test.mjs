// A session whose presence the server has no room for (its per-session presence budget,
// `--realtime-max-presence-topic-kb`, filled by link holders' metas): a guest that joins is
// told why the host cannot see it — instead of waiting for a host forever — and joins by
// itself once room frees.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp, decoding } from './lib/harness.mjs';
import { rawPeer, until } from './lib/adversary.mjs';
import { parseLink } from './lib/wire.mjs';

const BUDGET_KB = 12;
const stack = useStack({ args: ['--realtime-max-presence-topic-kb', String(BUDGET_KB)] });

/** Bytes a meta under `key` counts against the budget: its compact JSON, its key, and the
 * server's 64 for its refs (crates/server/src/realtime/presence.rs, `META_OVERHEAD`). */
const cost = (key, meta) => Buffer.byteLength(JSON.stringify(meta)) + Buffer.byteLength(key) + 64;

/** Resolves when the server answered push `ref` of `peer`; its status. */
const replied = (peer, ref) =>
  until(`the reply to push ${ref}`, () => peer.received.find((m) => m.event === 'phx_reply' && m.ref === ref)?.payload.status, 5_000);

test('a guest the server has no room for is told so, and joins once someone leaves', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const link = await host.getByTestId('invite-viewer-link').inputValue();
  const { topic } = parseLink(link);

  // The host's meta, as the server holds it (in the state a joiner gets, or a later join).
  const probe = await rawPeer(stack.server.url, topic, 'probe');
  const metas = await until('the host in the presence', () => {
    const seen = probe.received.flatMap((m) => {
      const byKey = m.event === 'presence_state' ? m.payload : m.event === 'presence_diff' ? m.payload.joins : {};
      return Object.entries(byKey).flatMap(([key, p]) => p.metas.map((meta) => [key, meta]));
    });
    return seen.length > 0 && seen;
  });
  assert.equal(metas.length, 1);
  const [hostKey, { phx_ref: _ref, ...hostMeta }] = metas[0];
  probe.close();

  // Link holders fill the rest of the budget but for 200 bytes (less than any real meta),
  // each meta under the server's 8 kB limit for one.
  let left = BUDGET_KB * 1000 - cost(hostKey, hostMeta) - 200;
  const fillers = [];
  while (left > 0) {
    const key = `filler-${fillers.length}`;
    const pad = Math.min(7_000, left) - cost(key, { pad: '' });
    const filler = await rawPeer(stack.server.url, topic, key);
    const meta = { pad: 'x'.repeat(Math.max(pad, 0)) };
    assert.equal(await replied(filler, filler.track(meta)), 'ok');
    fillers.push(filler);
    left -= cost(key, meta);
  }
  assert.ok(fillers.length >= 2, 'one filler can go and leave a filled session');

  const viewer = await newPage(stack.browser);
  await openApp(viewer, link);
  const notice = viewer.getByTestId('presence-full');
  await notice.waitFor({ timeout: 15_000 });
  assert.match(await notice.textContent(), /the host can't see you yet\. You'll join as soon as someone leaves\./);
  const badge = viewer.getByTestId('connection-state');
  assert.equal(await badge.getAttribute('data-state'), 'unseen');
  assert.match(await badge.textContent(), /Server full — others can't see you yet/);
  // The host was let in before the session filled: it stays connected, and sees no one.
  assert.equal(await host.getByTestId('connection-state').getAttribute('data-state'), 'connected');
  assert.equal(await host.locator('[data-testid=participant-list] > li:not(.me)').count(), 0);

  // Room frees: the viewer's next try is held, the host sees it and shares with it.
  fillers[0].close();
  await decoding(viewer, { timeout: 30_000 });
  await notice.waitFor({ state: 'detached' });
  assert.equal(await badge.getAttribute('data-state'), 'connected');
  assert.equal(await host.locator('[data-testid=participant-list] > li:not(.me)').count(), 1);

  for (const f of fillers.slice(1)) f.close();
  for (const page of [host, viewer]) {
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
});
