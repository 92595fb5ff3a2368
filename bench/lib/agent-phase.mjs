// The agent stage of `bench input`: controller DOM event → the same event received by a real X
// client (xev) through the host's tab and the PairUX agent on Xvfb.
//
// Stamps: the controller page stamps pointerdown and keydown at DOM dispatch (a capturing
// listener on `window`, installed before the app), on `performance.timeOrigin + now()`; node
// stamps each event the moment xev's output reaches it, on node's own `timeOrigin + now()`.
// The two clocks are put on one line by round trips to the page (the one with the smallest
// round trip wins; its half is the offset's uncertainty, reported as agent_clock_rtt_ms).
// xev's pipe to node is part of what is measured (a fraction of a millisecond).

import { launchBrowser, openApp, freePort, decoding, grant, myId, pictureRect } from '../../tests/e2e/lib/harness.mjs';
import { startXvfb, startRecorder, startAgent, pairAgent } from '../../tests/e2e/lib/desktop.mjs';

const STAMP = () => {
  window.__dom = [];
  const now = () => performance.timeOrigin + performance.now();
  for (const type of ['pointerdown', 'keydown']) {
    window.addEventListener(type, (e) => window.__dom.push({ type, t: now(), key: e.key ?? null }), { capture: true });
  }
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function offsetTo(page) {
  let best = null;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.timeOrigin + performance.now();
    const p = await page.evaluate(() => performance.timeOrigin + performance.now());
    const t1 = performance.timeOrigin + performance.now();
    if (!best || t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: p - (t0 + t1) / 2 };
  }
  return best;
}

/** Runs the phase; returns { samples: [ms], unmatched, rtt, clicks, keys } or throws. */
export async function agentPhase(serverUrl, { actions = 120, intervalMs = 40 } = {}) {
  const x = await startXvfb();
  const rec = await startRecorder(x.display);
  const port = await freePort();
  const agent = await startAgent(x.display, { origin: serverUrl, port });
  const browser = await launchBrowser();
  try {
    const host = await (await browser.newContext()).newPage();
    await openApp(host, serverUrl);
    await host.getByTestId('start-session').click();
    const link = await host.getByTestId('invite-controller-link').inputValue();
    const ctx = await browser.newContext();
    await ctx.addInitScript(STAMP);
    const controller = await ctx.newPage();
    await openApp(controller, link);
    await decoding(controller);
    const cid = await myId(controller);
    await pairAgent(host, agent.code());
    await grant(host, controller, cid);
    const r = await pictureRect(controller);
    // Warm-up, then the measured run: clicks and letter keys alternating, one per tick.
    await controller.mouse.click(r.x + r.w / 2, r.y + r.h / 2);
    await sleep(300);
    await controller.evaluate(() => { window.__dom.length = 0; });
    const from = rec.mark();
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    for (let i = 0; i < actions; i++) {
      if (i % 2 === 0) {
        const nx = 0.1 + 0.8 * ((i * 7) % 97) / 97;
        const ny = 0.1 + 0.8 * ((i * 13) % 89) / 89;
        await controller.mouse.click(r.x + nx * r.w, r.y + ny * r.h);
      } else {
        await controller.keyboard.press(letters[(i >> 1) % 26]);
      }
      await sleep(intervalMs);
    }
    await sleep(1000);
    const { rtt, offset } = await offsetTo(controller);
    const dom = await controller.evaluate(() => window.__dom);
    const xs = rec.since(from);
    const presses = xs.filter((e) => e.type === 'ButtonPress' && e.button === 1);
    const keys = xs.filter((e) => e.type === 'KeyPress');
    const downs = dom.filter((e) => e.type === 'pointerdown');
    const keydowns = dom.filter((e) => e.type === 'keydown');
    const samples = [];
    let unmatched = 0;
    // Both streams are ordered (reliable channel, one X connection): the i-th of each is one event.
    const pair = (doms, xevs, same) => {
      if (doms.length !== xevs.length) unmatched += Math.abs(doms.length - xevs.length);
      for (let i = 0; i < Math.min(doms.length, xevs.length); i++) {
        if (!same(doms[i], xevs[i])) { unmatched++; continue; }
        samples.push(performance.timeOrigin + xevs[i].at + offset - doms[i].t);
      }
    };
    pair(downs, presses, () => true);
    pair(keydowns, keys, (d, e) => d.key === e.name);
    return { samples, unmatched, rtt, clicks: presses.length, keys: keys.length };
  } finally {
    await browser.close().catch(() => {});
    agent.stop();
    rec.stop();
    x.stop();
  }
}
