// The WebAssembly module next to the native build on the full-size random model: load,
// prefill, decode, end to end, INT4 matvec, module size, peak memory. Prints figures
// (medians); not a test.
//
//   node bench/bench_wasm.mjs [WEIGHTS [TOKENIZER]]     (npm run bench)
//
// Defaults: $NEEDLE_BUILD_DIR (build/) testdata; the native figures come from
// $NEEDLE_BUILD_DIR/bench/bench_model and bench_kernels, the WASM kernel figures from
// tests/wasm/run_kernel_tests.sh --bench. Inputs are the ones bench_model uses, so the rows
// compare like with like. The engine runs mode "off" here, as bench_model does (plain
// argmax); "typed" adds constrained decoding and is shown as its own row.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { Needle } from 'needle-wasm';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BUILD = path.resolve(ROOT, process.env.NEEDLE_BUILD_DIR ?? 'build');
const WEIGHTS = process.argv[2] ?? path.join(BUILD, 'testdata/full.safetensors');
const TOKENIZER = process.argv[3] ?? path.join(BUILD, 'testdata/tokenizer/needle_spm.model');
const WASM = path.join(ROOT, 'js/needle_wasm.wasm');

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const fmt = (x, d = 1) => (x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(d));

// bench_model's tool lists and queries, so both sides see the same encoder ids.
function toolsJson(n) {
  const verbs = ['get', 'set', 'create', 'delete', 'list', 'send', 'find', 'update'];
  const nouns = ['weather', 'timer', 'message', 'event', 'light', 'alarm', 'reminder', 'contact', 'song', 'note', 'order', 'flight'];
  const tools = [];
  for (let i = 0; i < n; i++) {
    const verb = verbs[i % 8], noun = nouns[(i * 5) % 12];
    tools.push(`{"name":"${verb}_${noun}${i >= 8 ? `_${i}` : ''}","description":"${verb} a ${noun} for the user, given the details they mention","parameters":{` +
      '"target":{"type":"string","description":"what to act on","required":true},' +
      '"when":{"type":"string","description":"date or time, ISO 8601","required":false},' +
      '"count":{"type":"integer","description":"how many","required":false}}}');
  }
  return `[${tools.join(',')}]`;
}
const CASES = [
  ['short', "What's the weather in Paris?", toolsJson(1)],
  ['medium', 'Set a timer for 10 minutes and then remind me to call Alice at 5pm', toolsJson(5)],
  ['long', 'Send a message to Bob saying I will be late for the meeting tomorrow', toolsJson(20)],
];

// Figures on a shared machine move with its load: each section says what the load was.
function section(title) {
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`\n== ${title} ${'='.repeat(Math.max(0, 76 - title.length))}\n(load average ${load}, ${os.cpus().length} CPUs)`);
}

// ---- native ----------------------------------------------------------------------------------

