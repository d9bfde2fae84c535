// Needle on Cloudflare Workers: POST /v1/dispatch with {query, tools} -> {calls, text, timings}.
//
// The model is loaded once per isolate, on the first request, from the first source that is
// configured (see wrangler.jsonc and README.md): an R2 bucket (MODEL_BUCKET), a KV namespace
// (MODEL_KV), the Worker's static assets (ASSETS), or URLs (WEIGHTS_URL, TOKENIZER_URL).
// Workers may not compile WebAssembly from bytes, so the .wasm is imported as a module.
// Only the default export may be exported: the runtime reads named exports as entrypoints.
import { Needle, NeedleError } from 'needle-wasm';
import wasm from 'needle-wasm/needle_wasm.wasm';

/** Object keys (R2, KV) and asset paths of the model files. */
const MODEL_FILES = { weights: 'needle.safetensors', tokenizer: 'vocab.txt' };

/** Bodies above this are refused (413) before they are parsed. */
const MAX_BODY_BYTES = 256 * 1024;

const MODES = ['typed', 'strict', 'off'];

class HttpError extends Error {
  constructor(status, code, message, headers) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

function json(status, body, headers) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

// ---- the model, once per isolate ------------------------------------------------------------

// The first request starts the load; concurrent ones wait for it; a failed load is retried by
// the next request instead of being remembered forever.
let loading;

function getNeedle(env) {
  loading ??= loadNeedle(env).catch((e) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

async function loadNeedle(env) {
  const source = await openModel(env);
  try {
    const needle = await Needle.load({ wasm, weights: source.weights, tokenizer: source.tokenizer });
    return { needle, source: source.name };
  } catch (e) {
    throw new HttpError(503, 'model_unavailable', `cannot load the model from ${source.name}: ${e.message}`);
  }
}

function missing(what) {
  return new HttpError(503, 'model_unavailable', `cannot load the model: ${what}`);
}

async function openModel(env) {
  if (env.MODEL_BUCKET) {
    const get = async (key) => {
      const object = await env.MODEL_BUCKET.get(key);
      if (!object) throw missing(`the R2 bucket MODEL_BUCKET has no object "${key}"`);
      return new Response(object.body, { headers: { 'content-length': String(object.size) } });
    };
    return { name: 'R2 (MODEL_BUCKET)', weights: await get(MODEL_FILES.weights), tokenizer: await get(MODEL_FILES.tokenizer) };
  }
  if (env.MODEL_KV) {
    const get = async (key) => {
      const stream = await env.MODEL_KV.get(key, { type: 'stream' });
      if (!stream) throw missing(`the KV namespace MODEL_KV has no key "${key}"`);
      return new Response(stream);
    };
    return { name: 'KV (MODEL_KV)', weights: await get(MODEL_FILES.weights), tokenizer: await get(MODEL_FILES.tokenizer) };
  }
  if (env.ASSETS) {
    // The host is never contacted: the binding serves the deployed asset at that path.
    const get = async (path) => {
      const response = await env.ASSETS.fetch(new Request(`https://assets.invalid/${path}`));
      if (!response.ok) throw missing(`the static assets have no "/${path}" (HTTP ${response.status})`);
      return response;
    };
    return { name: 'static assets (ASSETS)', weights: await get(MODEL_FILES.weights), tokenizer: await get(MODEL_FILES.tokenizer) };
  }
  if (env.WEIGHTS_URL && env.TOKENIZER_URL) {
    const get = async (url) => {
      // cacheEverything lets Cloudflare's cache keep the file for the next cold isolate.
      const response = await fetch(url, { cf: { cacheEverything: true, cacheTtl: 86400 } });
      if (!response.ok) throw missing(`GET ${url} answered HTTP ${response.status}`);
      return response;
    };
    return { name: 'URLs (WEIGHTS_URL, TOKENIZER_URL)', weights: await get(env.WEIGHTS_URL), tokenizer: await get(env.TOKENIZER_URL) };
  }
  throw missing('no model source is configured: bind MODEL_BUCKET (R2), MODEL_KV (KV) or ASSETS, or set WEIGHTS_URL and TOKENIZER_URL');
}

// ---- the request ------------------------------------------------------------------------------

async function readJsonBody(request) {
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/json\b/i.test(type))
    throw new HttpError(415, 'unsupported_media_type', `send the body as JSON with "Content-Type: application/json" (got "${type || 'none'}")`);
  const declared = Number(request.headers.get('content-length'));
  if (declared > MAX_BODY_BYTES) throw tooLarge(declared);
  // A body without Content-Length (chunked) is counted as it arrives.
  const chunks = [];
  let size = 0;
  if (request.body) {
    for await (const chunk of request.body) {
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) throw tooLarge(size, true);
      chunks.push(chunk);
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, 'bad_json', 'the body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, 'bad_json', `the body is not valid JSON: ${e.message}`);
  }
}

function tooLarge(size, atLeast = false) {
  return new HttpError(413, 'body_too_large', `the body is ${atLeast ? 'over ' : ''}${size} bytes; the limit is ${MAX_BODY_BYTES}`);
}

function invalid(message) {
  return new HttpError(400, 'invalid_request', message);
}

// {query, tools, mode?, maxTokens?} -> the arguments of Needle.run, or a 400 naming the field.
function parseDispatch(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalid('the body must be a JSON object: {"query": "...", "tools": [...]}');
  const { query, tools, mode, maxTokens } = body;
  if (query === undefined) throw invalid('"query" is missing: the sentence to turn into a tool call');
  if (typeof query !== 'string' || query.trim() === '') throw invalid('"query" must be a non-empty string');
  if (tools === undefined) throw invalid('"tools" is missing: an array of tools (Needle, JSON Schema, OpenAI, Anthropic or MCP form)');
  if (tools === null || typeof tools !== 'object') throw invalid('"tools" must be an array of tools or one tool object');
  if (mode !== undefined && !MODES.includes(mode)) throw invalid(`"mode" must be one of ${MODES.join(', ')}`);
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && maxTokens > 0))
    throw invalid('"maxTokens" must be a positive integer');
  return { query, tools, options: { mode, maxTokens } };
}

async function dispatch(request, env) {
  const started = Date.now();
  const { query, tools, options } = parseDispatch(await readJsonBody(request));
  const waited = Date.now();
  const { needle } = await getNeedle(env);
  const modelMs = Date.now() - waited;  // the cold load, or ~0 once the isolate has the model
  let result;
  try {
    result = await needle.run(query, tools, options);
  } catch (e) {
    if (e instanceof NeedleError && (e.code === 'bad_tools' || e.code === 'invalid_argument'))
      throw new HttpError(400, e.code, e.message);
    throw e;
  }
  return json(200, {
    calls: result.calls,
    text: result.text,
    timings: {
      modelLoadMs: modelMs,
      encodeMs: result.timings.encodeMs,
      decodeMs: result.timings.decodeMs,
      totalMs: Date.now() - started,
    },
  });
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    try {
      if (pathname !== '/v1/dispatch')
        throw new HttpError(404, 'not_found', `no route ${request.method} ${pathname}; use POST /v1/dispatch`);
      if (request.method !== 'POST')
        throw new HttpError(405, 'method_not_allowed', `${request.method} ${pathname} is not allowed; use POST`, { allow: 'POST' });
      return await dispatch(request, env);
    } catch (e) {
      if (e instanceof HttpError) return json(e.status, { error: { code: e.code, message: e.message } }, e.headers);
      console.error(e);
      return json(500, { error: { code: e?.code ?? 'internal', message: String(e?.message ?? e) } });
    }
  },
};
