// Helpers of the SFU journeys: a stack whose pairux-server runs Janus and coturn on the test
// namespace's veth address, and page probes (peer connections, outbound streams, ICE pairs).

import { before, after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, openApp, decoding, recordPeers } from './harness.mjs';

export const MEDIA_IP = process.env.PAIRUX_MEDIA_IP ?? '198.51.100.1';

// The SFU journeys' callers import it from here.
export { recordPeers };

/** Outbound video streams that have sent bytes, over all the page's open connections. */
export async function outboundVideo(page) {
  return page.evaluate(async () => {
    let n = 0;
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      const report = await pc.getStats();
      report.forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video' && s.bytesSent > 0) n += 1; });
    }
    return n;
  });
}

/**
 * Every selected pair of the page's connected connections: the candidate types, and the local
 * candidate's `address:port` (`at`; for a relay candidate, its allocation on the TURN server).
 */
export async function selectedPairs(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const pc of window.__pcs) {
      if (pc.connectionState !== 'connected') continue;
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) return;
        const pair = report.get(s.selectedCandidatePairId);
        const local = report.get(pair.localCandidateId);
        const remote = report.get(pair.remoteCandidateId);
        out.push({ local: local.candidateType, remote: remote.candidateType, at: `${local.address}:${local.port}` });
      });
    }
    return out;
  });
}

export async function frames(page) {
  return page.evaluate(() => document.querySelector('[data-testid=remote-video]').getVideoPlaybackQuality().totalVideoFrames);
}

/** `browserArgs`: more Chromium flags, or a function giving them when the browser starts. */
export function stackWith(args, browserArgs = []) {
  const s = { server: undefined, browser: undefined, runDir: undefined };
  before(async () => {
    s.runDir = mkdtempSync(path.join(tmpdir(), 'pairux-sfu-'));
    s.server = await startServer({ args: ['--media-ip', MEDIA_IP, '--run-dir', s.runDir, ...args] });
    s.browser = await launchBrowser(typeof browserArgs === 'function' ? browserArgs() : browserArgs);
  });
  after(async () => {
    await s.browser?.close();
    await s.server?.stop();
    if (s.runDir) rmSync(s.runDir, { recursive: true, force: true });
  });
  return s;
}

export async function hostSfu(stack, mode = 'mode-sfu', inits = []) {
  const host = await newPage(stack.browser);
  await host.addInitScript(recordPeers);
  for (const init of inits) await host.addInitScript(init);
  await openApp(host, stack.server.url);
  await host.getByTestId(mode).check();
  await host.getByTestId('start-test-pattern').click();
  if (mode === 'mode-sfu') await host.locator('[data-testid=session-mode]:text-is("sfu")').waitFor({ timeout: 10_000 });
  return host;
}

export async function guest(stack, link, inits = []) {
  const page = await newPage(stack.browser);
  await page.addInitScript(recordPeers);
  for (const init of inits) await page.addInitScript(init);
  await openApp(page, link);
  await decoding(page, { timeout: 30_000 });
  return page;
}


/**
 * Plays the first `count` messages the page received on its data channels (recorded with
 * harness.mjs `recordChannels`) again, in order, each on the newest channel of its label, as
 * Janus could; returns how many.
 */
export function replayReceived(page, count) {
  return page.evaluate((count) => {
    const again = window.__received.slice(0, count);
    for (const r of again) {
      const ch = window.__channels.findLast((c) => c.label === r.label);
      ch.dispatchEvent(new MessageEvent('message', { data: r.data }));
    }
    return again.length;
  }, count);
}

/**
 * What any holder of the link can get from the server (an adversary among them): a grant,
 * computed here from the link exactly as the app does (core `access`), for `want`.
 */