function runNative() {
  const exe = path.join(BUILD, 'bench/bench_model');
  if (!fs.existsSync(exe)) {
    console.log(`(no ${exe}: build it with cmake --build ${BUILD} --target bench_model)`);
    return {};
  }
  const timeBin = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
  const args = timeBin ? ['-f', 'peak-rss-kb %M', exe, WEIGHTS, TOKENIZER] : [WEIGHTS, TOKENIZER];
  const r = spawnSync(timeBin ?? exe, args, { encoding: 'utf8' });
  process.stdout.write(r.stdout);
  if (r.status !== 0) console.log(r.stderr);
  const out = r.stdout;
  const num = (re) => { const m = out.match(re); return m ? Number(m[1]) : undefined; };
  const prefill = {};
  for (const m of out.matchAll(/prefill\s+(\d+) tokens:.*?([\d.]+) tok\/s/g)) prefill[m[1]] = Number(m[2]);
  const e2e = {};
  for (const m of out.matchAll(/end-to-end (\w+)\s+\(\s*(\d+) enc tokens.*?:\s+([\d.]+) ms/g)) e2e[m[1]] = { enc: Number(m[2]), ms: Number(m[3]) };
  const rss = (r.stderr.match(/peak-rss-kb (\d+)/) ?? [])[1];
  if (rss) console.log(`peak RSS: ${(rss / 1024).toFixed(1)} MB`);
  return { load: num(/load .*?: ([\d.]+) ms/), prefill, decode: num(/decode 32 steps.*?([\d.]+) tok\/s/), e2e, rssMb: rss ? rss / 1024 : undefined };
}

function matvecFigures(output, column) {
  const out = {};
  for (const m of output.matchAll(/^int4_matvec (\d+x\d+)\s+([\d.]+)\s+([\d.]+) Gelem\/s/gm)) out[m[1]] = Number(column === 'ref' ? m[2] : m[3]);
  return out;
}

function kernels() {
  const native = path.join(BUILD, 'bench/bench_kernels');
  const n = fs.existsSync(native) ? spawnSync(native, { encoding: 'utf8' }).stdout : '';
  const w = spawnSync('bash', [path.join(ROOT, 'tests/wasm/run_kernel_tests.sh'), '--bench', '--out', path.join(ROOT, 'build-wasm/kernels')], { encoding: 'utf8' });
  const wOut = w.stdout.slice(w.stdout.indexOf('needle kernels:'));
  return { native: matvecFigures(n), wasm: matvecFigures(wOut), wasmOutput: wOut };
}

// ---- WebAssembly ---------------------------------------------------------------------------

async function runWasm() {
  const weights = fs.readFileSync(WEIGHTS);
  const tokenizer = fs.readFileSync(TOKENIZER);
  const res = {};

  // Load: the first one pays V8's baseline (Liftoff) code; later ones run optimised code.
  const loads = [], engineLoads = [];
  let needle;
  for (let i = 0; i < 8; i++) {
    needle?.dispose();
    const t0 = performance.now();
    needle = await Needle.load({ weights, tokenizer });
    const ms = performance.now() - t0;
    if (i === 0) res.coldLoad = { total: ms, engine: needle.info.loadMs };
    else { loads.push(ms); engineLoads.push(needle.info.loadMs); }
  }
  res.load = median(engineLoads);
  res.loadTotal = median(loads);
  console.log(`kernels ${needle.info.kernels}; d_model ${needle.info.dModel}, ${needle.info.encoderLayers}+${needle.info.decoderLayers} layers, vocab ${needle.info.vocabSize}`);
  console.log(`load, engine (parse + validate; bytes already in the heap): ${fmt(res.load, 2)} ms median of ${engineLoads.length} (first: ${fmt(res.coldLoad.engine, 2)} ms)`);
  console.log(`load, Needle.load total (instantiate + copy ${(weights.length / 1e6).toFixed(1)} MB in + engine): ${fmt(res.loadTotal, 2)} ms median (first: ${fmt(res.coldLoad.total, 2)} ms)`);

  const off = (maxTokens) => ({ maxTokens, mode: 'off' });
  const timed = async (query, tools, options, reps) => {
    const rs = [];
    await needle.run(query, tools, options);  // warm-up: lets V8 tier up this shape
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const r = await needle.run(query, tools, options);
      rs.push({ ...r, wallMs: performance.now() - t0 });
    }
    return rs;
  };

  // Prefill: a query sized so that query + <tools> + "[]" is exactly n encoder ids.
  res.prefill = {};
  for (const n of [64, 256, 512]) {
    let words = n;
    let r = await needle.run('weather '.repeat(words), '[]', off(1));
    words += n - r.encoderTokens;
    r = await needle.run('weather '.repeat(words), '[]', off(1));
    const rs = await timed('weather '.repeat(words), '[]', off(1), n >= 512 ? 3 : 5);
    const ms = median(rs.map((x) => x.timings.encodeMs));
    res.prefill[n] = rs[0].encoderTokens / ms * 1e3;
    console.log(`prefill ${String(rs[0].encoderTokens).padStart(4)} tokens: ${fmt(ms, 2).padStart(8)} ms  ${fmt(res.prefill[n], 0).padStart(8)} tok/s  (tokenize + encoder + cross K/V)`);
  }

  // Decode: 32 steps after a 256-token prefill. 15 repetitions, like bench_model: five gave
  // medians 20 % apart from one run to the next on shared machines.
  {
    const q = 'weather '.repeat(253);
    const rs = await timed(q, '[]', off(32), 15);
    const perTok = median(rs.map((x) => x.timings.decodeMs / x.tokens.length));
    res.decode = 1e3 / perTok;
    console.log(`decode ${rs[0].tokens.length} steps (${rs[0].encoderTokens} enc tokens): ${fmt(perTok * rs[0].tokens.length, 2)} ms  ${fmt(res.decode, 0)} tok/s`);
  }

  // End to end: one run() call, wall clock from JS (tokenize, encoder, 32 ids).
  res.e2e = {};
  for (const [name, query, tools] of CASES) {
    for (const mode of ['off', 'typed']) {
      const rs = await timed(query, tools, { maxTokens: 32, mode }, 5);
      const ms = median(rs.map((x) => x.wallMs));
      if (mode === 'off') res.e2e[name] = { enc: rs[0].encoderTokens, ms };
      console.log(`end-to-end ${name.padEnd(6)} (${String(rs[0].encoderTokens).padStart(4)} enc tokens, ${rs[0].tokens.length} generated, mode ${mode.padEnd(5)}): ${fmt(ms, 2).padStart(8)} ms`);
    }
  }
  res.wasmMemoryMb = needle.memory.wasmBytes / 2 ** 20;
  res.heapInUseMb = needle.memory.heapInUseBytes / 2 ** 20;
  needle.dispose();
  res.rssMb = process.resourceUsage().maxRSS / 1024;
  console.log(`memory: WebAssembly memory ${fmt(res.wasmMemoryMb)} MB (its peak: it never shrinks), ${fmt(res.heapInUseMb)} MB in use; process peak RSS ${fmt(res.rssMb)} MB`);
  return res;
}

