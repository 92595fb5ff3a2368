// A tiny static file server for bench/ on 127.0.0.1 (the floor page and the reader module the
// app's viewer page imports). CORS is open so a page of pairux-server's origin can import().
// `mounts` serves other directories under a path prefix, e.g. `{ dist: distDir }` puts the
// release build's transform worker at `/dist/pairux-worker_loader.js` (same origin as the
// floor page, as a worker must be).

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

export async function serveDir(dir, mounts = {}) {
  const roots = Object.entries(mounts).map(([prefix, d]) => [`/${prefix}/`, path.resolve(d)]);
  const server = createServer(async (req, res) => {
    let rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let root = path.resolve(dir);
    for (const [prefix, d] of roots) {
      if (rel.startsWith(prefix)) [root, rel] = [d, rel.slice(prefix.length - 1)];
    }
    const file = path.resolve(root, `.${rel}`);
    const type = TYPES[path.extname(file)];
    if (!file.startsWith(root + path.sep) || !type) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': type,
        'access-control-allow-origin': '*',
        'cache-control': 'no-store',
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, close: () => new Promise((resolve) => server.close(resolve)) };
}
