// Relay only (`--relay-only`): every connection goes through coturn with the TURN REST
// credentials /api/access granted, P2P and SFU alike.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stackWith, hostSfu, guest, selectedPairs } from './lib/sfu.mjs';

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