export async function grantFor(serverUrl, link, want = 'sfu') {
  const { hkdfSync, createPrivateKey, createPublicKey, sign, randomBytes } = await import('node:crypto');
  const url = new URL(link);
  const session = url.pathname.split('/').pop();
  const k = Buffer.from(new URLSearchParams(url.hash.slice(1)).get('k'), 'base64url');
  const seed = Buffer.from(hkdfSync('sha256', k, Buffer.from(session, 'base64url'), 'pairux access key v1', 32));
  const key = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const verifier = createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32);
  const field = (b) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const time = Math.floor(Date.now() / 1000);
  const nonce = randomBytes(16).toString('base64url');
  const t = Buffer.alloc(8);
  t.writeBigUInt64BE(BigInt(time));
  const statement = Buffer.concat([
    field(Buffer.from('pairux/access/v1')), field(Buffer.from(session)), t,
    field(Buffer.from(nonce)), field(Buffer.from(want)),
  ]);
  const body = {
    session, time, nonce, want,
    verifier: verifier.toString('base64url'),
    signature: sign(null, statement, key).toString('base64url'),
  };
  const res = await fetch(`${serverUrl}/api/access`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`access refused: ${res.status} ${await res.text()}`);
  return res.json();
}

/**
 * Runs, inside `page`, a plain subscriber of the room's publisher with no decryption at all
 * — what Janus, or anyone it relays to, gets — and returns its inbound video counters after
 * `ms`.
 */
export async function plainSubscriber(page, sfu, ms = 6000) {
  await withTimecode(page);
  await withJanusClient(page);
  return page.evaluate(async ({ sfu, ms }) => {
    let reader = null;
    const { ws, pc } = await window.__janusSubscribe(sfu, (e) => {
      if (e.track.kind === 'video') reader = window.__startReader(e.track);
    });
    await new Promise((r) => setTimeout(r, ms));
    let out = { packets: 0, frames: 0 };
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') out = { packets: s.packetsReceived, frames: s.framesDecoded };
    });
    reader?.stop();
    out.pictures = reader ? reader.samples.length : 0;
    pc.close();
    ws.close();
    return out;
  }, { sfu, ms });
}

/**
 * Adds `window.__janusClient(url, token)` to the page: a bare Janus WebSocket client (no app
 * code) resolving to `{ ws, send }`, where `send(message)` adds a transaction and the token and
 * resolves with the reply to that transaction (acks skipped); it rejects if the socket does not
 * open. And `window.__janusSubscribe(sfu, ontrack, { keepalive })`: a recvonly subscriber of the
 * room's publisher (`sfu`: a grant's `{janusUrl, token, room, pin}`), `ontrack` set on its
 * connection before the offer is applied, resolving to `{ ws, send, pc }` once started; its
 * second half, `window.__janusSubscribeHandle({ send, session_id, handle_id }, sfu, feed,
 * ontrack)`, subscribes one attached handle to `feed` and resolves to its started connection
 * (many handles can share one session). For tests and benches that talk to Janus as a plain
 * link holder would.
 */
