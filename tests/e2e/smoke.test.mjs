// Smoke journeys: the shell renders, links are read and scrubbed, bad links get a clear banner,
// config.json is served.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp, decoding, recordPeers } from './lib/harness.mjs';
import { SigningKey } from './lib/wire.mjs';

const ID = 'AAECAwQFBgcICQoLDA0ODw';
const KEY = 'ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8';
const SECRET = 'QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8';
/** A host public key (any valid Ed25519 key). */
const HOST = new SigningKey(Buffer.alloc(32, 1)).public.toString('base64url');
// product.md §2's words exactly.
const INCOMPLETE = 'This link is incomplete — ask the host for a new one';

const stack = useStack();

/** The guest app's wasm, as a page requests it. */
const GUEST_WASM = /pairux-guest-[0-9a-f]+_bg\.wasm$/;

/** The role of the session page `page` shows, once it shows one. */
async function sessionRole(page) {
  const session = page.locator('.session');
  await session.waitFor();
  return session.getAttribute('data-role');
}

/** Holds `page`'s request for the guest app's wasm until the returned function is called. */
async function holdGuestWasm(page) {
  let release;
  const held = new Promise((resolve) => (release = resolve));
  await page.route(GUEST_WASM, async (route) => {
    await held;
    await route.continue();
  });
  return release;
}

test('landing page renders both ways in', async () => {
  const page = await newPage(stack.browser);
  await openApp(page, stack.server.url);
  assert.equal(await page.title(), 'PairUX');
  const start = page.getByTestId('start-session');
  assert.equal(await start.textContent(), 'Start session');
  assert.ok(await start.isVisible());
  assert.ok(await page.getByLabel('Session link').isVisible());
  assert.ok(await page.getByRole('button', { name: 'Join with a link' }).isVisible());
  // Auto is the host's choice until another is made, in the markup as in the control.
  assert.ok(await page.getByTestId('mode-auto').isChecked());
  assert.equal(await page.locator('[data-testid="mode-auto"][checked]').count(), 1);
  assert.equal(await page.locator('input[name="mode"][checked]').count(), 1);
  // And the markup follows the choice.
  await page.getByTestId('mode-p2p').check();
  assert.equal(await page.locator('[data-testid="mode-p2p"][checked]').count(), 1);
  assert.equal(await page.locator('input[name="mode"][checked]').count(), 1);
  assert.equal(await page.getByTestId('error-banner').count(), 0);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a link without a key shows the banner', async () => {
  const page = await newPage(stack.browser);
  for (const suffix of ['', '#', '#c=' + SECRET, '#k=tooshort', `#k=${KEY}&k=${KEY}`, `#k=${KEY}`, `#k=${KEY}&h=notakey`]) {
    await openApp(page, `${stack.server.url}/s/${ID}${suffix}`);
    const banner = page.getByTestId('error-banner');
    await banner.waitFor();
    assert.equal((await banner.textContent()).trim(), INCOMPLETE, `suffix ${suffix}`);
  }
  await page.context().close();
});

test('a link pasted over a page that refused one shows the session alone, in either app', async () => {
  // A refused link's card, then, once the fragment is pasted, the guest's session page in its
  // place: nothing of the card may stay beside it. The guest app draws both; so does the full
  // app, in a tab that was reloaded as the full app earlier (`pairux:app`).
  for (const full of [false, true]) {
    const page = await newPage(stack.browser);
    if (full) await page.addInitScript(() => sessionStorage.setItem('pairux:app', 'full'));
    await openApp(page, `${stack.server.url}/s/${ID}`);
    await page.getByTestId('error-banner').waitFor();
    assert.equal(await page.evaluate(() => window.__pairuxApp.full), full);
    await page.evaluate((f) => { location.hash = f; }, `k=${KEY}&h=${HOST}`);
    assert.equal(await sessionRole(page), 'viewer');
    await page.getByTestId('connection-state').waitFor();
    assert.equal(await page.getByTestId('error-banner').count(), 0, `full app: ${full}`);
    assert.equal(await page.locator('.card').count(), 0);
    assert.equal(await page.locator('.session').count(), 1);
    await page.context().close();
  }
});

