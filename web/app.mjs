// The demo page: model choice and loading (with progress and the cache), the tool editor,
// and runs whose tokens stream in from the inference worker (worker.mjs).
import { BUNDLED_MODEL, PUBLISHED_MODEL } from './config.mjs';
import { cacheAvailable, cachedFiles, clearCache, fileName, formatBytes, storageEstimate } from './model-cache.mjs';
import { PRESETS } from './presets.mjs';
import { checkTools } from './tools.mjs';

const $ = (id) => document.getElementById(id);

// ---- the worker, and one request at a time -------------------------------------------------

let worker;
let nextId = 1;
const pending = new Map();  // id -> { onMessage, resolve, reject }

function startWorker() {
  worker = new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' });
  worker.onmessage = ({ data }) => {
    // About caching; they may arrive after the load has finished.
    if (data.type === 'notice') return notice(data.text);
    if (data.type === 'stored') return refreshCacheStatus();
    const request = pending.get(data.id);
    if (!request) return;
    if (data.type === 'error') {
      pending.delete(data.id);
      request.reject(Object.assign(new Error(data.message), { code: data.code }));
    } else if (data.type === request.final) {
      pending.delete(data.id);
      request.resolve(data);
    } else {
      request.onMessage?.(data);
    }
  };
  worker.onerror = (e) => {
    e.preventDefault();
    for (const [id, request] of pending) {
      pending.delete(id);
      request.reject(Object.assign(new Error(`the inference worker failed: ${e.message || 'it could not start'}`), { code: 'internal' }));
    }
  };
}

function ask(message, final, onMessage) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { final, onMessage, resolve, reject });
    worker.postMessage({ id, ...message });
  });
}

// ---- the model ---------------------------------------------------------------------------------

let model = null;        // the loaded model's info, or null
let lastSource = null;   // what was loaded, to reload after Stop
let busy = null;         // 'loading', 'running' or null

function chosenSource() {
  const kind = document.querySelector('input[name="source"]:checked').value;
  if (kind === 'bundled')
    return { kind: 'url', label: BUNDLED_MODEL.label, weights: absolute(BUNDLED_MODEL.weights), tokenizer: absolute(BUNDLED_MODEL.tokenizer) };
  if (kind === 'url') {
    const weights = $('weights-url').value.trim();
    const tokenizer = $('tokenizer-url').value.trim();
    if (!weights || !tokenizer) throw new Error('enter both URLs: the weights (.safetensors) and the tokenizer (vocab.txt)');
    return { kind: 'url', label: fileName(absolute(weights)), weights: absolute(weights), tokenizer: absolute(tokenizer) };
  }
  const weights = $('weights-file').files[0];
  const tokenizer = $('tokenizer-file').files[0];
  if (!weights || !tokenizer) throw new Error('choose both files: the weights (.safetensors) and the tokenizer (vocab.txt or .model)');
  return { kind: 'files', label: weights.name, weights, tokenizer };
}

function absolute(url) {
  try {
    return new URL(url, location.href).href;
  } catch {
    throw new Error(`"${url}" is not a URL`);
  }
}

const FILE_LABEL = { weights: 'weights', tokenizer: 'tokenizer' };
const FROM_LABEL = { cache: 'from the cache', network: 'downloading', file: 'reading the file' };

function showProgress({ file, loaded, total, from }) {
  const bar = $('progress');
  if (total) {
    bar.max = total;
    bar.value = loaded;
  } else {
    bar.removeAttribute('value');  // indeterminate
  }
  $('progress-text').textContent = `${FILE_LABEL[file]} ${FROM_LABEL[from] ?? ''}: ${formatBytes(loaded)}${total ? ` of ${formatBytes(total)}` : ''}`;
}

function notice(text, kind = 'warn') {
  const box = $('model-notice');
  box.hidden = !text;
  box.className = `notice ${kind}`;
  box.textContent = text ?? '';
}

