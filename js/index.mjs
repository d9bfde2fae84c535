// needle-wasm for browsers, Web Workers and edge runtimes (Cloudflare Workers, Deno, Bun):
// sources are URLs, bytes, Blobs or Responses. Node.js gets node.mjs (file paths too).
export { Needle, NeedleAbortError, NeedleError } from './core.mjs';
