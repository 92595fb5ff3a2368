// Two Session Focus processes sharing one PostgreSQL (Debian's, run as the `postgres` user by
// deploy/postgres/pg.sh) beside a pairux-server with two Janus nodes and no focus of its own;
// config.json names both focus endpoints. Killing the deciding focus changes nothing a person
// sees: the other one upgrades the session at the threshold and grants its rooms; a focus
// restarted mid-session moves nobody.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, freePort, pictureSource } from './lib/harness.mjs';
import { hostSfu, MEDIA_IP, grantFor } from './lib/sfu.mjs';
import { watcher, recordPresentation, presentedStream, janusNode, settled, firstFrameOfOtherStream } from './lib/focus.mjs';

const serverBin = process.env.PAIRUX_SERVER_BIN ?? 'target/native/pairux-server';
const pgScript = path.resolve('deploy/postgres/pg.sh');
const s = {};

/** One `pairux-server focus` process; `stop()` is a kill -9. */
async function startFocus(port) {
  const child = spawn(serverBin, [
    'focus', '--server', s.server.url, '--nodes-file', path.join(s.runDir, 'nodes.json'),
    '--database-url', s.db, '--focus-key-file', path.join(s.runDir, 'focus.key'),
    '--listen', `127.0.0.1:${port}`, '--sfu-threshold', '3',
  ], { env: { ...process.env, RUST_LOG: 'pairux_server=warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`focus exited:\n${log}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`focus not healthy:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  };
  return { url, port, child, stop, log: () => log };
}

const status = async (focus) => (await fetch(`${focus.url}/focus/status`)).json();

before(async () => {
  s.runDir = mkdtempSync(path.join(tmpdir(), 'pairux-focus-pg-'));
  // Its own directory under /tmp: the `postgres` user cannot enter the run dir (0700, root's).
  s.pgDir = mkdtempSync(path.join(tmpdir(), 'pairux-pg-'));
  s.db = execFileSync(pgScript, ['start', s.pgDir], { encoding: 'utf8' }).trim();
  const ports = [await freePort(), await freePort()];
  s.server = await startServer({
    args: [
      '--media-ip', MEDIA_IP, '--run-dir', s.runDir, '--sfu-nodes', '2',
      '--focus', 'external', '--focus-key-file', path.join(s.runDir, 'focus.key'),
      ...ports.flatMap((p) => ['--focus-url', `http://127.0.0.1:${p}`]),
    ],
  });
  s.focus = [await startFocus(ports[0]), await startFocus(ports[1])];
  s.browser = await launchBrowser();
});

after(async () => {
  await s.browser?.close();
  for (const f of s.focus ?? []) await f.stop();
  await s.server?.stop();
  if (s.pgDir) execFileSync(pgScript, ['stop', s.pgDir]);
  if (s.runDir) rmSync(s.runDir, { recursive: true, force: true });
});

test('two focus processes on one PostgreSQL: the deciding one killed, the other upgrades the session; a restarted focus moves nobody', async () => {
  const stack = { browser: s.browser, server: s.server };
  const host = await hostSfu(stack, 'mode-auto', [recordPresentation]);
  const link = await host.getByTestId('invite-viewer-link').inputValue();
  const viewer = await watcher(s.browser, link);
  assert.equal(await pictureSource(viewer, host), 'p2p');
  assert.equal(await viewer.getByTestId('session-mode').textContent(), 'p2p');

  // Exactly one of them decides; kill that one.
  const leaders = await Promise.all(s.focus.map(status));
  assert.equal(leaders.filter((st) => st.leader).length, 1, JSON.stringify(leaders));
  const dead = leaders.findIndex((st) => st.leader);
  const alive = s.focus[1 - dead];
  await s.focus[dead].stop();
  await (async () => {
    const deadline = Date.now() + 10_000;
    while (!(await status(alive)).leader) {
      if (Date.now() > deadline) throw new Error('the surviving focus never took the lead');
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  // The third participant: the survivor moves the session; everyone follows.
  const p2p = await presentedStream(viewer);
  const since = Date.now();
  const third = await watcher(s.browser, link);
  for (const page of [host, viewer, third]) {
    await page.locator('[data-testid=session-mode]:text-is("sfu")').waitFor({ timeout: 20_000 });
  }
  await firstFrameOfOtherStream(viewer, p2p, since, 10_000);
  const decisions = (await status(alive)).counters.decisions;
  assert.ok(decisions >= 1, 'the survivor made the decision');

  // Restart the killed focus: it resumes from the database and moves nobody.
  await Promise.all([viewer, third].map((page) => settled(page)));
  const node = await janusNode(viewer);
  const streams = await Promise.all([viewer, third].map(presentedStream));
  const decided = (await grantFor(alive.url, link, 'ice')).focus;
  assert.equal(decided.topology, 'sfu');
  s.focus[dead] = await startFocus(s.focus[dead].port);
  // Positive first: the restarted focus has probed both nodes (up) and watches the session
  // again — everything it needs to move someone, had it wanted to.
  const restarted = s.focus[dead];
  const deadline = Date.now() + 15_000;
  for (;;) {
    const st = await status(restarted);
    if (st.watched >= 1 && st.nodes.every((n) => n.health === 'up')) break;
    if (Date.now() > deadline) throw new Error(`the restarted focus never caught up: ${JSON.stringify(st)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // The decision in force is the one from before the restart (same seq, same node), from
  // either process.
  for (const focus of s.focus) {
    const now = (await grantFor(focus.url, link, 'ice')).focus;
    assert.deepEqual([now.seq, now.node], [decided.seq, decided.node]);
  }
  for (const [i, page] of [viewer, third].entries()) {
    assert.equal(await presentedStream(page), streams[i], 'a guest moved after the focus restarted');
    assert.equal(await janusNode(page), node);
  }
  const after = await Promise.all(s.focus.map(status));
  assert.equal(after.filter((st) => st.leader).length, 1, JSON.stringify(after));
  for (const page of [host, viewer, third]) await page.context().close();
});
