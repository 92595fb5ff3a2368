// The app's trust wire format, rebuilt in the test from its specification (ARCHITECTURE.md,
// pairux_core::session::{identity, sealed}, control::proof) so that adversarial tests can act
// as a *modified client*: seal with the room key, sign with a key of their own, replay, relay.
// `wire-vectors.json` (written by crates/core/tests/trust_wire.rs from the Rust code) pins this
// file to the real encoder: `wire.test.mjs` checks both produce the same bytes.

import crypto from 'node:crypto';

const PROFILE_LABEL = Buffer.from('PairUX 1.0 presence');
const SIGNAL_LABEL = Buffer.from('PairUX 1.0 signaling');
const META_STATEMENT = Buffer.from('PairUX 1.0 presence meta');
const HANDOVER_STATEMENT = Buffer.from('PairUX 1.0 host handover');
const SIGNAL_STATEMENT = Buffer.from('PairUX 1.0 signal');
const PROOF_LABEL = Buffer.from('pairux control request v2');
const SEAT_LABEL = Buffer.from('pairux controller seat v1');
const ID_STATEMENT = Buffer.from('PairUX 1.0 participant id');
const VERSION_STATEMENT = Buffer.from('PairUX wire version');
/** The wire version the app speaks (core `session::WIRE_VERSION`). */
export const WIRE_VERSION = 2;

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const unb64u = (text) => Buffer.from(text, 'base64url');

/** The secrets of a session link `…/s/<id>#k=…&h=…[&c=…]`. */
export function parseLink(link) {
  const url = new URL(link, 'http://x');
  const session = url.pathname.replace(/^\/s\//, '').replace(/\/$/, '');
  const params = new URLSearchParams(url.hash.slice(1));
  return {
    session,
    topic: `realtime:pairux:${session}`,
    room: unb64u(params.get('k')),
    host: params.get('h') ? unb64u(params.get('h')) : null,
    controller: params.get('c') ? unb64u(params.get('c')) : null,
  };
}

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function u64(n) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** Length-prefixed field; `null` is the absent marker. */
function field(value) {
  if (value === null || value === undefined) return u32(0xffffffff);
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(String(value));
  return Buffer.concat([u32(buf.length), buf]);
}

function aeadKey(room, label) {
  return Buffer.from(crypto.hkdfSync('sha256', room, Buffer.alloc(0), label, 32));
}

/** version 0x01 ‖ nonce ‖ AES-256-GCM(ciphertext) ‖ tag; aad = label ‖ fields. */
function seal(room, label, fields, plaintext, nonce = crypto.randomBytes(12)) {
  const cipher = crypto.createCipheriv('aes-256-gcm', aeadKey(room, label), nonce);
  cipher.setAAD(Buffer.concat([label, ...fields.map(field)]));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([1]), nonce, ct, cipher.getAuthTag()]);
}

function open(room, label, fields, sealed) {
  const nonce = sealed.subarray(1, 13);
  const tag = sealed.subarray(sealed.length - 16);
  const decipher = crypto.createDecipheriv('aes-256-gcm', aeadKey(room, label), nonce);
  decipher.setAAD(Buffer.concat([label, ...fields.map(field)]));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(13, sealed.length - 16)), decipher.final()]);
}

/** An Ed25519 key from a 32-byte seed (random when omitted). */
export class SigningKey {
  constructor(seed = crypto.randomBytes(32)) {
    this.seed = Buffer.from(seed);
    this.private = crypto.createPrivateKey({
      key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), this.seed]),
      format: 'der',
      type: 'pkcs8',
    });
    this.public = crypto.createPublicKey(this.private).export({ format: 'der', type: 'spki' }).subarray(12);
  }

  sign(message) {
    return crypto.sign(null, message, this.private);
  }
}

/**
 * The participant id (presence key) of a join signed by `signer` at `joinedAt`, with the join's
 * random `salt` (16 bytes, carried as `join` in its profile) if it has one: what every page
 * checks a meta's presence key against (core `session::participant_id`).
 */
export function participantId({ link, signer, joinedAt, salt = null }) {
  const statement = Buffer.concat([
    field(ID_STATEMENT), field(unb64u(link.session)), field(signer.public), u64(joinedAt),
    field(salt === null ? null : b64u(salt)),
  ]);
  return b64u(crypto.createHash('sha256').update(statement).digest().subarray(0, 16));
}

