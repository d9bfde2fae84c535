// The embind class itself (what js/ wraps): plain {ok, code, message} results, no
// exceptions, not_loaded before load and after dispose, ownership of the heap buffers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';

import createNeedleWasm from '../../js/needle_wasm.mjs';

import { TOKENIZER, WASM, WEATHER_TOOLS, model, requireBuilt } from './helpers.mjs';

requireBuilt();
const wasmModule = await WebAssembly.compile(fs.readFileSync(WASM));
const mod = await createNeedleWasm({
  locateFile: (p) => p,
  instantiateWasm(imports, receive) {
    WebAssembly.instantiate(wasmModule, imports).then((i) => receive(i, wasmModule));
    return {};
  },
});
const TOOLS = JSON.stringify(WEATHER_TOOLS);
const inUse = () => mod.NeedleWasm.memory().heapInUseBytes;

function copyIn(file) {
  const bytes = fs.readFileSync(file);
  const ptr = mod._malloc(bytes.length);
  mod.HEAPU8.set(bytes, ptr);
  return [ptr, bytes.length];
}

test('a never-loaded instance answers not_loaded to every call', () => {
  const n = new mod.NeedleWasm();
  try {
    for (const r of [n.run('q', TOOLS, ''), n.run_stream('q', TOOLS, '', () => true), n.run_batch('[]'),
                     n.retrieve_tools('q', '["a"]', 1), n.encode_contrastive('q'), n.info()]) {
      assert.equal(r.ok, false);
      assert.equal(r.code, 'not_loaded');
      assert.match(r.message, /no model is loaded/);
    }
    assert.equal(n.loaded(), false);
  } finally {
    n.delete();
  }
});

test('load owns both buffers: a failed load frees them, dispose frees the weights', () => {
  const n = new mod.NeedleWasm();
  const failedLoad = () => {
    const bad = mod._malloc(100);
    mod.HEAPU8.fill(7, bad, bad + 100);
    return n.load(bad, 100, ...copyIn(TOKENIZER));
  };
  assert.equal(failedLoad().code, 'bad_weights');  // the first call also sets up statics
  const before = inUse();
  for (let i = 0; i < 3; i++) assert.equal(failedLoad().code, 'bad_weights');
  assert.equal(inUse(), before, 'both buffers freed by the failed loads');

  assert.equal(n.load(...copyIn(model('tiny')), ...copyIn(TOKENIZER)).ok, true);
  const loaded = inUse();
  assert.ok(loaded - before > fs.statSync(model('tiny')).size, 'the weights stay in the heap');
  assert.equal(n.run('q', TOOLS, '{"maxTokens":3}').ok, true);
  assert.equal(n.dispose().ok, true);
  assert.equal(n.run('q', TOOLS, '').code, 'not_loaded');
  assert.ok(inUse() - before < 64 << 10, `dispose frees the model (${inUse() - before} bytes left)`);
  n.delete();
});

test('a failed reload keeps the model loaded before', () => {
  const n = new mod.NeedleWasm();
  assert.equal(n.load(...copyIn(model('tiny')), ...copyIn(TOKENIZER)).ok, true);
  const first = n.run('weather in Paris', TOOLS, '{"maxTokens":8}');
  assert.equal(n.load(...copyIn(TOKENIZER), ...copyIn(TOKENIZER)).code, 'bad_weights');
  assert.deepEqual(n.run('weather in Paris', TOOLS, '{"maxTokens":8}').tokens, first.tokens);
  n.dispose();
  n.delete();
});

test('results and errors are plain objects; options are checked by name', () => {
  const n = new mod.NeedleWasm();
  n.load(...copyIn(model('tiny')), ...copyIn(TOKENIZER));
  const r = n.run('weather in Paris', TOOLS, '{"maxTokens":5,"mode":"off"}');
  assert.equal(r.ok, true);
  assert.ok(r.tokens instanceof Int32Array && r.tokens.length === 5);
  assert.equal(typeof r.calls, 'string');
  assert.ok(Array.isArray(r.violations));
  for (const [options, pattern] of [['{"maxTokens":"5"}', /maxTokens/], ['{"max_tokens":5}', /unknown key "max_tokens"/],
                                    ['[1]', /JSON object/], ['{', /options/], ['{"mode":1}', /mode/]]) {
    const e = n.run('q', TOOLS, options);
    assert.equal(e.ok, false, options);
    assert.equal(e.code, 'invalid_argument', options);
    assert.match(e.message, pattern);
  }
  assert.equal(n.run_stream('q', TOOLS, '', 42).code, 'invalid_argument');
  assert.equal(n.retrieve_tools('q', '{"a":1}', 1).code, 'invalid_argument');
  assert.equal(n.run_batch('{}').code, 'invalid_argument');
  assert.equal(n.run_batch('[{"tools":[]}]')[0].code, 'invalid_argument');
  n.dispose();
  n.delete();
});

