// The PairUX agent on a real X server (Xvfb): a granted controller's input arrives at a real X
// client (xev) where it was aimed; revoke, Esc-Esc, the emergency hotkey and unpairing let go
// of everything; pages without the code or from another origin, and viewers, get nothing in.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import { startServer, launchBrowser, newPage, openApp, myId, decoding, freePort, recordChannels, pictureRect, grant, stopSharing } from './lib/harness.mjs';
import { startXvfb, startRecorder, startAgent, pairAgent, xdotool, SCREEN } from './lib/desktop.mjs';
import { until } from './lib/adversary.mjs';

const s = { pages: [] };
/** How long after control stopped a press may still be a controller's (core: `GRACE_MS`). */
const GRACE_MS = 2_000;

async function page() {
  const p = await newPage(s.browser);
  s.pages.push(p);
  return p;
}

before(async () => {
  s.x = await startXvfb();
  s.rec = await startRecorder(s.x.display);
  s.server = await startServer();
  s.agentPort = await freePort();
  s.agent = await startAgent(s.x.display, { origin: s.server.url, port: s.agentPort });
  s.browser = await launchBrowser();
});

// A failed journey must not leave its host paired for the next one.
afterEach(async () => {
  for (const page of s.pages.splice(0)) await page.context().close().catch(() => {});
});

after(async () => {
  await s.browser?.close();
  await s.server?.stop();
  if (process.env.PAIRUX_AGENT_LOG) console.error(s.agent?.log());
  s.agent?.stop();
  s.rec?.stop();
  s.x?.stop();
});

async function hostSession(url = s.server.url) {
  const host = await page();
  await openApp(host, url);
  // The screen picker (fake, "Entire screen"): a monitor surface, as a person would share.
  await host.getByTestId('start-session').click();
  await host.getByTestId('invite-controller-link').waitFor();
  return host;
}

async function join(link, { spy = false } = {}) {
  const guest = await page();
  if (spy) await guest.addInitScript(recordChannels);
  await openApp(guest, link);
  await decoding(guest);
  return guest;
}

const agentCode = () => s.agent.code();

const pair = (host) => pairAgent(host, agentCode());

/** Where a normalised point of the shared picture is on the controller's page. */
async function aim(controller, nx, ny) {
  const r = await pictureRect(controller);
  return [r.x + nx * r.w, r.y + ny * r.h];
}

/** The screen pixel a normalised point maps to. */
const px = (nx, ny) => [Math.round(nx * (SCREEN.w - 1)), Math.round(ny * (SCREEN.h - 1))];
const near = (ev, [x, y], tol = 3) => Math.abs(ev.x - x) <= tol && Math.abs(ev.y - y) <= tol;

/** A key event by its unshifted name (a release under Shift reports the shifted keysym). */
const key = (e, type, name) => e.type === type && e.name?.toLowerCase() === name.toLowerCase();

/** Keys (by name when pressed) the recorder saw pressed and not released since `from`. */
function heldKeys(from) {
  const held = new Map();
  for (const e of s.rec.since(from)) {
    if (e.type === 'KeyPress') held.set(e.keycode, e.name);
    if (e.type === 'KeyRelease') held.delete(e.keycode);
  }
  return [...held.values()];
}

/**
 * Waits until key `name` is let go: released, with no more of the X server's own autorepeat
 * (release-press pairs) for a while — a key still down keeps repeating.
 */
async function letGo(name, from, what) {
  const count = () => s.rec.since(from).filter((e) => e.name?.toLowerCase() === name).length;
  await until(what, async () => {
    const before = count();
    await new Promise((r) => setTimeout(r, 300));
    return heldKeys(from).length === 0 && count() === before;
  }, 10_000);
}

/**
 * A granted controller holding key `letter` and the left button at (`nx`, `ny`), both seen
 * down on the X server: its host and controller pages, and the recorder's mark from before.
 */
