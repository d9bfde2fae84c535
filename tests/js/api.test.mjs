// The npm API: every way to hand over the inputs, streaming, aborting, and every error path
// (each a NeedleError with the core's code, and the instance still usable afterwards).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { Needle, NeedleAbortError, NeedleError } from 'needle-wasm';

import { TOKENIZER, VOCAB, WASM, WEATHER_TOOLS, fixtureCases, model, rejectsWith, requireBuilt, serve, tmpDir } from './helpers.mjs';

requireBuilt();
const TINY = model('tiny');
const QUERY = "What's the weather in Paris?";

describe('loading', () => {
  let expected;  // the reference answer: weights and tokenizer loaded from paths
  before(async () => {
    const n = await Needle.load({ weights: TINY, tokenizer: TOKENIZER });
    expected = await n.run(QUERY, WEATHER_TOOLS, { maxTokens: 24 });
    n.dispose();
  });

  const sources = {
    'file paths': () => ({ weights: TINY, tokenizer: TOKENIZER }),
    'file: URLs': () => ({ weights: pathToFileURL(TINY), tokenizer: pathToFileURL(TOKENIZER).href }),
    'ArrayBuffers': () => ({ weights: new Uint8Array(fs.readFileSync(TINY)).buffer, tokenizer: new Uint8Array(fs.readFileSync(TOKENIZER)).buffer }),
    'Buffers (views at an offset)': () => ({ weights: fs.readFileSync(TINY), tokenizer: Buffer.concat([Buffer.from('xxxx'), fs.readFileSync(TOKENIZER)]).subarray(4) }),
    'Blobs': () => ({ weights: new Blob([fs.readFileSync(TINY)]), tokenizer: new Blob([fs.readFileSync(TOKENIZER)]) }),
    'Responses': () => ({ weights: new Response(fs.readFileSync(TINY)), tokenizer: new Response(fs.readFileSync(TOKENIZER)) }),
    'the text vocabulary': () => ({ weights: TINY, tokenizer: VOCAB }),
  };
  for (const [name, make] of Object.entries(sources)) {
    test(`from ${name}`, async () => {
      const n = await Needle.load(make());
      try {
        assert.deepEqual(await n.run(QUERY, WEATHER_TOOLS, { maxTokens: 24 }).then((r) => r.tokens), expected.tokens);
      } finally {
        n.dispose();
      }
    });
  }

  test('over HTTP, with progress for both files (with and without Content-Length)', async () => {
    const server = await serve({
      '/w': { file: TINY, chunk: 64 << 10 },
      '/t': { file: TOKENIZER, chunk: 16 << 10, noLength: true },
    });
    try {
      const events = [];
      const n = await Needle.load({ weights: server.url('/w'), tokenizer: new URL(server.url('/t')), onProgress: (p) => events.push(p) });
      assert.deepEqual((await n.run(QUERY, WEATHER_TOOLS, { maxTokens: 24 })).tokens, expected.tokens);
      n.dispose();
      const size = fs.statSync(TINY).size;
      const w = events.filter((e) => e.file === 'weights');
      assert.ok(w.length >= 4, `${w.length} weights progress events`);
      assert.ok(w.every((e) => e.total === size), 'weights total is the Content-Length');
      assert.ok(w.every((e, i) => i === 0 || e.loaded >= w[i - 1].loaded), 'loaded only grows');
      assert.equal(w.at(-1).loaded, size);
      const t = events.filter((e) => e.file === 'tokenizer');
      assert.equal(t.at(-1).loaded, fs.statSync(TOKENIZER).size);
      assert.equal(t.at(-1).total, t.at(-1).loaded, 'without Content-Length the last event gives the total');
    } finally {
      await server.close();
    }
  });

  test('the wasm from bytes, a compiled Module, a path and a URL', async () => {
    const bytes = fs.readFileSync(WASM);
    const server = await serve({ '/needle.wasm': { file: WASM, type: 'application/wasm' } });
    try {
      for (const wasm of [bytes, await WebAssembly.compile(bytes), WASM, server.url('/needle.wasm')]) {
        const n = await Needle.load({ weights: TINY, tokenizer: TOKENIZER, wasm });
        assert.deepEqual((await n.run(QUERY, WEATHER_TOOLS, { maxTokens: 24 })).tokens, expected.tokens);
        n.dispose();
      }
    } finally {
      await server.close();
    }
  });

  test('abort: before the call, and while downloading', async () => {
    await rejectsWith(Needle.load({ weights: TINY, tokenizer: TOKENIZER, signal: AbortSignal.abort() }), 'aborted');
    const server = await serve({ '/slow': { file: TINY, chunk: 4096, delayMs: 5 }, '/t': { file: TOKENIZER } });
    try {
      const controller = new AbortController();
      const loading = Needle.load({
        weights: server.url('/slow'),
        tokenizer: server.url('/t'),
        signal: controller.signal,
        onProgress: (p) => { if (p.file === 'weights' && p.loaded > 64 << 10) controller.abort(); },
      });
      await assert.rejects(loading, (e) => e instanceof NeedleAbortError && e.code === 'aborted' && e.name === 'AbortError');
    } finally {
      await server.close();
    }
  });

  test('bad inputs are named errors', async () => {
    const tmp = tmpDir('needle-api-');
    const truncated = path.join(tmp, 'truncated.safetensors');
    fs.writeFileSync(truncated, fs.readFileSync(TINY).subarray(0, 5000));
    // A vocabulary of 300 pieces for a model of 8192: loads as a tokenizer, wrong for the model.
    const smallVocab = path.join(tmp, 'vocab.txt');
    fs.writeFileSync(smallVocab, fs.readFileSync(VOCAB, 'utf8').split('\n').slice(0, 300).join('\n') + '\n');
    const server = await serve({ '/gone': 404 });
    try {
      await rejectsWith(Needle.load({ weights: new Uint8Array(1000).fill(7), tokenizer: TOKENIZER }), 'bad_weights');
      await rejectsWith(Needle.load({ weights: new Uint8Array(0), tokenizer: TOKENIZER }), 'bad_weights');
      await rejectsWith(Needle.load({ weights: truncated, tokenizer: TOKENIZER }), 'bad_weights');
      await rejectsWith(Needle.load({ weights: TINY, tokenizer: smallVocab }), 'bad_tokenizer', /wrong vocab/);
      await rejectsWith(Needle.load({ weights: TINY, tokenizer: new Uint8Array([1, 2, 3]) }), 'bad_tokenizer');
      await rejectsWith(Needle.load({ weights: path.join(tmp, 'missing.safetensors'), tokenizer: TOKENIZER }), 'io', /missing\.safetensors/);
      await rejectsWith(Needle.load({ weights: server.url('/gone'), tokenizer: TOKENIZER }), 'io', /404/);
      await rejectsWith(Needle.load({ weights: TINY, tokenizer: TOKENIZER, wasm: new Uint8Array([0, 97, 115, 109]) }), 'io', /compile/);
      await rejectsWith(Needle.load({ weights: 42, tokenizer: TOKENIZER }), 'invalid_argument');
      await rejectsWith(Needle.load({ tokenizer: TOKENIZER }), 'invalid_argument', /weights/);
      await rejectsWith(Needle.load(), 'invalid_argument');
    } finally {
      await server.close();
      fs.rmSync(tmp, { recursive: true });
    }
  });
});

