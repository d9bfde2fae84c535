// The WebAssembly side of train/evaluate.py: JSON lines {query, tools, mode} on stdin, one
// JSON line {text, calls, violations} (or {error}) per input on stdout, all through one
// needle-wasm engine, so the evaluation can compare WASM with the native CLI answer by answer.
//   node train/run_wasm.mjs WEIGHTS VOCAB < requests.jsonl
import readline from 'node:readline';

import { Needle } from 'needle-wasm';

const [weights, tokenizer] = process.argv.slice(2);
if (!weights || !tokenizer) {
  console.error('usage: node train/run_wasm.mjs WEIGHTS VOCAB < requests.jsonl');
  process.exit(2);
}
const needle = await Needle.load({ weights, tokenizer });
for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue;
  const { query, tools, mode } = JSON.parse(line);
  try {
    const { text, calls, violations } = await needle.run(query, tools, { mode });
    process.stdout.write(JSON.stringify({ text, calls, violations: violations ?? [] }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: `${e.code}: ${e.message}` }) + '\n');
  }
}
needle.dispose();
