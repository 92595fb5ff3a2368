// The adversarial journeys forge the app's wire format in JavaScript (lib/wire.mjs). This
// checks that JavaScript against bytes the Rust core wrote (lib/wire-vectors.json, pinned by
// crates/core/tests/trust_wire.rs), so those journeys attack what the app really speaks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseLink, SigningKey, participantId, presenceMeta, openProfile, signalPayload, controlProof } from './lib/wire.mjs';

const vectors = JSON.parse(readFileSync(new URL('./lib/wire-vectors.json', import.meta.url)));
const link = parseLink(vectors.controller_link);
const hostKey = new SigningKey(Buffer.alloc(32, 0x42));

test('the host key in the link is the seed the session was generated from', () => {
  assert.deepEqual(hostKey.public, link.host);
});

test('presence metas are byte for byte what the app tracks', () => {
  for (const [v, signer] of [
    [vectors.host_meta, hostKey],
    [vectors.guest_meta, new SigningKey(Buffer.from(vectors.guest_meta.seed, 'hex'))],
  ]) {
    const salt = v.salt ? Buffer.from(v.salt, 'hex') : null;
    const meta = presenceMeta({
      link, id: v.id, role: v.role, joinedAt: v.joined_at, profile: v.profile, signer, seat: v.role === 'controller',
      nonce: Buffer.from(v.nonce, 'hex'), salt,
    });
    assert.deepEqual(meta, v.meta);
    // The presence key is the signer's, for that join (and its salt, where it has one).
    assert.equal(participantId({ link, signer, joinedAt: v.joined_at, salt }), v.id);
    assert.equal(openProfile(link, v.id, v.role, v.meta.profile).name, v.profile.name);
  }
});

test('signals are byte for byte what the app sends', () => {
  for (const v of vectors.signals) {
    const payload = signalPayload({
      link, from: v.from, to: v.to, kind: v.kind, body: v.body, epoch: v.epoch, seq: v.seq,
      signer: hostKey, nonce: Buffer.from(v.nonce, 'hex'),
      toKx: v.to_kx ? Buffer.from(v.to_kx, 'base64url') : null,
    });
    assert.deepEqual(payload, v.payload);
  }
});

test('the controller proof is the one the app computes', () => {
  const p = vectors.proof;
  assert.equal(controlProof({
    secret: link.controller, nonce: p.nonce, id: p.id,
    hostFingerprint: p.host, participantFingerprint: p.participant,
  }), p.proof);
});
