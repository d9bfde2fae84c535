// The committed offline model (models/needle-tiny, trained by train/train.py): it fits the
// size budget, loads in the WebAssembly package and in the native CLI, both engines give the
// same answer to every hand-written demo request (train/demo_cases.json), and it answers the
// requests the README, the demo and the Worker template show correctly. train/evaluate.py
// measures it on the 1,000-example held-out set; this test keeps what users see right.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { Needle } from 'needle-wasm';

import { CLI, ROOT, TRAINED_MODEL, WASM, WEATHER_TOOLS, plainCalls, requireFile, runCli } from './helpers.mjs';
import { PRESETS } from '../../web/presets.mjs';

requireFile(WASM, 'run `npm run build` (scripts/build_wasm.sh)');
requireFile(CLI, 'build the native CLI (cmake --build build --target needle)');
requireFile(TRAINED_MODEL.weights, 'the trained model is committed under models/needle-tiny (train/train.py makes it)');

const DEMO_TOOLS = JSON.parse(fs.readFileSync(path.join(ROOT, 'train', 'demo_tools.json'), 'utf8'));
const DEMO_CASES = JSON.parse(fs.readFileSync(path.join(ROOT, 'train', 'demo_cases.json'), 'utf8'));
const preset = (id) => PRESETS.find((p) => p.id === id).tools;

// What the entry points show, with the answers a person would expect.
const SHOWN = [
  // README quickstart and the one-shot example
  { query: "What's the weather in Paris?", tools: WEATHER_TOOLS, want: [{ name: 'get_weather', arguments: { location: 'Paris' } }] },
  // the demo's first query
  { query: "What's the weather in Paris?", tools: preset('weather'), want: [{ name: 'get_weather', arguments: { location: 'Paris' } }] },
];

let needle;
before(async () => {
  needle = await Needle.load(TRAINED_MODEL);
});
after(() => needle?.dispose());

test('the committed model fits the 4 MB budget and has the architecture it claims', () => {
  const bytes = fs.statSync(TRAINED_MODEL.weights).size + fs.statSync(TRAINED_MODEL.tokenizer).size;
  assert.ok(bytes <= 4 * 1000 * 1000, `${bytes} bytes`);
  const info = needle.info;
  assert.equal(info.vocabSize, 4096);
  assert.equal(info.dModel, 128);
});

test('the requests the entry points show get the right calls', async () => {
  for (const { query, tools, want } of SHOWN) {
    const got = await needle.run(query, tools);
    assert.deepEqual(plainCalls(got.calls), want, `${query}: ${got.text}`);
  }
});

test('native CLI and WASM give the same answer to every hand-written demo request', async () => {
  const tools = JSON.stringify(DEMO_TOOLS);
  for (const c of DEMO_CASES) {
    const wasm = await needle.run(c.query, tools);
    const native = await runCli(['run', '--weights', TRAINED_MODEL.weights, '--tokenizer', TRAINED_MODEL.tokenizer,
      '--query', c.query, '--tools', tools, '--json']);
    assert.equal(wasm.text, native.text, c.query);
  }
});
