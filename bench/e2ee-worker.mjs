// Runs inside a dedicated (module) worker of bench/e2ee.html: times the shipped transform
// worker's SFrame code (dist/pairux-worker*, through its exported FrameBench, which copies each
// frame into wasm and the result out like the transform pump does) and WebCrypto AES-GCM-128 on
// the same frames, then posts the figures. The page is cross-origin isolated, so
// performance.now() has 5 µs resolution here (100 µs otherwise).

import init, { FrameBench } from '/dist/pairux-worker.js';

const params = new URL(self.location.href).searchParams;
const BUDGET = Number(params.get('bytes') ?? 40e6); // bytes per measured pass
const SIZES = [
  ['1k', 1024],
  ['10k', 10 * 1024],
  ['100k', 100 * 1024],
];

function frames(size) {
  const count = Math.max(200, Math.round(BUDGET / size));
  const out = [];
  for (let i = 0; i < count; i++) {
    const f = new Uint8Array(size);
    // getRandomValues fills at most 65,536 bytes per call.
    for (let o = 0; o < size; o += 65536) crypto.getRandomValues(f.subarray(o, Math.min(size, o + 65536)));
    out.push(f);
  }
  return out;
}

const mbPerS = (bytes, ms) => bytes / 1e6 / (ms / 1e3);

function p95(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(0.95 * s.length) - 1)];
}

/** Whether two byte arrays hold the same bytes. */
function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether a protected frame carries its input unencrypted: the input at any offset the header
 * and tag leave room for. (The codec's few clear header bytes stay in clear by design, so the
 * first 16 bytes are not compared.)
 */
function inClear(wire, input) {
  const body = input.subarray(16);
  for (let at = 16; at + body.length <= wire.length; at++) {
    if (sameBytes(wire.subarray(at, at + body.length), body)) return true;
  }
  return false;
}

/**
 * SFrame encryption and decryption of every frame, in batches of 32 (encrypt the batch, then
 * decrypt it) so that memory stays flat; throughput from batch times, per-frame µs from each call.
 * Every decrypted frame must equal its input byte for byte (compared after the batch's timing),
 * and a protected frame with one bit flipped must not decrypt (it is authenticated, not copied).
 */
function sframe(input) {
  const BATCH = 32;
  const bench = new FrameBench();
  const enc = new Float64Array(input.length);
  const dec = new Float64Array(input.length);
  let encMs = 0;
  let decMs = 0;
  let overhead = 0;
  const wire = new Array(BATCH);
  const back = new Array(BATCH);
  for (let start = 0; start < input.length; start += BATCH) {
    const end = Math.min(input.length, start + BATCH);
    const t0 = performance.now();
    for (let i = start; i < end; i++) {
      const s = performance.now();
      wire[i - start] = bench.encrypt(input[i]);
      enc[i] = performance.now() - s;
    }
    const t1 = performance.now();
    for (let i = start; i < end; i++) {
      const s = performance.now();
      back[i - start] = bench.decrypt(wire[i - start]);
      dec[i] = performance.now() - s;
    }
    const t2 = performance.now();
    for (let i = start; i < end; i++) {
      if (!sameBytes(back[i - start], input[i])) throw new Error(`frame ${i} did not decrypt to its input`);
      if (inClear(wire[i - start], input[i])) throw new Error(`frame ${i} went out in clear`);
    }
    encMs += t1 - t0;
    decMs += t2 - t1;
    overhead = wire[0].length - input[start].length;
  }
  const probe = bench.encrypt(input[0]);
  const tampered = probe.slice();
  tampered[tampered.length - 1] ^= 1;
  if (bench.decrypt(tampered).length !== 0) throw new Error('a tampered frame decrypted');
  if (!sameBytes(bench.decrypt(probe), input[0])) throw new Error('the probe frame did not decrypt to its input');
  bench.free();
  return { encMs, decMs, enc, dec, overhead };
}

/** AES-GCM-128 via crypto.subtle, one awaited call per frame (as a JS transform would). */
async function webcrypto(input) {
  const key = await crypto.subtle.importKey('raw', new Uint8Array(16).fill(7), 'AES-GCM', false, [
    'encrypt',
  ]);
  const iv = new Uint8Array(12);
  const aad = new Uint8Array(4);
  const t0 = performance.now();
  for (let i = 0; i < input.length; i++) {
    new DataView(iv.buffer).setUint32(8, i);
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, input[i]);
  }
  return performance.now() - t0;
}

async function run() {
  await init({ module_or_path: '/dist/pairux-worker_bg.wasm' });
  const figures = {};
  for (const [label, size] of SIZES) {
    const input = frames(size);
    const bytes = input.length * size;
    sframe(input.slice(0, Math.min(input.length, 200))); // warm-up (JIT, allocator)
    const s = sframe(input);
    figures[`sframe_encrypt_mb_s_${label}`] = Math.round(mbPerS(bytes, s.encMs) * 10) / 10;
    figures[`sframe_decrypt_mb_s_${label}`] = Math.round(mbPerS(bytes, s.decMs) * 10) / 10;
    await webcrypto(input.slice(0, 100)); // warm-up
    const w = await webcrypto(input);
    figures[`webcrypto_mb_s_${label}`] = Math.round(mbPerS(bytes, w) * 10) / 10;
    figures[`frames_${label}`] = input.length;
    if (label === '100k') {
      // One frame takes well under the 100 µs a page that is not cross-origin isolated can
      // time: there these figures would be the clock's steps, not measurements.
      const fine = self.crossOriginIsolated;
      figures.per_frame_us_p95_100k = fine ? Math.round(p95(s.enc) * 1000) : null;
      figures.per_frame_decrypt_us_p95_100k = fine ? Math.round(p95(s.dec) * 1000) : null;
    }
    figures.sframe_overhead_bytes = s.overhead;
  }
  figures.cross_origin_isolated = self.crossOriginIsolated;
  return figures;
}

run().then(
  (figures) => self.postMessage({ figures }),
  (err) => self.postMessage({ error: String(err && err.stack ? err.stack : err) }),
);