async function controllerHolding(letter, nx, ny) {
  const host = await hostSession();
  const controller = await join(await host.getByTestId('invite-controller-link').inputValue());
  const cid = await myId(controller);
  await pair(host);
  await grant(host, controller, cid);
  await sentinel(controller, 0.5, 0.5);
  const from = s.rec.mark();
  await controller.keyboard.down(`Key${letter.toUpperCase()}`);
  await controller.mouse.move(...(await aim(controller, nx, ny)));
  await controller.mouse.down();
  await s.rec.waitFor((e) => key(e, 'KeyPress', letter), from);
  await s.rec.waitFor((e) => e.type === 'ButtonPress' && near(e, px(nx, ny)), from);
  return { host, controller, from };
}

/**
 * Clicks at a fresh point and waits for it: anything the controller did before it was sent
 * before it, on an ordered channel, so its arrival proves the earlier events are all in.
 */
async function sentinel(controller, nx, ny) {
  const from = s.rec.mark();
  await controller.mouse.click(...(await aim(controller, nx, ny)));
  const hit = await s.rec.waitFor((e) => e.type === 'ButtonPress' && near(e, px(nx, ny)), from);
  return s.rec.events.indexOf(hit);
}

test('a page without the code, or from another origin, is refused and drives nothing', async () => {
  const from = s.rec.mark();
  const host = await hostSession();
  assert.equal(await host.getByTestId('agent-state').textContent(), 'absent');
  assert.match(await host.getByTestId('agent-sentence').textContent(), /pointers only — start the PairUX agent/);

  // A typo is caught before anything is sent; a wrong code is refused by the agent.
  await host.getByTestId('agent-code').fill('ABCDE');
  await host.getByTestId('agent-pair').click();
  assert.match(await host.getByTestId('agent-error').textContent(), /10 letters and digits/);
  const wrong = agentCode().startsWith('Z') ? 'YYYYY-YYYYY' : 'ZZZZZ-ZZZZZ';
  await host.getByTestId('agent-code').fill(`${wrong}@${s.agentPort}`);
  await host.getByTestId('agent-pair').click();
  await host.getByTestId('agent-error').filter({ hasText: 'did not accept that code' }).waitFor({ timeout: 10_000 });
  assert.equal(await host.getByTestId('agent-state').textContent(), 'absent');

  // The same app from another origin (localhost, not 127.0.0.1), with the right code: the
  // agent does not even open a socket for it.
  const elsewhere = await hostSession(s.server.url.replace('127.0.0.1', 'localhost'));
  await elsewhere.getByTestId('agent-code').fill(agentCode());
  await elsewhere.getByTestId('agent-pair').click();
  await elsewhere.getByTestId('agent-error').filter({ hasText: 'No PairUX agent accepted this page' }).waitFor({ timeout: 10_000 });
  assert.equal(await elsewhere.getByTestId('agent-state').textContent(), 'absent');
  const direct = await elsewhere.evaluate((port) => new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.onopen = () => resolve('open');
    ws.onclose = () => resolve('closed');
  }), s.agentPort);
  assert.equal(direct, 'closed');

  // The right code still pairs the right page (the refusals cost it nothing).
  await pair(host);
  assert.deepEqual(s.rec.since(from).filter((e) => e.type !== 'MotionNotify'), []);
  for (const p of [host, elsewhere]) await p.context().close();
});

