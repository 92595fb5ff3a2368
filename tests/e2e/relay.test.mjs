// Relay only (`--relay-only`): every connection goes through coturn with the TURN REST
// credentials /api/access granted, P2P and SFU alike.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stackWith, hostSfu, guest, selectedPairs, frames } from './lib/sfu.mjs';

const relay = stackWith(['--sfu-nodes', '1', '--relay-only']);

test('relay only: P2P and SFU sessions decode over a TURN relay', async () => {
  for (const mode of ['mode-p2p', 'mode-sfu']) {
    const host = await hostSfu(relay, mode);
    const viewer = await guest(relay, await host.getByTestId('invite-viewer-link').inputValue());
    const pairs = await selectedPairs(viewer);
    assert.ok(pairs.length >= 1, `${mode}: a connected pair`);
    for (const p of pairs) assert.equal(p.local, 'relay', `${mode}: ${JSON.stringify(pairs)}`);
    await host.context().close();
    await viewer.context().close();
  }
});

test('a relay that dies mid-session: the host restarts ICE and the picture comes back by itself', async () => {
  const host = await hostSfu(relay, 'mode-p2p');
  const viewer = await guest(relay, await host.getByTestId('invite-viewer-link').inputValue());
  const pidFile = path.join(relay.runDir, 'turnserver.pid');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  // Every sentence the viewer is shown about its media, however briefly (under load the host's
  // ICE restart can bring the picture back within a frame or two of the message appearing).
  await viewer.evaluate(() => {
    window.__problems = [];
    const seen = () => {
      const el = document.querySelector('[data-testid=media-problem]');
      if (el && el.textContent !== window.__problems.at(-1)) window.__problems.push(el.textContent);
    };
    new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  // The allocations die with coturn; pairux-server starts a new one a second later.
  process.kill(pid, 'SIGKILL');
  const told = await viewer
    .waitForFunction(() => window.__problems.length > 0 && window.__problems, null, { timeout: 30_000 })
    .then((h) => h.jsonValue())
    .catch(async (err) => {
      const states = await viewer.evaluate(() => (window.__pcs ?? []).map((pc) => pc.connectionState));
      throw new Error(`no media sentence within 30 s of the kill (peer connections: ${states}): ${err.message}`);
    });
  assert.match(told[0], /Reconnecting video|Can't reach the host/);
  await viewer.getByTestId('media-problem').waitFor({ state: 'detached', timeout: 40_000 });
  const before = await frames(viewer);
  await viewer.waitForFunction(
    (n) => document.querySelector('[data-testid=remote-video]').getVideoPlaybackQuality().totalVideoFrames > n + 10,
    before,
    { timeout: 20_000 },
  );
  const pairs = await selectedPairs(viewer);
  for (const p of pairs) assert.equal(p.local, 'relay', JSON.stringify(pairs));
  await host.context().close();
  await viewer.context().close();
});
