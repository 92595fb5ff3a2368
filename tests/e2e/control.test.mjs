// Remote control journeys: request → grant → input reaches the host's sink in order with the
// right normalised coordinates; everyone sees the cursor; revoke and the emergency hotkey stop
// input at once; a viewer forging control messages gets nothing through.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readPng } from './lib/png.mjs';
import { useStack, newPage, openApp, myId, decoding, recordChannels, roundTrip, controlTypes, pictureRect, grant } from './lib/harness.mjs';
import { until } from './lib/adversary.mjs';

const stack = useStack();

async function join(link, { spy = false, touch = false } = {}) {
  const page = await newPage(stack.browser, touch ? { hasTouch: true } : {});
  if (spy) await page.addInitScript(recordChannels);
  await openApp(page, link);
  await decoding(page);
  return page;
}

async function sinkLog(host) {
  return host.locator('[data-testid=sink-log] > li').evaluateAll((els) =>
    els.reverse().map((e) => ({
      from: e.dataset.from,
      seq: Number(e.dataset.seq),
      kind: e.dataset.kind,
      x: e.dataset.x === undefined ? null : Number(e.dataset.x),
      y: e.dataset.y === undefined ? null : Number(e.dataset.y),
      text: e.textContent,
    })));
}

test('request, grant, drive, revoke, emergency revoke; viewers see the cursor', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const controller = await join(controllerLink, { spy: true });
  const viewer = await join(viewerLink);
  const cid = await myId(controller);
  // Only controllers can ask.
  assert.equal(await viewer.getByTestId('request-control').count(), 0);
  assert.equal(await controller.getByTestId('control-state').textContent(), 'none');

  // A request waiting shows in the host's tab title (the host may be in another window), and
  // its buttons name the person for a screen reader.
  assert.equal(await host.title(), 'PairUX');
  await controller.getByTestId('request-control').click();
  await host.getByTestId(`control-request-${cid}`).waitFor({ timeout: 10_000 });
  assert.equal(await host.title(), '(1) Control request — PairUX');
  const name = await host.locator(`[data-testid=control-request-${cid}] strong`).textContent();
  assert.equal(await host.getByTestId(`grant-control-${cid}`).getAttribute('aria-label'), `Grant control to ${name}`);
  await host.getByTestId(`grant-control-${cid}`).click();
  await controller.locator('[data-testid=control-state]:text-is("granted")').waitFor({ timeout: 10_000 });
  assert.equal(await host.title(), 'PairUX');
  // product.md §1's words, exactly.
  assert.equal(await controller.locator('.badge.granted').textContent(), 'You have control — Esc-Esc to release');
  await host.getByTestId(`revoke-control-${cid}`).waitFor();

  // The input meter: while control is held the controller pings behind its input and shows
  // the measured round trip — a figure only once a pong for one of its pings came back.
  await controller.locator('[data-testid=input-latency][data-ms]').waitFor({ timeout: 5_000 });
  const ms = Number(await controller.getByTestId('input-latency').getAttribute('data-ms'));
  assert.ok(Number.isInteger(ms) && ms >= 0 && ms < 5_000, `input round trip ${ms} ms`);
  assert.match(await controller.getByTestId('input-latency').textContent(), new RegExp(`\\b${ms} ms`));
  const pings = await controller.evaluate(() => {
    const kind = (r) => {
      try { return r.label === 'pairux' ? JSON.parse(r.data).t : null; } catch { return null; }
    };
    return {
      sent: window.__sent.filter((r) => kind(r) === 'ping').length,
      answered: window.__received.filter((r) => kind(r) === 'pong').length,
    };
  });
  assert.ok(pings.sent >= 1 && pings.answered >= 1, JSON.stringify(pings));

  const r = await pictureRect(controller);
  const at = (nx, ny) => [r.x + nx * r.w, r.y + ny * r.h];
  await controller.mouse.move(...at(0.25, 0.25));
  await controller.mouse.move(...at(0.75, 0.5));
  await controller.mouse.click(...at(0.5, 0.5));
  // The keyboard's field (where an input method shows what it composes) is where they clicked.
  const field = await controller.locator('.ime-sink').boundingBox();
  const [cx, cy] = at(0.5, 0.5);
  assert.ok(Math.abs(field.x - cx) <= 2 && Math.abs(field.y - cy) <= 2, `field at ${field.x},${field.y}, click at ${cx},${cy}`);
  await controller.mouse.wheel(0, 120);
  await controller.keyboard.type('hi');
  // An input method composes in the picture (as Chrome's IME does, through DevTools' input
  // domain): its keys stay the IME's, and the composed text goes to the host once.
  const ime = await controller.context().newCDPSession(controller);
  await ime.send('Input.imeSetComposition', { text: 'にほん', selectionStart: 3, selectionEnd: 3 });
  await ime.send('Input.insertText', { text: '日本' });

  await host.locator('[data-testid=diagnostics] summary').click();
  await host.waitForFunction(
    () => [...document.querySelectorAll('[data-testid=sink-log] > li')].some((li) => li.dataset.kind === 'text'),
    null,
    { timeout: 10_000 },
  );
  const near = (e, x, y) => Math.abs(e.x - x) < 0.01 && Math.abs(e.y - y) < 0.01;
  // Moves come on the unordered channel: the text having come says nothing of them.
  const log = await until('the moves to (0.25, 0.25) and (0.75, 0.5)', async () => {
    const got = (await sinkLog(host)).filter((e) => e.from === cid);
    const moved = [[0.25, 0.25], [0.75, 0.5]].every(([x, y]) => got.some((e) => e.kind === 'move' && near(e, x, y)));
    return moved && got;
  }, 10_000);
  // In order, strictly increasing sequence numbers: on each channel (a move may overtake a
  // click, never another move the host took).
  for (const lane of [log.filter((e) => e.kind === 'move'), log.filter((e) => e.kind !== 'move')]) {
    for (let i = 1; i < lane.length; i++) assert.ok(lane[i].seq > lane[i - 1].seq, JSON.stringify(log));
  }
  const kinds = log.map((e) => e.kind).filter((k) => k !== 'move');
  assert.deepEqual(kinds, ['down', 'up', 'wheel', 'key_down', 'key_up', 'key_down', 'key_up', 'text']);
  assert.match(log.find((e) => e.kind === 'text').text, /日本/);
  assert.ok(near(log.find((e) => e.kind === 'down'), 0.5, 0.5), 'click at the centre');
  assert.match(log.find((e) => e.kind === 'wheel').text, /,120/);
  assert.deepEqual(log.filter((e) => e.kind === 'key_down').map((e) => e.text.split(' ')[2]), ['h', 'i']);
  // "Input log as JSON" has the same lines, oldest first, with the sink's receipt stamps.
  await host.getByTestId('export-log').click();
  const exported = JSON.parse(await host.getByTestId('sink-log-json').textContent()).filter((e) => e.from === cid);
  assert.deepEqual(
    exported.map(({ seq, kind, x, y }) => ({ seq, kind, x, y })),
    log.map(({ seq, kind, x, y }) => ({ seq, kind, x, y })),
  );
  for (let i = 1; i < exported.length; i++) assert.ok(exported[i].received >= exported[i - 1].received);
  assert.deepEqual(exported.filter((e) => e.kind === 'key_down').map((e) => e.detail.split(' ')[0]), ['h', 'i']);
  // The click scrolled the panel into view; the picture checks below look at the top.
  await host.evaluate(() => window.scrollTo(0, 0));

  // Everyone sees the controller's cursor where it is.
  for (const page of [viewer, host]) {
    const cursor = page.getByTestId(`remote-cursor-${cid}`);
    await cursor.waitFor({ timeout: 10_000 });
  }
  // …named: the controller's name is each cursor's text (on the host's, drawn on its canvas).
  const cursorName = (await viewer.getByTestId(`remote-cursor-${cid}`).textContent()).trim();
  assert.ok(cursorName.length > 0, 'the viewer\'s cursor is named');
  assert.equal((await host.getByTestId(`remote-cursor-${cid}`).textContent()).trim(), cursorName);
  // Positions are relayed on the unordered channel: the cursor shows the first that came.
  await viewer.waitForFunction(
    (id) => Math.abs(Number(document.querySelector(`[data-testid=remote-cursor-${id}]`)?.dataset.x) - 0.5) < 0.01,
    cid,
    { timeout: 5_000 },
  );

  // The host's cursor is drawn by a worker on a canvas no DOM reads back: look at the screen.
  // Inside the arrow, just below its tip, the picture shows the controller's colour (the one
  // the viewer's cursor is styled with).
  const colour = await viewer.getByTestId(`remote-cursor-${cid}`).evaluate((el) =>
    getComputedStyle(el).getPropertyValue('--c').trim());
  const want = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
  assert.equal(want.length === 3 && want.every(Number.isFinite), true, `cursor colour ${colour}`);
  const drawn = async () => {
    const box = await host.getByTestId(`remote-cursor-${cid}`).boundingBox();
    const { x, y } = await host.getByTestId(`remote-cursor-${cid}`).evaluate((el) => ({
      x: Number(el.dataset.x), y: Number(el.dataset.y),
    }));
    const clip = { x: Math.round(box.x + x * box.width) + 2, y: Math.round(box.y + y * box.height) + 7, width: 3, height: 3 };
    const png = readPng(await host.screenshot({ clip }));
    return png.at(1, 1);
  };
  let seen = null;
  for (let i = 0; i < 20 && !(seen && seen.every((v, k) => Math.abs(v - want[k]) <= 24)); i++) {
    if (seen) await new Promise((r) => setTimeout(r, 100));
    seen = await drawn();
  }
  assert.ok(seen.every((v, k) => Math.abs(v - want[k]) <= 24), `host cursor pixel ${seen} vs ${want} (${colour})`);

  // Revoke stops input at once: the controller's page sends nothing more, and input forged on
  // its channel is dropped by the host as "not holder" (counted first, then checked).
  await host.getByTestId(`revoke-control-${cid}`).click();
  await controller.locator('[data-testid=control-state]:text-is("none")').waitFor({ timeout: 5_000 });
  assert.equal(await controller.getByTestId('control-outcome').textContent(), 'The host took control back.');
  const before = (await sinkLog(host)).length;
  const notHolder = () => host.getByTestId('gate-counters').evaluate((el) => Number(el.dataset.notHolder));
  const dropped = await notHolder();
  const sentBefore = await controller.evaluate(() => window.__sent.length);
  await controller.mouse.move(...at(0.1, 0.1));
  await controller.keyboard.type('x');
  await controller.evaluate(() => {
    const ch = window.__channels.find((c) => c.label === 'pairux');
    ch.send(JSON.stringify({ v: 1, t: 'input', seq: 1e9, ts: 0, k: 'key_down', key: 'z', code: 'KeyZ', m: 0, rep: false }));
  });
  await host.waitForFunction((n) => Number(document.querySelector('[data-testid=gate-counters]').dataset.notHolder) > n, dropped, { timeout: 5_000 });
  // The page itself sent no input after the revoke (the forged event is the test's own).
  const leaked = await controller.evaluate((from) => window.__sent.slice(from).filter(({ data }) => {
    try {
      const m = JSON.parse(typeof data === 'string' ? data : '');
      return m.t === 'input' && m.seq !== 1e9;
    } catch {
      return false;
    }
  }).length, sentBefore);
  assert.equal(leaked, 0, 'the controller\'s page sent input after the revoke');
  assert.equal(await notHolder(), dropped + 1, 'only the forged event reached the host');
  assert.equal((await sinkLog(host)).length, before);
  // The viewer hears the host's new holders on its own channel.
  await viewer.getByTestId(`remote-cursor-${cid}`).waitFor({ state: 'detached', timeout: 5_000 });

  // Emergency hotkey revokes everyone.
  await grant(host, controller, cid);
  await host.keyboard.press('Control+Shift+Escape');
  await controller.locator('[data-testid=control-state]:text-is("none")').waitFor({ timeout: 5_000 });
  assert.equal(await host.getByTestId(`revoke-control-${cid}`).count(), 0);

  // Esc twice releases from the controller's side.
  await grant(host, controller, cid);
  await controller.keyboard.press('Escape');
  await controller.keyboard.press('Escape');
  await controller.locator('[data-testid=control-state]:text-is("none")').waitFor({ timeout: 5_000 });
  await host.getByTestId(`revoke-control-${cid}`).waitFor({ state: 'detached', timeout: 5_000 });
  assert.equal(await controller.getByTestId('control-outcome').count(), 0, 'its own release is no news');

  // What the controller's page cannot see let go is let go for it, not left pressed on the
  // host's computer: a drag released off the picture ends on its edge, and a key held while
  // the person clicks elsewhere on the page is released when focus leaves the picture.
  await grant(host, controller, cid);
  const lastSeq = Math.max(0, ...(await sinkLog(host)).filter((e) => e.from === cid).map((e) => e.seq));
  const r2 = await pictureRect(controller);
  const [offX, offY, edgeY] = r2.y >= 12 ? [r2.x + r2.w / 2, r2.y - 8, 0] : [r2.x + r2.w / 2, r2.y + r2.h + 8, 1];
  await controller.mouse.move(r2.x + r2.w / 2, r2.y + r2.h / 2);
  await controller.mouse.down();
  await controller.mouse.move(offX, offY, { steps: 4 });
  await controller.mouse.up();
  await controller.keyboard.down('Shift');
  await controller.getByTestId('display-name').click();
  await controller.keyboard.up('Shift');
  await host.waitForFunction(
    () => [...document.querySelectorAll('[data-testid=sink-log] > li')].some((li) => li.dataset.kind === 'key_up' && li.textContent.includes('Shift')),
    null,
    { timeout: 10_000 },
  );
  const late = (await sinkLog(host)).filter((e) => e.from === cid && e.seq > lastSeq);
  const [down, up] = [late.find((e) => e.kind === 'down'), late.find((e) => e.kind === 'up')];
  assert.ok(down && up && up.seq > down.seq, JSON.stringify(late));
  assert.ok(Math.abs(up.x - 0.5) < 0.01 && up.y === edgeY, `drag released at ${up.x},${up.y}`);
  const dragged = late.filter((e) => e.kind === 'move' && e.seq > down.seq && e.seq < up.seq);
  assert.ok(dragged.some((e) => e.y === edgeY), `the drag followed the edge: ${JSON.stringify(dragged)}`);
  const shift = late.filter((e) => e.kind.startsWith('key_') && e.text.includes('Shift'));
  assert.deepEqual(shift.map((e) => e.kind), ['key_down', 'key_up'], JSON.stringify(late.map((e) => e.text)));

  // A key that went down before a composition began is let go even though its release comes
  // during the composition (as an IME's): not left down on the host's computer. (Playwright's
  // own Shift stays down: nothing below types.)
  await controller.getByTestId('remote-video').click();
  const beforeIme = Math.max(...(await sinkLog(host)).filter((e) => e.from === cid).map((e) => e.seq));
  await controller.keyboard.down('Shift');
  await controller.evaluate(() => {
    const field = document.activeElement;
    field.dispatchEvent(new CompositionEvent('compositionstart', { bubbles: true }));
    field.dispatchEvent(new KeyboardEvent('keyup', { key: 'Shift', code: 'ShiftLeft', isComposing: true, bubbles: true }));
  });
  await host.waitForFunction(
    (n) => [...document.querySelectorAll('[data-testid=sink-log] > li')].some((li) => Number(li.dataset.seq) > n && li.dataset.kind === 'key_up'),
    beforeIme,
    { timeout: 10_000 },
  );
  const composed = (await sinkLog(host)).filter((e) => e.from === cid && e.seq > beforeIme && e.kind.startsWith('key_'));
  assert.deepEqual(composed.map((e) => `${e.kind} ${e.text.includes('Shift')}`), ['key_down true', 'key_up true']);

  for (const p of [host, controller, viewer]) assert.deepEqual(p.errors, []);
  for (const p of [host, controller, viewer]) await p.context().close();
});