test('a granted controller drives the desktop: click where aimed, keys, modifiers, wheel', async () => {
  const host = await hostSession();
  const controller = await join(await host.getByTestId('invite-controller-link').inputValue());
  const cid = await myId(controller);
  await pair(host);
  assert.equal(await host.getByTestId('agent-sentence').textContent(), 'Control drives this computer.');
  await grant(host, controller, cid);
  // The controller is told its input drives the host's computer.
  await controller.locator('[data-testid=agent-state]:text-is("connected")').waitFor({ timeout: 5_000 });

  const from = s.rec.mark();
  await controller.mouse.click(...(await aim(controller, 0.25, 0.5)));
  const press = await s.rec.waitFor((e) => e.type === 'ButtonPress' && e.button === 1, from);
  assert.ok(near(press, px(0.25, 0.5)), `click at ${press.x},${press.y}, aimed at ${px(0.25, 0.5)}`);
  await s.rec.waitFor((e) => e.type === 'ButtonRelease' && e.button === 1, from);

  await controller.keyboard.type('hi');
  await controller.keyboard.press('Shift+KeyA');
  await controller.keyboard.press('Control+KeyB');
  await controller.mouse.wheel(0, 120);
  await s.rec.waitFor((e) => e.type === 'ButtonPress' && e.button === 5, from);
  const keys = s.rec.since(from).filter((e) => e.type === 'KeyPress').map((e) => [e.name, e.state & 0x5]);
  assert.deepEqual(keys, [['h', 0], ['i', 0], ['Shift_L', 0], ['A', 1], ['Control_L', 0], ['b', 4]]);
  assert.deepEqual(heldKeys(from), []);
  // Shift pressed while the controller's keyboard was in its name field (the page saw no
  // key-down of it for the picture), then a click on the picture: a shift-click on the host's
  // screen too, and Shift let go with it.
  const shifted = s.rec.mark();
  await controller.getByTestId('display-name').focus();
  await controller.keyboard.down('Shift');
  await controller.mouse.click(...(await aim(controller, 0.5, 0.25)));
  await controller.keyboard.up('Shift');
  const shiftClick = await s.rec.waitFor((e) => e.type === 'ButtonPress' && e.button === 1, shifted);
  assert.equal(shiftClick.state & 0x1, 0x1, `Shift held at the click (state ${shiftClick.state})`);
  await s.rec.waitFor((e) => e.type === 'ButtonRelease' && e.button === 1, shifted);
  await s.rec.waitFor((e) => key(e, 'KeyRelease', 'shift_l'), shifted);
  assert.deepEqual(heldKeys(shifted), []);
  // A key held with no repeat coming (as when the controller's key-up is stuck behind a
  // stalled connection; Playwright's key-down does not repeat) is let go after the agent's
  // silence (core: HELD_KEY_SILENCE_MS, 2.5 s), not repeated by the host's OS until the key-up.
  const held = s.rec.mark();
  await controller.keyboard.down('KeyJ');
  await s.rec.waitFor((e) => key(e, 'KeyPress', 'j'), held);
  await letGo('j', held, 'the held key to be let go');
  await controller.keyboard.up('KeyJ');
  // The host's page still draws the controller's pointer.
  await host.getByTestId(`remote-cursor-${cid}`).waitFor({ timeout: 5_000 });

  // The host pauses its share (the browser's "Stop sharing"): the controller keeps control, and
  // reads that nothing of it reaches the host meanwhile; shared again, its input drives again.
  const sentence = (text) => controller.locator(`[data-testid=agent-sentence]:text-is(${JSON.stringify(text)})`);
  await stopSharing(host);
  await sentence('Your input reaches nothing until the host shares again.').waitFor({ timeout: 10_000 });
  assert.equal(await controller.getByTestId('control-state').textContent(), 'granted');
  await host.getByTestId('share-again').click();
  await sentence("Your input drives the host's computer.").waitFor({ timeout: 10_000 });
  const again = s.rec.mark();
  await controller.mouse.click(...(await aim(controller, 0.75, 0.5)));
  const click = await s.rec.waitFor((e) => e.type === 'ButtonPress' && e.button === 1, again);
  assert.ok(near(click, px(0.75, 0.5)), `click at ${click.x},${click.y}, aimed at ${px(0.75, 0.5)}`);
  assert.deepEqual(host.errors, []);
  for (const p of [host, controller]) await p.context().close();
});

