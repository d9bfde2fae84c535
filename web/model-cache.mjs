// Model files kept with the Cache API, so a second visit loads them without the network.
// Used by the inference worker (reading, writing) and by the page (listing, clearing).
export const CACHE_NAME = 'needle-models-v1';

// Headroom kept free when deciding whether a file fits.
const MARGIN_BYTES = 16 << 20;

export const cacheAvailable = () => typeof caches !== 'undefined';

/** { usage, quota } in bytes, or null where the browser cannot tell. */
export async function storageEstimate() {
  try {
    const { usage, quota } = await navigator.storage.estimate();
    return Number.isFinite(quota) ? { usage: usage ?? 0, quota } : null;
  } catch {
    return null;
  }
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return '?';
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MB`;
  return `${(n / (1 << 30)).toFixed(2)} GB`;
}

/**
 * GETs `url` from the cache, else from the network. A network answer is also written to the
 * cache (in the background, while the caller reads it) when storage has room for it.
 * Returns { response, from: 'cache' | 'network', stored: Promise<string|null> } where
 * `stored` resolves to null when the file was cached (or came from it), else to why not.
 */
export async function cachedFetch(url, { signal } = {}) {
  const cache = cacheAvailable() ? await caches.open(CACHE_NAME).catch(() => null) : null;
  const hit = await cache?.match(url);
  if (hit) return { response: hit, from: 'cache', stored: Promise.resolve(null) };

  const response = await fetch(url, { signal });
  if (!response.ok) return { response, from: 'network', stored: Promise.resolve(null) };
  if (!cache) return { response, from: 'network', stored: Promise.resolve('This page has no Cache API (it needs https or localhost)') };

  const size = Number(response.headers.get('content-length')) || undefined;
  const estimate = await storageEstimate();
  if (size && estimate && estimate.quota - estimate.usage < size + MARGIN_BYTES) {
    return {
      response,
      from: 'network',
      stored: Promise.resolve(`Storage is short: ${fileName(url)} needs ${formatBytes(size)} but only ` +
        `${formatBytes(Math.max(0, estimate.quota - estimate.usage))} of this site's ${formatBytes(estimate.quota)} is free, ` +
        'so it is not cached and the next visit downloads it again'),
    };
  }
  // The clone is read by the cache while the caller reads the original.
  const stored = cache.put(url, response.clone()).then(
    () => null,
    (e) => (e?.name === 'QuotaExceededError'
      ? `Storage is short: the browser refused to keep ${fileName(url)} (${e.message}); the next visit downloads it again`
      : `${fileName(url)} was not cached: ${e?.message ?? e}`));
  return { response, from: 'network', stored };
}

/** Removes one entry (a file that did not load must not be served from the cache again). */
export async function forget(url) {
  if (cacheAvailable()) await (await caches.open(CACHE_NAME)).delete(url);
}

/** [{ url, bytes }] of what is cached. */
export async function cachedFiles() {
  if (!cacheAvailable() || !(await caches.has(CACHE_NAME))) return [];
  const cache = await caches.open(CACHE_NAME);
  const out = [];
  for (const request of await cache.keys()) {
    const response = await cache.match(request);
    const header = Number(response?.headers.get('content-length'));
    out.push({ url: request.url, bytes: Number.isFinite(header) && header > 0 ? header : undefined });
  }
  return out;
}

export async function clearCache() {
  if (cacheAvailable()) await caches.delete(CACHE_NAME);
}

export function fileName(url) {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop()) || url;
  } catch {
    return url;
  }
}
