// Types of the needle-wasm package (both entry points: index.mjs and node.mjs).

/** Where bytes come from. Strings are URLs (resolved against the page); in Node they may
 * also be file paths, and `file:` URLs are read from disk. */
export type Source = string | URL | ArrayBuffer | ArrayBufferView | Blob | Response;

export interface Progress {
  /** Which input the bytes belong to. */
  file: 'weights' | 'tokenizer';
  /** Bytes read so far. */
  loaded: number;
  /** Expected bytes (Content-Length or file size), undefined while unknown. */
  total: number | undefined;
}

export interface LoadOptions {
  /** The Needle SafeTensors file (INT4), e.g. needle.safetensors. */
  weights: Source;
  /** The SentencePiece .model or the text vocab.txt. */
  tokenizer: Source;
  /** Overrides where needle_wasm.wasm comes from (default: next to this module, found with
   * `new URL('./needle_wasm.wasm', import.meta.url)`). Pass a compiled WebAssembly.Module
   * where compiling bytes is forbidden (Cloudflare Workers: `import wasm from
   * 'needle-wasm/needle_wasm.wasm'`). */
  wasm?: string | URL | ArrayBuffer | ArrayBufferView | Response | WebAssembly.Module;
  /** Called as bytes arrive; a throwing callback is ignored. */
  onProgress?: (progress: Progress) => void;
  /** Aborts the downloads and the load (NeedleAbortError). */
  signal?: AbortSignal;
}

/** Every tool format of NEEDLE.md section 7: Needle's flat form, JSON Schema parameters,
 * OpenAI, Anthropic, MCP; an array, one tool, or their JSON text. */
export type Tools = string | Record<string, unknown> | Array<Record<string, unknown>>;

export interface RunOptions {
  /** Cap on generated ids (default: the model's max_dec_len - 1). */
  maxTokens?: number;
  /** Constrained decoding: "off", "strict" (upstream's masks) or "typed" (schema-aware).
   * Forwarded to the engine; an engine without constrained decoding refuses it. */
  mode?: 'off' | 'strict' | 'typed';
  /** Stops generation at the next id (NeedleAbortError). */
  signal?: AbortSignal;
  /** Called synchronously after each generated id; return false to stop. */
  onToken?: (token: StreamToken) => boolean | void;
}

export interface StreamToken {
  /** The generated id. */
  id: number;
  /** The text this id completes: whole UTF-8 characters, often "". The pieces add up to
   * the output as it grows; the final `text` of the result is authoritative. */
  text: string;
}

export interface Call {
  name: string;
  arguments: Record<string, unknown>;
}

export interface RunResult {
  /** The model's output, e.g. `[{"name":"get_weather","arguments":{"location":"Paris"}}]`. */
  text: string;
  /** The calls parsed from `text` with the caller's tool names; undefined when the engine
   * does not report them. */
  calls: Call[] | undefined;
  /** Ways `text` departs from the tools (when the engine reports them). */
  violations?: string[];
  /** Generated ids, the start token and EOS excluded. */
  tokens: number[];
  /** Encoder input length (query + tools). */
  encoderTokens: number;
  timings: { loadMs: number; encodeMs: number; decodeMs: number };
}

export interface RankedTool {
  /** Position in the descriptions given. */
  index: number;
  /** Cosine similarity with the query. */
  score: number;
  description: string;
}

export interface ModelInfo {
  vocabSize: number;
  dModel: number;
  encoderLayers: number;
  decoderLayers: number;
  maxEncLen: number;
  maxDecLen: number;
  /** What embed/retrieveTools use: the contrastive head, or the mean-pooled encoder. */
  embedding: 'head' | 'mean_pool';
  /** The INT4 kernels in use ("simd128"). */
  kernels: string;
  /** Parse + validate time of the load, ms. */
  loadMs: number;
}

export type NeedleErrorCode =
  | 'invalid_argument'
  | 'bad_weights'
  | 'bad_tokenizer'
  | 'bad_tools'
  | 'io'
  | 'not_loaded'
  | 'internal'
  | 'aborted';

export class NeedleError extends Error {
  constructor(code: NeedleErrorCode, message: string, options?: { cause?: unknown });
  readonly code: NeedleErrorCode;
}

/** code "aborted", name "AbortError". */
export class NeedleAbortError extends NeedleError {
  constructor(message?: string, options?: { cause?: unknown });
  readonly code: 'aborted';
}

export class Needle {
  private constructor();
  static load(options: LoadOptions): Promise<Needle>;
  readonly info: ModelInfo;
  /** The WebAssembly memory's size (it grows, never shrinks) and the bytes the allocator
   * has handed out (weights included); both stay constant from call to call once warmed
   * up. Zeros once disposed. */
  readonly memory: { wasmBytes: number; heapInUseBytes: number };
  run(query: string, tools: Tools, options?: RunOptions): Promise<RunResult>;
  /** Each generated id with the text it completes, as it is generated: one decoding step per
   * iteration, with a turn of the event loop before each, so an AbortSignal (rejecting with
   * NeedleAbortError), timers and rendering are served mid-stream; `break` stops generating.
   * The iterator's return value is the RunResult. One generation at a time per Needle: a
   * run(), runBatch() or stream() started before this stream ends supersedes it (its next
   * step throws code "invalid_argument"); use one Needle per concurrent stream. */
  stream(query: string, tools: Tools, options?: Omit<RunOptions, 'onToken'>): AsyncGenerator<StreamToken, RunResult, undefined>;
  /** Several queries in one call: a RunResult or a NeedleError per item, in order. */
  runBatch(items: Array<{ query: string; tools: Tools; options?: Omit<RunOptions, 'onToken' | 'signal'> }>): Promise<Array<RunResult | NeedleError>>;
  /** Ranks tool descriptions by similarity to the query, best first; at most k. */
  retrieveTools(query: string, descriptions: string[], k?: number): Promise<RankedTool[]>;
  /** The L2-normalised retrieval embedding of `text`. */
  embed(text: string): Promise<Float32Array>;
  /** Frees the model and its memory; later calls throw code "not_loaded". */
  dispose(): void;
}