/**
 * A presence meta as the app tracks it: profile (gains `key`) sealed with the room key,
 * the whole meta signed by `signer`. `id`: the presence key it goes under, by default the
 * signer's own (`participantId`); another is a squatter's, which no page believes.
 */
export function presenceMeta({ link, id: under, role, joinedAt, profile, signer, nonce, seat = false, salt = null }) {
  const id = under ?? participantId({ link, signer, joinedAt, salt });
  // Keys in sorted order, as the app's JSON maps write them. `seat`: the controller's seat
  // proof made with the link's controller secret (what the app's controllers carry).
  const key = b64u(signer.public);
  const full = { ...profile, key, ...(salt === null ? {} : { join: b64u(salt) }), ...(seat ? { seat: seatProof({ secret: link.controller, session: link.session, id, key }) } : {}) };
  const plain = Buffer.from(JSON.stringify(Object.fromEntries(Object.keys(full).sort().map((k) => [k, full[k]]))));
  const sealed = b64u(seal(link.room, PROFILE_LABEL, [id, role], plain, nonce));
  const statement = Buffer.concat([
    field(META_STATEMENT),
    field(unb64u(link.session)),
    field(id),
    field(role),
    u64(joinedAt),
    field(sealed),
  ]);
  const meta = { role, joined_at: joinedAt, profile: sealed, sig: b64u(signer.sign(statement)), v: WIRE_VERSION };
  // The first host (no handover chain) signs its wire version too.
  if (role === 'host' && profile.chain === undefined) meta.vsig = versionSignature({ link, id, joinedAt, wire: WIRE_VERSION, signer });
  return meta;
}

/**
 * A host's signature of its wire version (`vsig`; core `session::identity`): "PairUX wire
 * version" ‖ session ‖ presence key ‖ join epoch ‖ version, the same in every version.
 */
export function versionSignature({ link, id, joinedAt, wire, signer }) {
  const statement = Buffer.concat([
    field(VERSION_STATEMENT), field(unb64u(link.session)), field(id), u64(joinedAt), u64(wire),
  ]);
  return b64u(signer.sign(statement));
}

/**
 * A chain of host handovers as a host's profile carries it (`chain`; core `session::HostChain`):
 * `steps` are `{ signer, next }` in order, each signer the previous step's next (the first, the
 * holder of the link's host key), each signing "PairUX 1.0 host handover" ‖ session ‖
 * generation ‖ next key.
 */
export function hostChain({ link, steps }) {
  const parts = steps.map(({ signer, next }, i) => {
    const statement = Buffer.concat([
      field(HANDOVER_STATEMENT),
      field(unb64u(link.session)),
      u64(i + 1),
      field(next.public),
    ]);
    return Buffer.concat([next.public, signer.sign(statement)]);
  });
  return b64u(Buffer.concat(parts));
}

/** Opens a tracked profile (null if it does not open with this link's room key). */
export function openProfile(link, id, role, sealed) {
  try {
    return JSON.parse(open(link.room, PROFILE_LABEL, [id, role], unb64u(sealed)).toString());
  } catch {
    return null;
  }
}

/** A participant's X25519 agreement key (private half) from its join key's seed (core `e2ee::rekey`). */
function agreementKey(seed) {
  const secret = Buffer.from(crypto.hkdfSync('sha256', seed, Buffer.alloc(0), Buffer.from('PairUX 1.0 key agreement'), 32));
  return crypto.createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), secret]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** The body of a signal addressed to one participant, sealed to its agreement key `toKx`. */
function privateBody({ link, from, to, kind, seq, bodyBytes, signer, toKx }) {
  const theirs = crypto.createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), toKx]),
    format: 'der',
    type: 'spki',
  });
  const shared = crypto.diffieHellman({ privateKey: agreementKey(signer.seed), publicKey: theirs });
  const info = Buffer.concat([
    Buffer.from('PairUX 1.0 signal to'),
    u32(Buffer.byteLength(from)), Buffer.from(from),
    u32(Buffer.byteLength(to)), Buffer.from(to),
  ]);
  const key = Buffer.from(crypto.hkdfSync('sha256', shared, Buffer.from(link.session), info, 32));
  const cipher = crypto.createCipheriv('aes-256-gcm', key, Buffer.concat([Buffer.alloc(4), u64(seq)]));
  cipher.setAAD(Buffer.from(kind));
  const sealed = Buffer.concat([cipher.update(bodyBytes), cipher.final(), cipher.getAuthTag()]);
  return Buffer.from(b64u(sealed));
}

