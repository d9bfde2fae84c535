// The inference worker: loads the model and runs queries off the page's main thread, so the
// page stays responsive while the engine computes (each run is one synchronous WebAssembly
// call). Tokens are posted as they are generated.
//
// In:  { id, type: 'load', source: { kind: 'url', weights, tokenizer } | { kind: 'files', weights: File, tokenizer: File } }
//      { id, type: 'run', query, tools, options: { mode, maxTokens } }
// Out: { id, type: 'progress', file, loaded, total, from }   { id, type: 'notice', text }
//      { id, type: 'loaded', info, from, ms }                 { id, type: 'stored' }
//      { id, type: 'token', text }                            { id, type: 'result', result, firstTokenMs, wallMs }
//      { id, type: 'error', code, message }
import { Needle } from '../js/index.mjs';

import { cachedFetch, forget } from './model-cache.mjs';

let needle = null;

const post = (message) => self.postMessage(message);

async function download(url, file) {
  let got;
  try {
    got = await cachedFetch(url);
  } catch (e) {
    throw Object.assign(new Error(`cannot download the ${file} from ${url}: ${e.message} ` +
      '(offline, a wrong address, or a server that does not allow cross-origin requests)'), { code: 'io' });
  }
  if (!got.response.ok)
    throw Object.assign(new Error(`cannot download the ${file} from ${url}: HTTP ${got.response.status} ${got.response.statusText}`.trim()), { code: 'io' });
  return got;
}

async function load(id, source) {
  needle?.dispose();
  needle = null;
  const started = performance.now();
  let weights, tokenizer, from, urls = [], stored = [];
  if (source.kind === 'files') {
    ({ weights, tokenizer } = source);
    from = { weights: 'file', tokenizer: 'file' };
  } else {
    urls = [source.weights, source.tokenizer];
    const [w, t] = await Promise.all([download(source.weights, 'weights'), download(source.tokenizer, 'tokenizer')]);
    ({ response: weights } = w);
    ({ response: tokenizer } = t);
    from = { weights: w.from, tokenizer: t.from };
    stored = [w.stored, t.stored];
  }
  try {
    needle = await Needle.load({
      weights,
      tokenizer,
      onProgress: ({ file, loaded, total }) => post({ id, type: 'progress', file, loaded, total, from: from[file] }),
    });
  } catch (e) {
    // Files that do not load must not be served from the cache next time.
    await Promise.allSettled(stored);
    await Promise.all(urls.map((u) => forget(u).catch(() => {})));
    throw e;
  }
  post({ id, type: 'loaded', info: needle.info, from, ms: performance.now() - started });
  const reasons = await Promise.all(stored);
  for (const reason of reasons) if (reason) post({ id, type: 'notice', text: reason });
  if (urls.length) post({ id, type: 'stored' });
}

async function run(id, { query, tools, options }) {
  if (!needle) throw Object.assign(new Error('no model is loaded'), { code: 'not_loaded' });
  const started = performance.now();
  let firstTokenMs;
  const result = await needle.run(query, tools, {
    ...options,
    onToken: ({ text }) => {
      firstTokenMs ??= performance.now() - started;
      post({ id, type: 'token', text });
    },
  });
  post({ id, type: 'result', result, firstTokenMs, wallMs: performance.now() - started });
}

self.onmessage = async ({ data }) => {
  try {
    if (data.type === 'load') await load(data.id, data.source);
    else if (data.type === 'run') await run(data.id, data);
    else throw new Error(`unknown message type ${data.type}`);
  } catch (e) {
    post({ id: data.id, type: 'error', code: e?.code ?? 'internal', message: String(e?.message ?? e) });
  }
};

