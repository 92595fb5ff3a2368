// Broadcast through pairux-server with the real realtime-js: self and ack, vsn 1.0.0 and 2.0.0
// clients together, binary payloads, and the REST fallback.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { broadcasts, client, disconnectAll, startServer, subscribed } from './lib/realtime.mjs';

let server;
const clients = [];
const track = (c) => { clients.push(c); return c; };

before(async () => { server = await startServer(); });
after(async () => { await disconnectAll(clients); await server?.stop(); });

test('self: true delivers the sender its own broadcast; ack: true resolves on the reply', async () => {
  const c = track(client(server));
  const channel = c.channel('bc-self', { config: { broadcast: { self: true, ack: true } } });
  const inbox = broadcasts(channel);
  await subscribed(channel);
  assert.equal(await channel.send({ type: 'broadcast', event: 'cursor', payload: { x: 1 } }), 'ok');
  assert.deepEqual(await inbox.next(), { type: 'broadcast', event: 'cursor', payload: { x: 1 } });
});

test('self: false keeps the sender out; others receive', async () => {
  const sender = track(client(server));
  const other = track(client(server));
  // With an ack, which the server sends the sender after its fan-out: an echo would reach the
  // sender's callback before `send` resolves.
  const a = sender.channel('bc-noself', { config: { broadcast: { ack: true } } });
  const b = other.channel('bc-noself');
  const mine = broadcasts(a);
  const theirs = broadcasts(b);
  await Promise.all([subscribed(a), subscribed(b)]);
  assert.equal(await a.send({ type: 'broadcast', event: 'hello', payload: { n: 1 } }), 'ok');
  assert.deepEqual(await theirs.next(), { type: 'broadcast', event: 'hello', payload: { n: 1 } });
  mine.noneYet();
});

test('vsn 1.0.0 and 2.0.0 clients receive each other', async () => {
  const v1 = track(client(server, { vsn: '1.0.0' }));
  const v2 = track(client(server, { vsn: '2.0.0' }));
  const a = v1.channel('bc-mixed', { config: { broadcast: { ack: true } } });
  const b = v2.channel('bc-mixed', { config: { broadcast: { ack: true } } });
  const fromV2 = broadcasts(a);
  const fromV1 = broadcasts(b);
  await Promise.all([subscribed(a), subscribed(b)]);
  assert.equal(await b.send({ type: 'broadcast', event: 'to-v1', payload: { text: 'é 😀' } }), 'ok');
  assert.deepEqual(await fromV2.next(), { event: 'to-v1', payload: { text: 'é 😀' }, type: 'broadcast' });
  assert.equal(await a.send({ type: 'broadcast', event: 'to-v2', payload: { list: [1, 2] } }), 'ok');
  assert.deepEqual(await fromV1.next(), { event: 'to-v2', payload: { list: [1, 2] }, type: 'broadcast' });
});

test('binary payloads reach vsn 2.0.0 clients as ArrayBuffers and skip vsn 1.0.0 ones', async () => {
  const sender = track(client(server));
  const v2 = track(client(server));
  const v1 = track(client(server, { vsn: '1.0.0' }));
  const a = sender.channel('bc-binary', { config: { broadcast: { ack: true } } });
  const b = v2.channel('bc-binary');
  const c = v1.channel('bc-binary');
  const atV2 = broadcasts(b);
  const atV1 = broadcasts(c);
  await Promise.all([subscribed(a), subscribed(b), subscribed(c)]);
  const bytes = new Uint8Array([0, 1, 2, 250, 251, 255]);
  assert.equal(await a.send({ type: 'broadcast', event: 'frame', payload: bytes.buffer }), 'ok');
  const got = await atV2.next();
  assert.equal(got.event, 'frame');
  assert.ok(got.payload instanceof ArrayBuffer, 'an ArrayBuffer');
  assert.deepEqual(new Uint8Array(got.payload), bytes);
  // The vsn 1.0.0 client got none of it: the next broadcast it gets is the sender's next, and
  // it is still subscribed (JSON reaches it).
  assert.equal(await a.send({ type: 'broadcast', event: 'json', payload: { ok: true } }), 'ok');
  assert.deepEqual(await atV1.next(), { event: 'json', payload: { ok: true }, type: 'broadcast' });
});

test('a channel that is not joined sends through the REST API', async () => {
  const listener = track(client(server));
  const restless = track(client(server));
  const b = listener.channel('bc-rest');
  const inbox = broadcasts(b);
  await subscribed(b);
  const a = restless.channel('bc-rest');
  // Not subscribed: realtime-js falls back to POST /realtime/v1/api/broadcast.
  const warn = console.warn;
  console.warn = () => {};
  try {
    assert.equal(await a.send({ type: 'broadcast', event: 'via-rest', payload: { r: 1 } }), 'ok');
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(await inbox.next(), { event: 'via-rest', payload: { r: 1 }, type: 'broadcast' });
});
