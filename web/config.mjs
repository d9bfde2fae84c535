// The demo's model choices. The bundled model is what the page loads by itself, offline,
// served by `npm run demo` from this repository (paths relative to web/). Switch it here.
export const BUNDLED_MODEL = {
  label: 'bundled test model',
  note: 'Its weights are random: answers are well-formed but meaningless. Load the published model from a URL for real ones.',
  weights: '../build/testdata/tiny.safetensors',
  tokenizer: '../build/testdata/tokenizer/vocab.txt',
};

// Prefilled in the URL fields: the published Needle files.
export const PUBLISHED_MODEL = {
  weights: 'https://huggingface.co/Abdalrahman/needle-rs-safetensors/resolve/main/needle.safetensors',
  tokenizer: 'https://huggingface.co/Abdalrahman/needle-rs-safetensors/resolve/main/vocab.txt',
};