async function loadModel(source) {
  setBusy('loading');
  notice(null);
  model = null;
  $('model-status').textContent = `Loading ${source.label}…`;
  delete $('model-status').dataset.state;
  $('progress').value = 0;
  $('progress-text').textContent = 'starting…';
  try {
    const { info, from, ms } = await ask(
      { type: 'load', source: { kind: source.kind, weights: source.weights, tokenizer: source.tokenizer } },
      'loaded',
      (m) => m.type === 'progress' && showProgress(m));
    model = { ...info, label: source.label };
    lastSource = source;
    $('progress').value = $('progress').max;
    const where = from.weights === 'cache' ? 'from the cache' : from.weights === 'file' ? 'from local files' : 'from the network';
    $('progress-text').textContent = `loaded ${where} in ${Math.round(ms)} ms`;
    $('model-status').textContent = `Ready: ${source.label} · d_model ${info.dModel}, ${info.encoderLayers}+${info.decoderLayers} layers · ${info.kernels}`;
    $('model-status').dataset.state = 'ready';
  } catch (e) {
    $('model-status').textContent = 'No model loaded';
    $('progress-text').textContent = '';
    $('model-status').dataset.state = 'error';
    notice(`Cannot load the model: ${e.message}`, 'error');
  } finally {
    setBusy(null);
    refreshCacheStatus();
  }
}

async function refreshCacheStatus() {
  const status = $('cache-status');
  if (!cacheAvailable()) {
    status.textContent = 'No Cache API here (it needs https or localhost): models are downloaded on every visit.';
    $('clear-cache').disabled = true;
    return;
  }
  const [files, estimate] = await Promise.all([cachedFiles(), storageEstimate()]);
  const bytes = files.reduce((sum, f) => sum + (f.bytes ?? 0), 0);
  const free = estimate ? ` · ${formatBytes(Math.max(0, estimate.quota - estimate.usage))} free` : '';
  status.textContent = files.length
    ? `Cached: ${files.map((f) => fileName(f.url)).join(', ')} (${formatBytes(bytes)})${free}`
    : `Nothing cached${free}`;
  status.title = files.map((f) => f.url).join('\n');
  $('clear-cache').disabled = files.length === 0;
}

// ---- tools -------------------------------------------------------------------------------------

function showToolsError(message) {
  const box = $('tools-error');
  box.hidden = !message;
  box.textContent = message ?? '';
  $('tools-editor').setAttribute('aria-invalid', message ? 'true' : 'false');
}

function checkEditor() {
  const { formats, error } = checkTools($('tools-editor').value);
  showToolsError(error);
  const counts = {};
  for (const f of formats) counts[f] = (counts[f] ?? 0) + 1;
  $('tool-formats').replaceChildren(...Object.entries(counts).map(([f, n]) =>
    Object.assign(document.createElement('span'), { className: 'badge', textContent: n > 1 ? `${f} ×${n}` : f })));
  return !error;
}

function choosePreset(id) {
  const preset = PRESETS.find((p) => p.id === id) ?? PRESETS[0];
  $('preset').value = preset.id;
  $('tools-editor').value = JSON.stringify(preset.tools, null, 2);
  $('query').value = preset.queries[0];
  $('examples').replaceChildren(...preset.queries.map((q) => {
    const chip = Object.assign(document.createElement('button'), { type: 'button', className: 'chip', textContent: q });
    chip.addEventListener('click', () => {
      $('query').value = q;
      $('query').focus();
    });
    return chip;
  }));
  checkEditor();
}

// ---- running -----------------------------------------------------------------------------------

function setBusy(what) {
  busy = what;
  $('run').disabled = !!what || !model;
  $('load').disabled = what === 'loading';
  $('stop').disabled = what !== 'running';
  document.body.dataset.busy = what ?? '';
}

function renderCalls(calls, violations) {
  const box = $('calls');
  box.replaceChildren();
  if (!calls) return;
  if (calls.length === 0) box.append(Object.assign(document.createElement('p'), { className: 'hint', textContent: 'No call: the model answered with an empty list.' }));
  for (const call of calls) {
    const card = Object.assign(document.createElement('article'), { className: 'call' });
    card.append(Object.assign(document.createElement('h3'), { textContent: call.name }));
    const table = document.createElement('table');
    const args = Object.entries(call.arguments ?? {});
    for (const [key, value] of args) {
      const row = table.insertRow();
      row.append(Object.assign(document.createElement('th'), { textContent: key }));
      const cell = row.insertCell();
      cell.append(Object.assign(document.createElement('div'), { className: 'value', textContent: typeof value === 'string' ? value : JSON.stringify(value) }));
    }
    if (args.length === 0) card.append(Object.assign(document.createElement('p'), { className: 'hint', textContent: 'no arguments' }));
    else card.append(table);
    box.append(card);
  }
  for (const v of violations ?? [])
    box.append(Object.assign(document.createElement('p'), { className: 'notice warn', textContent: v }));
}