test('a callback cannot re-enter its own instance mid-run', () => {
  const n = new mod.NeedleWasm();
  n.load(...copyIn(model('tiny')), ...copyIn(TOKENIZER));
  const inner = [];
  const r = n.run_stream('weather in Paris', TOOLS, '{"maxTokens":3}', () => {
    inner.push(n.run('q', TOOLS, '').code, n.dispose().code);
    return true;
  });
  assert.equal(r.ok, true);
  assert.deepEqual(inner, Array(6).fill('invalid_argument'));
  assert.equal(n.run('q', TOOLS, '{"maxTokens":2}').ok, true, 'still loaded');
  n.dispose();
  n.delete();
});

test('start / next / finish step through run\'s generation; numbers name the live one', () => {
  const n = new mod.NeedleWasm();
  for (const r of [n.start('q', TOOLS, ''), n.next(1), n.finish(1)]) assert.equal(r.code, 'not_loaded');
  n.load(...copyIn(model('tiny')), ...copyIn(TOKENIZER));
  const options = '{"maxTokens":12,"mode":"off"}';
  const want = n.run('weather in Paris', TOOLS, options);
  const step = (g) => {
    const ids = [];
    for (let s = n.next(g); ; s = n.next(g)) {
      assert.equal(s.ok, true, s.message);
      if (s.done) return ids;
      assert.equal(typeof s.text, 'string');
      ids.push(s.id);
    }
  };
  const runOnce = () => {
    const started = n.start('weather in Paris', TOOLS, options);
    assert.equal(started.ok, true, started.message);
    const ids = step(started.generation);
    const r = n.finish(started.generation);
    assert.equal(r.ok, true, r.message);
    assert.deepEqual(ids, Array.from(want.tokens));
    assert.deepEqual(r.tokens, want.tokens);
    assert.equal(r.text, want.text);
    assert.equal(r.calls, want.calls);
    return started.generation;
  };
  const g = runOnce();
  assert.match(n.next(g).message, /is over/, 'finished');
  assert.match(n.next(g + 5).message, /never started/);
  // Superseded by a later start, and by run: fails, never reads the reused caches.
  const a = n.start('weather in Paris', TOOLS, options).generation;
  const b = n.start('weather in Paris', TOOLS, options).generation;
  assert.equal(n.next(a).code, 'invalid_argument');
  assert.match(n.finish(a).message, /superseded/);
  assert.equal(n.next(b).ok, true);
  n.run('q', TOOLS, '{"maxTokens":2}');
  assert.match(n.next(b).message, /superseded/);
  // A failed start ends the live one too.
  const c = n.start('weather in Paris', TOOLS, options).generation;
  assert.equal(n.start('q', TOOLS, '{"mode":"fast"}').code, 'invalid_argument');
  assert.equal(n.start('q', 'not json', '').code, 'bad_tools');
  assert.equal(n.next(c).code, 'invalid_argument');
  // cancel ends it; a stale number is ignored.
  const d = n.start('weather in Paris', TOOLS, options).generation;
  n.cancel(d - 1);
  assert.equal(n.next(d).ok, true);
  n.cancel(d);
  assert.match(n.next(d).message, /is over/);
  // No generation's memory outlives it: warm, then a cancelled and a finished one.
  runOnce();
  const before = inUse();
  n.cancel(n.start('weather in Paris', TOOLS, options).generation);
  runOnce();
  assert.equal(inUse(), before);
  // Callbacks cannot step (or start) a generation mid-run.
  const e = n.start('weather in Paris', TOOLS, options).generation;
  const inner = [];
  n.run_stream('q', TOOLS, '{"maxTokens":2}', () => {
    inner.push(n.next(e).code, n.start('q', TOOLS, '').code);
    return true;
  });
  assert.ok(inner.length >= 2);
  assert.deepEqual(inner, Array(inner.length).fill('invalid_argument'));
  // dispose ends it.
  const f = n.start('weather in Paris', TOOLS, options).generation;
  n.dispose();
  assert.equal(n.next(f).code, 'not_loaded');
  n.delete();
});