test('while a controller drives this computer, handing the host role on or letting someone in is asked twice and control pauses: a click of theirs cannot answer', async () => {
  const host = await hostSession();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const controller = await join(await host.getByTestId('invite-controller-link').inputValue());
  const cid = await myId(controller);
  await pair(host);
  await grant(host, controller, cid);
  // Paired, someone holding control, but nothing shared for a while: the agent would apply
  // input the moment a screen is shared again, before its word that it drives reaches the
  // page — so a guarded act is asked even now.
  const sentence = (text) => controller.locator(`[data-testid=agent-sentence]:text-is(${JSON.stringify(text)})`);
  await stopSharing(host);
  await sentence('Your input reaches nothing until the host shares again.').waitFor({ timeout: 10_000 });
  await host.waitForTimeout(GRACE_MS + 300);
  await host.getByTestId(`hand-over-${cid}`).click();
  const question = host.getByTestId('guard-question');
  assert.equal(await question.getAttribute('data-act'), 'hand-over');
  await host.getByTestId('guard-cancel').click();
  await host.getByTestId('share-again').click();
  await sentence("Your input drives the host's computer.").waitFor({ timeout: 10_000 });
  await controller.locator('[data-testid=agent-state]:text-is("connected")').waitFor({ timeout: 5_000 });
  await sentinel(controller, 0.5, 0.5);

  // The controller holds a key down when "Make <controller> host" is clicked in the host's
  // PairUX tab — a click the browser cannot tell from one the agent injected for them.
  const from = s.rec.mark();
  await controller.keyboard.down('KeyJ');
  await s.rec.waitFor((e) => key(e, 'KeyPress', 'j'), from);
  const makeHost = host.getByTestId(`hand-over-${cid}`);
  const label = (await makeHost.textContent()).trim();
  await makeHost.click();
  assert.equal(await question.getAttribute('data-act'), 'hand-over');
  // It names the person as the button did (a controller named after another reads as such).
  assert.ok((await question.textContent()).includes(`${label}?`), `the question names someone else than "${label}"`);
  // Control pauses: the agent lets go of the key, the controller reads that its input drives
  // nothing, and keeps its control.
  await s.rec.waitFor((e) => key(e, 'KeyRelease', 'j'), from);
  await controller.locator('[data-testid=agent-state]:text-is("absent")').waitFor({ timeout: 5_000 });
  assert.equal(await controller.getByTestId('control-state').textContent(), 'granted');
  await controller.keyboard.up('KeyJ');
  // A second click straight away (a double click, or one already on its way) answers nothing.
  const yes = await host.getByTestId('guard-confirm').boundingBox();
  await host.mouse.click(yes.x + yes.width / 2, yes.y + yes.height / 2);
  assert.equal(await question.count(), 1, 'the question was answered by a click at once');
  assert.equal(await host.getByTestId('handing').count(), 0, 'the role was offered');
  // What the controller does meanwhile reaches nothing.
  await controller.keyboard.type('q');
  await controller.mouse.click(...(await aim(controller, 0.3, 0.3)));
  // No: nothing is offered, and the controller drives again.
  await host.getByTestId('guard-cancel').click();
  await controller.locator('[data-testid=agent-state]:text-is("connected")').waitFor({ timeout: 5_000 });
  const mark = await sentinel(controller, 0.6, 0.6);
  const meanwhile = s.rec.events.slice(from, mark);
  assert.ok(!meanwhile.some((e) => e.name?.toLowerCase() === 'q'), 'a key typed during the pause reached the desktop');
  assert.ok(!meanwhile.some((e) => e.type === 'ButtonPress' && near(e, px(0.3, 0.3))), 'a click during the pause reached the desktop');
  assert.deepEqual(heldKeys(from), []);
  assert.equal(await question.count(), 0);
  // (The state that said "connected" came after any offer, on the same ordered channel.)
  assert.equal(await controller.getByTestId('host-offer').isVisible(), false, 'the controller was offered the role');

  // A press on Yes before it counts, let go once it would: the answer is the press's, so none.
  const clicks = () => host.evaluate(() => window.__clicks.splice(0));
  await host.evaluate(() => {
    window.__clicks = [];
    document.addEventListener('click', (e) => window.__clicks.push(e.target.closest('[data-testid]')?.dataset.testid), true);
  });
  await host.getByTestId(`hand-over-${cid}`).click();
  await clicks();
  const early = await host.getByTestId('guard-confirm').boundingBox();
  await host.mouse.move(early.x + early.width / 2, early.y + early.height / 2);
  await host.mouse.down();
  await host.locator('[data-testid=guard-confirm]:enabled').waitFor({ timeout: 5_000 });
  await host.mouse.up();
  assert.deepEqual(await clicks(), ['guard-confirm'], 'the release clicked Yes');
  assert.equal(await question.count(), 1, 'a press made before Yes counted answered');
  await host.getByTestId('guard-too-soon').waitFor({ timeout: 5_000 });
  assert.equal(await host.getByTestId('handing').count(), 0);
  // Yes, pressed once it counts: the role is offered.
  await host.getByTestId('guard-confirm').click();
  await host.getByTestId('handing').waitFor({ timeout: 5_000 });
  await controller.getByTestId('host-offer').waitFor({ state: 'visible', timeout: 5_000 });
  await controller.getByTestId('decline-host').click();
  await controller.locator('[data-testid=agent-state]:text-is("connected")').waitFor({ timeout: 5_000 });

  // After a removal nobody new gets in without the host's OK: that OK is asked twice as well.
  const removed = await join(viewerLink);
  await host.getByTestId(`remove-participant-${await myId(removed)}`).click();
  await removed.getByTestId('session-ended').waitFor({ timeout: 15_000 });
  const newcomer = await page();
  await openApp(newcomer, viewerLink);
  await newcomer.getByTestId('waiting-admission').waitFor({ timeout: 15_000 });
  const nid = await myId(newcomer);
  // A second, different act clicked while one is asked (a controller's click may race the
  // host's, and the question could name either): neither is done.
  await host.getByTestId(`hand-over-${cid}`).click();
  assert.equal(await question.getAttribute('data-act'), 'hand-over');
  await host.getByTestId(`admit-${nid}`).click();
  await host.getByTestId('guard-clash').waitFor({ timeout: 5_000 });
  assert.equal(await question.count(), 0);
  await controller.locator('[data-testid=agent-state]:text-is("connected")').waitFor({ timeout: 5_000 });
  assert.equal(await host.getByTestId('handing').count(), 0, 'a clashing click offered the role');
  assert.equal(await newcomer.getByTestId('waiting-admission').isVisible(), true, 'a clashing click let the newcomer in');
  await host.getByTestId(`admit-${nid}`).click();
  assert.equal(await question.getAttribute('data-act'), 'admit');
  assert.equal(await host.getByTestId('guard-clash').count(), 0);
  await controller.locator('[data-testid=agent-state]:text-is("absent")').waitFor({ timeout: 5_000 });
  await host.locator('[data-testid=guard-confirm]:enabled').waitFor({ timeout: 5_000 });
  await host.getByTestId('guard-confirm').click();
  await decoding(newcomer);
  await controller.locator('[data-testid=agent-state]:text-is("connected")').waitFor({ timeout: 5_000 });
  // A press on "Make <controller> host" while it drives, let go after it gave control back
  // (Esc-Esc): the agent lets go of the button for it, and that click comes when nobody
  // drives. It is the press's, so it is asked. (Played on the host's page with its own mouse:
  // the headless host is not on the agent's display.)
  const make = await host.getByTestId(`hand-over-${cid}`).boundingBox();
  await clicks();
  await host.mouse.move(make.x + make.width / 2, make.y + make.height / 2);
  await host.mouse.down();
  await controller.getByTestId('remote-video').click();
  await controller.keyboard.press('Escape');
  await controller.keyboard.press('Escape');
  await host.getByTestId(`revoke-control-${cid}`).waitFor({ state: 'detached', timeout: 5_000 });
  // Let go later than a press of theirs could still be on its way: only the press tells.
  await host.waitForTimeout(GRACE_MS + 300);
  await host.mouse.up();
  assert.deepEqual(await clicks(), [`hand-over-${cid}`]);
  assert.equal(await question.getAttribute('data-act'), 'hand-over');
  assert.equal(await host.getByTestId('handing').count(), 0, 'a press made while driven handed the role over at once');
  await host.getByTestId('guard-cancel').click();
  // Nobody driving, for longer than a press of theirs could still be on its way (the wait
  // above). A click made with the keyboard acts on what has focus, which the controller may
  // have put there (Tab, or a press dragged off): asked, since someone drove this computer.
  await host.getByTestId(`hand-over-${cid}`).focus();
  await host.keyboard.press('Enter');
  assert.equal(await question.getAttribute('data-act'), 'hand-over');
  await host.getByTestId('guard-cancel').click();
  // With the pointer: one click.
  await host.getByTestId(`hand-over-${cid}`).click();
  await host.getByTestId('handing').waitFor({ timeout: 5_000 });
  assert.equal(await question.count(), 0);
  assert.deepEqual(host.errors, []);
});

