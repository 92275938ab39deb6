// request.js - the requests api.js does not make: POST with a JSON body
// (a recommendation's status) and GET of a text page (the Markdown pages
// recommendations link to).  Failures are ApiErrors whose message is the
// server's own {"error": {"message"}} when there is one, like apiGet's.

import { ApiError } from './api.js';
import { csrfHeaders } from './session.js';

const TIMEOUT_MS = 15000;

async function send(method, path, { body, accept, signal }) {
  const ctrl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; ctrl.abort(); }, TIMEOUT_MS);
  const onAbort = () => ctrl.abort();
  if (signal) {
    if (signal.aborted) ctrl.abort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  const headers = { Accept: accept, ...(method === 'GET' ? {} : csrfHeaders()) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  try {
    const res = await fetch(path, {
      method, headers, signal: ctrl.signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { res, text: await res.text() };
  } catch (err) {
    if (timedOut) throw new ApiError(`${method} ${path}: no answer within ${TIMEOUT_MS / 1000} s`, 0, 'timeout');
    if (signal && signal.aborted) throw err;
    throw new ApiError(`${method} ${path}: server unreachable (${err.message})`, 0, 'network');
  } finally {
    clearTimeout(timer);
    if (signal) signal.removeEventListener('abort', onAbort);
  }
}

function failure(method, path, res, text) {
  let body = null;
  try { body = JSON.parse(text); } catch { body = null; }
  const message = body && body.error && body.error.message;
  const detail = message || text.trim().slice(0, 200) || res.statusText;
  const err = new ApiError(`${method} ${path}: ${res.status} ${detail}`, res.status, (body && body.error && body.error.code) || `http_${res.status}`);
  // The server's sentence alone, for forms that show it next to the field.
  err.serverMessage = message || null;
  return err;
}

// POST `body` as JSON; resolves to the JSON answer.
export async function apiPost(path, body, { signal } = {}) {
  const { res, text } = await send('POST', path, { body, accept: 'application/json', signal });
  if (!res.ok) throw failure('POST', path, res, text);
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(`POST ${path}: the answer is not JSON`, res.status, 'bad_response');
  }
}

// GET a text page; resolves to {text, type}.
export async function getText(path, { signal, accept = 'text/markdown, text/plain' } = {}) {
  const { res, text } = await send('GET', path, { accept, signal });
  if (!res.ok) throw failure('GET', path, res, text);
  return { text, type: res.headers.get('content-type') || '' };
}

// PUT or DELETE (`body` undefined: none); resolves to the JSON answer.
export async function apiSend(method, path, body, { signal } = {}) {
  const { res, text } = await send(method, path, { body, accept: 'application/json', signal });
  if (!res.ok) throw failure(method, path, res, text);
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(`${method} ${path}: the answer is not JSON`, res.status, 'bad_response');
  }
}
