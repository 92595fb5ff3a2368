// Writes bench/lib/code-page.json, the description of the legibility benchmark's code pages
// (see bench/lib/code-page.mjs for what the description means and who draws it). Run once; the
// JSON is committed and is the one source of truth. Deterministic: the text comes from two Rust
// files of this repository at a fixed commit (`git show`), highlighted by the small tokenizer
// below, laid out as an editor with two panes side by side; page k shows each file scrolled
// down by k pages.
//
//   node bench/lib/code-page-gen.mjs > bench/lib/code-page.json

import { execFileSync } from 'node:child_process';

const COMMIT = 'ea3d0c0';
const FILES = ['crates/core/src/session/host.rs', 'crates/core/src/session/guest.rs'];
const PAGES = 8;

const WIDTH = 1920;
const HEIGHT = 1080;
const FONT = '13px monospace';
const LINE = 18; // px between baselines
const TAB_BAR = 30;
const STATUS_BAR = 22;
const ROWS = Math.floor((HEIGHT - TAB_BAR - STATUS_BAR) / LINE); // 57
const PANE_COLS = 122; // columns of one pane, gutter included (at ~7.8 px: 952 px)
const GUTTER = 6; // "  123 "

// Catppuccin Mocha, a common dark editor theme.
const PALETTE = {
  text: '#cdd6f4',
  keyword: '#cba6f7',
  string: '#a6e3a1',
  number: '#fab387',
  type: '#f9e2af',
  function: '#89b4fa',
  comment: '#7f849c',
  macro: '#94e2d5',
  attribute: '#f38ba8',
  gutter: '#585b70',
  tab: '#bac2de',
  status: '#a6adc8',
};
const NAMES = Object.keys(PALETTE);
const colour = (name) => NAMES.indexOf(name);

const KEYWORDS = new Set(
  ('as async await break const continue crate dyn else enum extern false fn for if impl in let ' +
    'loop match mod move mut pub ref return self Self static struct super trait true type unsafe ' +
    'use where while').split(' '),
);

/** ASCII only, so every glyph comes from the monospace font (columns stay exact). */
function ascii(line) {
  const map = { '→': '->', '←': '<-', '—': '-', '–': '-', '…': '...', '×': 'x', '≤': '<=', '≥': '>=', '’': "'", '“': '"', '”': '"', '·': '.' };
  return [...line].map((c) => (c.charCodeAt(0) < 128 ? c : map[c] ?? '?')).join('');
}

/** Splits a line of Rust into [colour name, text] runs (line-local: good enough for colours). */
function tokenize(line) {
  const runs = [];
  const push = (name, text) => {
    if (!text) return;
    const last = runs[runs.length - 1];
    if (last && last[0] === name) last[1] += text;
    else runs.push([name, text]);
  };
  let i = 0;
  while (i < line.length) {
    const rest = line.slice(i);
    let m;
    if (rest.startsWith('//')) {
      push('comment', rest);
      break;
    } else if ((m = /^#!?\[[^\]]*\]?/.exec(rest))) {
      push('attribute', m[0]);
    } else if ((m = /^"(?:[^"\\]|\\.)*"?/.exec(rest))) {
      push('string', m[0]);
    } else if ((m = /^'(?:[^'\\]|\\.)'/.exec(rest))) {
      push('string', m[0]);
    } else if ((m = /^'[a-z_]+/.exec(rest))) {
      push('attribute', m[0]);
    } else if ((m = /^\d[\d_]*(?:\.\d+)?(?:[ui](?:8|16|32|64|size)|f64|f32)?/.exec(rest))) {
      push('number', m[0]);
    } else if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest))) {
      const word = m[0];
      const next = line[i + word.length];
      if (KEYWORDS.has(word)) push('keyword', word);
      else if (next === '!') push('macro', `${word}!`), (i += 1);
      else if (next === '(') push('function', word);
      else if (/^[A-Z]/.test(word)) push('type', word);
      else push('text', word);
      i += word.length;
      continue;
    } else {
      push('text', rest[0]);
      i += 1;
      continue;
    }
    i += m[0].length;
  }
  return runs;
}

const sources = FILES.map((f) =>
  execFileSync('git', ['show', `${COMMIT}:${f}`], { encoding: 'utf8' }).split('\n').map(ascii),
);

/** One page: rects [x, y, w, h, colour] and texts [row, col, colour index, text]. */
function page(k) {
  const texts = [];
  // Tab bar: the file names; status bar: position and mode, like an editor's.
  FILES.forEach((f, p) => {
    texts.push([-1, p * PANE_COLS + 2, colour('tab'), `${f.split('/').pop()}  x`]);
    texts.push([ROWS, p * PANE_COLS + 2, colour('status'), `${f}   Ln ${k * ROWS + 1}, Col 1   UTF-8   LF   Rust`]);
  });
  FILES.forEach((_, p) => {
    const lines = sources[p];
    for (let row = 0; row < ROWS; row++) {
      const n = k * ROWS + row;
      if (n >= lines.length) break;
      const base = p * PANE_COLS;
      texts.push([row, base, colour('gutter'), String(n + 1).padStart(GUTTER - 1)]);
      let col = base + GUTTER;
      const text = lines[n].slice(0, PANE_COLS - GUTTER - 1);
      for (const [name, run] of tokenize(text)) {
        if (run.trim()) texts.push([row, col, colour(name), run]);
        col += run.length;
      }
    }
  });
  return texts;
}

const description = {
  // What code-page.mjs and src/platform/media.rs draw, in this order: the background, the
  // rects, then each text at x = left + col * advance (advance: measureText("0") of the font),
  // baseline y = top + row * line.
  width: WIDTH,
  height: HEIGHT,
  background: '#1e1e2e',
  font: FONT,
  left: 8,
  top: TAB_BAR + 14,
  line: LINE,
  palette: NAMES.map((n) => PALETTE[n]),
  rects: [
    [0, 0, WIDTH, TAB_BAR, '#181825'],
    [0, HEIGHT - STATUS_BAR, WIDTH, STATUS_BAR, '#11111b'],
    [WIDTH / 2 - 2, TAB_BAR, 1, HEIGHT - TAB_BAR - STATUS_BAR, '#45475a'],
  ],
  source: `${FILES.join(', ')} at ${COMMIT}`,
  pages: Array.from({ length: PAGES }, (_, k) => page(k)),
};

process.stdout.write(`${JSON.stringify(description)}\n`);
