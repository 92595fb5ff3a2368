// Adversaries for the trust journeys, built from the app's real wire format (wire.mjs):
// a raw Realtime socket that joins a session channel, tracks whatever presence it likes and
// broadcasts whatever it likes; and a WebSocket proxy in front of pairux-server that records
// what the server sends a page and can replay it, in any order.

import { WebSocket, WebSocketServer } from 'ws';
import { freePort } from './harness.mjs';

/** Polls `check` until it returns a truthy value or `ms` pass. */
export async function until(what, check, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A raw Realtime (Phoenix vsn 1.0.0) socket joined to `topic` with presence key `key`.
 * It knows only what it is given: the server URL and the topic (from the session id).
 */
export async function rawPeer(serverUrl, topic, key) {
  const config = await (await fetch(`${serverUrl}/config.json`)).json();
  const ws = new WebSocket(`${config.realtimeUrl}?apikey=${config.anonKey}&vsn=1.0.0`);
  const received = [];
  const replies = new Map();
  let ref = 0;
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    received.push(msg);
    if (msg.event === 'phx_reply') replies.set(msg.ref, msg.payload);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const push = (event, payload) => {
    ref += 1;
    ws.send(JSON.stringify({ topic, event, payload, ref: String(ref), join_ref: '1' }));
    return String(ref);
  };
  const joinRef = push('phx_join', {
    config: { broadcast: { self: false, ack: false }, presence: { key, enabled: true }, private: false },
  });
  await until('the raw peer to join', () => replies.get(joinRef)?.status === 'ok', 5_000);
  return {
    received,
    track: (meta) => push('presence', { type: 'presence', event: 'track', payload: meta }),
    signal: (payload) => push('broadcast', { type: 'broadcast', event: 'signal', payload }),
    close: () => ws.close(),
  };
}

/**
 * A WebSocket proxy on a free loopback port in front of `serverUrl`'s Realtime endpoint. It
 * records every frame the server sends that carries a `signal` broadcast; `replay(frames)`
 * sends frames to every client as if the server had sent them again.
 */
export async function replayProxy(serverUrl) {
  const config = await (await fetch(`${serverUrl}/config.json`)).json();
  const upstreamBase = config.realtimeUrl;
  const port = await freePort();
  const server = new WebSocketServer({ host: '127.0.0.1', port });
  const recorded = [];
  const clients = new Set();
  server.on('connection', (client, request) => {
    // The app's vsn-2 frames are binary; keep them as bytes both ways.
    client.binaryType = 'nodebuffer';
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    const upstream = new WebSocket(`${upstreamBase}${query}`);
    const pending = [];
    clients.add(client);
    upstream.on('open', () => pending.splice(0).forEach((m) => upstream.send(m.data, { binary: m.binary })));
    upstream.on('message', (data, binary) => {
      // vsn 2 broadcasts arrive as binary kind-4 frames, vsn 1 as JSON text.
      if (Buffer.from(data).includes('signal')) recorded.push({ data: Buffer.from(data), binary });
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary });
    });
    client.on('message', (data, binary) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary });
      else pending.push({ data, binary });
    });
    const closeBoth = () => {
      clients.delete(client);
      client.close();
      upstream.close();
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    upstream.on('error', closeBoth);
  });
  return {
    url: `ws://127.0.0.1:${port}/realtime/v1/websocket`,
    recorded,
    replay: (frames) => {
      for (const client of clients) frames.forEach((f) => client.send(f.data, { binary: f.binary }));
    },
    close: () => {
      // ws waits for every connection to end before it reports the server closed.
      for (const client of clients) client.terminate();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
