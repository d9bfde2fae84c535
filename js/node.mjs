// needle-wasm for Node.js: the same API as index.mjs, plus file paths (and file: URLs) for
// the weights, the tokenizer and the wasm. Files are read straight into the WebAssembly
// heap, in chunks, with progress.
import { open, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { Needle as BaseNeedle, NeedleAbortError, NeedleError, defaultPlatform, loadWith } from './core.mjs';

export { NeedleAbortError, NeedleError };

const CHUNK_BYTES = 4 << 20;

// "https://..." or a URL object -> URL; "C:\\x" (one-letter scheme) and plain paths -> null.
function asUrl(source) {
  if (source instanceof URL) return source;
  return /^[a-z][a-z0-9+.-]+:/i.test(source) ? new URL(source) : null;
}

async function openFile(path, file) {
  let size;
  try {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Error('not a regular file');
      size = st.size;
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new NeedleError('io', `cannot read the ${file} '${path}': ${e.message}`, { cause: e });
  }
  return {
    kind: 'file',
    path,
    size,
    readAll: () => readFile(path),
    // Reads into the heap buffer chunk by chunk. The caller guarantees nothing allocates in
    // the module meanwhile (see readOpened in core.mjs): the view stays valid while in flight.
    async readInto(buf, report, signal) {
      const fh = await open(path, 'r');
      try {
        let pos = 0;
        while (pos < size) {
          if (signal?.aborted) throw new NeedleAbortError(undefined, { cause: signal.reason });
          const n = Math.min(CHUNK_BYTES, size - pos);
          const { bytesRead } = await fh.read(buf.window(n), 0, n, pos);
          if (bytesRead === 0) throw new Error(`the file ended at byte ${pos} of ${size} (it changed while being read)`);
          buf.length += bytesRead;
          pos += bytesRead;
          report(pos, size);
        }
        if (size === 0) report(0, 0);
      } finally {
        await fh.close();
      }
    },
  };
}

const nodePlatform = {
  async open(source, file, signal) {
    const url = asUrl(source);
    if (url && url.protocol !== 'file:') return defaultPlatform.open(url, file, signal);
    return openFile(url ? fileURLToPath(url) : String(source), file);
  },
  async defaultWasm() {
    return openFile(fileURLToPath(new URL('./needle_wasm.wasm', import.meta.url)), 'wasm');
  },
};

export class Needle extends BaseNeedle {
  /** Loads the module, the weights and the tokenizer; sources may also be file paths. */
  static async load(options) {
    return loadWith(options, nodePlatform, this);
  }
}