test('revoke, Esc-Esc and the emergency hotkey let go of held keys; nothing more arrives', async () => {
  const host = await hostSession();
  const link = await host.getByTestId('invite-controller-link').inputValue();
  // One controller per way of losing control (each asks twice at most: the host's request
  // budget is a couple of requests, then one every two seconds).
  const [a, b, c] = [await join(link, { spy: true }), await join(link), await join(link)];
  const [aid, bid, cid] = [await myId(a), await myId(b), await myId(c)];
  await pair(host);

  // Revoke while a key is held down: the desktop sees it released.
  await grant(host, a, aid);
  await sentinel(a, 0.5, 0.5);
  let from = s.rec.mark();
  await a.keyboard.down('KeyX');
  await s.rec.waitFor((e) => key(e, 'KeyPress', 'x'), from);
  await host.getByTestId(`revoke-control-${aid}`).click();
  await s.rec.waitFor((e) => key(e, 'KeyRelease', 'x'), from);
  await a.keyboard.up('KeyX');
  // Forged input on the revoked controller's own channel is dropped by the host.
  await a.evaluate(() => {
    const ch = window.__channels.find((c) => c.label === 'pairux');
    ch.send(JSON.stringify({ v: 1, t: 'input', seq: 1e9, ts: 0, k: 'key_down', key: 'q', code: 'KeyQ', m: 0, rep: false }));
  });
  await a.keyboard.type('w');
  await grant(host, a, aid);
  let mark = await sentinel(a, 0.2, 0.2);
  // Only x (the X server auto-repeats a held key), and it ends released; no q, no w.
  const keys = s.rec.events.slice(from, mark).filter((e) => e.type.startsWith('Key'));
  assert.deepEqual([...new Set(keys.map((e) => e.name))], ['x']);
  assert.equal(keys.at(-1).type, 'KeyRelease');
  await host.getByTestId(`revoke-control-${aid}`).click();

  // Esc twice on the controller's side releases; what it types afterwards goes nowhere.
  await grant(host, b, bid);
  from = s.rec.mark();
  await b.keyboard.down('KeyM');
  await s.rec.waitFor((e) => key(e, 'KeyPress', 'm'), from);
  await b.keyboard.press('Escape');
  await b.keyboard.press('Escape');
  await b.locator('[data-testid=control-state]:text-is("none")').waitFor({ timeout: 5_000 });
  await s.rec.waitFor((e) => key(e, 'KeyRelease', 'm'), from);
  await b.keyboard.up('KeyM');
  await b.keyboard.type('z');
  await grant(host, b, bid);
  mark = await sentinel(b, 0.3, 0.3);
  assert.ok(!s.rec.events.slice(from, mark).some((e) => e.name?.toLowerCase() === 'z'), 'nothing typed after Esc-Esc');
  assert.deepEqual(heldKeys(from), []);

  // The host presses Ctrl+Shift+Esc on its computer, wherever its focus is: everyone loses
  // control and what they held is let go.
  await grant(host, c, cid);
  from = s.rec.mark();
  await c.keyboard.down('KeyN');
  await s.rec.waitFor((e) => key(e, 'KeyPress', 'n'), from);
  await xdotool(s.x.display, 'key', 'ctrl+shift+Escape');
  for (const p of [b, c]) await p.locator('[data-testid=control-state]:text-is("none")').waitFor({ timeout: 5_000 });
  await s.rec.waitFor((e) => key(e, 'KeyRelease', 'n'), from);
  assert.equal(await host.locator('[data-testid^=revoke-control-]').count(), 0);
  await c.keyboard.up('KeyN');
  await c.keyboard.type('k');
  await grant(host, c, cid);
  mark = await sentinel(c, 0.4, 0.4);
  assert.ok(!s.rec.events.slice(from, mark).some((e) => e.name?.toLowerCase() === 'k'), 'nothing typed after the hotkey');
  // (xdotool's own Ctrl and Shift were the host's keys, released by xdotool.)
  assert.deepEqual(heldKeys(from).filter((k) => !['Control_L', 'Shift_L'].includes(k)), []);
});