test('a link that cannot be used leaves no socket or peer connection open', async () => {
  // index.html opens a session link's Realtime socket before the app has read the link; when
  // the link turns out unusable, nobody is there to use it and the app closes it.
  const page = await newPage(stack.browser);
  await page.addInitScript(() => {
    const Base = window.WebSocket;
    window.__sockets = [];
    window.WebSocket = class extends Base {
      constructor(...args) {
        super(...args);
        window.__sockets.push(this);
        window.__configFetchesBefore ??= window.__configFetches;
      }
    };
    // The server writes the config into the page, so the socket is made while the page parses,
    // without waiting for a config.json fetch (whose answer the page may only see after the
    // wasm has run).
    window.__configFetches = 0;
    const fetch = window.fetch;
    window.fetch = (input, ...rest) => {
      if (String(input?.url ?? input).includes('config.json')) window.__configFetches += 1;
      return fetch(input, ...rest);
    };
  });
  await page.addInitScript(recordPeers);
  let made = 0;
  let peers = 0;
  for (const url of [`/s/${ID}#k=tooshort`, `/s/not-a-session#k=${KEY}&h=${HOST}`]) {
    await openApp(page, `${stack.server.url}${url}`);
    await page.getByTestId('error-banner').waitFor();
    // Once the page's config is in, its script has opened the socket or (taken already) never will.
    await page.evaluate(() => window.__pairuxConfig);
    made += await page.evaluate(() => window.__sockets.length);
    assert.equal(await page.evaluate(() => window.__configFetchesBefore), 0, `${url}: the socket waited for config.json`);
    // Nothing else will happen on this page: every socket it made ends up closed.
    await page.waitForFunction(() => window.__sockets.every((ws) => ws.readyState === WebSocket.CLOSED), null, { timeout: 5_000 });
    // And the peer connection a guest's page makes while its wasm downloads is closed.
    peers += await page.evaluate(() => window.__pcs.length);
    assert.ok(await page.evaluate(() => window.__pcs.every((pc) => pc.signalingState === 'closed')), `${url}: a peer connection was left open`);
  }
  assert.ok(peers >= 1, 'no early peer connection was made; the test checked nothing');
  // The config (a few hundred bytes) arrives long before the app (1 MB of wasm) has built the
  // error page, so the early socket was made: what this test checks did happen.
  assert.ok(made >= 1, 'no early socket was opened; the test checked nothing');
  await page.context().close();
});

