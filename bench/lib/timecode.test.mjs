// `node --test bench/`: the time code's layout, held by literal vectors (first printed by the
// Rust encoder the app drew with before the app took this module).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode, decode, elapsed } from './timecode.mjs';

const VECTORS = [
  [0, '1011001000000000000000000000000000000000000000000000000000000000'],
  [42, '1011001000000000000000000000000000000000000000000010101000101010'],
  [1_795_676_029_123, '1011001000000001101000100001011010100001110000001100001100010111'],
  [2 ** 48 - 1, '1011001011111111111111111111111111111111111111111111111100000000'],
];

test('cells match the layout and round-trip', () => {
  for (const [ms, bits] of VECTORS) {
    assert.equal(encode(ms).join(''), bits, `encode(${ms})`);
    assert.equal(decode([...bits].map(Number)), ms);
  }
});

test('damaged rows are rejected', () => {
  const cells = encode(1_795_676_029_123);
  for (const i of [0, 7, 8, 30, 55, 56, 63]) {
    const bad = [...cells];
    bad[i] ^= 1;
    assert.equal(decode(bad), null, `cell ${i}`);
  }
  assert.equal(decode([1, 0, 1]), null);
});

test('elapsed crosses the 2^48 wrap', () => {
  assert.equal(elapsed(2 ** 48 - 5, 2 ** 48 + 10), 15);
  assert.equal(elapsed(1000, 1030.5), 30.5);
});
