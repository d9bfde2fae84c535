#!/usr/bin/env node
// A large tool list narrowed before the call: retrieveTools ranks every tool's description
// against the query, and only the best k go to run (a shorter encoder input, fewer wrong
// choices).
//   node examples/tool-router.mjs "Book me a taxi to the station" [--k 5] [--tools examples/data/tools.json]
// Prints {shortlist: [{name, score}], calls, text, timings} as JSON.
import fs from 'node:fs';

import { Needle, NeedleError } from 'needle-wasm';

import { MODEL } from './model.mjs';

function parseArgs(argv) {
  const args = { query: undefined, k: 5, tools: new URL('./data/tools.json', import.meta.url) };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--k') args.k = Number(argv[++i]);
    else if (argv[i] === '--tools') args.tools = argv[++i];
    else if (args.query === undefined) args.query = argv[i];
    else throw new Error(`unexpected argument ${argv[i]}`);
  }
  if (!args.query || !Number.isInteger(args.k) || args.k < 1)
    throw new Error('usage: node examples/tool-router.mjs QUERY [--k N] [--tools TOOLS.json]');
  return args;
}

// The name and description of a tool in any accepted format (OpenAI nests them).
function summary(tool) {
  const t = tool.type === 'function' && tool.function ? tool.function : tool;
  return { name: t.name, text: t.description ? `${t.name}: ${t.description}` : t.name };
}

try {
  const args = parseArgs(process.argv.slice(2));
  const catalogue = JSON.parse(fs.readFileSync(args.tools, 'utf8'));
  const needle = await Needle.load(MODEL);
  const ranked = await needle.retrieveTools(args.query, catalogue.map((t) => summary(t).text), args.k);
  const shortlist = ranked.map((r) => catalogue[r.index]);
  const { calls, text, timings } = await needle.run(args.query, shortlist);
  console.log(JSON.stringify({
    embedding: needle.info.embedding,
    shortlist: ranked.map((r) => ({ name: summary(catalogue[r.index]).name, score: Number(r.score.toFixed(4)) })),
    calls,
    text,
    timings,
  }, null, 2));
  needle.dispose();
} catch (e) {
  console.error(`tool-router: ${e instanceof NeedleError ? `[${e.code}] ` : ''}${e.message}`);
  process.exit(e.message.startsWith('usage') ? 2 : 1);
}
