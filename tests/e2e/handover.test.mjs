// Handing the host role to a controller (product.md §1): the host offers it, the controller
// takes it and shares its own screen, a viewer follows to the new host's picture, and the
// former host's tab is a controller of the new host whose input reaches it. A former host
// that later presents its old key as host again (a reclaim) is not believed by the pages that
// saw the handover, and a page that saw none follows neither side of a fork of the role. The
// offer can be put away by either side first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, newPage, openApp, myId, recordPeers, pictureSource, pressReachesHost } from './lib/harness.mjs';
import { until, rawPeer, frames, stillDecoding, counters } from './lib/adversary.mjs';
import { parseLink, participantId, presenceMeta, SigningKey, hostChain } from './lib/wire.mjs';

const stack = useStack();

/** How long after a new media epoch a guest forgets the older ones (core KEY_ACK_DEADLINE_MS +
 * RETIRE_AFTER_MS), with a margin. */
const KEY_RETIRE_MS = 2_000 + 5_000 + 1_000;

async function join(link) {
  const page = await newPage(stack.browser);
  await page.addInitScript(recordPeers);
  await openApp(page, link);
  await until('the guest to decode the host', async () => (await frames(page)) > 2, 20_000);
  return page;
}

/** The participant ids the page lists as host. */
function hostsOf(page) {
  return page.locator('[data-testid=participant-list] > li[data-role=host]')
    .evaluateAll((els) => els.map((e) => e.dataset.testid.replace('participant-', '')));
}

