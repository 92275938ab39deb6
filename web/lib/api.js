// api.js - GET requests to hotpath's JSON API.  Every failure becomes an
// ApiError whose message is what the user sees: the server's own
// {"error": {"message"}} when there is one, otherwise the HTTP status and the
// start of the body.  Requests time out, so a missing or hung endpoint never
// blocks the page.

export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const DEFAULT_TIMEOUT_MS = 15000;

// `params` is a URLSearchParams (or null); `signal` aborts the request when
// the view that asked for it goes away (the promise then rejects with an
// AbortError, which callers ignore).
export async function apiGet(path, params, { signal, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  const query = params ? params.toString() : '';
  const url = query ? `${path}?${query}` : path;
  const ctrl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; ctrl.abort(); }, timeoutMs);
  const onAbort = () => ctrl.abort();
  if (signal) {
    if (signal.aborted) ctrl.abort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  let res;
  let text;
  try {
    res = await fetch(url, { signal: ctrl.signal, headers: { Accept: 'application/json' } });
    text = await res.text();
  } catch (err) {
    if (timedOut) {
      throw new ApiError(`GET ${path}: no answer within ${timeoutMs / 1000} s`, 0, 'timeout');
    }
    if (signal && signal.aborted) throw err;
    throw new ApiError(`GET ${path}: server unreachable (${err.message})`, 0, 'network');
  } finally {
    clearTimeout(timer);
    if (signal) signal.removeEventListener('abort', onAbort);
  }
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const serverMessage = body && body.error && body.error.message;
    const detail = serverMessage || text.trim().slice(0, 200) || res.statusText;
    const code = (body && body.error && body.error.code) || `http_${res.status}`;
    throw new ApiError(`GET ${path}: ${res.status} ${detail}`, res.status, code);
  }
  if (body === null || typeof body !== 'object') {
    throw new ApiError(`GET ${path}: the answer is not a JSON object`, res.status, 'bad_response');
  }
  return body;
}

export function isAbort(err) {
  return err && err.name === 'AbortError';
}
