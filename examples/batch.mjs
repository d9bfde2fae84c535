#!/usr/bin/env node
// Many queries from a JSONL file, one result line each, in order:
//   node examples/batch.mjs examples/data/requests.jsonl [--tools examples/data/tools.json] > results.jsonl
// Each input line is {"query", "tools"?, "options"?, "id"?}; lines without "tools" use --tools
// (default examples/data/tools.json). Each output line is {"line", "id"?, "calls", "text", "ms"}
// or {"line", "id"?, "error": {"code", "message"}}. A summary goes to stderr; the exit status
// is 1 when any line failed.
import fs from 'node:fs';
import readline from 'node:readline';

import { Needle } from 'needle-wasm';

import { MODEL } from './model.mjs';

// Lines are handed to the engine this many at a time (one runBatch call each).
const CHUNK = 32;

function parseArgs(argv) {
  const args = { input: undefined, tools: new URL('./data/tools.json', import.meta.url) };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--tools') args.tools = argv[++i];
    else if (!args.input) args.input = argv[i];
    else throw new Error(`unexpected argument ${argv[i]}`);
  }
  if (!args.input) throw new Error('usage: node examples/batch.mjs REQUESTS.jsonl [--tools TOOLS.json]');
  return args;
}

// One input line -> a runBatch item, or an error record.
function parseLine(text, line, defaultTools) {
  let request;
  try {
    request = JSON.parse(text);
  } catch (e) {
    return { error: { code: 'bad_json', message: `line ${line} is not JSON: ${e.message}` } };
  }
  const id = request?.id;
  if (typeof request?.query !== 'string')
    return { id, error: { code: 'invalid_request', message: `line ${line} has no "query" string` } };
  return { id, item: { query: request.query, tools: request.tools ?? defaultTools, options: request.options } };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const defaultTools = fs.readFileSync(args.tools, 'utf8');
  const needle = await Needle.load(MODEL);
  const started = performance.now();
  let ok = 0;
  let failed = 0;

  async function flush(chunk) {
    const items = chunk.filter((c) => c.item);
    const results = items.length ? await needle.runBatch(items.map((c) => c.item)) : [];
    for (const c of chunk) {
      const out = { line: c.line, ...(c.id === undefined ? {} : { id: c.id }) };
      const r = c.item ? results.shift() : undefined;
      if (c.error) out.error = c.error;
      else if (r instanceof Error) out.error = { code: r.code, message: r.message };
      else Object.assign(out, { calls: r.calls, text: r.text, ms: r.timings.encodeMs + r.timings.decodeMs });
      if (out.error) failed++;
      else ok++;
      process.stdout.write(`${JSON.stringify(out)}\n`);
    }
  }

  const lines = readline.createInterface({ input: fs.createReadStream(args.input), crlfDelay: Infinity });
  let chunk = [];
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    chunk.push({ line, ...parseLine(text, line, defaultTools) });
    if (chunk.length === CHUNK) {
      await flush(chunk);
      chunk = [];
    }
  }
  await flush(chunk);
  const seconds = (performance.now() - started) / 1000;
  console.error(`batch: ${ok} answered, ${failed} failed, ${seconds.toFixed(2)} s (${((ok + failed) / seconds).toFixed(1)} lines/s)`);
  needle.dispose();
  return failed === 0;
}

main().then(
  (allOk) => process.exit(allOk ? 0 : 1),
  (e) => {
    console.error(`batch: ${e.code ? `[${e.code}] ` : ''}${e.message}`);
    process.exit(2);
  });
