// `npm pack` makes a tarball that installs into an empty directory and works there: the
// exports map, the shipped files and the wasm next to the wrapper, as a user gets them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { ROOT, TOKENIZER, model, requireBuilt, tmpDir } from './helpers.mjs';

requireBuilt();

test('npm pack, install into an empty directory, load and run', { timeout: 5 * 60 * 1000 }, (t) => {
  const dir = tmpDir('needle-pack-');
  try {
    // --ignore-scripts: prepack would rebuild the module, which the test script just did.
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' }));
    const files = packed[0].files.map((f) => f.path).sort();
    t.diagnostic(`${packed[0].filename}: ${packed[0].size} bytes packed, ${packed[0].unpackedSize} unpacked, ${files.length} files`);
    for (const f of ['js/core.mjs', 'js/index.d.ts', 'js/index.mjs', 'js/needle_wasm.mjs', 'js/needle_wasm.wasm', 'js/node.mjs', 'package.json'])
      assert.ok(files.includes(f), `${f} is missing from the package: ${files}`);
    assert.ok(!files.some((f) => /^(core|bindings|tests|build|third_party)\//.test(f)), `sources leaked into the package: ${files}`);

    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', path.join(dir, packed[0].filename)], { cwd: app, encoding: 'utf8', stdio: 'pipe' });
    // The README's three lines, as a user writes them.
    fs.writeFileSync(path.join(app, 'main.mjs'), `
      import { Needle, NeedleError } from 'needle-wasm';
      const needle = await Needle.load({ weights: process.argv[2], tokenizer: process.argv[3] });
      const result = await needle.run("What's the weather in Paris?", [{ name: 'get_weather', description: 'Get current weather', parameters: { location: { type: 'string' } } }], { maxTokens: 16 });
      let code;
      try { await needle.run('', []); } catch (e) { code = e instanceof NeedleError && e.code; }
      console.log(JSON.stringify({ tokens: result.tokens.length, calls: result.calls, code, kernels: needle.info.kernels }));
    `);
    const out = JSON.parse(execFileSync('node', ['main.mjs', model('tiny'), TOKENIZER], { cwd: app, encoding: 'utf8', stdio: 'pipe' }));
    assert.equal(out.tokens, 16);
    assert.ok(Array.isArray(out.calls));
    assert.equal(out.code, 'invalid_argument');
    assert.equal(out.kernels, 'simd128');
    // The installed package resolves the wasm next to its wrapper, not in this repository.
    assert.ok(fs.existsSync(path.join(app, 'node_modules/needle-wasm/js/needle_wasm.wasm')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
