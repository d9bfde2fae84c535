// needle.stream() decodes step by step: pieces arrive while generation goes on, the event loop
// runs between steps (so an AbortSignal fired from a timer stops it mid-stream), streamed ids
// are run's, and an aborted, broken-off or superseded stream leaves the instance usable.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Needle, NeedleError } from 'needle-wasm';

import { TOKENIZER, WEATHER_TOOLS, fixtureCases, model, rejectsWith, requireBuilt } from './helpers.mjs';

requireBuilt();
const QUERY = "What's the weather in Paris?";
// Unconstrained on random weights: runs to the cap, so there are many steps to interrupt.
const LONG = { maxTokens: 40, mode: 'off' };

// Counts macrotask turns (setImmediate) while it runs: what a stream that blocks the event
// loop would starve.
function ticker() {
  const t = { count: 0, running: true };
  const tick = () => {
    if (!t.running) return;
    t.count++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return t;
}

describe('stream', () => {
  let needle;
  let full;  // run()'s answer to QUERY with LONG
  before(async () => {
    needle = await Needle.load({ weights: model('tiny'), tokenizer: TOKENIZER });
    full = await needle.run(QUERY, WEATHER_TOOLS, LONG);
    assert.ok(full.tokens.length >= 10, `the long run is too short to interrupt: ${full.tokens.length} ids`);
  });
  after(() => needle?.dispose());

  test('streamed ids and the returned result are run()\'s, in every mode', async () => {
    const cases = [{ query: QUERY, tools: WEATHER_TOOLS }, ...fixtureCases(4)];
    for (const { query, tools } of cases) {
      for (const mode of ['typed', 'strict', 'off']) {
        for (const maxTokens of [undefined, 7]) {
          const want = await needle.run(query, tools, { mode, maxTokens });
          const it = needle.stream(query, tools, { mode, maxTokens });
          const ids = [];
          let step;
          while (!(step = await it.next()).done) ids.push(step.value.id);
          assert.deepEqual(ids, want.tokens, `${query} ${mode} ${maxTokens}`);
          assert.deepEqual(step.value.tokens, want.tokens);
          assert.equal(step.value.text, want.text);
          assert.deepEqual(step.value.calls, want.calls);
          assert.equal(step.value.encoderTokens, want.encoderTokens);
        }
      }
    }
  });

  test('the event loop runs between pieces: the first arrives before generation ends', async () => {
    const t = ticker();
    const seenAt = [];
    for await (const piece of needle.stream(QUERY, WEATHER_TOOLS, LONG)) {
      void piece;
      seenAt.push(t.count);
    }
    t.running = false;
    assert.equal(seenAt.length, full.tokens.length);
    // A stream that generated everything in one call would show no turns between pieces.
    assert.ok(seenAt.at(-1) - seenAt[0] >= full.tokens.length - 1,
      `event-loop turns at each piece: ${seenAt.join(' ')}`);
  });

  test('an abort fired from a timer mid-stream rejects with AbortError and stops generating', async () => {
    const controller = new AbortController();
    const ids = [];
    await assert.rejects(async () => {
      for await (const { id } of needle.stream(QUERY, WEATHER_TOOLS, { ...LONG, signal: controller.signal })) {
        ids.push(id);
        if (ids.length === 2) setImmediate(() => controller.abort(new Error('user cancelled')));
      }
    }, (e) => {
      assert.ok(e instanceof NeedleError);
      assert.equal(e.name, 'AbortError');
      assert.equal(e.code, 'aborted');
      assert.equal(e.cause?.message, 'user cancelled');
      return true;
    });
    assert.ok(ids.length >= 2 && ids.length < full.tokens.length,
      `${ids.length} of ${full.tokens.length} pieces before the abort took effect`);
    assert.deepEqual(ids, full.tokens.slice(0, ids.length));
    // The instance goes on as before.
    assert.deepEqual((await needle.run(QUERY, WEATHER_TOOLS, LONG)).tokens, full.tokens);
    const again = [];
    for await (const { id } of needle.stream(QUERY, WEATHER_TOOLS, LONG)) again.push(id);
    assert.deepEqual(again, full.tokens);
  });

  test('break stops generating; the instance stays usable', async () => {
    const ids = [];
    for await (const { id } of needle.stream(QUERY, WEATHER_TOOLS, LONG)) {
      ids.push(id);
      if (ids.length === 3) break;
    }
    assert.deepEqual(ids, full.tokens.slice(0, 3));
    assert.deepEqual((await needle.run(QUERY, WEATHER_TOOLS, LONG)).tokens, full.tokens);
  });

  test('a run() or stream() started mid-stream supersedes it', async () => {
    const first = needle.stream(QUERY, WEATHER_TOOLS, LONG);
    assert.equal((await first.next()).value.id, full.tokens[0]);
    assert.deepEqual((await needle.run(QUERY, WEATHER_TOOLS, LONG)).tokens, full.tokens);
    await rejectsWith(first.next(), 'invalid_argument', /superseded/);

    const a = needle.stream(QUERY, WEATHER_TOOLS, LONG);
    await a.next();
    const b = needle.stream('set a timer for ten minutes', WEATHER_TOOLS, LONG);
    await b.next();
    await rejectsWith(a.next(), 'invalid_argument', /superseded/);
    // runBatch supersedes too.
    await needle.runBatch([{ query: QUERY, tools: WEATHER_TOOLS }]);
    await rejectsWith(b.next(), 'invalid_argument', /superseded/);
    // embed() shares no state with a generation: a stream survives it.
    const c = needle.stream(QUERY, WEATHER_TOOLS, LONG);
    const ids = [(await c.next()).value.id];
    await needle.embed('something else entirely');
    for (let s = await c.next(); !s.done; s = await c.next()) ids.push(s.value.id);
    assert.deepEqual(ids, full.tokens);
  });

  test('dispose mid-stream: the next step says not_loaded', async () => {
    const n = await Needle.load({ weights: model('tiny'), tokenizer: TOKENIZER });
    const it = n.stream(QUERY, WEATHER_TOOLS, LONG);
    await it.next();
    n.dispose();
    await rejectsWith(it.next(), 'not_loaded');
  });
});
