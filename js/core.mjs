// needle-wasm: the runtime-independent part of the npm wrapper around the embind module
// (bindings/needle_wasm.cpp). Entry points (index.mjs for browsers, workers and edge
// runtimes; node.mjs for Node) supply a `platform` that knows how to read their sources.
//
// Memory: the weights are written into the WebAssembly heap once, chunk by chunk as they
// arrive (a download, a file, a buffer), and the engine keeps them there; no other copy
// is kept. Never hold a HEAPU8 view across a call that may allocate: growing the memory
// detaches it. So every write below re-reads `mod.HEAPU8`.
import createNeedleWasm from './needle_wasm.mjs';

/** The one error class: `code` is the core's error code ("invalid_argument", "bad_weights",
 * "bad_tokenizer", "bad_tools", "io", "not_loaded", "internal") or "aborted". */
export class NeedleError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'NeedleError';
    this.code = code;
  }
}

/** Thrown when an AbortSignal stops a call; `name` is "AbortError", as fetch's is. */
export class NeedleAbortError extends NeedleError {
  constructor(message = 'the operation was aborted', options) {
    super('aborted', message, options);
    this.name = 'AbortError';
  }
}

// A macrotask turn, so timers, I/O, rendering and abort events run between decoding steps.
// setImmediate (Node, Bun) and MessageChannel (browsers, workers) are not clamped to 1-4 ms
// the way setTimeout(0) is.
function yieldToEventLoop() {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') {
      setImmediate(resolve);
    } else if (typeof MessageChannel === 'function') {
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = () => {
        port1.close();
        resolve();
      };
      port2.postMessage(null);
    } else {
      setTimeout(resolve, 0);
    }
  });
}

function throwIfAborted(signal) {
  if (signal?.aborted) throw new NeedleAbortError(undefined, { cause: signal.reason });
}

// A binding result {ok, code, message, ...} -> the result, or a thrown NeedleError.
function check(r) {
  if (!r.ok) throw new NeedleError(r.code, r.message);
  return r;
}

// Anything fetch, a reader or the platform threw -> NeedleError (aborts keep their kind).
function asNeedleError(e, what, signal) {
  if (e instanceof NeedleError) return e;
  if (signal?.aborted || e?.name === 'AbortError')
    return new NeedleAbortError(`${what}: aborted`, { cause: e });
  return new NeedleError('io', `${what}: ${e?.message ?? e}`, { cause: e });
}

// ---- the WebAssembly module ----------------------------------------------------------------

// Compiling once per wasm source is enough; every Needle gets its own instance (and memory,
// which is released with it).
const compiled = new Map();

async function compileWasm(source, platform, signal) {
  if (source instanceof WebAssembly.Module) return source;
  if (source === undefined) {
    const key = 'default';
    if (!compiled.has(key)) {
      const p = platform.defaultWasm(signal).then((bytesOrResponse) => compileFrom(bytesOrResponse));
      compiled.set(key, p);
      p.catch(() => compiled.delete(key));  // a failed attempt may be retried
    }
    return compiled.get(key);
  }
  if (typeof source === 'string' || source instanceof URL) {
    return compileFrom(await platform.open(source, 'wasm', signal));
  }
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source) || isResponse(source)) {
    return compileFrom(source);
  }
  throw new NeedleError('invalid_argument',
    'options.wasm must be a URL, a path (Node), bytes, a Response or a WebAssembly.Module');
}

async function compileFrom(src) {
  try {
    if (isResponse(src)) {
      if (typeof WebAssembly.compileStreaming === 'function') {
        // A wrong Content-Type makes streaming compilation refuse; fall back to bytes.
        const copy = src.clone();
        try {
          return await WebAssembly.compileStreaming(src);
        } catch {
          return await WebAssembly.compile(await copy.arrayBuffer());
        }
      }
      return await WebAssembly.compile(await src.arrayBuffer());
    }
    if (src?.kind === 'file') return await WebAssembly.compile(await src.readAll());
    return await WebAssembly.compile(src);
  } catch (e) {
    throw new NeedleError('io', `cannot compile needle_wasm.wasm: ${e?.message ?? e}`, { cause: e });
  }
}