// ---- main ------------------------------------------------------------------------------------

section(`native: ${path.relative(ROOT, path.join(BUILD, 'bench/bench_model'))}`);
const native = runNative();
section('WebAssembly: needle-wasm in Node ' + process.version);
const wasm = await runWasm();
section('INT4 matvec (bench_kernels; WASM built by tests/wasm/run_kernel_tests.sh --bench)');
const k = kernels();
console.log(k.wasmOutput.split('\n').filter((l) => /^(needle kernels|\s+ref|int4_matvec)/.test(l)).join('\n'));

section('summary (medians; WASM / native: > 1 means WASM is slower)');
const raw = fs.statSync(WASM).size;
const gz = gzipSync(fs.readFileSync(WASM), { level: 9 }).length;
const rows = [
  ['load ms (engine: parse + validate)', wasm.load, native.load, 'ms'],
  ...[64, 256, 512].map((n) => [`prefill tok/s at ${n}`, wasm.prefill[n], native.prefill?.[n], 'rate']),
  ['decode tok/s', wasm.decode, native.decode, 'rate'],
  ...CASES.map(([name]) => [`end-to-end ${name} ms (${wasm.e2e[name].enc} enc, 32 gen)`, wasm.e2e[name].ms, native.e2e?.[name]?.ms, 'ms']),
  ...Object.keys(k.wasm).map((shape) => [`int4_matvec ${shape} Gelem/s`, k.wasm[shape], k.native[shape], 'rate']),
  ['peak memory MB (WASM: wasm memory; native: RSS)', wasm.wasmMemoryMb, native.rssMb, 'ms'],
];
console.log(`${'figure'.padEnd(48)} ${'WASM'.padStart(10)} ${'native'.padStart(10)} ${'WASM/native'.padStart(12)}`);
for (const [name, w, n, kind] of rows) {
  const slower = n ? (kind === 'rate' ? n / w : w / n) : undefined;
  console.log(`${name.padEnd(48)} ${fmt(w).padStart(10)} ${fmt(n).padStart(10)} ${(slower ? `x${slower.toFixed(2)}` : 'n/a').padStart(12)}`);
}
console.log(`needle_wasm.wasm: ${raw} bytes raw, ${gz} bytes gzip -9`);
console.log(`process peak RSS (Node, WASM): ${fmt(wasm.rssMb)} MB`);
