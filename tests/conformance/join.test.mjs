// realtime-js joins pairux-server over both protocol versions, leaves, and rejoins.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { client, disconnectAll, startServer, subscribed, within } from './lib/realtime.mjs';

let server;
const clients = [];
const track = (c) => { clients.push(c); return c; };

before(async () => { server = await startServer(); });
after(async () => { await disconnectAll(clients); await server?.stop(); });

for (const vsn of ['2.0.0', '1.0.0']) {
  test(`a vsn ${vsn} client joins and leaves`, async () => {
    const c = track(client(server, { vsn }));
    const channel = c.channel(`join-${vsn}`);
    await subscribed(channel);
    assert.equal(channel.state, 'joined');
    assert.equal(c.endpointURL().includes(`vsn=${vsn}`), true);
    assert.equal(await within(channel.unsubscribe(), 'the leave reply'), 'ok');
    assert.equal(channel.state, 'closed');
  });
}

test('one socket joins several channels and a channel can be joined again', async () => {
  const c = track(client(server));
  const a = c.channel('multi-a');
  const b = c.channel('multi-b');
  await Promise.all([subscribed(a), subscribed(b)]);
  assert.equal(await c.removeChannel(a), 'ok');
  const again = c.channel('multi-a');
  await subscribed(again);
  assert.deepEqual(c.getChannels().map((ch) => ch.topic).sort(), ['realtime:multi-a', 'realtime:multi-b']);
});