/**
 * A signal broadcast payload `{from, to, sealed}` as the app sends it: kind and body sealed
 * with the room key (session and routing fields as AAD), signed by `signer`, with join `epoch`
 * and sequence `seq`. `body` is the JSON the kind carries (`null` for none). One addressed to
 * someone (`to`) has its body sealed to that participant's agreement key `toKx` first (core
 * `session::sealed`); without `toKx` it goes unsealed, as a forgery would (the app refuses it
 * either way: see the journeys).
 */
export function signalPayload({ link, from, to = null, kind, body = null, epoch, seq, signer, nonce, toKx = null }) {
  let bodyBytes = Buffer.from(JSON.stringify(body));
  if (to !== null && toKx !== null) bodyBytes = privateBody({ link, from, to, kind, seq, bodyBytes, signer, toKx });
  const statement = Buffer.concat([
    field(SIGNAL_STATEMENT),
    field(link.session),
    field(from),
    field(to),
    field(kind),
    u64(epoch),
    u64(seq),
    field(bodyBytes),
  ]);
  const kindBytes = Buffer.from(kind);
  // After the header, spaces up to a multiple of 64 bytes (the app's padding).
  const rest = 1 + kindBytes.length + bodyBytes.length;
  const padding = Buffer.alloc(Math.ceil(rest / 64) * 64 - rest, ' ');
  const plaintext = Buffer.concat([signer.sign(statement), u64(epoch), u64(seq), Buffer.from([kindBytes.length]), kindBytes, bodyBytes, padding]);
  const sealed = seal(link.room, SIGNAL_LABEL, [link.session, from, to], plaintext, nonce);
  return { from, to, sealed: b64u(sealed) };
}

/**
 * What any holder of the room key reads of a signal payload: the plaintext under the room key's
 * seal (signature, epoch, sequence, kind, body — the body itself sealed again for a signal
 * addressed to one participant). Throws if it does not open.
 */
export function openSignal(link, { from, to = null, sealed }) {
  return open(link.room, SIGNAL_LABEL, [link.session, from, to], unb64u(sealed));
}

/**
 * The kind of a signal payload (`share`, `media_key`, …), as any holder of the room key reads
 * it: after the 64-byte signature, the join epoch and the sequence, one length byte.
 */
export function signalKind(link, payload) {
  const plain = openSignal(link, payload);
  return plain.subarray(81, 81 + plain[80]).toString();
}

/** The DTLS fingerprint an SDP announces, normalised as the app does (`sha-256 AB:…`). */
export function dtlsFingerprint(sdp) {
  const line = sdp.split(/\r?\n/).map((l) => l.trim()).find((l) => l.startsWith('a=fingerprint:'));
  if (!line) return null;
  const [algorithm, value] = line.slice('a=fingerprint:'.length).trim().split(' ');
  return `${algorithm.toLowerCase()} ${value.trim().toUpperCase()}`;
}

/** A controller's seat proof: its participant id and signing key, keyed with the secret. */
export function seatProof({ secret, session, id, key }) {
  const mac = crypto.createHmac('sha256', secret);
  for (const part of [SEAT_LABEL, Buffer.from(session), Buffer.from(id), Buffer.from(key)]) {
    mac.update(u32(part.length));
    mac.update(part);
  }
  return b64u(mac.digest());
}

/** The controller proof over a host nonce, bound to a connection's two fingerprints. */
export function controlProof({ secret, nonce, id, hostFingerprint, participantFingerprint }) {
  const mac = crypto.createHmac('sha256', secret);
  for (const part of [PROOF_LABEL, Buffer.from(nonce), Buffer.from(id), Buffer.from(hostFingerprint), Buffer.from(participantFingerprint)]) {
    mac.update(u32(part.length));
    mac.update(part);
  }
  return b64u(mac.digest());
}