test('the host hands its role to a controller: it shares its screen to the viewer, the former host controls it, and a reclaim by the old key is not believed', async () => {
  const host = await newPage(stack.browser);
  await host.addInitScript(recordPeers);
  await openApp(host, stack.server.url);
  await host.getByTestId('start-test-pattern').click();
  const controllerLink = await host.getByTestId('invite-controller-link').inputValue();
  const viewerLink = await host.getByTestId('invite-viewer-link').inputValue();
  const path = new URL(viewerLink).pathname;
  // What an attacker who once had the first host's tab keeps: its key.
  const oldResume = await host.evaluate((p) => sessionStorage.getItem(`pairux:${p}`), path);
  assert.match(oldResume, /&hs=/);
  const firstHost = await myId(host);

  const controller = await join(controllerLink);
  const viewer = await join(viewerLink);
  const cid = await myId(controller);
  const vid = await myId(viewer);
  // A removal first: everyone moves to a new media epoch, and retires the room key's epoch 0
  // some seconds later, which the new host (who has no memory of it) starts in again.
  const removed = await join(viewerLink);
  const rid = await myId(removed);
  await host.getByTestId(`remove-participant-${rid}`).click();
  await removed.getByTestId('session-ended').waitFor({ timeout: 10_000 });
  const retired = Date.now() + KEY_RETIRE_MS;
  // The role is offered to controllers only.
  await host.getByTestId(`hand-over-${cid}`).waitFor({ timeout: 10_000 });
  assert.equal(await host.getByTestId(`hand-over-${vid}`).count(), 0);
  assert.equal(await viewer.getByTestId('host-offer').count(), 0);

  // Offered, then "not now": the host reads that the offer is off, and may offer again.
  const offer = controller.getByTestId('host-offer');
  await host.getByTestId(`hand-over-${cid}`).click();
  assert.equal(await host.getByTestId('handing').getAttribute('data-to'), cid);
  await offer.waitFor({ timeout: 10_000 });
  await controller.getByTestId('decline-host').click();
  await offer.waitFor({ state: 'hidden' });
  await host.getByTestId('handing').waitFor({ state: 'detached', timeout: 10_000 });
  const declined = host.getByTestId('hand-over-declined');
  assert.match(await declined.textContent(), /isn't taking over now\.$/);
  // Offered, then taken back by the host: the controller's offer goes away.
  await host.getByTestId(`hand-over-${cid}`).click();
  assert.equal(await declined.count(), 0, 'a new offer clears the old answer');
  await offer.waitFor({ timeout: 10_000 });
  await host.getByTestId('cancel-hand-over').click();
  await offer.waitFor({ state: 'hidden', timeout: 10_000 });
  // Offered a third time, and taken (once the old epoch is gone everywhere).
  await host.getByTestId(`hand-over-${cid}`).click();
  await offer.waitFor({ timeout: 10_000 });
  // Nothing changes until the controller takes it.
  assert.deepEqual(await hostsOf(viewer), [firstHost]);
  await viewer.waitForTimeout(Math.max(0, retired - Date.now()));
  // This time the controller's tab cannot keep the handover (its storage refuses): it says so
  // to the host, and the host's panel still names whom the role is signed to, with a way to
  // offer it to them again.
  const unreadable = async () => (await counters(controller)).unreadableMessages ?? 0;
  const unreadableBefore = await unreadable();
  await controller.evaluate(() => {
    const set = Storage.prototype.setItem;
    window.__keepFails = true;
    Storage.prototype.setItem = function (key, value) {
      if (window.__keepFails) throw new DOMException('full', 'QuotaExceededError');
      return set.call(this, key, value);
    };
  });
  await controller.getByTestId('take-host').click();
  await until('the controller to find it cannot keep the handover', async () => (await unreadable()) > unreadableBefore, 10_000);
  await controller.evaluate(() => { window.__keepFails = false; });
  // What the controller sends next reaches the host after its answer (one ordered channel).
  await controller.getByTestId('request-control').click();
  await host.getByTestId(`control-request-${cid}`).waitFor({ timeout: 10_000 });
  await host.getByTestId(`deny-control-${cid}`).click();
  assert.equal(await host.getByTestId('handed').getAttribute('data-to'), cid);
  assert.deepEqual(await hostsOf(viewer), [firstHost]);
  await host.getByTestId(`hand-over-${cid}`).click();
  await offer.waitFor({ timeout: 10_000 });
  await controller.getByTestId('take-host').click();
  // Signed now: the host offers the role to nobody else, and cannot take it back.
  await host.getByTestId('handed').waitFor({ timeout: 10_000 });
  assert.equal(await host.getByTestId('cancel-hand-over').count(), 0);

  // The controller's tab loads again as the host, and shares its screen with a click.
  await controller.locator('.session[data-role=host]').waitFor({ timeout: 20_000 });
  await controller.getByTestId('share-again').click();
  await controller.locator('[data-testid=share-state][data-state=sharing]').waitFor({ timeout: 10_000 });
  const newHost = await myId(controller);
  // The same links as before: the handover is in the new host's presence, not in the links.
  assert.equal(await controller.getByTestId('invite-viewer-link').inputValue(), viewerLink);

  // The former host's tab is a controller of the session now.
  await host.locator('.session[data-role=controller]').waitFor({ timeout: 20_000 });
  await until('the former host to see the new one', async () => {
    const hosts = await hostsOf(host);
    return hosts.length === 1 && hosts[0] === newHost;
  });
  assert.match(await host.evaluate((p) => sessionStorage.getItem(`pairux:${p}`), path), /^[^]*&c=[^&]+$/);

  // The viewer follows: one host in its list, the new one, whose connection carries its picture.
  await until('the viewer to follow the new host', async () => {
    const hosts = await hostsOf(viewer);
    return hosts.length === 1 && hosts[0] === newHost;
  });
  await stillDecoding(viewer, 'the viewer', 15_000);
  await until('the viewer\'s picture to come from the new host', async () => (await pictureSource(viewer, controller)) === 'p2p');
  await viewer.locator('[data-testid=e2ee-state]:text-is("ok")').waitFor({ timeout: 5_000 });

  // The removal went with the role: the removed tab, reloaded (same key), asks the new host
  // to be let in, as the person removed earlier, and is not seated meanwhile.
  await removed.reload();
  await removed.getByTestId('waiting-admission').waitFor({ timeout: 15_000 });
  await removed.locator('[data-testid=participant-list] > li.me').waitFor({ timeout: 15_000 });
  const rejoined = await myId(removed);
  const ask = controller.getByTestId(`join-request-${rejoined}`);
  await ask.waitFor({ timeout: 10_000 });
  assert.match(await ask.textContent(), /you removed them earlier/);
  assert.equal(await frames(removed), 0, 'a page waiting for the new host decodes nothing');

  // The former host, as a controller, drives the new host: its pointer reaches the new host's
  // input log.
  await stillDecoding(host, 'the former host', 15_000);
  // The new host's input log (in its diagnostics) names the former host's press.
  await pressReachesHost(controller, host, await myId(host));

  // The first host's key, kept by someone who runs a client of their own: a host meta signed
  // with it (no handover) is what the pages that saw the handover no longer believe; it is
  // counted, and the viewer stays with the new host.
  const link = parseLink(controllerLink);
  const oldSeed = Buffer.from(oldResume.match(/(?:^|&)hs=([^&]+)/)[1], 'base64url');
  const before = (await counters(viewer)).impostorHost ?? 0;
  const formerKey = new SigningKey(oldSeed);
  const formerJoin = Date.now();
  const former = await rawPeer(stack.server.url, link.topic, participantId({ link, signer: formerKey, joinedAt: formerJoin }));
  former.track(presenceMeta({ link, role: 'host', joinedAt: formerJoin, profile: { name: 'Host' }, signer: formerKey }));
  await until('the viewer to refuse the former host\'s key', async () => ((await counters(viewer)).impostorHost ?? 0) > before);
  assert.deepEqual(await hostsOf(viewer), [newHost]);
  await stillDecoding(viewer, 'the viewer', 15_000);
  assert.equal(await pictureSource(viewer, controller), 'p2p');

  // The former host forks: it hands the role, again as the first handover, to a key of its
  // own, under a presence key that sorts before the new host's (its id is its key's for a
  // join epoch: it tries epochs until the id sorts first). The viewer that saw the real
  // handover does not believe it; nor does it after a reload, when the fork comes first in the
  // presence state it reads (its tab kept the chain it believed).
  const fork = new SigningKey();
  const chain = hostChain({ link, steps: [{ signer: new SigningKey(oldSeed), next: fork }] });
  let forkJoin = Date.now();
  while (!(participantId({ link, signer: fork, joinedAt: forkJoin }) < newHost)) forkJoin--;
  const forkId = participantId({ link, signer: fork, joinedAt: forkJoin });
  const forker = await rawPeer(stack.server.url, link.topic, forkId);
  forker.track(presenceMeta({ link, role: 'host', joinedAt: forkJoin, profile: { name: 'Host', chain }, signer: fork }));
  await until('the viewer to refuse the fork', async () => ((await counters(viewer)).impostorHost ?? 0) > before + 1);
  assert.deepEqual(await hostsOf(viewer), [newHost]);
  await viewer.reload();
  await viewer.waitForSelector('.app', { timeout: 15_000 });
  await until('the reloaded viewer to refuse the fork', async () => ((await counters(viewer)).impostorHost ?? 0) >= 1);
  await stillDecoding(viewer, 'the reloaded viewer', 15_000);
  assert.deepEqual(await hostsOf(viewer), [newHost]);
  assert.equal(await pictureSource(viewer, controller), 'p2p');

  // A page that saw no handover, opened while the fork is here, reads two handovers of the
  // role that part — and which it reads first is the forker's pick (its presence key) — so
  // it follows neither and says why. The fork leaving proves nothing (the real host's socket
  // could as well have dropped for a moment): the page still follows neither. Reloaded, with
  // the new host alone, it follows it.
  const fresh = await newPage(stack.browser);
  await fresh.addInitScript(recordPeers);
  await openApp(fresh, viewerLink);
  const banner = fresh.getByTestId('error-banner');
  await banner.waitFor({ timeout: 15_000 });
  assert.match(await banner.textContent(), /Two people claim to host this session/);
  assert.equal(await fresh.getByTestId('remote-video').count(), 0);
  await fresh.getByTestId(`participant-${forkId}`).waitFor();
  forker.close();
  await fresh.getByTestId(`participant-${forkId}`).waitFor({ state: 'detached', timeout: 15_000 });
  assert.match(await banner.textContent(), /Two people claim to host this session/);
  assert.equal(await fresh.getByTestId('remote-video').count(), 0);
  await fresh.reload();
  // Someone was removed before the handover: newcomers still need the host's OK, now the
  // new host's.
  await fresh.getByTestId('waiting-admission').waitFor({ timeout: 15_000 });
  await fresh.locator('[data-testid=participant-list] > li.me').waitFor({ timeout: 15_000 });
  await controller.getByTestId(`admit-${await myId(fresh)}`).click();
  await until('the reloaded fresh page to decode the new host', async () => (await frames(fresh)) > 2, 20_000);
  assert.equal(await fresh.getByTestId('error-banner').count(), 0);
  // The new host first: the one followed (the old key's meta, one line with it, after it),
  // whose own connection carries the picture.
  await until('the fresh page to list the new host first, and decode its picture', async () =>
    (await hostsOf(fresh))[0] === newHost && (await pictureSource(fresh, controller)) === 'p2p');

  // Control for the chains this test signs: the same signer and key give the very chain the
  // app signed for the new host (Ed25519 is deterministic), as its tab keeps it.
  const newResume = await controller.evaluate((p) => sessionStorage.getItem(`pairux:${p}`), path);
  const newSeed = Buffer.from(newResume.match(/(?:^|&)hs=([^&]+)/)[1], 'base64url');
  const real = hostChain({ link, steps: [{ signer: new SigningKey(oldSeed), next: new SigningKey(newSeed) }] });
  assert.equal(real, newResume.match(/(?:^|&)hc=([^&]+)/)[1]);
  for (const peer of [former, forker]) peer.close();

  for (const page of [host, controller, viewer, removed, fresh]) await page.close();
});
