// A real X desktop for the agent journeys: Xvfb, a recorder window (xev) covering the screen
// that notes every pointer and key event the X server delivers, and the PairUX agent on it.

import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const agentBin = process.env.PAIRUX_AGENT_BIN ?? path.join(root, 'target/native/pairux-agent');
export const SCREEN = { w: 1280, h: 720 };

function kill(child) {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Xvfb on a display number it picks itself (-displayfd). */
export async function startXvfb() {
  const child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', `${SCREEN.w}x${SCREEN.h}x24`, '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const display = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`Xvfb did not start: ${err}`)), 10_000);
    child.stdio[3].on('data', (d) => {
      out += d;
      if (out.includes('\n')) { clearTimeout(timer); resolve(`:${out.trim()}`); }
    });
    child.once('exit', () => { clearTimeout(timer); reject(new Error(`Xvfb exited: ${err}`)); });
  });
  return { display, stop: () => kill(child) };
}

/**
 * `xev` over the whole screen. `events` holds what arrived, in order, each with `at`
 * (performance.now() when node read it): { type, x, y, button, keysym, name, state }.
 */
export async function startRecorder(display) {
  const child = spawn('xev', ['-geometry', `${SCREEN.w}x${SCREEN.h}+0+0`, '-event', 'keyboard', '-event', 'mouse', '-event', 'button'], {
    env: { ...process.env, DISPLAY: display },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events = [];
  const waiters = new Set();
  let buf = '';
  // xev starts each event with a blank line, so an event is known complete by its last line
  // (not by the next event's start, which may never come).
  const complete = (piece) =>
    /^(Key(Press|Release)) event/m.test(piece) ? /XFilterEvent returns/.test(piece) : /same_screen (YES|NO)/.test(piece);
  child.stdout.on('data', (d) => {
    const at = performance.now();
    buf += d;
    const pieces = buf.split('\n\n');
    buf = '';
    pieces.forEach((piece, i) => {
      const last = i === pieces.length - 1;
      if (complete(piece)) {
        const ev = parse(piece, at);
        if (ev) events.push(ev);
      } else if (last) {
        buf = piece;
      }
    });
    for (const w of waiters) w();
  });
  const rec = {
    events,
    /** Index to read from later. */
    mark: () => events.length,
    since: (i) => events.slice(i),
    /** Waits until an event from index `from` on satisfies `pred`; returns it. */
    async waitFor(pred, from = 0, timeout = 10_000) {
      const find = () => events.slice(from).find(pred);
      if (find()) return find();
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = find();
          if (hit) { waiters.delete(check); clearTimeout(timer); resolve(hit); }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such X event within ${timeout} ms; since ${from}: ${JSON.stringify(events.slice(from).filter((e) => e.type !== 'MotionNotify'))}`));
        }, timeout);
        waiters.add(check);
      });
    },
    stop: () => kill(child),
  };
  // The window is mapped once it reports entering or exposing.
  await new Promise((r) => setTimeout(r, 300));
  return rec;
}

function parse(block, at) {
  const type = block.trim().split(' ')[0];
  if (!['MotionNotify', 'ButtonPress', 'ButtonRelease', 'KeyPress', 'KeyRelease'].includes(type)) return null;
  const root = /root:\((-?\d+),(-?\d+)\)/.exec(block);
  const state = /state (0x[0-9a-f]+)/.exec(block);
  const button = /button (\d+)/.exec(block);
  const key = /keycode (\d+) \(keysym (0x[0-9a-f]+), ([^)]+)\)/.exec(block);
  return {
    type,
    x: root ? Number(root[1]) : null,
    y: root ? Number(root[2]) : null,
    state: state ? Number(state[1]) : 0,
    button: button ? Number(button[1]) : null,
    keycode: key ? Number(key[1]) : null,
    name: key ? key[3] : null,
    at,
  };
}

/** The agent on `display`, serving pages from `origin`; `code()` is the current pairing code. */
export async function startAgent(display, { origin, port }) {
  if (!existsSync(agentBin)) throw new Error(`no agent binary at ${agentBin} (cargo xtask build)`);
  const child = spawn(agentBin, ['--port', String(port), '--origin', origin], {
    env: { ...process.env, DISPLAY: display, RUST_LOG: 'pairux_agent=info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let log = '';
  let code = null;
  const codes = [];
  child.stdout.on('data', (d) => {
    out += d;
    for (const m of out.matchAll(/Pairing code: (\S+)/g)) if (!codes.includes(m[1])) codes.push(m[1]);
    code = codes.at(-1) ?? null;
  });
  child.stderr.on('data', (d) => { log += d; });
  const deadline = Date.now() + 10_000;
  while (!code) {
    if (child.exitCode !== null) throw new Error(`agent exited: ${log}`);
    if (Date.now() > deadline) throw new Error(`agent printed no code: ${out} ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const exited = new Promise((resolve) => child.once('exit', (status, signal) => resolve({ status, signal })));
  return {
    code: () => code, out: () => out, log: () => log, stop: () => kill(child),
    // As a person stops it (Ctrl+C, `kill`, closing its terminal): how it exited.
    signal: (name) => { child.kill(name); return exited; },
  };
}

/** Presses keys on the X server as a person at the host's computer would (xdotool). */
export function xdotool(display, ...args) {
  return new Promise((resolve, reject) => {
    execFile('xdotool', args, { env: { ...process.env, DISPLAY: display } }, (err) => (err ? reject(err) : resolve()));
  });
}

/** The host pairs its tab with the agent by typing the code the agent shows. */
export async function pairAgent(host, code) {
  await host.getByTestId('agent-code').fill(code);
  await host.getByTestId('agent-pair').click();
  await host.locator('[data-testid=agent-state]:text-is("connected")').waitFor({ timeout: 10_000 });
}