test('a malformed session id shows its own banner', async () => {
  const page = await newPage(stack.browser);
  await openApp(page, `${stack.server.url}/s/not-a-session#k=${KEY}&h=${HOST}`);
  const text = await page.getByTestId('error-banner').textContent();
  assert.match(text, /doesn't look like a PairUX session link/);
  await page.context().close();
});

test('a valid link is accepted and its secrets leave the address bar', async () => {
  const page = await newPage(stack.browser);
  await openApp(page, `${stack.server.url}/s/${ID}#k=${KEY}&h=${HOST}&c=${SECRET}`);
  assert.equal(await sessionRole(page), 'controller');
  assert.equal(page.url(), `${stack.server.url}/s/${ID}`);
  assert.equal(await page.evaluate(() => location.hash), '');
  assert.equal(await page.getByTestId('error-banner').count(), 0);

  // A viewer link pasted into this open session tab changes only the fragment: the tab stays
  // in its session and role (the very session drawn before: not joined anew), and the new
  // secrets leave the address bar too.
  await page.evaluate(() => { document.querySelector('.session').__before = true; });
  await page.goto(`${stack.server.url}/s/${ID}#k=${KEY}&h=${HOST}`);
  await page.waitForFunction(() => location.hash === '');
  assert.equal(await page.locator('.session').getAttribute('data-role'), 'controller');
  assert.equal(page.url(), `${stack.server.url}/s/${ID}`);
  // The person is told the link was not opened, and can close that.
  const notice = page.getByTestId('link-ignored');
  await notice.waitFor({ timeout: 5_000 });
  assert.match(await notice.textContent(), /already in a session, so the link you entered wasn't opened/);
  await page.getByTestId('link-ignored-close').click();
  await notice.waitFor({ state: 'detached', timeout: 5_000 });
  assert.equal(await page.locator('.session').getAttribute('data-role'), 'controller');
  assert.equal(await page.evaluate(() => document.querySelector('.session').__before), true, 'the session was drawn anew');

  const viewer = await newPage(stack.browser);
  await openApp(viewer, `${stack.server.url}/s/${ID}#k=${KEY}&h=${HOST}`);
  assert.equal(await sessionRole(viewer), 'viewer');
  for (const p of [page, viewer]) assert.deepEqual(p.errors, []);
  for (const p of [page, viewer]) await p.context().close();
});

test('starting a session gives two invite links that work; a link pasted into a tab opens only once its session is over for it', async () => {
  const page = await newPage(stack.browser);
  await openApp(page, stack.server.url);
  await page.getByTestId('start-session').click();
  const controllerLink = await page.getByTestId('invite-controller-link').inputValue();
  const viewerLink = await page.getByTestId('invite-viewer-link').inputValue();
  assert.match(controllerLink, new RegExp(`^${stack.server.url}/s/[A-Za-z0-9_-]{22}#k=[A-Za-z0-9_-]{43}&h=[A-Za-z0-9_-]{43}&c=[A-Za-z0-9_-]{43}$`));
  assert.match(viewerLink, new RegExp(`^${stack.server.url}/s/[A-Za-z0-9_-]{22}#k=[A-Za-z0-9_-]{43}&h=[A-Za-z0-9_-]{43}$`));
  assert.ok(controllerLink.startsWith(viewerLink + '&c='));
  // The controller link is never drawn in clear (the host's page may be what is shared).
  assert.equal(await page.getByTestId('invite-controller-link').getAttribute('type'), 'password');
  assert.match(page.url(), /\/s\/[A-Za-z0-9_-]{22}$/);
  // Its own viewer link pasted into the host's tab: the tab stays the host's (the session
  // drawn before: a new one would have lost the capture), and says so.
  await page.evaluate(() => { document.querySelector('.session').__before = true; });
  await page.goto(viewerLink);
  await page.getByTestId('link-ignored').waitFor({ timeout: 5_000 });
  await page.waitForFunction(() => location.hash === '');
  assert.equal(await page.getByTestId('invite-viewer-link').inputValue(), viewerLink);
  assert.equal(await page.evaluate(() => document.querySelector('.session').__before), true, 'the host\'s session was drawn anew');

  // A link "works" when the person who opens it sees the shared screen (`decoding`).
  const viewer = await newPage(stack.browser);
  await viewer.addInitScript(recordPeers);
  // The link's secrets leave the address bar before the app has even arrived: its wasm is held
  // until the page's address has been read.
  const release = await holdGuestWasm(viewer);
  await viewer.goto(viewerLink, { waitUntil: 'domcontentloaded' });
  assert.equal(await viewer.evaluate(() => location.hash), '');
  assert.equal(viewer.url(), viewerLink.split('#')[0]);
  assert.equal(await viewer.locator('.app').count(), 0, 'the app had not started yet');
  release();
  await viewer.locator('.session[data-role="viewer"]').waitFor();
  await decoding(viewer);
  // The connection that carries the picture is the one the page made while the wasm came
  // (index.html), taken by the app rather than made a second time.
  assert.equal(await viewer.evaluate(() => window.__pcs.length), 1);
  assert.equal(await viewer.evaluate(() => window.__pcs[0].__madeWhile), 'loading');
  // The controller link pasted into the viewer's tab while it watches: not opened, and said.
  await viewer.goto(controllerLink);
  await viewer.getByTestId('link-ignored').waitFor({ timeout: 5_000 });
  assert.equal(await viewer.locator('.session').getAttribute('data-role'), 'viewer');
  // Once the viewer has left, the notice goes (it is no longer true), and the same link,
  // pasted again, opens: the tab is the controller's now.
  await viewer.getByTestId('leave-session').click();
  await viewer.locator('[data-testid=session-ended][data-reason=you-left]').waitFor({ timeout: 5_000 });
  await viewer.getByTestId('link-ignored').waitFor({ state: 'detached', timeout: 5_000 });
  await viewer.goto(controllerLink);
  await viewer.locator('.session[data-role="controller"]').waitFor({ timeout: 15_000 });
  await decoding(viewer);
  assert.equal(await viewer.evaluate(() => location.hash), '');
  assert.equal(await viewer.getByTestId('link-ignored').count(), 0);
  await viewer.context().close();

  // Pasting the controller link into "Join" on the landing page opens it without a reload.
  const joiner = await newPage(stack.browser);
  await openApp(joiner, stack.server.url);
  await joiner.getByLabel('Session link').fill(controllerLink);
  await joiner.getByRole('button', { name: 'Join with a link' }).click();
  await joiner.locator('.session[data-role="controller"]').waitFor();
  await decoding(joiner);
  assert.equal(await joiner.evaluate(() => location.hash), '');
  await joiner.context().close();
  await page.context().close();
});

test('the copy buttons copy each link, each by its own name, also where the Clipboard API is refused', async () => {
  const page = await newPage(stack.browser);
  // A browser that refuses the async Clipboard API (an unfocused page, a permissions policy).
  await page.addInitScript(() => {
    navigator.clipboard.writeText = () => Promise.reject(new DOMException('refused', 'NotAllowedError'));
    window.__copied = [];
    document.addEventListener('copy', (e) => window.__copied.push(e.target.value ?? null));
  });
  await openApp(page, stack.server.url);
  await page.getByTestId('start-session').click();
  const controllerLink = await page.getByTestId('invite-controller-link').inputValue();
  const viewerLink = await page.getByTestId('invite-viewer-link').inputValue();
  const copyController = page.getByRole('button', { name: 'Copy link: Invite controllers' });
  const copyViewer = page.getByRole('button', { name: 'Copy link: Invite viewers' });
  assert.equal(await copyController.getAttribute('data-testid'), 'copy-invite-controller-link');
  await copyController.click();
  await page.locator('[data-testid=copy-invite-controller-link]:text-is("Copied")').waitFor({ timeout: 5_000 });
  await copyViewer.click();
  await page.locator('[data-testid=copy-invite-viewer-link]:text-is("Copied")').waitFor({ timeout: 5_000 });
  assert.deepEqual(await page.evaluate(() => window.__copied), [controllerLink, viewerLink]);
  // Said to a screen reader too, and nothing of the controller link left in the page.
  assert.equal(await page.locator('.sr-only[role=status]', { hasText: 'Link copied' }).count(), 2);
  assert.equal(await page.locator('textarea[aria-hidden=true]').count(), 0);
  await page.context().close();
});

test('a link whose app could not be downloaded is back in the address bar for a reload', async () => {
  // index.html's boot script takes the fragment out of the address bar before the app has
  // arrived; if it never arrives, a reload must still find the link there.
  const page = await newPage(stack.browser);
  const link = `${stack.server.url}/s/${ID}#k=${KEY}&h=${HOST}`;
  await page.route(GUEST_WASM, (route) => route.abort('connectionreset'));
  await page.goto(link);
  await page.waitForFunction(() => location.hash !== '', null, { timeout: 10_000 });
  assert.equal(page.url(), link);
  await page.unroute(GUEST_WASM);
  await page.reload();
  assert.equal(await sessionRole(page), 'viewer');
  assert.equal(await page.evaluate(() => location.hash), '');
  await page.context().close();
});

test('a reload before the app has arrived opens the link again', async () => {
  // The boot script keeps the fragment it scrubbed in the tab until the app has taken it.
  const page = await newPage(stack.browser);
  await page.route(GUEST_WASM, () => {}); // never answered: the download stalls
  await page.goto(`${stack.server.url}/s/${ID}#k=${KEY}&h=${HOST}`, { waitUntil: 'domcontentloaded' });
  assert.equal(await page.evaluate(() => location.hash), '');
  await page.unroute(GUEST_WASM);
  await page.reload();
  assert.equal(await sessionRole(page), 'viewer');
  assert.equal(await page.evaluate(() => location.hash), '');
  // Taken: the tab's copy went once the app had read it (its own resume text is what stays).
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), `pairux:opened:/s/${ID}`), null);
  await page.context().close();
});

