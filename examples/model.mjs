// The model the Node examples load: the repository's test model until a trained one lands.
// Point NEEDLE_WEIGHTS and NEEDLE_VOCAB at other files (e.g. the published needle.safetensors
// and vocab.txt) to use those instead.
import { fileURLToPath } from 'node:url';

export const MODEL = {
  weights: process.env.NEEDLE_WEIGHTS ?? fileURLToPath(new URL('../build/testdata/tiny.safetensors', import.meta.url)),
  tokenizer: process.env.NEEDLE_VOCAB ?? fileURLToPath(new URL('../build/testdata/tokenizer/vocab.txt', import.meta.url)),
};
