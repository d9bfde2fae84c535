// 2 000 consecutive calls in one instance, of every kind (runs in each mode, streams,
// batches, retrieval, embeddings, and calls that fail), must not grow the memory: after a
// warm-up over the same inputs, the WebAssembly memory and the allocator's bytes in use
// stay exactly where they were.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Needle, NeedleError } from 'needle-wasm';

import { TOKENIZER, fixtureCases, model, requireBuilt } from './helpers.mjs';

requireBuilt();

test('2000 calls without heap growth', async (t) => {
  const needle = await Needle.load({ weights: model('tiny'), tokenizer: TOKENIZER });
  const cases = fixtureCases(16);
  const descriptions = cases.map((c) => c.query);
  const calls = [
    (c) => needle.run(c.query, c.tools, { maxTokens: 8 }),
    (c) => needle.run(c.query, c.tools, { maxTokens: 8, mode: 'off' }),
    (c) => needle.run(c.query, c.tools, { maxTokens: 8, mode: 'strict' }),
    async (c) => { for await (const piece of needle.stream(c.query, c.tools, { maxTokens: 6 })) void piece; },
    (c) => needle.runBatch([{ query: c.query, tools: c.tools, options: { maxTokens: 4 } }, { query: '', tools: c.tools }]),
    (c) => needle.retrieveTools(c.query, descriptions, 3),
    (c) => needle.embed(c.query),
    (c) => needle.run(c.query, '[{"name": "broken"', { maxTokens: 4 }),
    (c) => needle.run('', c.tools),
    (c) => needle.run(c.query, c.tools, { mode: 'bogus' }),
  ];
  let n = 0;
  let failures = 0;
  const call = async () => {
    const c = cases[n % cases.length];
    const f = calls[n % calls.length];
    n++;
    try {
      await f(c);
    } catch (e) {
      assert.ok(e instanceof NeedleError, String(e));
      failures++;
    }
  };
  // Warm-up: every call kind on every case (10 and 16 are coprime-ish: 80 covers all pairs).
  while (n < 160) await call();
  const start = needle.memory;
  const checkpoints = [];
  for (let i = 0; i < 2000; i++) {
    await call();
    if (i % 500 === 499) checkpoints.push(needle.memory);
  }
  needle.dispose();
  assert.ok(failures > 500, `${failures} failing calls exercised`);
  for (const m of checkpoints) {
    assert.equal(m.wasmBytes, start.wasmBytes, 'the WebAssembly memory grew');
    assert.equal(m.heapInUseBytes, start.heapInUseBytes, `bytes in use went from ${start.heapInUseBytes} to ${m.heapInUseBytes}`);
  }
  t.diagnostic(`2000 calls: memory ${start.wasmBytes} bytes, in use ${start.heapInUseBytes} bytes, constant`);
});
