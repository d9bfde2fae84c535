#!/usr/bin/env node
// One query in, one tool call out:
//   node examples/one-shot.mjs "What's the weather in Paris?"            (the tools below)
//   node examples/one-shot.mjs "Lock the front door" examples/data/tools.json
// Prints {calls, text, timings} as JSON.
import fs from 'node:fs';

import { Needle, NeedleError } from 'needle-wasm';

import { MODEL } from './model.mjs';

// Any format the engine accepts; here one in Needle's flat form and one OpenAI tool.
const TOOLS = [
  { name: 'get_weather', description: 'Get the current weather for a city',
    parameters: { location: { type: 'string', description: 'City name', required: true } } },
  { type: 'function', function: { name: 'set_timer', description: 'Start a countdown timer',
    parameters: { type: 'object', properties: { minutes: { type: 'integer' } }, required: ['minutes'] } } },
];

const [query, toolsFile] = process.argv.slice(2);
if (!query) {
  console.error('usage: node examples/one-shot.mjs QUERY [TOOLS.json]');
  process.exit(2);
}

try {
  const tools = toolsFile ? fs.readFileSync(toolsFile, 'utf8') : TOOLS;  // JSON text is accepted as is
  const needle = await Needle.load(MODEL);
  const { calls, text, timings } = await needle.run(query, tools);
  console.log(JSON.stringify({ calls, text, timings }, null, 2));
  needle.dispose();
} catch (e) {
  console.error(`one-shot: ${e instanceof NeedleError ? `[${e.code}] ` : ''}${e.message}`);
  process.exit(1);
}
