// The Cloudflare Worker template (worker/) in the real workerd runtime: bundled by wrangler
// from a copy of the template whose node_modules/needle-wasm is this repository (as a user's
// install would be), then run by Miniflare offline with the trained offline model (models/needle-tiny)
// behind each of the four model sources. Answers are checked against the same query run under Node.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Miniflare } from 'miniflare';
import { Needle } from 'needle-wasm';

import { ROOT, TRAINED_MODEL, WASM, plainCalls, requireFile, serve, tmpDir } from './helpers.mjs';

requireFile(WASM, 'run `npm run build` (scripts/build_wasm.sh)');
const WEIGHTS = requireFile(TRAINED_MODEL.weights, 'the trained model is committed under models/needle-tiny (train/train.py makes it)');
const VOCAB = TRAINED_MODEL.tokenizer;
const TEMPLATE = path.join(ROOT, 'worker');
const QUERY = "What's the weather in Paris?";
const TOOLS = [
  { type: 'function', function: { name: 'getWeather', description: 'Get the current weather for a city',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } } },
  { name: 'set_timer', description: 'Start a countdown timer', parameters: { minutes: { type: 'integer', required: true } } },
];

// The limits the worker promises (src/index.mjs).
const MAX_BODY_BYTES = 256 * 1024;

let dir;      // the copied template
let dist;     // wrangler's bundle
let compatibilityDate;
let expected; // the same run under Node

before(async () => {
  dir = tmpDir('needle-worker-');
  fs.cpSync(path.join(TEMPLATE, 'src'), path.join(dir, 'src'), { recursive: true });
  fs.copyFileSync(path.join(TEMPLATE, 'wrangler.jsonc'), path.join(dir, 'wrangler.jsonc'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'needle-wasm'), 'dir');
  // The bundle `wrangler deploy` would upload, built offline without an account.
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'wrangler'), ['deploy', '--dry-run', '--outdir', 'dist'], {
    cwd: dir,
    stdio: 'pipe',
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', CI: 'true' },
  });
  dist = path.join(dir, 'dist');
  const bundled = fs.readdirSync(dist);
  assert.ok(bundled.some((f) => f.endsWith('.wasm')), `wrangler did not keep the .wasm as a module: ${bundled}`);
  compatibilityDate = /"compatibility_date"\s*:\s*"([^"]+)"/.exec(fs.readFileSync(path.join(TEMPLATE, 'wrangler.jsonc'), 'utf8'))[1];

  const needle = await Needle.load({ weights: WEIGHTS, tokenizer: VOCAB });
  expected = await needle.run(QUERY, TOOLS);
  needle.dispose();
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// A Miniflare running the bundle; `vars` and bindings are added by each test.
function start(options = {}) {
  return new Miniflare({
    modules: true,
    scriptPath: path.join(dist, 'index.js'),
    modulesRoot: dist,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate,
    cf: false,
    ...options,
  });
}

const modelBytes = () => ({
  'needle.safetensors': new Uint8Array(fs.readFileSync(WEIGHTS)),
  'vocab.txt': new Uint8Array(fs.readFileSync(VOCAB)),
});