test('a link pasted while the app downloads is the one opened, and leaves the address bar', async () => {
  const page = await newPage(stack.browser);
  const release = await holdGuestWasm(page);
  await page.goto(`${stack.server.url}/s/${ID}#k=${KEY}&h=${HOST}`, { waitUntil: 'domcontentloaded' });
  await page.evaluate((f) => { location.hash = f; }, `k=${KEY}&h=${HOST}&c=${SECRET}`);
  release();
  assert.equal(await sessionRole(page), 'controller');
  assert.equal(await page.evaluate(() => location.hash), '');
  await page.context().close();
});

test('a path that is no page says so, with a way to the start page', async () => {
  const page = await newPage(stack.browser);
  await openApp(page, `${stack.server.url}/no/such/page`);
  await page.getByRole('heading', { name: 'Nothing here' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Go to the start page' }).getAttribute('href'), '/');
  await page.context().close();
});

test('pasting something that is not a link explains why', async () => {
  const page = await newPage(stack.browser);
  await openApp(page, stack.server.url);
  await page.getByLabel('Session link').fill('hello there');
  await page.getByRole('button', { name: 'Join with a link' }).click();
  assert.match(await page.getByTestId('error-banner').textContent(), /doesn't look like/);
  await page.context().close();
});

const UNREADABLE_CONFIG = "This server's settings (config.json) can't be read — tell whoever runs it. Trying again…";

/**
 * `page` as served by a server whose config.json has a mistake in it (hand-written, say): the
 * copy in the page and /config.json both, until the returned function is called; then
 * /config.json answers as the server does. (The copy is spoilt as the page is parsed: a
 * document answered by page.route counts as a public page for Chrome's local network checks,
 * which then refuse its socket to this server.)
 */
async function unreadableConfig(page) {
  await page.addInitScript(() => {
    new MutationObserver((_, observer) => {
      const config = document.getElementById('pairux-config');
      if (!config) return;
      config.textContent = '{"realtimeUrl":5}';
      window.__configSpoilt = true;
      observer.disconnect();
    }).observe(document, { childList: true, subtree: true });
  });
  let unreadable = true;
  await page.route(`${stack.server.url}/config.json`, (route) =>
    unreadable
      ? route.fulfill({ status: 200, contentType: 'application/json', body: '{"realtimeUrl": ' })
      : route.continue(),
  );
  return () => {
    unreadable = false;
  };
}

/** The banner says so; once config.json reads, the page joins and the banner goes. */
async function toldThenJoins(page, fix) {
  assert.equal(await page.evaluate(() => window.__configSpoilt), true, 'the page carried its config');
  const banner = page.getByTestId('error-banner');
  await banner.waitFor();
  assert.equal(await banner.textContent(), UNREADABLE_CONFIG);
  assert.equal(await page.getByTestId('connection-state').getAttribute('data-state'), 'reconnecting');
  fix();
  await page.waitForSelector('[data-testid="connection-state"][data-state="connected"]', { timeout: 15_000 });
  assert.equal(await banner.count(), 0);
  assert.deepEqual(page.errors, []);
}

test('a config.json that cannot be read is explained, and the page joins once it can be', async () => {
  const page = await newPage(stack.browser);
  const fix = await unreadableConfig(page);
  await openApp(page, `${stack.server.url}/s/${ID}#k=${KEY}&h=${HOST}`);
  await toldThenJoins(page, fix);
  await page.context().close();
});

test("a host whose server's config.json cannot be read is told so, and its session starts once it can be", async () => {
  const page = await newPage(stack.browser);
  const fix = await unreadableConfig(page);
  await openApp(page, stack.server.url);
  await page.getByTestId('start-session').click();
  await toldThenJoins(page, fix);
  await page.context().close();
});

test('config.json is served with the realtime URL, an anon key and ICE servers', async () => {
  const res = await fetch(`${stack.server.url}/config.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /application\/json/);
  const config = await res.json();
  assert.equal(config.realtimeUrl, `ws://127.0.0.1:${stack.server.port}/realtime/v1/websocket`);
  assert.ok(Array.isArray(config.iceServers));
  assert.ok('sfu' in config);
  const [header, claims] = config.anonKey.split('.').slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
  assert.equal(header.alg, 'HS256');
  assert.equal(claims.role, 'anon');
  assert.ok(claims.exp > Date.now() / 1000 + 365 * 24 * 3600);
});

test('session paths fall back to the app, assets are served', async () => {
  const res = await fetch(`${stack.server.url}/s/${ID}`);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /<title>PairUX<\/title>/);
  const wasm = html.match(/\/pairux-guest-[0-9a-f]+_bg\.wasm/);
  assert.ok(wasm, 'index.html references the guest app wasm');
  const asset = await fetch(stack.server.url + wasm[0]);
  assert.equal(asset.status, 200);
  assert.equal(asset.headers.get('content-type'), 'application/wasm');
  // Named after their content: kept; the page naming them, and the full app's unhashed files:
  // asked about every time.
  assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  const full = await fetch(`${stack.server.url}/pairux-web_bg.wasm`);
  assert.equal(full.status, 200);
  assert.equal(full.headers.get('cache-control'), 'no-cache');
  // A file that is not there is not answered with the page (kept a year under a hashed name).
  assert.equal((await fetch(`${stack.server.url}/pairux-guest-0123456789abcdef_bg.wasm`)).status, 404);
});

/** Which app wasm files the page downloaded, and which app its loader chose. */
async function appLoaded(page) {
  await page.waitForFunction(() => document.querySelector('.app'));
  return page.evaluate(() => ({
    full: window.__pairuxApp.full,
    wasm: performance.getEntriesByType('resource')
      .map((e) => new URL(e.name).pathname)
      .filter((p) => /^\/pairux-(web|guest)/.test(p) && p.endsWith('.wasm')),
  }));
}

test('each page loads the app it needs: guests the guest app, the landing page and hosts the full app, across reloads', async () => {
  const GUEST = /^\/pairux-guest-[0-9a-f]+_bg\.wasm$/;
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  let loaded = await appLoaded(host);
  assert.deepEqual(loaded, { full: true, wasm: ['/pairux-web_bg.wasm'] });
  await host.getByTestId('start-session').click();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();

  const viewer = await newPage(stack.browser);
  await openApp(viewer, viewerLink);
  await viewer.locator('.session[data-role="viewer"]').waitFor();
  loaded = await appLoaded(viewer);
  assert.equal(loaded.full, false);
  assert.equal(loaded.wasm.length, 1, JSON.stringify(loaded));
  assert.match(loaded.wasm[0], GUEST);
  // The app crossed the network compressed: the build's Brotli form (about a third of the wasm).
  const sizes = await viewer.evaluate(async () => Promise.all(performance.getEntriesByType('resource')
    .filter((e) => /\/pairux-guest-[0-9a-f]+(_bg\.wasm|\.js)$/.test(e.name))
    .map(async (e) => ({
      name: e.name,
      encoded: e.encodedBodySize,
      decoded: e.decodedBodySize,
      encoding: (await fetch(e.name, { method: 'HEAD', cache: 'no-store' })).headers.get('content-encoding'),
    }))));
  assert.equal(sizes.length, 2, JSON.stringify(sizes));
  for (const s of sizes) {
    assert.ok(s.encoded > 0 && s.encoded < s.decoded / 2, JSON.stringify(s));
    assert.equal(s.encoding, 'br', JSON.stringify(s));
  }
  await decoding(viewer);
  // A guest's reload (no fragment; the tab's resume text) stays a guest, in the guest app.
  await viewer.reload();
  await viewer.locator('.session[data-role="viewer"]').waitFor();
  loaded = await appLoaded(viewer);
  assert.equal(loaded.full, false);
  assert.match(loaded.wasm[0], GUEST);
  await decoding(viewer);
  // A session path without a usable link: the guest app explains it.
  const stray = await newPage(stack.browser);
  await openApp(stray, `${stack.server.url}/s/${ID}`);
  assert.equal((await stray.getByTestId('error-banner').textContent()).trim(), INCOMPLETE);
  assert.equal((await appLoaded(stray)).full, false);
  // The host's reload resumes its session, in the full app.
  await host.reload();
  await host.locator('.session[data-role="host"]').waitFor();
  assert.deepEqual(await appLoaded(host), { full: true, wasm: ['/pairux-web_bg.wasm'] });
  for (const p of [host, viewer, stray]) assert.deepEqual(p.errors, []);
  for (const p of [host, viewer, stray]) await p.context().close();
});

test("a guest who can't reach the server is told so, never that the session isn't live, and joins once it can", async () => {
  const host = await newPage(stack.browser);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const link = await host.getByTestId('invite-viewer-link').inputValue();
  const guest = await newPage(stack.browser);
  // Every socket to the server is cut at once (a proxy, the server restarting, a firewall).
  let blocked = true;
  await guest.routeWebSocket(/\/realtime\/v1\/websocket/, (ws) => {
    if (blocked) ws.close();
    else ws.connectToServer();
  });
  await guest.addInitScript(() => {
    window.__banners = [];
    new MutationObserver(() => {
      const b = document.querySelector('[data-testid=error-banner]');
      if (b && !window.__banners.includes(b.textContent)) window.__banners.push(b.textContent);
    }).observe(document, { childList: true, subtree: true, characterData: true });
  });
  await openApp(guest, link);
  const told = guest.getByTestId('no-server');
  await told.waitFor({ timeout: 10_000 });
  assert.equal(await told.textContent(), "Can't reach the PairUX server — retrying…");
  assert.equal(await guest.getByTestId('connection-state').getAttribute('data-state'), 'reconnecting');
  // Past the 10 s a guest waits for a host once it has heard from the session (a time-based
  // rule, so the test waits that long): still no "isn't live".
  await guest.waitForTimeout(11_000);
  assert.deepEqual(await guest.evaluate(() => window.__banners), []);
  blocked = false;
  await decoding(guest, { timeout: 30_000 });
  assert.equal(await told.count(), 0);
  for (const page of [host, guest]) await page.context().close();
});
