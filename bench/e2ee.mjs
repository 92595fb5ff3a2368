// `cargo xtask bench e2ee`: SFrame throughput of the shipped transform worker, measured inside a
// worker in headless Chromium, next to WebCrypto AES-GCM on the same frames.
//
//   node bench/e2ee.mjs --out target/bench/e2ee.json
//
// Serves bench/ and the release build (PAIRUX_DIST, default dist/) on 127.0.0.1 with
// cross-origin isolation (fine-grained timers), opens bench/e2ee.html, waits for the figures.

import { parseArgs } from 'node:util';
import { createServer } from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, distDir } from '../tests/e2e/lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: 'target/bench/e2ee.json' },
    bytes: { type: 'string', default: '40000000' }, // per measured pass and frame size
  },
});

setTimeout(() => {
  console.error('e2ee bench: gave up after 4 minutes');
  process.exit(3);
}, 240_000).unref();

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** `/bench/*` from bench/, `/dist/*` from the build. */
async function serve() {
  const roots = { bench: here, dist: path.resolve(distDir) };
  const server = createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).split('/').filter(Boolean);
    const root = roots[rel[0]];
    const file = root && path.resolve(root, ...rel.slice(1));
    const type = file && TYPES[path.extname(file)];
    if (!type || !file.startsWith(root + path.sep)) return res.writeHead(404).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': type,
        'cache-control': 'no-store',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
        'cross-origin-resource-policy': 'same-origin',
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

const server = await serve();
const browser = await launchBrowser();
let failed = false;
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.log(`[page] ${m.text()}`));
  await page.goto(`${server.url}/bench/e2ee.html?bytes=${opts.bytes}`);
  const result = await page.evaluate(() => window.__result);
  if (result.error) throw new Error(result.error);
  const figures = { ...result.figures, chromium: browser.version() };
  await mkdir(path.dirname(path.resolve(opts.out)), { recursive: true });
  await writeFile(opts.out, JSON.stringify(figures, null, 2) + '\n');
  console.log(JSON.stringify(figures, null, 2));
  // A figure it could not measure is null in the file, and the command fails.
  const missing = Object.entries(figures).filter(([, v]) => v === null).map(([k]) => k);
  if (missing.length) {
    console.error(`e2ee bench: not measured: ${missing.join(', ')}`);
    failed = true;
  }
} catch (err) {
  console.error(`e2ee bench failed: ${err.stack ?? err}`);
  failed = true;
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
