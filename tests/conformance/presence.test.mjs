// Presence through pairux-server with the real realtime-js: sync for a late joiner, update,
// untrack, and leave on disconnect.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  client, disconnectAll, hangUp, presenceWatch, startServer, subscribed,
} from './lib/realtime.mjs';

let server;
const clients = [];
const track = (c) => { clients.push(c); return c; };

before(async () => { server = await startServer(); });
after(async () => { await disconnectAll(clients); await server?.stop(); });

const names = (state, key) => (state[key] ?? []).map((m) => m.name);

test('a late joiner syncs, then sees updates and untracks', async () => {
  const alice = track(client(server));
  const a = alice.channel('pr-late', { config: { presence: { key: 'alice' } } });
  const atAlice = presenceWatch(a);
  await subscribed(a);
  assert.equal(await a.track({ name: 'alice' }), 'ok');
  await atAlice.until((s) => names(s, 'alice').includes('alice'), 'alice to see herself');

  const bob = track(client(server, { vsn: '1.0.0' }));
  const b = bob.channel('pr-late', { config: { presence: { key: 'bob' } } });
  const atBob = presenceWatch(b);
  await subscribed(b);
  const state = await atBob.until((s) => names(s, 'alice')[0] === 'alice', 'bob to sync alice');
  assert.equal(state.alice.length, 1);
  assert.equal(typeof state.alice[0].presence_ref, 'string');

  assert.equal(await a.track({ name: 'alice', status: 'away' }), 'ok');
  const updated = await atBob.until((s) => s.alice?.[0]?.status === 'away', 'bob to see the update');
  assert.equal(updated.alice.length, 1, 'an update replaces the meta');
  assert.notEqual(updated.alice[0].presence_ref, state.alice[0].presence_ref);

  assert.equal(await a.untrack(), 'ok');
  await atBob.until((s) => !('alice' in s), "alice to leave bob's state");
});

test('a disconnect is a leave for everyone else', async () => {
  const carol = track(client(server));
  const dave = track(client(server));
  const c = carol.channel('pr-leave', { config: { presence: { key: 'carol' } } });
  const d = dave.channel('pr-leave', { config: { presence: { key: 'dave' } } });
  const atDave = presenceWatch(d);
  await Promise.all([subscribed(c), subscribed(d)]);
  assert.equal(await c.track({ name: 'carol' }), 'ok');
  await atDave.until((s) => names(s, 'carol').includes('carol'), 'dave to see carol');
  await hangUp(carol);
  await atDave.until((s) => !('carol' in s), 'carol gone from the state');
  const leave = atDave.events.find((e) => e.event === 'leave');
  assert.equal(leave.key, 'carol');
  assert.equal(leave.leftPresences[0].name, 'carol');
});

test('two sockets under one key keep two metas', async () => {
  const one = track(client(server));
  const two = track(client(server));
  const watcher = track(client(server));
  const c1 = one.channel('pr-shared', { config: { presence: { key: 'erin' } } });
  const c2 = two.channel('pr-shared', { config: { presence: { key: 'erin' } } });
  const w = watcher.channel('pr-shared', { config: { presence: { key: 'watcher' } } });
  const atWatcher = presenceWatch(w);
  await Promise.all([subscribed(c1), subscribed(c2), subscribed(w)]);
  assert.equal(await c1.track({ name: 'laptop' }), 'ok');
  assert.equal(await c2.track({ name: 'phone' }), 'ok');
  const state = await atWatcher.until((s) => (s.erin ?? []).length === 2, 'both metas of erin');
  assert.deepEqual(names(state, 'erin').sort(), ['laptop', 'phone']);
});