async function instantiate(wasmModule) {
  let failed;
  const failure = new Promise((_, reject) => { failed = reject; });
  const mod = createNeedleWasm({
    // Never consulted (instantiateWasm supplies the instance), but without it the glue
    // resolves a default URL from import.meta.url, which edge runtimes do not have.
    locateFile: (path) => path,
    // Cloudflare Workers cannot compile bytes at run time: instantiate the given Module.
    instantiateWasm(imports, receive) {
      WebAssembly.instantiate(wasmModule, imports).then((instance) => receive(instance, wasmModule), failed);
      return {};
    },
  });
  try {
    return await Promise.race([mod, failure]);
  } catch (e) {
    throw new NeedleError('io', `cannot instantiate needle_wasm.wasm: ${e?.message ?? e}`, { cause: e });
  }
}

// ---- sources into the heap ------------------------------------------------------------------

function isResponse(x) {
  return typeof Response === 'function' && x instanceof Response;
}
function isBlob(x) {
  return typeof Blob === 'function' && x instanceof Blob;
}

// A growing malloc'd buffer in the module's heap.
class HeapBuffer {
  constructor(mod, capacity, what) {
    this.mod = mod;
    this.what = what;
    this.length = 0;
    this.capacity = Math.max(1, capacity);
    this.ptr = mod._malloc(this.capacity);
    if (!this.ptr) throw this.outOfMemory(this.capacity);
  }

  outOfMemory(n) {
    return new NeedleError('io', `${this.what}: cannot allocate ${n} bytes in the WebAssembly heap`);
  }

  reserve(n) {
    if (n <= this.capacity) return;
    const capacity = Math.max(n, Math.ceil(this.capacity * 1.5));
    const p = this.mod._realloc(this.ptr, capacity);
    if (!p) throw this.outOfMemory(capacity);
    this.ptr = p;
    this.capacity = capacity;
  }

  append(chunk) {
    this.reserve(this.length + chunk.byteLength);
    this.mod.HEAPU8.set(chunk, this.ptr + this.length);
    this.length += chunk.byteLength;
  }

  // A view to read into directly (valid until the next allocation).
  window(n) {
    this.reserve(this.length + n);
    return this.mod.HEAPU8.subarray(this.ptr + this.length, this.ptr + this.length + n);
  }

  free() {
    if (this.ptr) this.mod._free(this.ptr);
    this.ptr = 0;
  }
}

function progressReporter(onProgress, file) {
  if (typeof onProgress !== 'function') return () => {};
  return (loaded, total) => {
    try {
      onProgress({ file, loaded, total });
    } catch {
      // A throwing progress callback must not break the load.
    }
  };
}

async function readBody(mod, response, what, report, signal) {
  const header = Number(response.headers?.get?.('content-length'));
  // With Content-Encoding the header counts compressed bytes: only a hint for the buffer.
  const total = Number.isFinite(header) && header > 0 ? header : undefined;
  const buf = new HeapBuffer(mod, total ?? 1 << 20, what);
  try {
    if (!response.body) {  // some runtimes' Responses have no stream
      buf.append(new Uint8Array(await response.arrayBuffer()));
    } else {
      const reader = response.body.getReader();
      try {
        for (;;) {
          throwIfAborted(signal);
          const { done, value } = await reader.read();
          if (done) break;
          buf.append(value);
          report(buf.length, total);
        }
      } finally {
        reader.releaseLock?.();
      }
    }
    throwIfAborted(signal);
    report(buf.length, total ?? buf.length);
    return buf;
  } catch (e) {
    buf.free();
    response.body?.cancel?.().catch(() => {});
    throw asNeedleError(e, what, signal);
  }
}

// Phase 1 of reading a source (see LoadOptions in index.d.ts): validate it and start its
// download, without reading the body. Returns bytes, a Response, or a platform file.
async function openSource(source, file, platform, signal) {
  throwIfAborted(signal);
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (isBlob(source)) return new Response(source);
  if (isResponse(source)) {
    if (!source.ok) throw new NeedleError('io', `cannot read the ${file}: HTTP ${source.status} ${source.statusText}`.trim());
    return source;
  }
  if (typeof source === 'string' || source instanceof URL) return platform.open(source, file, signal);
  throw new NeedleError('invalid_argument',
    `options.${file} must be a URL, a path (Node), an ArrayBuffer or typed array, a Blob or a Response`);
}