export async function withJanusClient(page) {
  await page.evaluate(() => {
    window.__janusClient = async (url, token) => {
      const ws = new WebSocket(url, 'janus-protocol');
      const pending = new Map();
      let n = 0;
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.janus === 'ack') return;
        const done = pending.get(m.transaction);
        if (done) { pending.delete(m.transaction); done(m); }
      };
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
      const send = (m) => new Promise((resolve) => {
        const transaction = `t${++n}`;
        pending.set(transaction, resolve);
        ws.send(JSON.stringify({ ...m, transaction, token }));
      });
      return { ws, send };
    };
    // Publishes `pc`'s offer (ICE gathered) on a joined publisher handle; Janus's reply.
    window.__janusPublish = async ({ send, session_id, handle_id }, pc) => {
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise((r) => {
        if (pc.iceGatheringState === 'complete') r();
        pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') r(); };
      });
      return send({
        janus: 'message', session_id, handle_id, body: { request: 'publish' },
        jsep: { type: 'offer', sdp: pc.localDescription.sdp, e2ee: true },
      });
    };
    window.__janusSubscribe = async (sfu, ontrack, { keepalive = false } = {}) => {
      const { ws, send } = await window.__janusClient(sfu.janusUrl, sfu.token);
      const session_id = (await send({ janus: 'create' })).data.id;
      if (keepalive) setInterval(() => send({ janus: 'keepalive', session_id }), 20_000);
      const handle_id = (await send({ janus: 'attach', session_id, plugin: 'janus.plugin.videoroom' })).data.id;
      const list = await send({ janus: 'message', session_id, handle_id, body: { request: 'listparticipants', room: sfu.room } });
      const feed = list.plugindata.data.participants.find((p) => p.publisher).id;
      const pc = await window.__janusSubscribeHandle({ send, session_id, handle_id }, sfu, feed, ontrack);
      return { ws, send, pc };
    };
    window.__janusSubscribeHandle = async ({ send, session_id, handle_id }, sfu, feed, ontrack) => {
      const joined = await send({
        janus: 'message', session_id, handle_id,
        body: { request: 'join', ptype: 'subscriber', room: sfu.room, pin: sfu.pin, streams: [{ feed }] },
      });
      const pc = new RTCPeerConnection();
      pc.ontrack = ontrack;
      await pc.setRemoteDescription(joined.jsep);
      await pc.setLocalDescription(await pc.createAnswer());
      await new Promise((r) => {
        if (pc.iceGatheringState === 'complete') r();
        pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') r(); };
      });
      await send({ janus: 'message', session_id, handle_id, body: { request: 'start' }, jsep: pc.localDescription });
      return pc;
    };
  });
}

/** Adds the test pattern's time-code reader (bench/lib/timecode.mjs) as `window.__startReader`. */
export async function withTimecode(page) {
  const { readFile } = await import('node:fs/promises');
  const src = await readFile(new URL('../../../bench/lib/timecode.mjs', import.meta.url), 'utf8');
  await page.addScriptTag({ type: 'module', content: `${src}\nwindow.__startReader = startReader;` });
  await page.waitForFunction(() => typeof window.__startReader === 'function');
}

/** How many frames of the page's remote video carry a readable time code within `ms`. */
export async function readablePictures(page, ms = 3000) {
  await withTimecode(page);
  return page.evaluate(async (ms) => {
    const track = document.querySelector('[data-testid=remote-video]').srcObject.getVideoTracks()[0];
    const reader = window.__startReader(track);
    await new Promise((r) => setTimeout(r, ms));
    reader.stop();
    return reader.samples.length;
  }, ms);
}

/**
 * An init script: keeps what the page's code gives its transform worker — the worker's URL and
 * options, and a copy of every message posted to it (sender ids, epochs'
 * secrets) — in `window.__workerTraffic`, so that a test can build the same worker again:
 * everything a tab that ignores a removal still has.
 */
export function recordWorkerTraffic() {
  const Orig = window.Worker;
  window.__workerTraffic = [];
  window.Worker = class extends Orig {
    constructor(url, options) {
      super(url, options);
      const record = { url: String(url), options, msgs: [] };
      window.__workerTraffic.push(record);
      const post = this.postMessage.bind(this);
      this.postMessage = (msg, ...rest) => {
        if (msg instanceof Uint8Array) record.msgs.push(new Uint8Array(msg));
        return post(msg, ...rest);
      };
    }
  };
}

/**
 * Runs, inside `page` (which ran `recordWorkerTraffic`), a subscriber of the host's feed with
 * its own copy of the page's transform worker: a fresh worker from the same script, given every
 * message the page ever gave its own, decrypting as the page would for `hostId`. Pictures whose
 * time code reads back are counted in `window.__shadow.reader.samples`.
 */
