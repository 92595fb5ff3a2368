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

test('a relay that dies mid-session: the picture comes back by itself over new allocations, with words if it takes long', async () => {
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
  const allocations = async () => (await selectedPairs(viewer)).map((p) => p.at).join(' ');
  const before = await allocations();
  assert.ok(before, 'a connected relay pair before the kill');
  // The allocations die with coturn; pairux-server starts a new one a second later. Then
  // either the outage outlasts ICE's patience — the viewer is told, and the host's ICE restart
  // brings the picture back — or the browsers allocate again on the new coturn and find each
  // other before that (Chrome gathers continually; the new candidates trickle). Either way the
  // picture moves again over new allocations; a sentence, if shown, says what happens.
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 40_000;
  let healed = false;
  while (Date.now() < deadline) {
    if ((await viewer.evaluate(() => window.__problems.length)) > 0) break;
    const now = await allocations();
    if (now && now !== before) {
      healed = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const told = await viewer.evaluate(() => window.__problems);
  if (!healed && told.length === 0) {
    const states = await viewer.evaluate(() => (window.__pcs ?? []).map((pc) => pc.connectionState));
    assert.fail(`within 40 s of the kill neither a media sentence nor new allocations (peer connections: ${states}; relay ${before})`);
  }
  if (told.length > 0) {
    assert.match(told[0], /Reconnecting video|Can't reach the host/);
    await viewer.getByTestId('media-problem').waitFor({ state: 'detached', timeout: 40_000 });
  }
  const start = await frames(viewer);
  await viewer.waitForFunction(
    (n) => document.querySelector('[data-testid=remote-video]').getVideoPlaybackQuality().totalVideoFrames > n + 10,
    start,
    { timeout: 20_000 },
  );
  const after = await allocations();
  assert.ok(after && after !== before, `the picture moves over new allocations (before ${before}, after ${after})`);
  const pairs = await selectedPairs(viewer);
  for (const p of pairs) assert.equal(p.local, 'relay', JSON.stringify(pairs));
  await host.context().close();
  await viewer.context().close();
});
