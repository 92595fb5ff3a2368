// SSIM (Wang, Bovik, Sheikh, Simoncelli 2004) on luma, for the legibility benchmark: an 11×11
// Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03, L = 255, mean over the "valid" windows (those
// wholly inside the image, as in the authors' reference code), at the source's resolution.
// Luma is Y = 0.299 R + 0.587 G + 0.114 B. No imports and no browser APIs: the viewer page and
// node (the unit test) both use it.

const K1 = 0.01;
const K2 = 0.03;
const L = 255;
const C1 = (K1 * L) ** 2;
const C2 = (K2 * L) ** 2;
const RADIUS = 5; // 11 taps
const SIGMA = 1.5;

const KERNEL = (() => {
  const k = new Float64Array(2 * RADIUS + 1);
  let sum = 0;
  for (let i = -RADIUS; i <= RADIUS; i++) sum += k[i + RADIUS] = Math.exp(-(i * i) / (2 * SIGMA * SIGMA));
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
})();

/** Luma (Float32, 0..255) of RGBA bytes. */
export function lumaFromRgba(rgba, width, height) {
  const y = new Float32Array(width * height);
  for (let i = 0, p = 0; i < y.length; i++, p += 4) {
    y[i] = 0.299 * rgba[p] + 0.587 * rgba[p + 1] + 0.114 * rgba[p + 2];
  }
  return y;
}

/**
 * Bilinear resize of a luma plane to `w`×`h` (pixel centres aligned, as canvas and libyuv
 * scale): how a smaller received frame is brought to the source's resolution.
 */
export function resize(src, sw, sh, w, h) {
  if (sw === w && sh === h) return src;
  const out = new Float32Array(w * h);
  const fx = sw / w;
  const fy = sh / h;
  for (let y = 0; y < h; y++) {
    const sy = Math.min(Math.max((y + 0.5) * fy - 0.5, 0), sh - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, sh - 1);
    const wy = sy - y0;
    for (let x = 0; x < w; x++) {
      const sx = Math.min(Math.max((x + 0.5) * fx - 0.5, 0), sw - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, sw - 1);
      const wx = sx - x0;
      const a = src[y0 * sw + x0] * (1 - wx) + src[y0 * sw + x1] * wx;
      const b = src[y1 * sw + x0] * (1 - wx) + src[y1 * sw + x1] * wx;
      out[y * w + x] = a * (1 - wy) + b * wy;
    }
  }
  return out;
}

/**
 * The Gaussian-weighted local mean of `f(i)` over every valid window: a separable filter, rows
 * then columns. Returns a (w − 10)×(h − 10) plane.
 */
function blur(values, w, h) {
  const vw = w - 2 * RADIUS;
  const vh = h - 2 * RADIUS;
  const rows = new Float64Array(vw * h);
  for (let y = 0; y < h; y++) {
    const line = y * w;
    for (let x = 0; x < vw; x++) {
      let s = 0;
      for (let k = 0; k <= 2 * RADIUS; k++) s += KERNEL[k] * values[line + x + k];
      rows[y * vw + x] = s;
    }
  }
  const out = new Float64Array(vw * vh);
  for (let y = 0; y < vh; y++) {
    for (let x = 0; x < vw; x++) {
      let s = 0;
      for (let k = 0; k <= 2 * RADIUS; k++) s += KERNEL[k] * rows[(y + k) * vw + x];
      out[y * vw + x] = s;
    }
  }
  return out;
}

function product(a, b) {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] * b[i];
  return out;
}

/**
 * What SSIM needs of the reference image `ref` (luma, `w`×`h`), computed once for many
 * comparisons: its local means and variances.
 */
export function prepare(ref, w, h) {
  if (w <= 2 * RADIUS || h <= 2 * RADIUS) throw new Error(`image too small for SSIM: ${w}x${h}`);
  const mu = blur(ref, w, h);
  const sq = blur(product(ref, ref), w, h);
  const variance = new Float64Array(mu.length);
  for (let i = 0; i < mu.length; i++) variance[i] = sq[i] - mu[i] * mu[i];
  return { ref, w, h, mu, variance };
}

/**
 * Mean SSIM of luma `img` (same size) against a `prepare`d reference. One horizontal pass
 * filters x, x² and x·ref together; the vertical pass sums the SSIM map without storing it.
 */
export function ssimAgainst(prepared, img) {
  const { ref, w, h, mu: muR, variance: varR } = prepared;
  if (img.length !== w * h) throw new Error(`size mismatch: ${img.length} px vs ${w}x${h}`);
  const vw = w - 2 * RADIUS;
  const vh = h - 2 * RADIUS;
  const n = vw * h;
  const rx = new Float64Array(n);
  const rxx = new Float64Array(n);
  const rxr = new Float64Array(n);
  const taps = 2 * RADIUS + 1;
  for (let y = 0; y < h; y++) {
    const line = y * w;
    for (let x = 0; x < vw; x++) {
      let a = 0;
      let b = 0;
      let c = 0;
      for (let k = 0; k < taps; k++) {
        const v = img[line + x + k];
        const g = KERNEL[k];
        const gv = g * v;
        a += gv;
        b += gv * v;
        c += gv * ref[line + x + k];
      }
      const o = y * vw + x;
      rx[o] = a;
      rxx[o] = b;
      rxr[o] = c;
    }
  }
  let sum = 0;
  for (let y = 0; y < vh; y++) {
    for (let x = 0; x < vw; x++) {
      let mu = 0;
      let sq = 0;
      let cross = 0;
      for (let k = 0; k < taps; k++) {
        const o = (y + k) * vw + x;
        const g = KERNEL[k];
        mu += g * rx[o];
        sq += g * rxx[o];
        cross += g * rxr[o];
      }
      const i = y * vw + x;
      const m = muR[i];
      const varI = sq - mu * mu;
      const cov = cross - mu * m;
      sum += ((2 * mu * m + C1) * (2 * cov + C2)) / ((mu * mu + m * m + C1) * (varI + varR[i] + C2));
    }
  }
  return sum / (vw * vh);
}

/** Mean SSIM of two luma planes of `w`×`h`. */
export function ssim(a, b, w, h) {
  return ssimAgainst(prepare(a, w, h), b);
}
