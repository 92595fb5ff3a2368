// The latency plot: an SVG of empirical CDFs (one panel per measure), rendered to PNG by the
// bench's own Chromium (`page.screenshot`), so no plotting dependency is needed.

import { percentile } from './stats.mjs';

const COLORS = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#57606a'];
const W = 620;
const H = 420;
const M = { left: 56, right: 16, top: 40, bottom: 48 };

function niceMax(x) {
  const step = 10 ** Math.floor(Math.log10(Math.max(x, 1)));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * step >= x) return m * step;
  return 10 * step;
}

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * One panel: `series` = [{ label, values }], drawn as CDFs; `marks` = [{ x, label }] dashed
 * vertical lines (targets). Returns an SVG `<g>` of size W×H.
 */
function panel({ title, unit, series, marks = [] }, dx) {
  const drawn = series.filter((s) => s.values.length);
  // The axis spans the data and the first mark; later marks show only if they fall inside.
  const top = Math.max(...drawn.map((s) => percentile(s.values, 99.5)), marks[0]?.x ?? 1);
  const xmax = niceMax(top * 1.05);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x) => M.left + (Math.min(x, xmax) / xmax) * pw;
  const sy = (y) => M.top + (1 - y) * ph;
  const out = [`<g transform="translate(${dx},0)">`];
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="600">${esc(title)}</text>`);
  const unit10 = 10 ** Math.floor(Math.log10(xmax / 6));
  const tick = [1, 2, 5, 10].map((m) => m * unit10).find((t) => t >= xmax / 6);
  for (let x = 0; x <= xmax + 1e-9; x += tick) {
    out.push(`<line x1="${sx(x)}" x2="${sx(x)}" y1="${M.top}" y2="${M.top + ph}" stroke="#eaeef2"/>`);
    out.push(`<text x="${sx(x)}" y="${M.top + ph + 18}" text-anchor="middle" font-size="12">${Math.round(x)}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const y = i / 4;
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eaeef2"/>`);
    out.push(`<text x="${M.left - 6}" y="${sy(y) + 4}" text-anchor="end" font-size="12">${y.toFixed(2)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#57606a"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 10}" text-anchor="middle" font-size="13">${esc(unit)}</text>`);
  out.push(`<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="13">fraction ≤ x</text>`);
  for (const m of marks.filter((m) => m.x <= xmax)) {
    out.push(`<line x1="${sx(m.x)}" x2="${sx(m.x)}" y1="${M.top}" y2="${M.top + ph}" stroke="#57606a" stroke-dasharray="5 4"/>`);
    out.push(`<text transform="translate(${sx(m.x) - 4} ${M.top + 6}) rotate(-90)" text-anchor="end" font-size="11" fill="#57606a">${esc(m.label)}</text>`);
  }
  drawn.forEach((s, i) => {
    const sorted = [...s.values].sort((a, b) => a - b);
    const n = sorted.length;
    let d = `M${sx(0)},${sy(0)}`;
    sorted.forEach((v, k) => { d += ` H${sx(v).toFixed(1)} V${sy((k + 1) / n).toFixed(1)}`; });
    const color = COLORS[i % COLORS.length];
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const p50 = percentile(sorted, 50).toFixed(1);
    const p95 = percentile(sorted, 95).toFixed(1);
    const ly = M.top + ph - 14 - 18 * (drawn.length - 1 - i);
    const lx = M.left + pw * 0.3;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 30}" y="${ly}" font-size="12">${esc(`${s.label}: p50 ${p50}, p95 ${p95} (n=${n})`)}</text>`);
  });
  out.push('</g>');
  return out.join('\n');
}

/** The whole figure: panels side by side, with a caption line. */
export function svg(panels, caption) {
  const width = W * panels.length;
  const height = H + 24;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
${panels.map((p, i) => panel(p, i * W)).join('\n')}
<text x="12" y="${H + 16}" font-size="11" fill="#57606a">${esc(caption)}</text>
</svg>`;
}

/** Renders the SVG to a PNG file with a page of `browser`. */
export async function renderPng(browser, svgText, file) {
  const width = Number(/width="(\d+)"/.exec(svgText)[1]);
  const height = Number(/height="(\d+)"/.exec(svgText)[1]);
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  await page.setContent(`<!doctype html><body style="margin:0">${svgText}</body>`);
  await page.screenshot({ path: file, clip: { x: 0, y: 0, width, height } });
  await context.close();
}
