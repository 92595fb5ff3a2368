// Expired and forged tokens, at the socket (HTTP 401 with the real texts) and at the join (the
// real reason strings), plus a channel closed when its token expires mid-session.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  client, disconnectAll, jwt, nowSecs, rawRefusal, startServer, subscribeFailure, subscribed, within,
} from './lib/realtime.mjs';

let server;
const clients = [];
const track = (c) => { clients.push(c); return c; };

before(async () => { server = await startServer(); });
after(async () => { await disconnectAll(clients); await server?.stop(); });

const socketUrl = (key) => `${server.endpoint}/websocket?apikey=${key}&vsn=2.0.0`;

test('an expired API key is refused with 401 "Token has expired"', async () => {
  const expired = jwt(server.secret, { role: 'anon', exp: nowSecs() - 60 });
  assert.deepEqual(await rawRefusal(socketUrl(expired)), { status: 401, body: { error: 'Token has expired' } });
  const c = track(client(server, { apikey: expired }));
  const failure = await subscribeFailure(c.channel('auth-expired'));
  assert.equal(failure.status, 'CHANNEL_ERROR');
  assert.equal(c.isConnected(), false);
});

test('a forged API key is refused with 401 "Failed to validate JWT signature"', async () => {
  const forged = jwt('not-the-secret', { role: 'anon', exp: nowSecs() + 60 });
  assert.deepEqual(await rawRefusal(socketUrl(forged)), {
    status: 401,
    body: { error: 'Failed to validate JWT signature' },
  });
  const c = track(client(server, { apikey: forged }));
  assert.equal((await subscribeFailure(c.channel('auth-forged'))).status, 'CHANNEL_ERROR');
});

test('a missing API key is refused', async () => {
  const { status, body } = await rawRefusal(`${server.endpoint}/websocket?vsn=2.0.0`);
  assert.deepEqual({ status, body }, { status: 401, body: { error: 'API key is missing' } });
});

test('an expired access token fails the join with InvalidJWTToken', async () => {
  const c = track(client(server));
  await c.setAuth(jwt(server.secret, { role: 'authenticated', exp: nowSecs() - 30 }));
  const failure = await subscribeFailure(c.channel('auth-join-expired'));
  assert.equal(failure.status, 'CHANNEL_ERROR');
  assert.match(failure.message, /^InvalidJWTToken: Token has expired (30|31) seconds ago$/);
});

test('a forged access token fails the join with JwtSignatureError', async () => {
  const c = track(client(server));
  await c.setAuth(jwt('not-the-secret', { role: 'authenticated', exp: nowSecs() + 60 }));
  const failure = await subscribeFailure(c.channel('auth-join-forged'));
  assert.equal(failure.message, 'JwtSignatureError: Failed to validate JWT signature');
});

test('a token without role fails the join', async () => {
  const c = track(client(server));
  await c.setAuth(jwt(server.secret, { exp: nowSecs() + 60 }));
  const failure = await subscribeFailure(c.channel('auth-join-claims'));
  assert.equal(failure.message, 'InvalidJWTToken: Fields `role` and `exp` are required in JWT');
});

test('a channel whose token expires gets a system error and is closed', async () => {
  const c = track(client(server));
  await c.setAuth(jwt(server.secret, { role: 'authenticated', exp: nowSecs() + 2 }));
  const channel = c.channel('auth-expiring');
  const system = new Promise((resolve) => channel.on('system', {}, resolve));
  const closed = new Promise((resolve) => {
    channel.subscribe((status) => { if (status === 'CLOSED') resolve(); });
  });
  const message = await within(system, 'the system error', 5000);
  assert.equal(message.status, 'error');
  assert.equal(message.extension, 'system');
  assert.equal(message.channel, 'auth-expiring');
  assert.match(message.message, /^Token has expired \d seconds ago$/);
  await within(closed, 'the channel to close');
});

test('a refreshed token keeps the channel joined past the first token\'s expiry', async () => {
  const c = track(client(server));
  // The channel joins with a token that expires in 2 s (the previous test shows such a
  // channel is closed then), and the token is refreshed before that.
  const exp = nowSecs() + 2;
  await c.setAuth(jwt(server.secret, { role: 'authenticated', exp }));
  const channel = c.channel('auth-refresh');
  const errors = [];
  channel.on('system', {}, (m) => { if (m.status === 'error') errors.push(m); });
  await subscribed(channel);
  await c.setAuth(jwt(server.secret, { role: 'authenticated', exp: nowSecs() + 3600 }));
  // Past the first token's last second.
  await new Promise((r) => setTimeout(r, Math.max(0, (exp + 1) * 1000 - Date.now()) + 300));
  const ack = await channel.send({ type: 'broadcast', event: 'still-here', payload: {} });
  assert.equal(ack, 'ok');
  assert.equal(channel.state, 'joined');
  assert.deepEqual(errors, [], 'the refreshed channel got a system error');
});
