// Shared paths and helpers for the needle-wasm tests (node --test tests/js/).
// The native build (CLI + generated test data) is NEEDLE_BUILD_DIR, default build/; the
// WebAssembly module must have been copied into js/ by scripts/build_wasm.sh.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { NeedleError } from 'needle-wasm';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUILD = path.resolve(ROOT, process.env.NEEDLE_BUILD_DIR ?? 'build');
export const TESTDATA = path.join(BUILD, 'testdata');
export const CLI = path.join(BUILD, 'needle');
export const TOKENIZER = path.join(TESTDATA, 'tokenizer', 'needle_spm.model');
export const VOCAB = path.join(TESTDATA, 'tokenizer', 'vocab.txt');
export const FIXTURES = path.resolve(ROOT, process.env.NEEDLE_FIXTURES_DIR ?? '../shared/fixtures');
export const WASM = path.join(ROOT, 'js', 'needle_wasm.wasm');

export const model = (name) => path.join(TESTDATA, `${name}.safetensors`);

// The small model trained by train/train.py and committed: the offline default of the demo,
// the examples and the Worker template, and the one whose answers are right.
export const TRAINED_MODEL = {
  weights: path.join(ROOT, 'models', 'needle-tiny', 'needle.safetensors'),
  tokenizer: path.join(ROOT, 'models', 'needle-tiny', 'vocab.txt'),
};

// Fails with the command that makes a missing input, rather than skipping quietly.
export function requireFile(file, howToMake) {
  assert.ok(fs.existsSync(file), `${file} is missing: ${howToMake}`);
  return file;
}

export function requireBuilt() {
  requireFile(WASM, 'run `npm run build` (scripts/build_wasm.sh)');
  requireFile(CLI, `build the native CLI and test data into ${BUILD} (cmake --build ${BUILD}), or set NEEDLE_BUILD_DIR`);
  requireFile(TOKENIZER, `build the test data (cmake --build ${BUILD} --target needle_testdata)`);
}

// The real-weights fixture's {query, tools} pairs, n of them spread over the file.
export function fixtureCases(n) {
  const file = requireFile(path.join(FIXTURES, 'needle_real_e2e_560.json'), 'the shared fixtures are missing');
  const examples = JSON.parse(fs.readFileSync(file, 'utf8')).examples;
  const step = examples.length / n;
  return Array.from({ length: n }, (_, i) => examples[Math.floor(i * step)]);
}

// Calls as {name, arguments} only, for comparing with expected calls.
export const plainCalls = (calls) => calls?.map(({ name, arguments: args }) => ({ name, arguments: args }));

export const WEATHER_TOOLS = [
  { name: 'get_weather', description: 'Get current weather for a city', parameters: { location: { type: 'string' } } },
];

// Runs the native CLI with --json; resolves to its parsed output or {error, code}.
export function runCli(args) {
  return new Promise((resolve) => {
    execFile(CLI, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) resolve({ error: stderr.trim(), status: err.code });
      else resolve(JSON.parse(stdout));
    });
  });
}

// A local HTTP server for URL sources: routes map a path to a file (served with
// Content-Length, optionally slowly, in small chunks) or to a status code.
export async function serve(routes) {
  const server = http.createServer(async (req, res) => {
    const route = routes[new URL(req.url, 'http://x').pathname];
    if (route === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    if (typeof route === 'number') {
      res.writeHead(route).end();
      return;
    }
    const bytes = fs.readFileSync(route.file);
    const headers = { 'content-type': route.type ?? 'application/octet-stream' };
    if (!route.noLength) headers['content-length'] = bytes.length;
    res.writeHead(200, headers);
    const chunk = route.chunk ?? bytes.length;
    for (let i = 0; i < bytes.length && !res.destroyed; i += chunk) {
      res.write(bytes.subarray(i, i + chunk));
      if (route.delayMs) await new Promise((r) => setTimeout(r, route.delayMs));
    }
    res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    url: (p) => `${base}${p}`,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}

export function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), prefix));
}

// Awaits `promise` to reject with a NeedleError of `code` (and a message matching `pattern`).
export async function rejectsWith(promise, code, pattern) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof NeedleError, `expected a NeedleError, got ${e?.stack ?? e}`);
    assert.equal(e.code, code, `code of: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}
