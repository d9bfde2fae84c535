// The demo's model choices. The bundled model is what the page loads by itself, offline,
// served by `npm run demo` from this repository (paths relative to web/). Switch it here.
export const BUNDLED_MODEL = {
  label: 'needle-tiny (offline)',
  note: 'A 1.1M-parameter model of the Needle architecture trained in this repository (train/): ' +
    'it handles everyday requests to tools like the presets; the published Needle, one URL away, handles far more.',
  weights: '../models/needle-tiny/needle.safetensors',
  tokenizer: '../models/needle-tiny/vocab.txt',
};

// Prefilled in the URL fields: the published Needle files.
export const PUBLISHED_MODEL = {
  weights: 'https://huggingface.co/Abdalrahman/needle-rs-safetensors/resolve/main/needle.safetensors',
  tokenizer: 'https://huggingface.co/Abdalrahman/needle-rs-safetensors/resolve/main/vocab.txt',
};
