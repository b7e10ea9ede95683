// REST access: the login session, bearer tokens with refresh on expiry, JSON requests and uploads.
//
// Tokens live in this module's memory and in sessionStorage (so a reload keeps you logged in, but closing the
// tab ends it); they never go into a URL, and the refresh token is only ever sent to /api/auth/refresh.

const STORAGE_KEY = 'armada.session';
// Refresh the access token when this share of its lifetime has passed, so sockets and requests never carry
// an expired one in normal use; a 401 token_expired is still handled for sleeping laptops and clock jumps.
const PROACTIVE_REFRESH_SHARE = 0.8;

let session = null; // {access_token, refresh_token, user}
let refreshing = null; // the in-flight refresh, shared by every caller that needs it
let refreshTimer = null;
const tokenListeners = new Set();
const endListeners = new Set();

/** An API failure in the API's error shape: status, code, message and optional per-field details. */
export class ApiError extends Error {
  constructor(status, code, message, details = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** A human sentence for an error, with the per-field messages of a 422 appended. */
export function describeError(error) {
  if (!(error instanceof ApiError)) return error?.message || 'Something went wrong.';
  const fields = Object.entries(error.details || {}).flatMap(([field, messages]) =>
    (Array.isArray(messages) ? messages : [messages]).map((m) => (field === '_schema' ? m : `${field}: ${m}`)),
  );
  return fields.length ? `${error.message} ${fields.join(' ')}` : error.message;
}

// ---- session --------------------------------------------------------------------------------------------

/** Pick up the session a previous page load of this tab left, if any. */
export function restoreSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
    if (saved?.access_token && saved?.refresh_token && saved?.user) {
      session = saved;
      scheduleProactiveRefresh();
    }
  } catch {
    sessionStorage.removeItem(STORAGE_KEY);
  }
  return session;
}

/** Start a session from a register/login answer `{user, access_token, refresh_token}`. */
export function startSession({ user, access_token, refresh_token }) {
  session = { user, access_token, refresh_token };
  persist();
  scheduleProactiveRefresh();
}

/** Forget the session (logout, or it can no longer be refreshed) and tell the app why. */
export function endSession(reason = null) {
  if (!session) return;
  session = null;
  clearTimeout(refreshTimer);
  sessionStorage.removeItem(STORAGE_KEY);
  for (const listener of endListeners) listener(reason);
}

export const currentUser = () => session?.user ?? null;
export const accessToken = () => session?.access_token ?? null;
export const onTokenRefreshed = (listener) => tokenListeners.add(listener);
export const onSessionEnded = (listener) => endListeners.add(listener);

function persist() {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}

/** The claims of a JWT (not verified: only used to time the next refresh). */
function jwtClaims(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), '=')));
  } catch {
    return null;
  }
}

/** Time the next refresh from the token's own lifetime (exp - iat), which is immune to clock skew. */
function scheduleProactiveRefresh() {
  clearTimeout(refreshTimer);
  const claims = jwtClaims(session.access_token);
  if (!claims?.exp || !claims?.iat) return;
  const lifetimeMs = (claims.exp - claims.iat) * 1000;
  const delay = Math.max(1000, lifetimeMs * PROACTIVE_REFRESH_SHARE);
  refreshTimer = setTimeout(() => refreshAccessToken().catch(() => {}), delay);
}

/**
 * Exchange the refresh token for a new access token. Concurrent callers share one request. A refused
 * refresh token (expired, or the session was logged out) ends the session; a network failure does not.
 */
export function refreshAccessToken() {
  if (!session) return Promise.reject(new ApiError(401, 'no_session', 'You are not logged in.'));
  if (refreshing) return refreshing;
  const refreshToken = session.refresh_token;
  refreshing = (async () => {
    const { status, data } = await send('POST', '/api/auth/refresh', { token: refreshToken });
    if (status === 401 || status === 422) {
      endSession('Your session has ended. Please log in again.');
      throw toError(status, data);
    }
    if (status !== 200) throw toError(status, data);
    if (!session || session.refresh_token !== refreshToken) throw new ApiError(401, 'no_session', 'Logged out.');
    session.access_token = data.access_token;
    persist();
    scheduleProactiveRefresh();
    for (const listener of tokenListeners) listener(data.access_token);
    return data.access_token;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

// ---- requests -------------------------------------------------------------------------------------------

/** One HTTP exchange; answers {status, data} and turns network failures into an ApiError with status 0. */
async function send(method, path, { body, token, query } = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null) url.searchParams.set(key, value);
  }
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'network_error', 'Cannot reach the server. Check your connection.');
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { status: response.status, data };
}