test('a viewer forging control requests and input gets nothing through', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const viewer = await join(await host.getByTestId('invite-viewer-link').inputValue(), { spy: true });
  const vid = await myId(viewer);
  await viewer.waitForFunction(() => window.__channels.some((c) => c.label === 'pairux' && c.readyState === 'open'));
  await viewer.evaluate(() => {
    const ch = window.__channels.find((c) => c.label === 'pairux');
    const send = (m) => ch.send(JSON.stringify({ v: 1, ...m }));
    send({ t: 'request', proof: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    send({ t: 'request', proof: 'not even base64' });
    send({ t: 'grant' });
    send({ t: 'state', holders: [] });
    for (let seq = 1; seq <= 20; seq++) send({ t: 'input', seq, ts: 0, k: 'move', x: 0.5, y: 0.5 });
    send({ t: 'input', seq: 21, ts: 0, k: 'key_down', key: 'a', code: 'KeyA', m: 0, rep: false });
    ch.send('{not json');
    ch.send(new Uint8Array([123, 125]));
    ch.send(JSON.stringify({ v: 9, t: 'grant' }));
  });
  await host.locator('[data-testid=diagnostics] summary').click();
  // The sentinel: a ping sent after the forgeries on the same ordered channel. Once its pong is
  // back, the host has handled every forged message; only then are the negatives asserted.
  await roundTrip(viewer);
  const gate = await host.getByTestId('gate-counters').evaluate((el) => ({ ...el.dataset }));
  // 21 inputs from someone who does not hold control; 2 requests with bad proofs, a grant and a
  // state (host-to-guest messages), junk, binary and an unknown version: malformed.
  assert.equal(Number(gate.notHolder), 21, JSON.stringify(gate));
  assert.equal(Number(gate.malformed), 7, JSON.stringify(gate));
  assert.equal(Number(gate.accepted), 0, JSON.stringify(gate));
  assert.equal(await host.getByTestId(`control-request-${vid}`).count(), 0);
  assert.equal((await sinkLog(host)).length, 0);
  assert.equal(await host.getByTestId(`remote-cursor-${vid}`).count(), 0);
  // Both refused requests were answered "no" (before the pong, on the same channel).
  const types = controlTypes(await viewer.evaluate(() => window.__received));
  assert.equal(types.filter((t) => t === 'deny').length, 2, types.join(','));
  // A viewer's seat is never challenged, so no proof could answer one: a controller link's
  // holder seated as a viewer (a modified page) cannot ask past the controllers' seats.
  assert.ok(types.includes('state') && !types.includes('challenge'), types.join(','));
  assert.equal(await viewer.getByTestId('control-state').textContent(), 'none');
  for (const p of [host, viewer]) await p.context().close();
});

test('a grant does not take the keyboard from a field the controller is typing in', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const controller = await join(await host.getByTestId('invite-controller-link').inputValue());
  const cid = await myId(controller);
  // Declined: said so, and the keyboard is back on "Request control" (the pressed button went).
  await controller.getByTestId('request-control').click();
  await host.getByTestId(`deny-control-${cid}`).click();
  const outcome = controller.getByTestId('control-outcome');
  await outcome.waitFor({ timeout: 10_000 });
  assert.equal(await outcome.textContent(), "The host didn't give you control.");
  assert.equal(await controller.getByTestId('control-state').textContent(), 'none');
  await controller.waitForFunction(() => document.activeElement?.dataset.testid === 'request-control', null, { timeout: 5_000 });
  await controller.keyboard.press('Enter');
  await controller.locator('[data-testid=control-state]:text-is("requested")').waitFor({ timeout: 5_000 });
  assert.equal(await outcome.count(), 0, 'asking again clears it');
  // While the host decides, the controller types its name.
  const name = controller.getByTestId('display-name');
  await name.click();
  await name.fill('');
  await controller.keyboard.type('Ad');
  await host.getByTestId(`grant-control-${cid}`).click();
  await controller.locator('[data-testid=control-state]:text-is("granted")').waitFor({ timeout: 10_000 });
  await controller.keyboard.type('a');
  assert.equal(await name.inputValue(), 'Ada');
  assert.ok(await name.evaluate((el) => el === document.activeElement), 'the name field keeps the keyboard');
  // A click on the picture hands the keyboard over: only what is typed after it reaches the host.
  const r = await pictureRect(controller);
  await controller.mouse.click(r.x + r.w / 2, r.y + r.h / 2);
  await controller.keyboard.type('z');
  await host.locator('[data-testid=diagnostics] summary').click();
  await host.waitForFunction(
    () => [...document.querySelectorAll('[data-testid=sink-log] > li')].some((li) => li.dataset.kind === 'key_down'),
    null,
    { timeout: 10_000 },
  );
  const keys = (await sinkLog(host)).filter((e) => e.from === cid && e.kind === 'key_down');
  assert.deepEqual(keys.map((e) => e.text.split(' ')[2]), ['z']);
  for (const p of [host, controller]) await p.context().close();
});