function post(mf, body, headers = { 'content-type': 'application/json' }, route = '/v1/dispatch') {
  return mf.dispatchFetch(`http://worker${route}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
}

async function expectAnswer(response) {
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.match(response.headers.get('content-type'), /^application\/json/);
  const body = JSON.parse(text);
  assert.deepEqual(Object.keys(body).sort(), ['calls', 'text', 'timings']);
  assert.equal(body.text, expected.text, 'the worker answers what Node answers');
  assert.deepEqual(body.calls, expected.calls);
  for (const k of ['modelLoadMs', 'encodeMs', 'decodeMs', 'totalMs'])
    assert.ok(Number.isFinite(body.timings[k]) && body.timings[k] >= 0, `timings.${k} = ${body.timings[k]}`);
  return body;
}

async function expectError(response, status, code, pattern) {
  const text = await response.text();
  assert.equal(response.status, status, text);
  assert.match(response.headers.get('content-type'), /^application\/json/, text);
  const { error } = JSON.parse(text);
  assert.equal(error.code, code, text);
  if (pattern) assert.match(error.message, pattern);
  return error;
}

describe('the model from R2 (MODEL_BUCKET)', () => {
  let mf;
  before(async () => {
    mf = start({ r2Buckets: ['MODEL_BUCKET'] });
    const bucket = await mf.getR2Bucket('MODEL_BUCKET');
    for (const [key, bytes] of Object.entries(modelBytes())) await bucket.put(key, bytes);
  });
  after(() => mf?.dispose());

  test('concurrent cold requests share one load; the isolate keeps the model', async () => {
    const bodies = await Promise.all([1, 2, 3].map(() => post(mf, { query: QUERY, tools: TOOLS }).then(expectAnswer)));
    // The trained offline model gets this one right: the caller's tool name, the city copied.
    assert.deepEqual(plainCalls(bodies[0].calls),
                     [{ name: 'getWeather', arguments: { location: 'Paris' } }]);
    // With the objects gone, only a model kept in the isolate can still answer.
    const bucket = await mf.getR2Bucket('MODEL_BUCKET');
    await bucket.delete(['needle.safetensors', 'vocab.txt']);
    const warm = await expectAnswer(await post(mf, { query: QUERY, tools: TOOLS }));
    assert.ok(warm.timings.modelLoadMs <= 5, `a warm request waited ${warm.timings.modelLoadMs} ms for the model`);
  });

  test('options: mode and maxTokens reach the engine', async () => {
    const capped = await post(mf, { query: QUERY, tools: TOOLS, mode: 'off', maxTokens: 3 });
    assert.equal(capped.status, 200);
    const needle = await Needle.load({ weights: WEIGHTS, tokenizer: VOCAB });
    const oracle = await needle.run(QUERY, TOOLS, { mode: 'off', maxTokens: 3 });
    needle.dispose();
    assert.equal((await capped.json()).text, oracle.text);
  });

  test('bad requests are 4xx JSON errors that name the problem', async () => {
    await expectError(await post(mf, '{"query": "x", '), 400, 'bad_json', /not valid JSON/);
    await expectError(await post(mf, new Uint8Array([0x7b, 0xff, 0x7d])), 400, 'bad_json', /UTF-8/);
    await expectError(await post(mf, [1, 2]), 400, 'invalid_request', /JSON object/);
    await expectError(await post(mf, { tools: TOOLS }), 400, 'invalid_request', /"query" is missing/);
    await expectError(await post(mf, { query: '  ', tools: TOOLS }), 400, 'invalid_request', /"query" must be a non-empty string/);
    await expectError(await post(mf, { query: QUERY }), 400, 'invalid_request', /"tools" is missing/);
    await expectError(await post(mf, { query: QUERY, tools: 'get_weather' }), 400, 'invalid_request', /"tools" must be/);
    await expectError(await post(mf, { query: QUERY, tools: TOOLS, mode: 'loose' }), 400, 'invalid_request', /"mode"/);
    await expectError(await post(mf, { query: QUERY, tools: TOOLS, maxTokens: 0 }), 400, 'invalid_request', /"maxTokens"/);
    // The engine's own checks of the tools come back as 400 with its message.
    await expectError(await post(mf, { query: QUERY, tools: [{ description: 'nameless' }] }), 400, 'bad_tools', /name/);
    await expectError(await post(mf, { query: QUERY, tools: [{ name: 'a' }, { name: 'A' }] }), 400, 'bad_tools', /snake_case/);
    await expectError(await post(mf, JSON.stringify({ query: QUERY, tools: TOOLS }), { 'content-type': 'text/plain' }), 415, 'unsupported_media_type', /application\/json/);
  });

  test('oversized bodies are refused, with and without Content-Length', async () => {
    const big = JSON.stringify({ query: QUERY, tools: TOOLS, padding: 'x'.repeat(MAX_BODY_BYTES) });
    await expectError(await post(mf, big), 413, 'body_too_large', new RegExp(`limit is ${MAX_BODY_BYTES}`));
    // A streamed (chunked) body has no Content-Length: counted as it arrives.
    const chunks = [new TextEncoder().encode(big.slice(0, 1000)), new TextEncoder().encode(big.slice(1000))];
    const stream = new ReadableStream({ pull(c) { const next = chunks.shift(); if (next) c.enqueue(next); else c.close(); } });
    const response = await mf.dispatchFetch('http://worker/v1/dispatch', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half',
    });
    await expectError(response, 413, 'body_too_large');
    // Just under the limit still passes.
    const fits = JSON.stringify({ query: QUERY, tools: TOOLS, padding: '' });
    const padded = fits.replace('"padding":""', `"padding":"${'x'.repeat(MAX_BODY_BYTES - fits.length)}"`);
    assert.equal(padded.length, MAX_BODY_BYTES);
    await expectAnswer(await post(mf, padded));
  });

  test('unknown routes are 404, other methods 405', async () => {
    await expectError(await post(mf, { query: QUERY, tools: TOOLS }, undefined, '/v1/other'), 404, 'not_found', /POST \/v1\/dispatch/);
    await expectError(await mf.dispatchFetch('http://worker/'), 404, 'not_found');
    const get = await mf.dispatchFetch('http://worker/v1/dispatch');
    assert.equal(get.headers.get('allow'), 'POST');
    await expectError(get, 405, 'method_not_allowed');
  });
});

test('the model from KV (MODEL_KV)', async () => {
  const mf = start({ kvNamespaces: ['MODEL_KV'] });
  try {
    const kv = await mf.getKVNamespace('MODEL_KV');
    for (const [key, bytes] of Object.entries(modelBytes())) await kv.put(key, bytes);
    await expectAnswer(await post(mf, { query: QUERY, tools: TOOLS }));
  } finally {
    await mf.dispose();
  }
});

test('the model from static assets (ASSETS)', async () => {
  const assets = path.join(dir, 'model');
  fs.mkdirSync(assets, { recursive: true });
  for (const [name, bytes] of Object.entries(modelBytes())) fs.writeFileSync(path.join(assets, name), bytes);
  // As wrangler.jsonc's commented example: the worker runs first, the files stay private.
  const mf = start({ assets: { directory: assets, binding: 'ASSETS', routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true } } });
  try {
    await expectAnswer(await post(mf, { query: QUERY, tools: TOOLS }));
    await expectError(await mf.dispatchFetch('http://worker/needle.safetensors'), 404, 'not_found');
  } finally {
    await mf.dispose();
  }
});

test('the model from URLs (WEIGHTS_URL, TOKENIZER_URL)', async () => {
  const server = await serve({ '/needle.safetensors': { file: WEIGHTS }, '/vocab.txt': { file: VOCAB } });
  const mf = start({ bindings: { WEIGHTS_URL: server.url('/needle.safetensors'), TOKENIZER_URL: server.url('/vocab.txt') } });
  try {
    await expectAnswer(await post(mf, { query: QUERY, tools: TOOLS }));
  } finally {
    await mf.dispose();
    await server.close();
  }
});

test('a missing model is a 503 that says what is missing, and is retried', async () => {
  const none = start();
  try {
    await expectError(await post(none, { query: QUERY, tools: TOOLS }), 503, 'model_unavailable', /no model source is configured/);
  } finally {
    await none.dispose();
  }
  const mf = start({ r2Buckets: ['MODEL_BUCKET'] });
  try {
    await expectError(await post(mf, { query: QUERY, tools: TOOLS }), 503, 'model_unavailable', /MODEL_BUCKET has no object "needle.safetensors"/);
    const bucket = await mf.getR2Bucket('MODEL_BUCKET');
    await bucket.put('needle.safetensors', new Uint8Array(1000));
    await bucket.put('vocab.txt', modelBytes()['vocab.txt']);
    await expectError(await post(mf, { query: QUERY, tools: TOOLS }), 503, 'model_unavailable', /R2 \(MODEL_BUCKET\)/);
    // A failed load is not remembered: once the object is right, the next request loads.
    await bucket.put('needle.safetensors', modelBytes()['needle.safetensors']);
    await expectAnswer(await post(mf, { query: QUERY, tools: TOOLS }));
  } finally {
    await mf.dispose();
  }
});
