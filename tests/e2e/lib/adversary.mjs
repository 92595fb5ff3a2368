// Adversaries for the trust journeys, built from the app's real wire format (wire.mjs):
// a raw Realtime socket that joins a session channel, tracks whatever presence it likes and
// broadcasts whatever it likes; and a signaling server in front of pairux-server that records
// what the server sends a page and can replay it, in any order.

import { WebSocket } from 'ws';
import { signalKind } from './wire.mjs';

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
 * A signaling server that replays: every Realtime socket `page` opens goes through it (Playwright's
 * routeWebSocket, so however the page learned the server's address), to the real server. It
 * records every frame the server sends that carries a `signal` broadcast; `replay(frames)` sends
 * frames to every open socket as if the server had sent them again.
 */
export async function replayingServer(page) {
  const recorded = [];
  const sockets = new Set();
  await page.routeWebSocket(/\/realtime\/v1\/websocket/, (ws) => {
    const server = ws.connectToServer();
    sockets.add(ws);
    // vsn 2 broadcasts arrive as binary kind-4 frames (Buffers here), vsn 1 as JSON text.
    server.onMessage((message) => {
      if (Buffer.from(message).includes('signal')) recorded.push(message);
      ws.send(message);
    });
    ws.onClose(() => sockets.delete(ws));
  });
  return {
    recorded,
    replay: (frames) => {
      for (const ws of sockets) frames.forEach((f) => ws.send(f));
    },
  };
}

/**
 * The `{from, to, sealed}` payload of a signal broadcast the server sends a page — a vsn 2.0.0
 * kind 4 frame (`04 | len(topic) | len(event) | len(meta) | enc | topic | event | meta |
 * payload`) or vsn 1.0.0 JSON — or null for any other frame.
 */
export function signalIn(message) {
  const b = Buffer.from(message);
  if (b[0] === 4) {
    const [t, e, m] = [b[1], b[2], b[3]];
    if (b[4] !== 1 || b.subarray(5 + t, 5 + t + e).toString() !== 'signal') return null;
    return JSON.parse(b.subarray(5 + t + e + m).toString());
  }
  try {
    const msg = JSON.parse(b.toString());
    return msg.event === 'broadcast' && msg.payload?.event === 'signal' ? msg.payload.payload : null;
  } catch {
    return null;
  }
}

/**
 * A signaling server that withholds: every Realtime socket `page` opens goes through it to the
 * real server, and a signal whose kind (read with the room key of `link`, as any link holder
 * can) `drop(kind)` names never reaches the page. `withheld` counts them.
 */
export async function withholdingServer(page, link, drop) {
  const out = { withheld: 0 };
  await page.routeWebSocket(/\/realtime\/v1\/websocket/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((message) => {
      const signal = signalIn(message);
      if (signal && drop(signalKind(link, signal))) {
        out.withheld += 1;
        return;
      }
      ws.send(message);
    });
  });
  return out;
}

/** Frames the page's remote video has shown so far (0 without one). */
export async function frames(page) {
  return page.evaluate(() => {
    const v = document.querySelector('[data-testid=remote-video]');
    return v ? v.getVideoPlaybackQuality().totalVideoFrames : 0;
  });
}

/** Waits until the page shows frames it had not shown before. */
export async function stillDecoding(page, what, ms = 10_000) {
  const before = await frames(page);
  await until(`${what} to keep decoding`, async () => (await frames(page)) > before + 5, ms);
}

/** The page's trust counters (`trust-counters`' data attributes, camelCase). */
export async function counters(page) {
  return page.getByTestId('trust-counters').evaluate((el) => {
    const out = {};
    for (const [k, v] of Object.entries(el.dataset)) out[k] = Number(v);
    return out;
  });
}