test('zoomed in, a drag cannot take the picture out of view, a controller pans by moving to an edge, and a tap lands where it shows', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const controller = await join(await host.getByTestId('invite-controller-link').inputValue(), { touch: true });
  const cid = await myId(controller);
  const zoomIn = controller.getByRole('button', { name: 'Zoom in' });
  for (let i = 0; i < 3; i++) await zoomIn.click();
  await controller.locator('[data-testid=zoom-level]:text-is("195%")').waitFor({ timeout: 5_000 });
  // The picture's box as laid out now (the page around it may have moved since it was drawn).
  const frame = controller.locator('[aria-label="Shared screen"]');
  let box = await frame.boundingBox();
  const near = (a, b, what) => assert.ok(Math.abs(a - b) <= 3, `${what}: ${a} against ${b}`);
  // Without control a drag pans: from corner to corner of the box, more than the zoomed picture
  // has to show, puts its top-left corner at the box's (or, along an axis where the zoomed
  // picture is shorter than the box, keeps it inside), no further.
  let centre = [box.x + box.width / 2, box.y + box.height / 2];
  await controller.mouse.move(box.x + 10, box.y + 10);
  await controller.mouse.down();
  await controller.mouse.move(box.x + box.width - 10, box.y + box.height - 10, { steps: 6 });
  await controller.mouse.up();
  // Against the box as it is now: the picture moves with it if the page around shifts.
  box = await frame.boundingBox();
  let r = await pictureRect(controller);
  assert.ok(r.w > box.width, `zoomed in: ${r.w} px wide in a ${box.width} px box`);
  near(r.x, box.x, 'left edge');
  if (r.h > box.height) near(r.y, box.y, 'top edge');
  else assert.ok(r.y >= box.y - 1 && r.y + r.h <= box.y + box.height + 1, `inside: ${r.y}+${r.h}`);
  // A smaller window, a smaller box: the pan is bounded again for it, so the picture's corner
  // stays at the box's (not a gap where the old pan went further than the new box allows).
  await controller.setViewportSize({ width: 900, height: 560 });
  const cornerAtBox = async () => {
    box = await frame.boundingBox();
    r = await pictureRect(controller);
    return Math.abs(r.x - box.x) <= 3 && (r.h <= box.height || Math.abs(r.y - box.y) <= 3);
  };
  await until('the picture\'s corner at the smaller box\'s', cornerAtBox, 5_000);
  assert.ok(r.w > box.width, `still zoomed in: ${r.w} px wide in a ${box.width} px box`);
  // The page's layout alone narrows the box (as a scrollbar or a wider side panel would; the
  // window keeps its size): bounded again too.
  await controller.evaluate(() => {
    document.querySelector('.session-body').style.gridTemplateColumns = 'minmax(0, 1fr) 24rem';
  });
  const before = box.width;
  await until('the picture\'s corner at the box narrowed by layout', async () => (await cornerAtBox()) && box.width < before - 50, 5_000);

  // In control, drags are the host's: the view follows the pointer instead. At the box's
  // right edge, the picture's right edge is there, and a click there is one at the right of
  // the host's screen.
  await grant(host, controller, cid);
  box = await frame.boundingBox();
  centre = [box.x + box.width / 2, box.y + box.height / 2];
  await controller.mouse.move(...centre);
  await controller.mouse.move(box.x + box.width - 2, centre[1], { steps: 6 });
  r = await pictureRect(controller);
  near(r.x + r.w, box.x + box.width, 'right edge');
  await controller.mouse.click(box.x + box.width - 2, centre[1]);
  await host.locator('[data-testid=diagnostics] summary').click();
  await host.waitForFunction(
    () => [...document.querySelectorAll('[data-testid=sink-log] > li')].some((li) => li.dataset.kind === 'down'),
    null,
    { timeout: 10_000 },
  );
  const down = (await sinkLog(host)).find((e) => e.from === cid && e.kind === 'down');
  assert.ok(down.x > 0.98, `the click reached x ${down.x}`);
  // A tap (no move before it) at the box's left edge: the lens is set before the press is
  // sent, so it lands at the left of the host's screen, not where the old pan showed.
  await controller.evaluate(() => {
    window.__pointer = [];
    for (const type of ['pointermove', 'pointerdown']) {
      document.addEventListener(type, (e) => window.__pointer.push(e.type), true);
    }
  });
  await controller.touchscreen.tap(box.x + 2, centre[1]);
  assert.equal((await controller.evaluate(() => window.__pointer))[0], 'pointerdown', 'no move before the tap');
  const downs = async () => (await sinkLog(host)).filter((e) => e.from === cid && e.kind === 'down');
  await until('the tap to reach the host', async () => (await downs()).length === 2, 10_000);
  const tap = (await downs())[1];
  assert.ok(tap.x < 0.02, `the tap reached x ${tap.x}`);
  for (const p of [host, controller]) await p.context().close();
});

