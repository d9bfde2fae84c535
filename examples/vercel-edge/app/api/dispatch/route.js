// Needle in a Vercel Edge Function (Next.js App Router): POST /api/dispatch with
// {query, tools, mode?, maxTokens?} -> {calls, text, timings}, or a 4xx/5xx {error: {code, message}}.
//
// The Edge runtime may not compile WebAssembly from bytes: the .wasm is imported with Vercel's
// `?module` suffix (a compiled WebAssembly.Module) and handed to Needle.load. The model is
// fetched once per instance from the URLs below (set NEEDLE_WEIGHTS_URL / NEEDLE_TOKENIZER_URL,
// e.g. to files in this project's public/ folder, to use others).
import { Needle, NeedleError } from 'needle-wasm';
import wasm from 'needle-wasm/needle_wasm.wasm?module';

export const runtime = 'edge';

const MODEL = {
  weights: process.env.NEEDLE_WEIGHTS_URL ?? 'https://huggingface.co/Abdalrahman/needle-rs-safetensors/resolve/main/needle.safetensors',
  tokenizer: process.env.NEEDLE_TOKENIZER_URL ?? 'https://huggingface.co/Abdalrahman/needle-rs-safetensors/resolve/main/vocab.txt',
};

const MAX_BODY_BYTES = 256 * 1024;
const MODES = ['typed', 'strict', 'off'];

const error = (status, code, message) => Response.json({ error: { code, message } }, { status });

// Concurrent first requests share one load; a failed load is retried by the next request.
let loading;
function getNeedle() {
  loading ??= Needle.load({ wasm, ...MODEL }).catch((e) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

// The request body -> {query, tools, options}, or a Response explaining what is wrong.
async function readRequest(request) {
  if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? ''))
    return error(415, 'unsupported_media_type', 'send the body as JSON with "Content-Type: application/json"');
  const body = await request.arrayBuffer();  // Vercel caps request bodies; checked again here
  if (body.byteLength > MAX_BODY_BYTES)
    return error(413, 'body_too_large', `the body is ${body.byteLength} bytes; the limit is ${MAX_BODY_BYTES}`);
  let json;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch (e) {
    return error(400, 'bad_json', `the body is not valid JSON: ${e.message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    return error(400, 'invalid_request', 'the body must be a JSON object: {"query": "...", "tools": [...]}');
  const { query, tools, mode, maxTokens } = json;
  if (typeof query !== 'string' || query.trim() === '')
    return error(400, 'invalid_request', '"query" must be a non-empty string');
  if (tools === null || typeof tools !== 'object')
    return error(400, 'invalid_request', '"tools" must be an array of tools or one tool object');
  if (mode !== undefined && !MODES.includes(mode))
    return error(400, 'invalid_request', `"mode" must be one of ${MODES.join(', ')}`);
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && maxTokens > 0))
    return error(400, 'invalid_request', '"maxTokens" must be a positive integer');
  return { query, tools, options: { mode, maxTokens } };
}

export async function POST(request) {
  const started = Date.now();
  const parsed = await readRequest(request);
  if (parsed instanceof Response) return parsed;
  const waited = Date.now();
  let needle;
  try {
    needle = await getNeedle();
  } catch (e) {
    return error(503, 'model_unavailable', `cannot load the model: ${e.message}`);
  }
  const modelLoadMs = Date.now() - waited;  // the cold load, or ~0 once this instance has the model
  try {
    const { calls, text, timings } = await needle.run(parsed.query, parsed.tools, parsed.options);
    return Response.json({
      calls,
      text,
      timings: { modelLoadMs, encodeMs: timings.encodeMs, decodeMs: timings.decodeMs, totalMs: Date.now() - started },
    });
  } catch (e) {
    if (e instanceof NeedleError && (e.code === 'bad_tools' || e.code === 'invalid_argument')) return error(400, e.code, e.message);
    return error(500, e?.code ?? 'internal', String(e?.message ?? e));
  }
}
