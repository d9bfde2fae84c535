// The WebAssembly module and the native CLI (AVX2 kernels) must generate the same ids, text
// and calls for the same inputs: the real-weights fixture's queries and tool lists on the
// generated random-weight models (tiny, and the full-size one). The CLI runs in a child
// process while the module runs in this one.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { Needle } from 'needle-wasm';

import { TOKENIZER, fixtureCases, model, requireBuilt, runCli, tmpDir } from './helpers.mjs';

requireBuilt();
const tmp = tmpDir('needle-parity-');

// name, cases, max tokens, mode (undefined: the default on both sides)
const plans = [
  ['tiny', 56, 0, undefined],    // uncapped: up to max_dec_len - 1 ids
  ['tiny', 56, 48, 'off'],       // unconstrained: the raw argmax, where near-ties would show
  ['full', 52, 12, undefined],   // full size: the kernels' real shapes
  ['full', 20, 12, 'off'],
];

for (const [name, count, maxTokens, mode] of plans) {
  test(`WASM = native CLI on ${name}, ${count} cases, maxTokens ${maxTokens || 'none'}, mode ${mode ?? 'default'}`, async () => {
    const weights = model(name);
    const needle = await Needle.load({ weights, tokenizer: TOKENIZER });
    const mismatches = [];
    let tokens = 0;
    try {
      const cases = fixtureCases(count);
      for (let i = 0; i < cases.length; i++) {
        const { query, tools } = cases[i];
        const toolsFile = path.join(tmp, `tools-${i}.json`);
        fs.writeFileSync(toolsFile, tools);
        const args = ['run', '--weights', weights, '--tokenizer', TOKENIZER, '--query', query, '--tools', `@${toolsFile}`, '--json'];
        if (maxTokens) args.push('--max-tokens', String(maxTokens));
        if (mode) args.push('--mode', mode);
        const native = runCli(args);  // runs while the module computes
        const wasm = await needle.run(query, tools, { maxTokens, mode });
        const cli = await native;
        assert.equal(cli.error, undefined, `case ${i}: the CLI failed: ${cli.error}`);
        tokens += wasm.tokens.length;
        const same = JSON.stringify(wasm.tokens) === JSON.stringify(cli.tokens);
        if (!same) {
          const at = wasm.tokens.findIndex((t, k) => t !== cli.tokens[k]);
          mismatches.push(`case ${i} (${JSON.stringify(query)}): ids differ at step ${at}: wasm ${wasm.tokens.slice(at, at + 4)} vs native ${cli.tokens.slice(at, at + 4)}`);
          continue;
        }
        assert.equal(wasm.encoderTokens, cli.encoder_tokens, `case ${i}: encoder tokens`);
        assert.equal(wasm.text, cli.text, `case ${i}: text`);
        if (cli.calls !== undefined) {
          assert.deepEqual(wasm.calls, cli.calls, `case ${i}: calls`);
          // Where simdjson notices a malformed output depends on its kernel (native: AVX2,
          // WebAssembly: portable fallback), so the two may name different bytes of the same
          // invalid text. Compare that violation by its kind only.
          const kind = (v) => v.replace(/^(the output is not valid JSON):.*$/, '$1');
          assert.deepEqual(wasm.violations.map(kind), cli.violations.map(kind), `case ${i}: violations`);
        }
      }
    } finally {
      needle.dispose();
    }
    assert.deepEqual(mismatches, [], `${mismatches.length} of ${count} cases differ`);
    assert.ok(tokens >= count, `only ${tokens} ids generated over ${count} cases: the comparison is too weak`);
  });
}
