// The module's size budget (issue #4): 300 KB raw for the .wasm. Prints raw and gzip sizes
// of both files the package ships.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { ROOT, requireFile } from './helpers.mjs';

const BUDGET_BYTES = 300 * 1000;

test(`needle_wasm.wasm is at most ${BUDGET_BYTES} bytes`, (t) => {
  for (const name of ['needle_wasm.wasm', 'needle_wasm.mjs']) {
    const bytes = fs.readFileSync(requireFile(path.join(ROOT, 'js', name), 'run `npm run build`'));
    t.diagnostic(`${name}: ${bytes.length} bytes raw, ${gzipSync(bytes, { level: 9 }).length} gzip -9`);
  }
  const raw = fs.statSync(path.join(ROOT, 'js', 'needle_wasm.wasm')).size;
  assert.ok(raw <= BUDGET_BYTES, `needle_wasm.wasm is ${raw} bytes, over the ${BUDGET_BYTES}-byte budget`);
  // Sanity: a real module, not an empty or stub file.
  assert.ok(raw > 100_000, `needle_wasm.wasm is only ${raw} bytes`);
});