function discard(opened) {
  if (isResponse(opened)) opened.body?.cancel?.().catch(() => {});
}

// Phase 2: copy an opened source into the heap. Returns a HeapBuffer the caller owns.
// Only one of these runs at a time per module: a file read writes into the heap while it
// is in flight, so nothing else may allocate (and so move or grow the heap) meanwhile.
async function readOpened(mod, opened, file, onProgress, signal) {
  const what = `cannot read the ${file}`;
  const report = progressReporter(onProgress, file);
  throwIfAborted(signal);
  if (opened instanceof Uint8Array) {
    const buf = new HeapBuffer(mod, opened.byteLength, what);
    buf.append(opened);
    report(opened.byteLength, opened.byteLength);
    return buf;
  }
  if (isResponse(opened)) return readBody(mod, opened, opened.url ? `${what} from ${opened.url}` : what, report, signal);
  // A file (Node): read straight into the heap, no intermediate copy.
  const buf = new HeapBuffer(mod, opened.size, `${what} '${opened.path}'`);
  try {
    await opened.readInto(buf, report, signal);
    return buf;
  } catch (e) {
    buf.free();
    throw asNeedleError(e, `${what} '${opened.path}'`, signal);
  }
}

// ---- the public API -------------------------------------------------------------------------

function toolsText(tools) {
  if (typeof tools === 'string') return tools;
  if (tools === undefined || tools === null)
    throw new NeedleError('invalid_argument', 'tools is required: an array of tools, one tool, or their JSON');
  return JSON.stringify(tools);
}

function queryText(query, what = 'query') {
  if (typeof query !== 'string') throw new NeedleError('invalid_argument', `${what} must be a string`);
  return query;
}

// JS options -> the binding's options JSON (only the keys the core knows are sent).
function optionsText(options) {
  if (options === undefined || options === null) return '';
  if (typeof options !== 'object') throw new NeedleError('invalid_argument', 'options must be an object');
  const out = {};
  if (options.maxTokens !== undefined) out.maxTokens = options.maxTokens;
  if (options.mode !== undefined) out.mode = options.mode;
  return JSON.stringify(out);
}

function runResult(r) {
  return {
    text: r.text,
    calls: r.calls === undefined ? undefined : JSON.parse(r.calls),
    ...(r.violations === undefined ? {} : { violations: r.violations }),
    tokens: Array.from(r.tokens),
    encoderTokens: r.encoderTokens,
    timings: r.timings,
  };
}

export class Needle {
  #mod;
  #native;
  #info;
  #aborted = null;  // the RuntimeError that killed the module, if one did