test("a viewer's forged input never reaches the desktop; unpairing and a closed tab let go", async () => {
  const host = await hostSession();
  const hostLink = await host.getByTestId('invite-controller-link').inputValue();
  const controller = await join(hostLink);
  const viewer = await join(await host.getByTestId('invite-viewer-link').inputValue(), { spy: true });
  const cid = await myId(controller);
  await pair(host);
  await grant(host, controller, cid);
  await sentinel(controller, 0.5, 0.5);

  let from = s.rec.mark();
  await viewer.evaluate((holder) => {
    const ch = window.__channels.find((c) => c.label === 'pairux');
    const send = (m) => ch.send(JSON.stringify({ v: 1, ...m }));
    for (let seq = 1; seq <= 5; seq++) send({ t: 'input', seq, ts: 0, k: 'down', x: 0.9, y: 0.9, b: 'left' });
    send({ t: 'input', seq: 6, ts: 0, k: 'key_down', key: 'v', code: 'KeyV', m: 0, rep: false });
    // Pretending to be the holder changes nothing: the host knows which channel spoke.
    send({ t: 'input', seq: 7, ts: 0, from: holder, k: 'key_down', key: 'v', code: 'KeyV', m: 0, rep: false });
  }, cid);
  let mark = await sentinel(controller, 0.6, 0.6);
  const between = s.rec.events.slice(from, mark);
  assert.ok(!between.some((e) => e.name?.toLowerCase() === 'v'), 'no forged key');
  assert.ok(!between.some((e) => e.type === 'ButtonPress' && near(e, px(0.9, 0.9))), 'no forged click');

  // Unpair while the controller holds a key: released, and the page shows pointers only.
  from = s.rec.mark();
  await controller.keyboard.down('KeyG');
  await s.rec.waitFor((e) => key(e, 'KeyPress', 'g'), from);
  await host.getByTestId('agent-disconnect').click();
  await s.rec.waitFor((e) => key(e, 'KeyRelease', 'g'), from);
  assert.equal(await host.getByTestId('agent-state').textContent(), 'absent');
  await controller.locator('[data-testid=agent-state]:text-is("absent")').waitFor({ timeout: 5_000 });
  await controller.keyboard.up('KeyG');
  await controller.keyboard.type('j');
  // Pair again (the old code is spent; the agent shows a new one).
  await pair(host);
  mark = await sentinel(controller, 0.7, 0.7);
  assert.ok(!s.rec.events.slice(from, mark).some((e) => e.name?.toLowerCase() === 'j'), 'nothing while unpaired');

  // A reload of the host's tab re-pairs by itself (the tab's token, never the code); it
  // drives again once the host shares its screen again.
  await host.reload();
  await host.getByTestId('share-again').click({ timeout: 15_000 });
  await host.locator('[data-testid=agent-state]:text-is("connected")').waitFor({ timeout: 15_000 });

  // Closing the host's tab mid-keypress releases the key.
  await decoding(controller);
  await controller.locator('[data-testid=request-control]:not([disabled])').waitFor({ timeout: 15_000 });
  await grant(host, controller, cid);
  from = s.rec.mark();
  await controller.keyboard.down('KeyU');
  await s.rec.waitFor((e) => key(e, 'KeyPress', 'u'), from);
  await host.context().close();
  await s.rec.waitFor((e) => key(e, 'KeyRelease', 'u'), from);
  assert.deepEqual(heldKeys(from), []);
  for (const p of [controller, viewer]) await p.context().close();
});