export async function shadowSubscriber(page, sfu, hostId) {
  await withTimecode(page);
  await withJanusClient(page);
  await page.evaluate(async ({ sfu, hostId }) => {
    const rec = window.__workerTraffic[0];
    const worker = new Worker(rec.url, rec.options);
    await new Promise((r) => worker.addEventListener('message', r, { once: true }));
    for (const msg of rec.msgs) worker.postMessage(new Uint8Array(msg));
    // TransformOptions { side: receive, media: video, participant: hostId, codec: none }
    // (postcard; bench/lib/worker-wire.json's receiver_options for another id).
    const id = new TextEncoder().encode(hostId);
    const options = new Uint8Array([1, 0, 1, id.length, ...id, 0]);
    window.__shadow = { reader: null };
    const { ws, pc } = await window.__janusSubscribe(sfu, (e) => {
      if (e.track.kind !== 'video') return;
      e.receiver.transform = new RTCRtpScriptTransform(worker, options);
      window.__shadow.reader = window.__startReader(e.track);
    }, { keepalive: true });
    Object.assign(window.__shadow, { ws, pc });
  }, { sfu, hostId });
}

/**
 * Runs, inside `page`, a subscriber of every feed the room publishes (listed again every
 * 300 ms, so later feeds are taken too) that reads no media: a worker of its own reads each
 * received frame's SFrame KID and records `{ feed, kind, epoch }` in `window.__kids` (the
 * KID's 4 epoch bits, core `e2ee::keys`). What any link holder with a grant — a removed
 * person among them — gets through Janus, seen at the level of the keys it is sealed with.
 * The clear prefix before the SFrame header is core `e2ee::codec`'s: Opus's TOC byte, VP8's
 * 10 bytes on key frames and 3 on others.
 */
export async function kidTap(page, sfu) {
  await withJanusClient(page);
  await page.evaluate(async (sfu) => {
    const src = `onrtctransform = (e) => {
      const { feed, kind } = e.transformer.options;
      const reader = e.transformer.readable.getReader();
      (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          const d = new Uint8Array(value.data);
          const at = kind === 'audio' ? 1 : value.type === 'key' ? 10 : 3;
          let kid = null;
          if (d.length > at) {
            const c = d[at];
            const len = (c >> 4) & 7;
            if (c >> 7 === 0) kid = len;
            else if (d.length > at + len + 1) {
              kid = 0;
              for (let i = 1; i <= len + 1; i++) kid = kid * 256 + d[at + i];
            }
          }
          postMessage({ feed, kind, epoch: kid === null ? null : (kid >> 16) & 15 });
        }
      })();
    };`;
    const worker = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
    window.__kids = [];
    worker.onmessage = (e) => window.__kids.push(e.data);
    const { ws, send } = await window.__janusClient(sfu.janusUrl, sfu.token);
    const session_id = (await send({ janus: 'create' })).data.id;
    setInterval(() => send({ janus: 'keepalive', session_id }), 20_000);
    const lister = (await send({ janus: 'attach', session_id, plugin: 'janus.plugin.videoroom' })).data.id;
    const taken = new Set();
    window.__tap = { ws, pcs: [] };
    const look = async () => {
      const list = await send({ janus: 'message', session_id, handle_id: lister, body: { request: 'listparticipants', room: sfu.room } });
      for (const p of list.plugindata?.data?.participants ?? []) {
        if (!p.publisher || taken.has(p.id)) continue;
        taken.add(p.id);
        const handle_id = (await send({ janus: 'attach', session_id, plugin: 'janus.plugin.videoroom' })).data.id;
        const pc = await window.__janusSubscribeHandle({ send, session_id, handle_id }, sfu, p.id, (e) => {
          e.receiver.transform = new RTCRtpScriptTransform(worker, { feed: p.id, kind: e.track.kind });
        });
        window.__tap.pcs.push(pc);
      }
      setTimeout(look, 300);
    };
    await look();
  }, sfu);
}