function toError(status, data) {
  const error = data?.error;
  const message = error?.message || `Request failed (${status}).`;
  return new ApiError(status, error?.code || 'http_error', message, error?.details);
}

/**
 * Call the API as the logged-in user: `request('GET', '/api/chat/rooms', {query})`. An expired access token
 * is refreshed and the call retried once; any other refused token ends the session.
 */
export async function request(method, path, { body, query } = {}) {
  if (!session) throw new ApiError(401, 'no_session', 'You are not logged in.');
  let answer = await send(method, path, { body, query, token: session.access_token });
  if (answer.status === 401 && answer.data?.error?.code === 'token_expired') {
    await refreshAccessToken();
    answer = await send(method, path, { body, query, token: session?.access_token });
  }
  if (answer.status === 401) {
    endSession('Your session has ended. Please log in again.');
  }
  if (answer.status >= 400) throw toError(answer.status, answer.data);
  return answer.data;
}

/** Register or log in (no token needed); starts the session on success. */
export async function authenticate(kind, fields) {
  const { status, data } = await send('POST', `/api/auth/${kind}`, { body: fields });
  if (status >= 400) throw toError(status, data);
  startSession(data);
  return data.user;
}

/** How the server takes new accounts: 'open', 'invite' or 'closed' ('open' when it cannot be asked). */
export async function registrationMode() {
  try {
    const { status, data } = await send('GET', '/api/auth/registration');
    return status === 200 && data?.mode ? data.mode : 'open';
  } catch {
    return 'open'; // registering then says what is wrong
  }
}

/** Log out on the server (revoking both tokens everywhere), then forget them here either way. */
export async function logout() {
  if (!session) return;
  try {
    await send('POST', '/api/auth/logout', { token: session.access_token });
  } finally {
    endSession(null);
  }
}

/**
 * Upload a file with XMLHttpRequest, because fetch cannot report upload progress.
 * Returns {promise, abort}; `onProgress(fraction)` is called as bytes go out. Retries once after a refresh.
 */
export function uploadFile(file, onProgress) {
  let xhr = null;
  let aborted = false;
  const attempt = (token) =>
    new Promise((resolve, reject) => {
      xhr = new XMLHttpRequest();
      xhr.open('POST', '/api/chat/upload');
      xhr.setRequestHeader('Authorization', `Bearer ${token}`);
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.upload.addEventListener('progress', (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
      xhr.addEventListener('load', () => {
        let data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch {
          data = null;
        }
        resolve({ status: xhr.status, data });
      });
      xhr.addEventListener('error', () =>
        reject(new ApiError(0, 'network_error', 'The upload failed: cannot reach the server.')),
      );
      xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.')));
      const form = new FormData();
      form.append('file', file, file.name);
      xhr.send(form);
    });
  const promise = (async () => {
    if (!session) throw new ApiError(401, 'no_session', 'You are not logged in.');
    let answer = await attempt(session.access_token);
    if (answer.status === 401 && answer.data?.error?.code === 'token_expired' && !aborted) {
      onProgress(0);
      answer = await attempt(await refreshAccessToken());
    }
    if (answer.status === 401) endSession('Your session has ended. Please log in again.');
    if (answer.status >= 400 || answer.status === 0) throw toError(answer.status, answer.data);
    onProgress(1);
    return answer.data;
  })();
  return {
    promise,
    abort() {
      aborted = true;
      xhr?.abort();
    },
  };
}

/** Every item of a paginated list, following `next_cursor` (for short lists such as the room list). */
export async function fetchAll(path, query = {}, cursorParam = 'cursor', maxPages = 20) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const data = await request('GET', path, { query: { ...query, limit: 100, [cursorParam]: cursor || undefined } });
    items.push(...data.items);
    cursor = data.next_cursor;
    if (!cursor) break;
  }
  return items;
}
