// session.js - signing the dashboard in with an API key.  A server with
// keys answers the API only to a key or a signed-in session: the session
// is an HttpOnly cookie the page cannot read, and every state-changing call
// carries the session's CSRF token (X-CSRF-Token), which the page gets from
// GET /api/v1/session.  A server without keys (open mode) needs none.

import { h } from './dom.js';

let info = { mode: 'open', signed_in: false };

export function csrfHeaders() {
  return info.csrf_token ? { 'X-CSRF-Token': info.csrf_token } : {};
}

// What the server says about this page's session: {mode, signed_in, name, role}.
export async function loadSession() {
  try {
    const res = await fetch('/api/v1/session', { headers: { Accept: 'application/json' } });
    if (res.ok) info = await res.json();
  } catch {
    // unreachable: the health badge says so; the views say the rest
  }
  return info;
}

export function needsSignIn() {
  return info.mode === 'keys' && !info.signed_in;
}

async function post(method, body) {
  const res = await fetch('/api/v1/session', {
    method,
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...csrfHeaders() },
    body: body ? JSON.stringify(body) : undefined,
  });
  let answer = null;
  try { answer = await res.json(); } catch { answer = null; }
  if (!res.ok) throw new Error((answer && answer.error && answer.error.message) || `HTTP ${res.status}`);
  return answer;
}

// The sign-in form, shown in place of the views.
export function signInForm() {
  const input = h('input', {
    id: 'signin-key', type: 'password', name: 'key', autocomplete: 'off', required: true,
    placeholder: 'hpk_…', 'aria-describedby': 'signin-help',
  });
  const status = h('p', { class: 'notice-text', role: 'status', id: 'signin-status' });
  const form = h('form', { class: 'panel signin', id: 'signin', 'aria-labelledby': 'signin-title' },
    h('h2', { id: 'signin-title' }, 'Sign in'),
    h('p', { id: 'signin-help' },
      'This server needs an API key (role viewer or admin). Create one with ',
      h('code', null, 'hotpath keys create --name NAME --role viewer'), '.'),
    h('label', { for: 'signin-key' }, 'API key'), ' ', input, ' ',
    h('button', { type: 'submit', class: 'btn' }, 'Sign in'),
    status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    status.textContent = 'Signing in…';
    try {
      await post('POST', { key: input.value.trim() });
      input.value = '';
      window.location.reload();
    } catch (err) {
      status.textContent = `Not signed in: ${err.message}`;
    }
  });
  return form;
}

// "name (role) · Sign out" for the top bar, or null when not signed in.
export function sessionBadge() {
  if (!info.signed_in || info.mode !== 'keys') return null;
  const out = h('button', { type: 'button', class: 'btn btn-ghost', id: 'signout' }, 'Sign out');
  out.addEventListener('click', async () => {
    try { await post('DELETE'); } finally { window.location.reload(); }
  });
  return h('span', { class: 'session', id: 'session' },
    h('span', { class: 'session-name' }, `${info.name} (${info.role})`), ' ', out);
}