  /** @internal Use Needle.load(). */
  constructor(mod, native, info) {
    this.#mod = mod;
    this.#native = native;
    this.#info = Object.freeze({
      vocabSize: info.vocabSize,
      dModel: info.dModel,
      encoderLayers: info.encoderLayers,
      decoderLayers: info.decoderLayers,
      maxEncLen: info.maxEncLen,
      maxDecLen: info.maxDecLen,
      embedding: info.embedding,
      kernels: info.kernels,
      loadMs: info.loadMs,
    });
  }

  /** Loads the module, the weights and the tokenizer (see index.d.ts). */
  static async load(options) {
    return loadWith(options, defaultPlatform, this);
  }

  /** Facts about the loaded model. */
  get info() {
    return this.#info;
  }

  /** { wasmBytes, heapInUseBytes }: the WebAssembly memory's size (it grows, never
   * shrinks) and what the allocator has handed out (the weights included). Both stay
   * constant from call to call once warmed up. */
  get memory() {
    if (!this.#native) return { wasmBytes: 0, heapInUseBytes: 0 };
    return { wasmBytes: this.#mod.HEAPU8.buffer.byteLength, heapInUseBytes: this.#mod.NeedleWasm.memory().heapInUseBytes };
  }

  #engine() {
    if (this.#aborted) throw new NeedleError('internal', `the WebAssembly module aborted earlier: ${this.#aborted.message}`);
    if (!this.#native) throw new NeedleError('not_loaded', 'this Needle was disposed');
    return this.#native;
  }

  // Calls into the module. The core does not throw; a WebAssembly trap (out of memory, a
  // bug) leaves the instance unusable, so it becomes a NeedleError and later calls say so.
  #call(f) {
    const engine = this.#engine();
    try {
      return f(engine);
    } catch (e) {
      if (!(e instanceof WebAssembly.RuntimeError)) throw e;
      this.#aborted = e;
      throw new NeedleError('internal', `the WebAssembly module aborted: ${e.message}`, { cause: e });
    }
  }

  /** One query -> { text, calls, tokens, encoderTokens, timings }. */
  async run(query, tools, options = {}) {
    const { signal, onToken } = options ?? {};
    throwIfAborted(signal);
    const args = [queryText(query), toolsText(tools), optionsText(options)];
    let r;
    if (signal || typeof onToken === 'function') {
      let callbackError;
      r = this.#call((engine) => engine.run_stream(...args, (id, text) => {
        if (signal?.aborted) return false;
        if (typeof onToken !== 'function') return true;
        try {
          return onToken({ id, text }) !== false;
        } catch (e) {  // must not unwind through WebAssembly
          callbackError = e;
          return false;
        }
      }));
      if (callbackError !== undefined) throw callbackError;
      throwIfAborted(signal);
    } else {
      r = this.#call((engine) => engine.run(...args));
    }
    return runResult(check(r));
  }

  /**
   * Each generated id with the text it completes (whole characters, possibly ""), as it is
   * generated: the module decodes one step per iteration, and the event loop gets a turn
   * before every step, so timers, I/O, rendering and an AbortSignal are served mid-stream. An
   * abort ends the iteration with NeedleAbortError; leaving the loop early (break) stops
   * generating. The return value is the RunResult. One generation at a time per Needle: a
   * run(), runBatch() or stream() started before this stream ends supersedes it (its next
   * step throws code "invalid_argument").
   */
  async *stream(query, tools, options = {}) {
    const { signal } = options ?? {};
    throwIfAborted(signal);
    const args = [queryText(query), toolsText(tools), optionsText(options)];
    const { generation } = check(this.#call((engine) => engine.start(...args)));
    let finished = false;
    try {
      for (;;) {
        await yieldToEventLoop();
        throwIfAborted(signal);
        const step = check(this.#call((engine) => engine.next(generation)));
        if (step.done) break;
        yield { id: step.id, text: step.text };
      }
      const r = check(this.#call((engine) => engine.finish(generation)));
      finished = true;
      return runResult(r);
    } finally {
      // An abort, a break, an error: free the generation unless another call replaced it
      // (cancel ignores a number that is not the live one) or the instance is gone.
      if (!finished && this.#native && !this.#aborted) this.#native.cancel(generation);
    }
  }

  /** Several queries in one call: one RunResult or NeedleError per item, in order. */
  async runBatch(items) {
    if (!Array.isArray(items)) throw new NeedleError('invalid_argument', 'runBatch takes an array of { query, tools, options? }');
    this.#engine();  // not_loaded before argument errors, as the other calls
    const json = JSON.stringify(items.map((item, i) => {
      if (item === null || typeof item !== 'object')
        throw new NeedleError('invalid_argument', `runBatch: item ${i} must be an object`);
      const options = optionsText(item.options);
      return { query: queryText(item.query, `runBatch: item ${i}'s query`), tools: toolsText(item.tools),
               ...(options ? { options: JSON.parse(options) } : {}) };
    }));
    const results = this.#call((engine) => engine.run_batch(json));
    if (!Array.isArray(results)) check(results);
    return results.map((r) => (r.ok ? runResult(r) : new NeedleError(r.code, r.message)));
  }

  /** Ranks `descriptions` (strings) by similarity to `query`: [{ index, score, description }],
   * best first, at most k (all when k is omitted). */
  async retrieveTools(query, descriptions, k) {
    this.#engine();
    if (!Array.isArray(descriptions) || descriptions.some((d) => typeof d !== 'string'))
      throw new NeedleError('invalid_argument', 'descriptions must be an array of strings');
    if (k !== undefined && (!Number.isInteger(k) || k < 0))
      throw new NeedleError('invalid_argument', `k must be an integer >= 0, got ${k}`);
    const q = queryText(query);
    const r = check(this.#call((engine) => engine.retrieve_tools(q, JSON.stringify(descriptions), k ?? -1)));
    return r.results.map(({ index, score }) => ({ index, score, description: descriptions[index] }));
  }

  /** The retrieval embedding of `text`: an L2-normalised Float32Array (info.embedding says
   * whether the contrastive head or the mean-pooled encoder made it). */
  async embed(text) {
    this.#engine();
    const t = queryText(text, 'text');
    return check(this.#call((engine) => engine.encode_contrastive(t))).vector;
  }

  /** Frees the model and its WebAssembly memory. Later calls throw code "not_loaded". */
  dispose() {
    if (!this.#native) return;
    if (!this.#aborted) {  // a dead module cannot run destructors; dropping it frees it all
      this.#native.dispose();
      this.#native.delete();
    }
    this.#native = null;
    this.#mod = null;
    this.#aborted = null;
  }
}

export async function loadWith(options, platform, NeedleClass = Needle) {
  if (options === null || typeof options !== 'object')
    throw new NeedleError('invalid_argument', 'Needle.load takes { weights, tokenizer, wasm?, onProgress?, signal? }');
  const { weights, tokenizer, wasm, onProgress, signal } = options;
  if (weights === undefined || weights === null) throw new NeedleError('invalid_argument', 'options.weights is required');
  if (tokenizer === undefined || tokenizer === null) throw new NeedleError('invalid_argument', 'options.tokenizer is required');
  throwIfAborted(signal);

  // The module compiles while the downloads start; bodies are read one after the other.
  const opening = [openSource(weights, 'weights', platform, signal), openSource(tokenizer, 'tokenizer', platform, signal)];
  const started = await Promise.allSettled([compileWasm(wasm, platform, signal).then(instantiate), ...opening]);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    for (const s of started.slice(1)) if (s.status === 'fulfilled') discard(s.value);
    throw failed.reason;
  }
  const [mod, wOpened, tOpened] = started.map((s) => s.value);
  let w, t;
  try {
    w = await readOpened(mod, wOpened, 'weights', onProgress, signal);
    t = await readOpened(mod, tOpened, 'tokenizer', onProgress, signal);
  } catch (e) {
    w?.free();
    discard(tOpened);
    throw e;
  }
  const native = new mod.NeedleWasm();
  // load() owns both buffers from here on, whatever it answers.
  const info = native.load(w.ptr, w.length, t.ptr, t.length);
  if (!info.ok) {
    native.delete();
    check(info);
  }
  return new NeedleClass(mod, native, info);
}

// ---- browsers, workers, edge runtimes -------------------------------------------------------

export const defaultPlatform = {
  // A URL (relative ones against the page) -> a Response.
  async open(source, file, signal) {
    let url;
    try {
      url = new URL(source, globalThis.location?.href);
    } catch {
      throw new NeedleError('invalid_argument', `options.${file}: '${source}' is not a URL`);
    }
    let response;
    try {
      response = await fetch(url, { signal });
    } catch (e) {
      throw asNeedleError(e, `cannot fetch the ${file} from ${url}`, signal);
    }
    if (!response.ok)
      throw new NeedleError('io', `cannot fetch the ${file} from ${url}: HTTP ${response.status} ${response.statusText}`.trim());
    return response;
  },
  async defaultWasm(signal) {
    let url;
    try {
      url = new URL('./needle_wasm.wasm', import.meta.url);
    } catch (e) {
      throw new NeedleError('invalid_argument',
        'cannot locate needle_wasm.wasm here (no import.meta.url): pass options.wasm (a URL, bytes or a WebAssembly.Module)',
        { cause: e });
    }
    return this.open(url, 'wasm', signal);
  },
};