function renderStats(stats) {
  $('stats').replaceChildren(...stats.map(([name, value]) => {
    const pair = document.createElement('div');
    pair.append(Object.assign(document.createElement('dt'), { textContent: name }),
                Object.assign(document.createElement('dd'), { textContent: value }));
    return pair;
  }));
}

const ms = (x) => (x === undefined ? '–' : `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`);

async function runQuery() {
  const query = $('query').value.trim();
  if (!query) {
    $('query').focus();
    return;
  }
  if (!checkEditor()) {
    $('tools-editor').focus();
    return;
  }
  const stream = $('stream');
  stream.textContent = '';
  stream.classList.add('streaming');
  renderCalls(null);
  renderStats([]);
  showToolsError(null);
  setBusy('running');
  const clicked = performance.now();
  let tokens = 0;
  try {
    const { result, firstTokenMs, wallMs } = await ask(
      { type: 'run', query, tools: $('tools-editor').value, options: { mode: $('mode').value } },
      'result',
      (m) => {
        if (m.type !== 'token') return;
        tokens++;
        stream.textContent += m.text;
      });
    stream.textContent = result.text;  // authoritative (the pieces may omit trimmed whitespace)
    renderCalls(result.calls, result.violations);
    const decodeS = result.timings.decodeMs / 1000;
    renderStats([
      ['latency', ms(performance.now() - clicked)],
      ['first token', ms(firstTokenMs)],
      ['encode', `${ms(result.timings.encodeMs)} (${result.encoderTokens} tokens)`],
      ['decode', ms(result.timings.decodeMs)],
      ['tokens', String(result.tokens.length)],
      ['tokens/s', decodeS > 0 ? Math.round(result.tokens.length / decodeS).toLocaleString('en') : '–'],
    ]);
    document.body.dataset.lastRun = String(wallMs);
  } catch (e) {
    if (e.code === 'bad_tools') showToolsError(`The engine refused the tools: ${e.message}`);
    else if (e.code !== 'stopped') stream.textContent = `Error (${e.code}): ${e.message}`;
  } finally {
    stream.classList.remove('streaming');
    if (busy === 'running') setBusy(null);
  }
}

// A run is one synchronous call inside the worker: stopping it means ending the worker.
function stop() {
  for (const [id, request] of pending) {
    pending.delete(id);
    request.reject(Object.assign(new Error('stopped'), { code: 'stopped' }));
  }
  worker.terminate();
  $('stream').textContent += '  [stopped]';
  startWorker();
  setBusy(null);
  if (lastSource) loadModel(lastSource);
}

// ---- wiring --------------------------------------------------------------------------------------

function showSourceFields() {
  const kind = document.querySelector('input[name="source"]:checked').value;
  for (const div of document.querySelectorAll('[data-source]')) div.hidden = div.dataset.source !== kind;
}

function init() {
  $('weights-url').value = PUBLISHED_MODEL.weights;
  $('tokenizer-url').value = PUBLISHED_MODEL.tokenizer;
  $('bundled-hint').textContent = `${fileName(absolute(BUNDLED_MODEL.weights))} and ${fileName(absolute(BUNDLED_MODEL.tokenizer))}, ` +
    `served with this page. ${BUNDLED_MODEL.note ?? ''}`;
  for (const radio of document.querySelectorAll('input[name="source"]')) radio.addEventListener('change', showSourceFields);
  $('preset').replaceChildren(...PRESETS.map((p) => Object.assign(document.createElement('option'), { value: p.id, textContent: `${p.title} (${p.format})` })));
  $('preset').addEventListener('change', (e) => choosePreset(e.target.value));
  let timer;
  $('tools-editor').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(checkEditor, 150);
  });
  $('ask-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (!busy && model) runQuery();
  });
  $('query').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      $('ask-form').requestSubmit();
    }
  });
  $('stop').addEventListener('click', stop);
  $('load').addEventListener('click', () => {
    let source;
    try {
      source = chosenSource();
    } catch (e) {
      notice(e.message, 'error');
      return;
    }
    loadModel(source);
  });
  $('clear-cache').addEventListener('click', async () => {
    await clearCache();
    notice('Cache cleared: the next load downloads the model again.', 'info');
    refreshCacheStatus();
  });
  choosePreset(PRESETS[0].id);
  showSourceFields();
  startWorker();
  setBusy(null);
  loadModel(chosenSource());
}

init();
