// Adversaries for the trust journeys, built from the app's real wire format (wire.mjs):
// a raw Realtime socket that joins a session channel, tracks whatever presence it likes and
// broadcasts whatever it likes; and a signaling server in front of pairux-server that records
// what the server sends a page and can replay it, in any order.

import { WebSocket } from 'ws';

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
