// Shared by the conformance tests: starts the pairux-server binary on a free loopback port,
// mints Supabase-style JWTs, and wraps the real @supabase/realtime-js client with waits that
// fail after a timeout instead of hanging.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RealtimeClient } from '@supabase/realtime-js';
import WebSocket from 'ws';

export { WebSocket };

/** How long any expected event may take. */
export const WAIT_MS = 5000;

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');

/** Seconds since the epoch. */
export const nowSecs = () => Math.floor(Date.now() / 1000);

/** An HS256 JWT with `typ: JWT`, signed with `secret`. */
export function jwt(secret, claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64(claims);
  const sig = crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts pairux-server ($PAIRUX_SERVER_BIN, else target/debug/pairux-server) and waits for
 * /health. Returns URLs, the secret, a valid anon key, and stop().
 */
export async function startServer(extraArgs = []) {
  const bin = process.env.PAIRUX_SERVER_BIN || path.join(root, 'target/debug/pairux-server');
  if (!fs.existsSync(bin)) throw new Error(`pairux-server binary not found at ${bin}`);
  const secret = crypto.randomBytes(24).toString('base64url');
  const port = await freePort();
  const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'pairux-conformance-'));
  fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html>');
  // `=` because a base64url secret may start with '-'.
  const args = ['--listen', `127.0.0.1:${port}`, `--jwt-secret=${secret}`, '--static', dist, ...extraArgs];
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const http = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pairux-server exited: ${stderr}`);
    try {
      const res = await fetch(`${http}/health`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`pairux-server did not answer /health: ${stderr}`);
    }
    await sleep(50);
  }
  return {
    http,
    endpoint: `ws://127.0.0.1:${port}/realtime/v1`,
    secret,
    anonKey: jwt(secret, { role: 'anon', exp: nowSecs() + 3600 }),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
      fs.rmSync(dist, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A realtime-js client over the `ws` package (Node 20 has no global WebSocket). */
export function client(server, { vsn = '2.0.0', apikey = server.anonKey } = {}) {
  return new RealtimeClient(server.endpoint, {
    transport: WebSocket,
    params: { apikey },
    vsn,
    // Keep failed reconnects from piling up while a test watches a refusal.
    reconnectAfterMs: () => 60000,
    // A push without ack keeps a timer for its (never coming) reply; the default 10 s would
    // keep each test process alive that long after its last broadcast. Loopback answers in ms.
    timeout: 2000,
  });
}

/** Rejects with `what` if `promise` takes longer than `ms`. */
export function within(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Subscribes and resolves on SUBSCRIBED; rejects on any other status or a timeout. */
export function subscribed(channel) {
  return within(
    new Promise((resolve, reject) => {
      channel.subscribe((status, err) => {
        if (status === 'SUBSCRIBED') resolve();
        else reject(new Error(`subscribe: ${status} ${err?.message ?? ''}`));
      });
    }),
    `SUBSCRIBED on ${channel.topic}`,
  );
}

/** Subscribes and resolves with the first non-SUBSCRIBED status and its error message. */
export function subscribeFailure(channel) {
  return within(
    new Promise((resolve, reject) => {
      channel.subscribe((status, err) => {
        if (status === 'SUBSCRIBED') reject(new Error(`${channel.topic} subscribed unexpectedly`));
        else resolve({ status, message: err?.message ?? '' });
      });
    }),
    `a subscribe failure on ${channel.topic}`,
  );
}

/**
 * Queues the broadcasts a channel receives (call before subscribing). `next()` resolves with
 * the oldest unread one, waiting up to WAIT_MS; `noneYet()` fails if any has arrived. Call it
 * only where any broadcast would already have arrived: after an ack of this same socket's
 * that the server sends after its fan-out (a later frame on one socket is read later). For
 * another socket's broadcasts, check that the next one to arrive is a later one of that
 * socket's instead.
 */
export function broadcasts(channel, event = '*') {
  const queue = [];
  let wake = null;
  channel.on('broadcast', { event }, (msg) => {
    queue.push(msg);
    if (wake) {
      const w = wake;
      wake = null;
      w();
    }
  });
  return {
    async next() {
      if (queue.length === 0) {
        await within(new Promise((resolve) => { wake = resolve; }), `a broadcast on ${channel.topic}`);
      }
      return queue.shift();
    },
    noneYet() {
      if (queue.length) throw new Error(`unexpected broadcast ${JSON.stringify(queue[0])}`);
    },
  };
}

/**
 * Watches a channel's presence (call before subscribing: realtime-js refuses presence
 * callbacks afterwards). `until(predicate, what)` resolves with the state once
 * `predicate(state)` holds, re-checking after every presence event, or fails after WAIT_MS.
 * `events` records join and leave events.
 */
export function presenceWatch(channel) {
  let checks = [];
  const events = [];
  const recheck = () => { checks = checks.filter((check) => !check()); };
  channel.on('presence', { event: 'sync' }, recheck);
  channel.on('presence', { event: 'join' }, (e) => { events.push(e); recheck(); });
  channel.on('presence', { event: 'leave' }, (e) => { events.push(e); recheck(); });
  return {
    events,
    until(predicate, what) {
      return within(
        new Promise((resolve) => {
          const check = () => {
            const state = channel.presenceState();
            if (!predicate(state)) return false;
            resolve(state);
            return true;
          };
          if (!check()) checks.push(check);
        }),
        what,
      );
    },
  };
}

/**
 * Closes a client's socket and waits for it to be closed. RealtimeClient.disconnect() leaves
 * a 10 s timer running after it resolves, which keeps a test process alive for nothing, so this
 * goes to the Phoenix socket underneath (an internal of realtime-js 2.119, hence one place).
 */
export async function hangUp(c) {
  const socket = c.socketAdapter?.getSocket?.();
  if (!socket) return c.disconnect();
  // Leaving the last channel schedules a disconnect 50 s later, and a join that never got an
  // answer keeps its 10 s push timeout: clear both, or the process outlives the test.
  c._cancelPendingDisconnect?.();
  c.getChannels().forEach((channel) => channel.teardown());
  await within(new Promise((resolve) => socket.disconnect(resolve, 1000, 'test over')), 'the socket to close');
}

/** Hangs up every client, ignoring those already gone. */
export async function disconnectAll(clients) {
  await Promise.all(clients.map((c) => hangUp(c).catch(() => {})));
}

/**
 * Opens a raw WebSocket upgrade and resolves with the HTTP refusal: { status, body }.
 * Fails if the upgrade is accepted.
 */
export function rawRefusal(url) {
  return within(
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.on('open', () => { ws.close(); reject(new Error(`${url} was accepted`)); });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(body || '{}') }));
      });
      ws.on('error', () => {});
    }),
    `the refusal of ${url}`,
  );
}