describe('a loaded model', () => {
  let needle;
  let reference;
  before(async () => {
    needle = await Needle.load({ weights: TINY, tokenizer: TOKENIZER });
    reference = await needle.run(QUERY, WEATHER_TOOLS, { maxTokens: 40 });
  });
  after(() => needle.dispose());

  test('info describes the model', () => {
    assert.equal(needle.info.vocabSize, 8192);
    assert.equal(needle.info.kernels, 'simd128');
    assert.equal(needle.info.embedding, 'mean_pool');
    assert.ok(needle.info.loadMs > 0);
  });

  test('run: text, calls, tokens, timings; typed mode answers with calls of the given tools', () => {
    assert.equal(typeof reference.text, 'string');
    assert.ok(reference.tokens.length > 0 && reference.tokens.length <= 40);
    assert.ok(reference.encoderTokens > 5);
    for (const k of ['loadMs', 'encodeMs', 'decodeMs']) assert.ok(reference.timings[k] >= 0, k);
    // Typed decoding keeps the output a list of calls of get_weather, even from random weights.
    assert.ok(Array.isArray(reference.calls));
    for (const call of reference.calls) assert.equal(call.name, 'get_weather');
    assert.deepEqual(reference.violations, []);
  });

  test('tools as a JSON string, one object, or an OpenAI list give the same ids', async () => {
    const openai = [{ type: 'function', function: { name: 'get_weather', description: 'Get current weather for a city', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: [] } } }];
    for (const tools of [JSON.stringify(WEATHER_TOOLS), WEATHER_TOOLS[0]]) {
      assert.deepEqual((await needle.run(QUERY, tools, { maxTokens: 40 })).tokens, reference.tokens);
    }
    // The OpenAI form canonicalises with "required": false added, so it is only checked to run.
    assert.ok((await needle.run(QUERY, openai, { maxTokens: 8 })).tokens.length > 0);
  });

  test('modes and maxTokens are forwarded', async () => {
    const off = await needle.run(QUERY, WEATHER_TOOLS, { maxTokens: 40, mode: 'off' });
    const strict = await needle.run(QUERY, WEATHER_TOOLS, { maxTokens: 40, mode: 'strict' });
    assert.notDeepEqual(off.tokens, reference.tokens, 'unconstrained random weights should not happen to match typed');
    assert.ok(Array.isArray(strict.tokens));
    assert.equal((await needle.run(QUERY, WEATHER_TOOLS, { maxTokens: 3 })).tokens.length, 3);
  });

  test('stream: the ids of run, and pieces that add up to its text', async () => {
    for (const { query, tools } of fixtureCases(12)) {
      for (const mode of ['typed', 'off']) {
        const full = await needle.run(query, tools, { maxTokens: 60, mode });
        const pieces = [];
        const it = needle.stream(query, tools, { maxTokens: 60, mode });
        let step;
        while (!(step = await it.next()).done) pieces.push(step.value);
        assert.deepEqual(pieces.map((p) => p.id), full.tokens);
        assert.deepEqual(step.value.tokens, full.tokens, 'the iterator returns the result');
        const streamed = pieces.map((p) => p.text).join('');
        // The final text is the streamed text trimmed, with the caller's tool names put back
        // (so equal when they are snake_case already).
        const names = [JSON.parse(tools)].flat().map((t) => t.name ?? t.function?.name);
        if (mode === 'off' || names.every((n) => /^[a-z0-9_]+$/.test(n))) assert.equal(streamed.trim(), full.text);
        else assert.ok(streamed.trim().length > 0);
        for (const p of pieces) assert.ok(!p.text.includes('\uFFFD') || full.text.includes('\uFFFD'), 'no split characters');
      }
    }
  });

  test('onToken sees every id; returning false stops', async () => {
    const seen = [];
    const r = await needle.run(QUERY, WEATHER_TOOLS, { maxTokens: 40, onToken: (t) => { seen.push(t.id); } });
    assert.deepEqual(seen, r.tokens);
    assert.deepEqual(r.tokens, reference.tokens);
    const stopped = await needle.run(QUERY, WEATHER_TOOLS, { maxTokens: 40, onToken: () => false });
    assert.equal(stopped.tokens.length, 1);
  });

  test('abort: a signal aborted before, or during generation', async () => {
    await rejectsWith(needle.run(QUERY, WEATHER_TOOLS, { signal: AbortSignal.abort() }), 'aborted');
    const controller = new AbortController();
    let calls = 0;
    await rejectsWith(needle.run(QUERY, WEATHER_TOOLS, {
      maxTokens: 40, signal: controller.signal, onToken: () => { if (++calls === 3) controller.abort(); },
    }), 'aborted');
    assert.equal(calls, 3, 'generation stopped at the next id');
    const it = needle.stream(QUERY, WEATHER_TOOLS, { signal: AbortSignal.abort() });
    await rejectsWith(it.next(), 'aborted');
    // and the instance goes on as before
    assert.deepEqual((await needle.run(QUERY, WEATHER_TOOLS, { maxTokens: 40 })).tokens, reference.tokens);
  });

  test('a throwing onToken rejects the call and leaves the instance usable', async () => {
    const boom = new Error('boom');
    await assert.rejects(needle.run(QUERY, WEATHER_TOOLS, { onToken: () => { throw boom; } }), (e) => e === boom);
    assert.deepEqual((await needle.run(QUERY, WEATHER_TOOLS, { maxTokens: 40 })).tokens, reference.tokens);
  });

  test('every call error is a NeedleError, and the instance stays usable', async () => {
    const cases = [
      [() => needle.run('', WEATHER_TOOLS), 'invalid_argument', /query is empty/],
      [() => needle.run('x'.repeat((1 << 20) + 1), WEATHER_TOOLS), 'invalid_argument', /limit/],
      [() => needle.run(QUERY, '[{"name": "a",'), 'bad_tools', /invalid JSON/],
      [() => needle.run(QUERY, '[{"description": "no name"}]'), 'bad_tools', /name/],
      [() => needle.run(QUERY, [{ name: 'getWeather' }, { name: 'get_weather' }]), 'bad_tools'],
      [() => needle.run(QUERY), 'invalid_argument', /tools/],
      [() => needle.run(42, WEATHER_TOOLS), 'invalid_argument', /query/],
      [() => needle.run(QUERY, WEATHER_TOOLS, { maxTokens: -1 }), 'invalid_argument', /maxTokens/],
      [() => needle.run(QUERY, WEATHER_TOOLS, { maxTokens: 2.5 }), 'invalid_argument', /maxTokens/],
      [() => needle.run(QUERY, WEATHER_TOOLS, { mode: 'loose' }), 'invalid_argument', /mode/],
      [() => needle.retrieveTools(QUERY, ['a', 3]), 'invalid_argument', /descriptions/],
      [() => needle.retrieveTools('', ['a']), 'invalid_argument', /query is empty/],
      [() => needle.retrieveTools(QUERY, ['a'], -2), 'invalid_argument', /k must be/],
      [() => needle.embed(null), 'invalid_argument'],
    ];
    for (const [call, code, pattern] of cases) {
      await rejectsWith(call(), code, pattern);
      assert.deepEqual((await needle.run(QUERY, WEATHER_TOOLS, { maxTokens: 40 })).tokens, reference.tokens);
    }
  });

  test('a query far over the encoder length still answers (truncated, NEEDLE.md section 5)', async () => {
    const r = await needle.run('weather '.repeat(100_000), WEATHER_TOOLS, { maxTokens: 4 });
    assert.equal(r.encoderTokens, needle.info.maxEncLen);
  });

  test('runBatch: one result or error per item, in order', async () => {
    const results = await needle.runBatch([
      { query: QUERY, tools: WEATHER_TOOLS, options: { maxTokens: 40 } },
      { query: '', tools: WEATHER_TOOLS },
      { query: QUERY, tools: '[bad' },
      { query: QUERY, tools: JSON.stringify(WEATHER_TOOLS), options: { maxTokens: 5, mode: 'off' } },
    ]);
    assert.equal(results.length, 4);
    assert.deepEqual(results[0].tokens, reference.tokens);
    assert.ok(results[1] instanceof NeedleError && results[1].code === 'invalid_argument');
    assert.ok(results[2] instanceof NeedleError && results[2].code === 'bad_tools');
    assert.equal(results[3].tokens.length, 5);
  });

  test('retrieveTools and embed agree with each other', async () => {
    const descriptions = ['Get the current weather for a city', 'Send an email to a contact', 'Set a timer', 'Play a song'];
    const ranked = await needle.retrieveTools('weather in Paris', descriptions);
    assert.equal(ranked.length, 4);
    assert.deepEqual(ranked.map((r) => r.index).sort(), [0, 1, 2, 3]);
    for (let i = 1; i < ranked.length; i++) assert.ok(ranked[i - 1].score >= ranked[i].score);
    assert.equal((await needle.retrieveTools('weather in Paris', descriptions, 2)).length, 2);
    // The scores are the cosines of the embeddings (unit vectors: dot products).
    const q = await needle.embed('weather in Paris');
    assert.ok(q instanceof Float32Array && q.length === needle.info.dModel);
    assert.ok(Math.abs(q.reduce((s, x) => s + x * x, 0) - 1) < 1e-4, 'unit length');
    for (const r of ranked) {
      const d = await needle.embed(r.description);
      const dot = q.reduce((s, x, i) => s + x * d[i], 0);
      assert.ok(Math.abs(dot - r.score) < 1e-4, `score ${r.score} vs cosine ${dot}`);
      assert.equal(r.description, descriptions[r.index]);
    }
  });
});

test('the retrieval head is used when the model has one', async () => {
  const n = await Needle.load({ weights: model('tiny_retrieval'), tokenizer: TOKENIZER });
  try {
    assert.equal(n.info.embedding, 'head');
    const v = await n.embed('weather');
    assert.ok(Math.abs(v.reduce((s, x) => s + x * x, 0) - 1) < 1e-4);
  } finally {
    n.dispose();
  }
});

test('a disposed instance answers not_loaded; dispose is idempotent', async () => {
  const n = await Needle.load({ weights: TINY, tokenizer: TOKENIZER });
  n.dispose();
  n.dispose();
  assert.deepEqual(n.memory, { wasmBytes: 0, heapInUseBytes: 0 });
  await rejectsWith(n.run(QUERY, WEATHER_TOOLS), 'not_loaded');
  await rejectsWith(n.stream(QUERY, WEATHER_TOOLS).next(), 'not_loaded');
  await rejectsWith(n.embed('x'), 'not_loaded');
  await rejectsWith(n.retrieveTools('x', ['a']), 'not_loaded');
  await rejectsWith(n.runBatch([]), 'not_loaded');
});
