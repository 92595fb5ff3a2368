// The test pattern: a 1280×720 canvas with a moving, text-heavy picture (the content a
// pair-programming share carries) and the time code, redrawn at 30 fps. One module for the
// app's "Share a test pattern" (Trunk copies it next to the app; src/platform/media.rs imports
// it) and every benchmark floor page, so both sides send the same pixels stamped by the same
// sub-millisecond clock.

import { draw as drawTimecode, wallMs } from './timecode.mjs';

export const WIDTH = 1280;
export const HEIGHT = 720;
export const FPS = 30;

const LINES = [
  'fn main() -> Result<(), Error> {',
  '    let session = Session::open(link)?;',
  '    for frame in session.frames() {',
  '        let latency = now() - frame.capture_time;',
  '        println!("{latency:.1} ms");',
  '    }',
  '    Ok(())',
  '}',
];

/** Starts drawing on `canvas`; returns a stop function. */
export function startPattern(canvas) {
  canvas.width = WIDTH;
  canvas.height = HEIGHT;
  const ctx = canvas.getContext('2d');
  let n = 0;
  const paint = () => {
    n++;
    ctx.fillStyle = '#1e1e2e';
    ctx.fillRect(0, 0, WIDTH, HEIGHT);
    ctx.font = '18px monospace';
    ctx.fillStyle = '#cdd6f4';
    const scroll = n % 24;
    for (let row = 0; row < 28; row++) {
      ctx.fillText(`${String(row + n).padStart(4)}  ${LINES[(row + n) % LINES.length]}`, 24, 60 + row * 24 - scroll);
    }
    ctx.fillStyle = '#f38ba8';
    ctx.fillRect(700 + 400 * Math.abs(Math.sin(n / 45)), 120 + 400 * Math.abs(Math.cos(n / 60)), 120, 120);
    ctx.fillStyle = '#a6e3a1';
    ctx.font = '28px sans-serif';
    ctx.fillText(`frame ${n}`, 1060, 700);
    // Last, so the code carries the time the finished frame was handed to the canvas.
    drawTimecode(ctx, wallMs());
  };
  paint();
  const timer = setInterval(paint, 1000 / FPS);
  return () => clearInterval(timer);
}
