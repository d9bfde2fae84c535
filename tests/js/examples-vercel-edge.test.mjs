// The Vercel Edge route (examples/vercel-edge/app/api/dispatch/route.js) called with Web
// Requests under Node, as the Edge runtime would call it: the package is resolved with the
// Edge conditions (so js/index.mjs, never node.mjs), `?module` wasm imports give a compiled
// WebAssembly.Module as Vercel's bundler does, and the model comes over HTTP. The answers are
// checked against the same query run by the Node build.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { register } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { Needle } from 'needle-wasm';

import { ROOT, TRAINED_MODEL, WASM, requireFile, serve, tmpDir } from './helpers.mjs';

requireFile(WASM, 'run `npm run build` (scripts/build_wasm.sh)');
const WEIGHTS = requireFile(TRAINED_MODEL.weights, 'the trained model is committed under models/needle-tiny (train/train.py makes it)');
const VOCAB = TRAINED_MODEL.tokenizer;

// What Vercel's bundler does for the Edge runtime, as Node module hooks.
const EDGE_HOOKS = `
const EDGE_CONDITIONS = ['edge-light', 'worker', 'browser', 'import', 'default'];
export async function resolve(specifier, context, next) {
  if (specifier.endsWith('.wasm?module')) {
    const resolved = await next(specifier.slice(0, -'?module'.length), context);
    return { ...resolved, url: resolved.url + '?module', shortCircuit: true };
  }
  const resolved = await next(specifier, { ...context, conditions: EDGE_CONDITIONS });
  if (resolved.url.endsWith('/js/node.mjs')) throw new Error('the Edge route loaded the Node build: ' + specifier);
  return resolved;
}
export async function load(url, context, next) {
  if (url.endsWith('.wasm?module')) {
    const file = JSON.stringify(url.slice(0, -'?module'.length));
    return { format: 'module', shortCircuit: true,
             source: 'import { readFileSync } from "node:fs";' +
                     'export default await WebAssembly.compile(readFileSync(new URL(' + file + ')));' };
  }
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(EDGE_HOOKS)}`);

const QUERY = 'Turn off the kitchen lights';
const TOOLS = [
  { name: 'set_light', description: 'Switch or dim the lights of a room',
    input_schema: { type: 'object', properties: { room: { type: 'string' }, on: { type: 'boolean' } }, required: ['room', 'on'] } },
  { name: 'get_weather', description: 'Get the current weather', parameters: { location: { type: 'string', required: true } } },
];

let dir;
let server;
let routeFile;
let expected;

before(async () => {
  // The template as a user has it: its own package.json, needle-wasm installed beside it.
  dir = tmpDir('needle-vercel-');
  for (const part of ['package.json', 'app']) fs.cpSync(path.join(ROOT, 'examples', 'vercel-edge', part), path.join(dir, part), { recursive: true });
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'needle-wasm'), 'dir');
  routeFile = pathToFileURL(path.join(dir, 'app', 'api', 'dispatch', 'route.js'));
  server = await serve({ '/needle.safetensors': { file: WEIGHTS }, '/vocab.txt': { file: VOCAB } });
  const needle = await Needle.load({ weights: WEIGHTS, tokenizer: VOCAB });
  expected = await needle.run(QUERY, TOOLS);
  needle.dispose();
});

after(async () => {
  await server?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// A fresh instance of the route module (its own model), with the model URLs it reads at import.
async function importRoute(tag, urls) {
  process.env.NEEDLE_WEIGHTS_URL = urls.weights;
  process.env.NEEDLE_TOKENIZER_URL = urls.tokenizer;
  try {
    return await import(`${routeFile}?${tag}`);
  } finally {
    delete process.env.NEEDLE_WEIGHTS_URL;
    delete process.env.NEEDLE_TOKENIZER_URL;
  }
}

const request = (body, headers = { 'content-type': 'application/json' }) => new Request('https://example.vercel.app/api/dispatch', {
  method: 'POST',
  headers,
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

async function expectError(response, status, code, pattern) {
  assert.equal(response.status, status);
  const { error } = await response.json();
  assert.equal(error.code, code, error.message);
  if (pattern) assert.match(error.message, pattern);
}

test('the route answers like the Node build, and keeps the model between requests', async () => {
  const route = await importRoute('ok', { weights: server.url('/needle.safetensors'), tokenizer: server.url('/vocab.txt') });
  assert.equal(route.runtime, 'edge');
  const [a, b] = await Promise.all([route.POST(request({ query: QUERY, tools: TOOLS })), route.POST(request({ query: QUERY, tools: TOOLS }))]);
  for (const response of [a, b]) {
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^application\/json/);
    const body = await response.json();
    assert.deepEqual(Object.keys(body).sort(), ['calls', 'text', 'timings']);
    assert.equal(body.text, expected.text);
    assert.deepEqual(body.calls, expected.calls);
  }
  // Once loaded, the model is not fetched again: the files may go away.
  await server.close();
  const warm = await route.POST(request({ query: QUERY, tools: TOOLS, maxTokens: 4, mode: 'off' }));
  assert.equal(warm.status, 200);
  const body = await warm.json();
  assert.ok(body.timings.modelLoadMs <= 5, `a warm request waited ${body.timings.modelLoadMs} ms for the model`);
  server = await serve({ '/needle.safetensors': { file: WEIGHTS }, '/vocab.txt': { file: VOCAB } });

  await expectError(await route.POST(request('{"query":')), 400, 'bad_json');
  await expectError(await route.POST(request({ tools: TOOLS })), 400, 'invalid_request', /"query"/);
  await expectError(await route.POST(request({ query: QUERY })), 400, 'invalid_request', /"tools"/);
  await expectError(await route.POST(request({ query: QUERY, tools: TOOLS, mode: 'fast' })), 400, 'invalid_request', /"mode"/);
  await expectError(await route.POST(request({ query: QUERY, tools: [{ description: 'nameless' }] })), 400, 'bad_tools', /name/);
  await expectError(await route.POST(request({ query: QUERY, tools: TOOLS }, { 'content-type': 'text/plain' })), 415, 'unsupported_media_type');
  await expectError(await route.POST(request({ query: QUERY, tools: TOOLS, pad: 'x'.repeat(300 * 1024) })), 413, 'body_too_large');
});

test('a model that cannot be fetched is a 503 naming the file, and is retried', async () => {
  const route = await importRoute('missing', { weights: server.url('/gone.safetensors'), tokenizer: server.url('/vocab.txt') });
  await expectError(await route.POST(request({ query: QUERY, tools: TOOLS })), 503, 'model_unavailable', /gone\.safetensors: HTTP 404/);
  await expectError(await route.POST(request({ query: QUERY, tools: TOOLS })), 503, 'model_unavailable', /HTTP 404/);
});
