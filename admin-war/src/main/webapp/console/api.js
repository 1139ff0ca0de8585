// The console's only way to the server: Anvil's public admin and /v1 APIs, same origin, with the signed-in admin's
// HTTP Basic credentials on each call. The credentials live in this tab's sessionStorage (gone when the tab closes,
// never sent to another origin; the page's CSP allows scripts from this server only). Each call says it comes from a
// script (X-Requested-With), so a 401 carries no Basic challenge and the browser never opens its own login dialog.

const STORE = 'anvil.console.session';

/** An answer other than 2xx, with the API's OpenAI-shaped error fields. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.param = error?.param ?? null;
    this.code = error?.code ?? null;
    this.type = error?.type ?? null;
    this.traceId = null;
  }
}

let onSignedOut = () => {};

/** Called with a reason whenever the server no longer accepts the session (401). */
export function whenSignedOut(listener) { onSignedOut = listener; }

export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    return s && typeof s.user === 'string' && typeof s.authorization === 'string' ? s : null;
  } catch { return null; }
}

function basic(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return 'Basic ' + btoa(binary);
}

export function signOut() { sessionStorage.removeItem(STORE); }

/**
 * Checks the credentials against the admin API and keeps them for this tab. Throws ApiError: 401 for a wrong user or
 * password, 403 for a user without the admin role.
 */
export async function signIn(user, password) {
  const authorization = basic(user, password);
  await request('GET', '/api/serving/versions', undefined, { authorization, quiet: true });
  sessionStorage.setItem(STORE, JSON.stringify({ user, authorization }));
}

function headers(authorization, extra) {
  const h = { 'Accept': 'application/json', 'X-Requested-With': 'XMLHttpRequest', ...extra };
  if (authorization) h['Authorization'] = authorization;
  return h;
}

async function errorOf(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON: the status says enough */ }
  const error = new ApiError(response.status, body?.error);
  error.traceId = response.headers.get('X-Anvil-Trace-Id');
  return error;
}

/** One admin API call; resolves to the parsed JSON answer (null for an empty one). */
export async function request(method, path, body, options = {}) {
  const authorization = options.authorization ?? session()?.authorization;
  const response = await fetch(path, {
    method,
    headers: headers(authorization, body === undefined ? {} : { 'Content-Type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
    signal: options.signal,
  });
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401 && !options.quiet) {
      signOut();
      onSignedOut('The server did not accept your credentials any more; sign in again.');
    }
    throw error;
  }
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, options) => request('GET', path, undefined, options);
export const post = (path, body, options) => request('POST', path, body ?? {}, options);
export const put = (path, body, options) => request('PUT', path, body, options);
export const del = (path, options) => request('DELETE', path, undefined, options);

/** Path segment, escaped. */
export const seg = (s) => encodeURIComponent(s);

/**
 * A streamed /v1 call (SSE): calls onEvent with each parsed `data:` object until `[DONE]`. `apiKey` (a gateway key)
 * authenticates as a client would; without one the admin's credentials are sent (admins may pin any version).
 */
export async function stream(path, body, { apiKey, signal, onEvent }) {
  const auth = apiKey ? `Bearer ${apiKey}` : session()?.authorization;
  const response = await fetch(path, {
    method: 'POST',
    headers: headers(auth, { 'Content-Type': 'application/json', 'Accept': 'text/event-stream' }),
    body: JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return response;
        onEvent(JSON.parse(data));
      }
    }
  }
  return response;
}

/**
 * Uploads `file` as the request body (XMLHttpRequest, since fetch reports no upload progress); onProgress(loaded,
 * total) as it goes. Resolves to the parsed JSON answer; rejects with ApiError.
 */
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    const auth = session()?.authorization;
    if (auth) xhr.setRequestHeader('Authorization', auth);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onload = () => {
      let body = null;
      try { body = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) { resolve(body); return; }
      if (xhr.status === 401) { signOut(); onSignedOut('The server did not accept your credentials any more; sign in again.'); }
      reject(new ApiError(xhr.status, body?.error));
    };
    xhr.onerror = () => reject(new Error('the upload was interrupted (network error)'));
    xhr.send(file);
  });
}

/**
 * A multipart/form-data POST to /v1 (the browser writes the boundary); resolves to the parsed JSON answer. With
 * `authorization` (e.g. an API key as 'Bearer ...') instead of the admin's credentials; a 401 here is /v1's (a key
 * missing or refused), not the admin session's, so it does not sign out.
 */
export async function form(path, data, { authorization } = {}) {
  const response = await fetch(path, {
    method: 'POST', headers: headers(authorization ?? session()?.authorization), body: data, credentials: 'omit', cache: 'no-store',
  });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

/** A /v1 GET whose answer is text (a file's content); credentials as for form(). */
export async function text(path, { authorization } = {}) {
  const response = await fetch(path, { headers: headers(authorization ?? session()?.authorization, { 'Accept': '*/*' }), credentials: 'omit', cache: 'no-store' });
  if (!response.ok) throw await errorOf(response);
  return response.text();
}
