// The model the Node examples load: the small model trained in this repository
// (models/needle-tiny, made by train/train.py), which answers everyday requests offline.
// Point NEEDLE_WEIGHTS and NEEDLE_VOCAB at other files (e.g. the published needle.safetensors
// and vocab.txt) to use those instead.
import { fileURLToPath } from 'node:url';

export const MODEL = {
  weights: process.env.NEEDLE_WEIGHTS ?? fileURLToPath(new URL('../models/needle-tiny/needle.safetensors', import.meta.url)),
  tokenizer: process.env.NEEDLE_VOCAB ?? fileURLToPath(new URL('../models/needle-tiny/vocab.txt', import.meta.url)),
};