test('a host that reloads takes its grant with it: the controller reads "none" when the host is back, not a control it no longer has', async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const controller = await join(await host.getByTestId('invite-controller-link').inputValue());
  const cid = await myId(controller);
  await grant(host, controller, cid);
  assert.equal(await controller.getByTestId('control-state').textContent(), 'granted');

  // The host reloads; back (a new participant id), it shares nothing until a click, so
  // nothing new reaches the controller meanwhile: what it shows is what it kept.
  const before = await myId(host);
  await host.reload();
  await host.getByTestId('share-again').waitFor({ timeout: 20_000 });
  const back = await myId(host);
  assert.notEqual(back, before);
  const state = controller.getByTestId('control-state');
  await controller.getByTestId(`participant-${back}`).waitFor({ timeout: 15_000 });
  await until('the controller to show its stage again', async () => (await state.count()) === 1, 15_000);
  assert.equal(await state.textContent(), 'none');
  // …and reads why: the grant went with the old connection.
  assert.equal(
    await controller.getByTestId('control-outcome').textContent(),
    'The connection to the host dropped, so control was given back — ask again.',
  );
  assert.equal(await controller.locator('[data-testid^=remote-cursor-]').count(), 0);

  // Shared again, control starts over: asked and granted anew.
  await host.getByTestId('share-again').click();
  await decoding(controller, { minFrames: 3 });
  await grant(host, controller, cid);
  assert.equal(await controller.getByTestId('control-outcome').count(), 0, 'asking again clears it');
  for (const p of [host, controller]) await p.context().close();
});
