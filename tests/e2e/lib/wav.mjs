// A fake microphone's file for Chromium (`--use-file-for-fake-audio-capture`, looped).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const WAV_RATE = 48_000;

/**
 * Writes `seconds` of 48 kHz mono 16-bit PCM to a new temporary `<name>.wav` and returns its
 * path; `sample(i)` is sample i in −1..1. The file goes when this process exits (the browser
 * that plays it is gone by then).
 */
export function writeWav(name, seconds, sample) {
  const n = WAV_RATE * seconds;
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.round(sample(i) * 32767), i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(WAV_RATE, 24);
  header.writeUInt32LE(WAV_RATE * 2, 28); // bytes per second
  header.writeUInt16LE(2, 32); // bytes per frame
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  const dir = mkdtempSync(path.join(tmpdir(), `pairux-${name}-`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, `${name}.wav`);
  writeFileSync(file, Buffer.concat([header, data]));
  return file;
}
