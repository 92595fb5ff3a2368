// Percentiles and rounding for the figures.

/** Nearest-rank percentile of a non-empty array (not mutated). */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export const round1 = (x) => (x === null || x === undefined ? null : Math.round(x * 10) / 10);

/** `{ <prefix>_p50: …, … }` for the given percentiles, rounded to 0.1 ms. */
export function percentiles(prefix, values, ps) {
  const out = {};
  for (const p of ps) out[`${prefix}_p${p}`] = values.length ? round1(percentile(values, p)) : null;
  return out;
}

/** The most frequent key of a `{ key: count }` map. */
export function mostFrequent(counts) {
  let best = null;
  for (const [k, n] of Object.entries(counts ?? {})) if (best === null || n > counts[best]) best = k;
  return best;
}
