// `node --test bench/`: the separable SSIM equals a direct, window-by-window computation of the
// paper's formula, is 1 for identical images, and falls with noise and with a shift.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ssim, resize, lumaFromRgba } from './ssim.mjs';

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Direct SSIM: for every valid 11×11 window, weighted statistics straight from the formula. */
function directSsim(a, b, w, h) {
  const g = [];
  for (let i = -5; i <= 5; i++) g.push(Math.exp(-(i * i) / (2 * 1.5 * 1.5)));
  const norm = g.reduce((s, x) => s + x, 0) ** 2;
  const [c1, c2] = [(0.01 * 255) ** 2, (0.03 * 255) ** 2];
  let sum = 0;
  let n = 0;
  for (let y = 0; y + 11 <= h; y++) {
    for (let x = 0; x + 11 <= w; x++) {
      let [ma, mb] = [0, 0];
      for (let j = 0; j < 11; j++) {
        for (let i = 0; i < 11; i++) {
          const wt = (g[i] * g[j]) / norm;
          ma += wt * a[(y + j) * w + x + i];
          mb += wt * b[(y + j) * w + x + i];
        }
      }
      let [va, vb, cov] = [0, 0, 0];
      for (let j = 0; j < 11; j++) {
        for (let i = 0; i < 11; i++) {
          const wt = (g[i] * g[j]) / norm;
          const da = a[(y + j) * w + x + i] - ma;
          const db = b[(y + j) * w + x + i] - mb;
          va += wt * da * da;
          vb += wt * db * db;
          cov += wt * da * db;
        }
      }
      sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      n++;
    }
  }
  return sum / n;
}

function image(w, h, seed) {
  const r = rng(seed);
  const img = new Float32Array(w * h);
  // Text-like: dark background, bright strokes.
  for (let i = 0; i < img.length; i++) img[i] = r() < 0.2 ? 200 + 55 * r() : 30 + 10 * r();
  return img;
}

test('separable SSIM equals the direct computation', () => {
  const [w, h] = [40, 31];
  const a = image(w, h, 1);
  const r = rng(2);
  const b = a.map((v) => Math.min(255, Math.max(0, v + 40 * (r() - 0.5))));
  const fast = ssim(a, b, w, h);
  const slow = directSsim(a, b, w, h);
  assert.ok(Math.abs(fast - slow) < 1e-9, `${fast} vs ${slow}`);
  assert.ok(fast > 0 && fast < 1);
});

test('identical images score 1; noise and a 1-px shift score less', () => {
  const [w, h] = [64, 48];
  const a = image(w, h, 3);
  assert.ok(Math.abs(ssim(a, a, w, h) - 1) < 1e-12);
  const r = rng(4);
  const noisy = a.map((v) => v + 80 * (r() - 0.5));
  const shifted = a.map((_, i) => a[i % w === 0 ? i : i - 1]);
  assert.ok(ssim(a, noisy, w, h) < 0.99);
  assert.ok(ssim(a, shifted, w, h) < ssim(a, noisy, w, h));
});

test('luma weights and bilinear resize', () => {
  const y = lumaFromRgba(new Uint8Array([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255]), 3, 1);
  assert.deepEqual([...y].map((v) => Math.round(v * 1000) / 1000), [76.245, 149.685, 29.07]);
  // 2×1 → 4×1: centres aligned, edges clamped.
  assert.deepEqual([...resize(new Float32Array([0, 100]), 2, 1, 4, 1)], [0, 25, 75, 100]);
  const same = new Float32Array([1, 2, 3]);
  assert.equal(resize(same, 3, 1, 3, 1), same);
});
