#!/usr/bin/env node
// `npm run demo`: serves the demo page (web/), the package it runs (js/) and the bundled model
// as static files on localhost. Usage: node web/serve.mjs [--port N] [--host H] (or PORT=N).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { BUNDLED_MODEL } from './config.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const WEB = fileURLToPath(new URL('./', import.meta.url));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.model': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
};

// Only these trees are served: the page, the package, and where models live.
function allowedDirs() {
  const bundled = [BUNDLED_MODEL.weights, BUNDLED_MODEL.tokenizer].map((p) => path.dirname(path.resolve(WEB, p)));
  return [WEB, path.join(ROOT, 'js'), path.join(ROOT, 'models'), ...bundled].map((d) => path.resolve(d) + path.sep);
}

function resolvePath(urlPath, dirs) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const file = path.resolve(ROOT, '.' + (decoded.endsWith('/') ? `${decoded}index.html` : decoded));
  return dirs.some((d) => file.startsWith(d)) ? file : null;
}

/** Starts the server; resolves to { url, port, close }. `files` maps extra URL paths to
 * files (tests use it to offer other models). */
export async function startServer({ port = 8080, host = '127.0.0.1', files = {} } = {}) {
  const dirs = allowedDirs();
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://localhost');
    if (pathname === '/' || pathname === '/web') {
      res.writeHead(302, { location: '/web/' }).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const file = Object.hasOwn(files, pathname) ? files[pathname] : resolvePath(pathname, dirs);
    let stat;
    try {
      stat = file && fs.statSync(file);
    } catch {
      stat = null;
    }
    if (!stat?.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: ${pathname}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'content-length': stat.size,
      // Always revalidate, so edits show up on reload (the page caches the model itself).
      'cache-control': 'no-cache',
      'last-modified': stat.mtime.toUTCString(),
    });
    if (req.method === 'HEAD') res.end();
    else fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = server.address().port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${actual}/web/`,
    port: actual,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}

// What the page needs that the build makes, with the command that makes it.
function missingInputs() {
  const notes = [];
  if (!fs.existsSync(path.join(ROOT, 'js', 'needle_wasm.wasm'))) notes.push('js/needle_wasm.wasm: run `npm run build`');
  for (const p of [BUNDLED_MODEL.weights, BUNDLED_MODEL.tokenizer]) {
    const file = path.resolve(WEB, p);
    if (!fs.existsSync(file))
      notes.push(`${path.relative(ROOT, file)} (the bundled model): it is committed under models/needle-tiny; train/train.py makes it again`);
  }
  return notes;
}

function parseArgs(argv) {
  const options = { port: Number(process.env.PORT ?? 8080), host: '127.0.0.1' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') options.port = Number(argv[++i]);
    else if (argv[i] === '--host') options.host = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}; usage: node web/serve.mjs [--port N] [--host H]`);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) throw new Error('--port must be 0..65535');
  return options;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const server = await startServer(parseArgs(process.argv.slice(2)));
    for (const note of missingInputs()) console.warn(`warning: missing ${note}`);
    console.log(`Needle demo: ${server.url}  (Ctrl+C stops it)`);
  } catch (e) {
    console.error(`serve: ${e.code === 'EADDRINUSE' ? `${e.address}:${e.port} is in use: pass --port N (0 picks a free port)` : e.message}`);
    process.exit(1);
  }
}