test('an agent stopped mid-keypress (its terminal closed) lets go of keys and buttons first', async () => {
  const { host, controller, from } = await controllerHolding('h', 0.25, 0.75);
  const exit = await s.agent.signal('SIGHUP');
  assert.equal(exit.status, 0, `stopped cleanly: ${JSON.stringify(exit)}`);
  // Released before the process was gone (the recorder is a separate X client).
  await s.rec.waitFor((e) => key(e, 'KeyRelease', 'h'), from);
  await s.rec.waitFor((e) => e.type === 'ButtonRelease', from);
  assert.deepEqual(heldKeys(from), []);
  await host.locator('[data-testid=agent-state]:text-is("absent")').waitFor({ timeout: 5_000 });
  await controller.keyboard.up('KeyH');
  await controller.mouse.up();
  // A new agent for whatever runs next.
  s.agent = await startAgent(s.x.display, { origin: s.server.url, port: s.agentPort });
});

test('keys and buttons an agent killed mid-keypress left down are let go by the next agent as it starts', async () => {
  const { host, controller, from } = await controllerHolding('g', 0.3, 0.6);
  // kill -9 (or a crash): the agent lets go of nothing; the X server keeps G down (repeating)
  // and the button pressed.
  const exit = await s.agent.signal('SIGKILL');
  assert.equal(exit.signal, 'SIGKILL');
  const restarted = s.rec.mark();
  s.agent = await startAgent(s.x.display, { origin: s.server.url, port: s.agentPort });
  await s.rec.waitFor((e) => e.type === 'ButtonRelease', restarted);
  await letGo('g', from, 'the key left down to be let go');
  await controller.keyboard.up('KeyG');
  await controller.mouse.up();
  for (const p of [host, controller]) await p.context().close();
});

