// The Node examples (examples/*.mjs) run as a user runs them, as child processes, with the
// trained offline model; their output is checked against the package called directly.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { Needle } from 'needle-wasm';

import { ROOT, TRAINED_MODEL, WASM, requireFile, tmpDir } from './helpers.mjs';

requireFile(WASM, 'run `npm run build` (scripts/build_wasm.sh)');
const MODEL = { weights: requireFile(TRAINED_MODEL.weights, 'the trained model is committed under models/needle-tiny (train/train.py makes it)'), tokenizer: TRAINED_MODEL.tokenizer };
const CATALOGUE = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', 'data', 'tools.json'), 'utf8'));

let needle;
let dir;
before(async () => {
  needle = await Needle.load(MODEL);
  dir = tmpDir('needle-examples-');
});
after(() => {
  needle?.dispose();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// Runs an example; resolves to { status, stdout, stderr }.
function example(name, args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'examples', name), ...args], {
      env: { ...process.env, NEEDLE_WEIGHTS: MODEL.weights, NEEDLE_VOCAB: MODEL.tokenizer },
      maxBuffer: 64 << 20,
    }, (err, stdout, stderr) => resolve({ status: err ? err.code : 0, stdout, stderr }));
  });
}

function writeJson(name, value) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

test('one-shot: a query and a tools file in, the engine\'s answer out', async () => {
  const tools = [{ type: 'function', function: { name: 'lock_door', description: 'Lock a door',
    parameters: { type: 'object', properties: { door: { type: 'string' } }, required: ['door'] } } }];
  const out = await example('one-shot.mjs', ['Lock the front door', writeJson('tools.json', tools)]);
  assert.equal(out.status, 0, out.stderr);
  const printed = JSON.parse(out.stdout);
  const direct = await needle.run('Lock the front door', tools);
  assert.equal(printed.text, direct.text);
  assert.deepEqual(printed.calls, direct.calls);
  assert.ok(printed.timings.decodeMs >= 0);

  // Its built-in tools, with the trained offline model: the right call.
  const builtin = JSON.parse((await example('one-shot.mjs', ["What's the weather in Paris?"])).stdout);
  assert.deepEqual(builtin.calls, [{ name: 'get_weather', arguments: { location: 'Paris' } }]);

  const bad = await example('one-shot.mjs', ['x', writeJson('bad.json', [{ description: 'nameless' }])]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^one-shot: \[bad_tools\] .*name/);
  assert.equal((await example('one-shot.mjs', [])).status, 2);
});

test('batch: one result line per request line, in order, errors included', async () => {
  const own = [{ name: 'set_light', parameters: { room: { type: 'string', required: true } } }];
  const requests = [];
  for (let i = 0; i < 36; i++) requests.push(JSON.stringify({ id: `q${i}`, query: `Request number ${i}: turn on the lights`, options: { maxTokens: 6 } }));
  requests[3] = JSON.stringify({ id: 'own', query: 'Porch light on', tools: own, options: { maxTokens: 10 } });
  requests[5] = '{"query": "broken';
  requests[7] = JSON.stringify({ id: 'no-query', tools: own });
  requests[9] = '';
  requests[34] = JSON.stringify({ id: 'nameless', query: 'x', tools: [{ description: 'no name' }] });
  const out = await example('batch.mjs', [writeJson('requests.jsonl', `${requests.join('\n')}\n`)]);
  assert.equal(out.status, 1, 'some lines failed');
  assert.match(out.stderr, /batch: 32 answered, 3 failed/);
  const results = out.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(results.map((r) => r.line), Array.from({ length: 36 }, (_, i) => i + 1).filter((l) => l !== 10), 'every non-blank line, in order');

  const byLine = new Map(results.map((r) => [r.line, r]));
  assert.equal(byLine.get(6).error.code, 'bad_json');
  assert.match(byLine.get(6).error.message, /^line 6 is not JSON/);
  assert.deepEqual(byLine.get(8), { line: 8, id: 'no-query', error: { code: 'invalid_request', message: 'line 8 has no "query" string' } });
  assert.equal(byLine.get(35).error.code, 'bad_tools');
  // The answered lines against the package: default catalogue unless the line has tools.
  for (const line of [1, 4, 33, 36]) {
    const request = JSON.parse(requests[line - 1]);
    const direct = await needle.run(request.query, request.tools ?? CATALOGUE, request.options);
    assert.equal(byLine.get(line).text, direct.text, `line ${line}`);
    assert.equal(byLine.get(line).id, request.id);
  }
});

test('tool router: the shortlist is the k tools most similar to the query, and the call uses only them', async () => {
  const query = 'Book me a taxi to the station';
  const out = await example('tool-router.mjs', [query, '--k', '4']);
  assert.equal(out.status, 0, out.stderr);
  const printed = JSON.parse(out.stdout);
  assert.equal(printed.shortlist.length, 4);
  // Independent ranking: cosine of the embeddings, computed here.
  const unit = async (text) => needle.embed(text);
  const q = await unit(query);
  const scored = [];
  for (const tool of CATALOGUE) {
    const t = tool.function ?? tool;
    const e = await unit(`${t.name}: ${t.description}`);
    scored.push({ name: t.name, score: e.reduce((s, x, i) => s + x * q[i], 0) });
  }
  scored.sort((a, b) => b.score - a.score);
  assert.deepEqual(printed.shortlist.map((s) => s.name), scored.slice(0, 4).map((s) => s.name));
  for (const [i, s] of printed.shortlist.entries()) assert.ok(Math.abs(s.score - scored[i].score) < 1e-4, `${s.name}: ${s.score} vs ${scored[i].score}`);
  const names = new Set(printed.shortlist.map((s) => s.name));
  assert.ok(printed.calls.every((c) => names.has(c.name)), `a call outside the shortlist: ${JSON.stringify(printed.calls)}`);
  assert.equal((await example('tool-router.mjs', [query, '--k', '0'])).status, 2);
});
