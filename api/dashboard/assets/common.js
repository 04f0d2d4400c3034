// What both pages share: the token, API calls, live streams and small DOM helpers.
// Every piece of data reaches the page through textContent (el/text below), never as HTML.

const TOKEN_KEY = 'stagecoach.token';

/** The token the user gave this tab, or ''. */
export const getToken = () => sessionStorage.getItem(TOKEN_KEY) ?? '';

/** An answer of the API that was not 2xx: its `{error: {code, message, details}}`. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {any} [details]
   */
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/**
 * Calls /api/v1 with the token; state changes go as JSON (the API requires it, bodiless too).
 * @param {string} method
 * @param {string} path below /api/v1
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  const token = getToken();
  if (token) {
    headers.authorization = `Bearer ${token}`;
  }
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
  });
  const text = await res.text();
  /** @type {any} */
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(res.status, 'bad_answer', `the API answered ${res.status} without JSON`);
  }
  if (!res.ok) {
    const e = data?.error ?? {};
    throw new ApiError(res.status, e.code ?? 'error', e.message ?? `HTTP ${res.status}`, e.details);
  }
  return data;
}

/**
 * An EventSource on /api/v1`path` (the token as `access_token`: EventSource sends no headers).
 * @param {string} path
 * @param {Record<string, (data: any, e: MessageEvent) => void>} handlers by event name
 * @param {(state: 'live' | 'connecting' | 'closed') => void} onState
 */
export function stream(path, handlers, onState) {
  const token = getToken();
  const query = token ? `?access_token=${encodeURIComponent(token)}` : '';
  const source = new EventSource(`/api/v1${path}${query}`);
  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, (e) =>
      fn(JSON.parse(/** @type {MessageEvent} */ (e).data), /** @type {MessageEvent} */ (e)),
    );
  }
  source.onopen = () => onState('live');
  source.onerror = () =>
    onState(source.readyState === EventSource.CLOSED ? 'closed' : 'connecting');
  return source;
}

/**
 * Builds an element; strings among `children` become text nodes, never markup.
 * @param {string} tag
 * @param {Record<string, string | boolean | ((e: Event) => void)>} [attrs]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') {
      node.addEventListener(key.replace(/^on/, ''), value);
    } else if (value === true) {
      node.setAttribute(key, '');
    } else if (value !== false) {
      node.setAttribute(key, value);
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child);
    }
  }
  return node;
}

/**
 * A status or health badge (class by a known value only).
 * @param {string | null | undefined} value
 * @param {string} [title]
 */
export function badge(value, title) {
  const known = /^[a-z_]+$/.test(value ?? '') ? value : 'unknown';
  return el(
    'span',
    { class: `badge b-${known}`, 'data-value': value ?? '', title: title ?? '' },
    value ?? '–',
  );
}

/** @param {number | null | undefined} ms */
export function duration(ms) {
  if (ms === null || ms === undefined) {
    return '–';
  }
  return ms < 1000
    ? `${Math.round(ms)} ms`
    : ms < 60_000
      ? `${(ms / 1000).toFixed(1)} s`
      : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** @param {string | null | undefined} iso */
export function time(iso) {
  return iso ? new Date(iso).toLocaleString() : '–';
}

/**
 * Shows an API error as `code: message` (+ the issues of a 422) in `box`; empty clears it.
 * @param {HTMLElement} box
 * @param {unknown} [err]
 */
export function showError(box, err) {
  box.replaceChildren();
  box.hidden = !err;
  if (!err) {
    return;
  }
  const e = err instanceof ApiError ? err : new ApiError(0, 'network_error', String(err));
  box.append(el('strong', {}, e.code), ': ', e.message);
  const issues = Array.isArray(e.details?.issues) ? e.details.issues : [];
  if (issues.length) {
    box.append(
      el(
        'ul',
        {},
        ...issues.map((/** @type {any} */ i) =>
          el('li', {}, el('code', {}, String(i.path ?? '')), ' ', String(i.message ?? '')),
        ),
      ),
    );
  }
  if (e.status === 401) {
    needToken();
  }
}

/** Opens the token box when the API asks for a token. */
function needToken() {
  const form = document.getElementById('token-form');
  form?.classList.add('needed');
  form?.querySelector('input')?.focus();
}

/** Wires the header's token box (kept in sessionStorage: gone with the tab). */
export function initHeader() {
  const form = /** @type {HTMLFormElement} */ (document.getElementById('token-form'));
  const input = /** @type {HTMLInputElement} */ (form.querySelector('input'));
  const state = /** @type {HTMLElement} */ (form.querySelector('.token-state'));
  const show = () => {
    state.textContent = getToken() ? 'token set' : 'no token';
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (input.value.trim()) {
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    } else {
      sessionStorage.removeItem(TOKEN_KEY);
    }
    input.value = '';
    location.reload();
  });
  show();
}

/**
 * Shows a stream's state in the header's live dot.
 * @param {'live' | 'connecting' | 'closed'} state
 */
export function liveState(state) {
  const dot = document.getElementById('live');
  if (dot) {
    dot.dataset.state = state;
    dot.textContent =
      state === 'live' ? 'live' : state === 'connecting' ? 'reconnecting…' : 'offline';
  }
}