test("another program on the agent's port while the agent is down learns no token, is not believed, and gets no input", async () => {
  const host = await hostSession();
  const controller = await join(await host.getByTestId('invite-controller-link').inputValue());
  const cid = await myId(controller);
  await pair(host);
  const token = await host.evaluate(() => {
    const key = Object.keys(sessionStorage).find((k) => k.startsWith('pairux:agent:'));
    return sessionStorage.getItem(key)?.split(' ')[1];
  });
  assert.ok(token?.length >= 32, 'the tab keeps a resume token');
  await s.agent.signal('SIGTERM');
  await host.locator('[data-testid=agent-state]:text-is("absent")').waitFor({ timeout: 5_000 });

  // Another program takes the port and answers as an agent would, claiming pairing and a
  // screen it drives, and records everything the page sends it.
  const heard = [];
  const impostor = new WebSocketServer({ host: '127.0.0.1', port: s.agentPort });
  await once(impostor, 'listening');
  const gone = [];
  impostor.on('connection', (ws) => {
    gone.push(once(ws, 'close'));
    const v = 2;
    ws.send(JSON.stringify({ v, t: 'hello', agent: '0.1.0', nonce: 'Y2hvc2VuLWJ5LWl0' }));
    ws.on('message', (data) => {
      const frame = String(data);
      heard.push(frame);
      if (heard.length === 1) {
        ws.send(JSON.stringify({ v, t: 'paired', resume: 'stolen', proof: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }));
        ws.send(JSON.stringify({ v, t: 'status', drives: true }));
      }
    });
  });
  try {
    // The tab re-pairs by itself after a reload, with what it kept.
    await host.reload();
    await host.getByTestId('share-again').click({ timeout: 15_000 });
    const error = host.getByTestId('agent-error');
    await error.filter({ hasText: 'Something other than the PairUX agent' }).waitFor({ timeout: 10_000 });
    assert.equal(await host.getByTestId('agent-state').textContent(), 'absent');
    // The page hung up on it; what it had said was a proof, never the token itself.
    await Promise.all(gone);
    assert.ok(heard.length >= 1, 'the page spoke to it');
    for (const frame of heard) {
      assert.ok(!frame.includes(token), `the token crossed: ${frame}`);
      assert.match(JSON.parse(frame).t, /^(pair|resume)$/);
    }
    // A controller granted now drives nothing there, and the controller is told so.
    await decoding(controller);
    await grant(host, controller, cid);
    await controller.locator('[data-testid=agent-state]:text-is("absent")').waitFor({ timeout: 5_000 });
    await host.locator('[data-testid=diagnostics] summary').click();
    await controller.mouse.click(...(await aim(controller, 0.5, 0.5)));
    await controller.keyboard.type('x');
    // The host took them (its gate and log), and still says nothing drives the computer.
    await host.locator(`[data-testid=sink-log] > li[data-from="${cid}"][data-kind=key_down]`).waitFor({ timeout: 10_000 });
    assert.equal(await host.getByTestId('agent-state').textContent(), 'absent');
    assert.equal(impostor.clients.size, 0);
    assert.ok(heard.every((f) => !f.includes('"input"')), 'no input went to it');
  } finally {
    impostor.close();
  }
  // The real agent, for whatever runs next.
  s.agent = await startAgent(s.x.display, { origin: s.server.url, port: s.agentPort });
  await controller.context().close();
});
