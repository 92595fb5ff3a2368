// The @supabase/realtime-js side of crates/server/tests/realtime_client_interop.rs.
//
//   node tests/interop/realtime-js-peer.mjs <endpoint> <apikey> <topic> [vsn]
//
// <endpoint> is realtime-js's (`ws://host:port/realtime/v1`; it appends `/websocket`), <topic>
// the channel name without `realtime:`, <vsn> `2.0.0` (default) or `1.0.0`. The peer joins with
// presence key `js`, tracks {role: 'viewer', joined_at, profile: {name: 'js'}} and reports on
// stdout, one JSON object a line, what it sees: `subscribed` (with the meta it tracked),
// `presence` (the full presenceState() after every sync), `join`/`leave`, `broadcast` (binary
// payloads as a byte array, `binary: true`), and the result of every command. Commands arrive on
// stdin, one JSON object a line:
//   {"cmd":"send","event":"e","payload":{…}}   JSON broadcast
//   {"cmd":"send_binary","event":"e","bytes":[…]}   binary broadcast (an ArrayBuffer)
//   {"cmd":"track"} | {"cmd":"untrack"} | {"cmd":"unsubscribe"} | {"cmd":"exit"}
// It exits on `exit`, when stdin closes, or after HARD_TIMEOUT_MS whatever happens.

import readline from 'node:readline';
import { RealtimeClient } from '@supabase/realtime-js';
import WebSocket from 'ws';

const HARD_TIMEOUT_MS = 20000;

const [endpoint, apikey, topicArg, vsn = '2.0.0'] = process.argv.slice(2);
if (!endpoint || !apikey || !topicArg) {
  console.error('usage: realtime-js-peer.mjs <endpoint> <apikey> <topic> [vsn]');
  process.exit(64);
}
const topic = topicArg.replace(/^realtime:/, '');

const report = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

let exiting = false;
async function exit(code) {
  if (exiting) return;
  exiting = true;
  // Leave cleanly when possible, but never let a stuck close keep the process alive.
  const closed = client.disconnect().catch(() => {});
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000))]);
  process.exit(code);
}

const hardTimeout = setTimeout(() => {
  report({ type: 'error', message: `hard timeout after ${HARD_TIMEOUT_MS} ms` });
  process.exit(2);
}, HARD_TIMEOUT_MS);
hardTimeout.unref();

const client = new RealtimeClient(endpoint, {
  transport: WebSocket,
  params: { apikey },
  vsn,
});
const channel = client.channel(topic, {
  config: { broadcast: { ack: true, self: false }, presence: { key: 'js', enabled: true } },
});

const meta = { role: 'viewer', joined_at: Date.now(), profile: { name: 'js' } };

channel.on('presence', { event: 'sync' }, () => {
  report({ type: 'presence', state: channel.presenceState() });
});
channel.on('presence', { event: 'join' }, ({ key, newPresences }) => {
  report({ type: 'join', key, metas: newPresences });
});
channel.on('presence', { event: 'leave' }, ({ key, leftPresences }) => {
  report({ type: 'leave', key, metas: leftPresences });
});
channel.on('broadcast', { event: '*' }, (msg) => {
  const binary = msg.payload instanceof ArrayBuffer;
  const payload = binary ? Array.from(new Uint8Array(msg.payload)) : msg.payload;
  report({ type: 'broadcast', event: msg.event, binary, payload });
});

channel.subscribe(async (status, err) => {
  if (status !== 'SUBSCRIBED') {
    report({ type: 'status', status, error: err?.message ?? null });
    return;
  }
  const result = await channel.track(meta);
  report({ type: 'subscribed', track: result, meta });
});

async function run(command) {
  switch (command.cmd) {
    case 'send':
      return channel.send({ type: 'broadcast', event: command.event, payload: command.payload });
    case 'send_binary':
      // realtime-js sends a payload as binary only when it is an ArrayBuffer (not a view).
      return channel.send({
        type: 'broadcast',
        event: command.event,
        payload: new Uint8Array(command.bytes).buffer,
      });
    case 'track':
      return channel.track(meta);
    case 'untrack':
      return channel.untrack();
    case 'unsubscribe':
      return channel.unsubscribe();
    case 'exit':
      return exit(0);
    default:
      throw new Error(`unknown command ${JSON.stringify(command)}`);
  }
}

// Commands run one after another, each awaited, so the server sees them in order.
let queue = Promise.resolve();
const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (!line.trim()) return;
  queue = queue.then(async () => {
    let command;
    try {
      command = JSON.parse(line);
      const result = await run(command);
      report({ type: 'done', cmd: command.cmd, event: command.event ?? null, result });
    } catch (e) {
      report({ type: 'error', cmd: command?.cmd ?? null, message: String(e?.message ?? e) });
    }
  });
});
input.on('close', () => {
  queue.then(() => exit(0));
});
