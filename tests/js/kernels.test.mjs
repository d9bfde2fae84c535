// The INT4/F32 kernel tests (tests/cpp/kernels_test.cpp, the GoogleTest suite the native
// build runs) compiled with -msimd128 and run under Node, by tests/wasm/run_kernel_tests.sh.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

import { ROOT } from './helpers.mjs';

const OUT = path.resolve(ROOT, process.env.NEEDLE_WASM_BUILD_DIR ?? 'build-wasm', 'kernels');

test('kernel tests pass under WebAssembly SIMD128', { timeout: 30 * 60 * 1000 }, (t) => {
  const r = spawnSync('bash', [path.join(ROOT, 'tests/wasm/run_kernel_tests.sh'), '--out', OUT], { encoding: 'utf8' });
  const summary = (r.stdout ?? '').split('\n').filter((l) => /^\[\s+(PASSED|FAILED)\s+\]|test suites? ran/.test(l));
  for (const line of summary) t.diagnostic(line);
  assert.equal(r.status, 0, `run_kernel_tests.sh failed:\n${(r.stdout ?? '').slice(-4000)}\n${(r.stderr ?? '').slice(-4000)}`);
  assert.ok(summary.some((l) => /^\[\s+PASSED\s+\]/.test(l)), 'no GoogleTest summary in the output');
});
