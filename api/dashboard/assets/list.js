// The deployments page: the list with filters, kept current by the feed (GET /api/v1/events),
// and the form that creates a deployment.
import {
  api,
  ApiError,
  badge,
  el,
  initHeader,
  liveState,
  showError,
  stream,
  time,
} from './common.js';

/** The form's starting manifest: hello-web on a local target. */
const EXAMPLE = {
  version: 1,
  name: 'hello',
  scenario: { path: 'examples/hello-web' },
  target: { type: 'local', workdir: 'targets/hello' },
  ports: { web: 18080 },
};

/** @typedef {{id: string, name: string, scenario?: string, status: string, health: string | null, run_active: boolean, progress: any, updated_at: string}} Row */

/** @type {Map<string, Row>} the rows shown, in the API's order (newest first) */
const rows = new Map();
/** @type {string | null} */
let cursor = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let reloadTimer;

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const filterForm = /** @type {HTMLFormElement} */ ($('filters'));

/** The filters as the list's query parameters (empty ones left out). */
function filters() {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [key, value] of new FormData(filterForm)) {
    if (typeof value === 'string' && value.trim()) {
      out[key] = value.trim();
    }
  }
  return out;
}

/**
 * True when a row passes the filters as the API applies them (`health` lists deployed ones).
 * @param {Row} d
 */
function matches(d) {
  const f = filters();
  return (
    (!f.status || d.status === f.status) &&
    (!f.health || (d.status === 'deployed' && d.health === f.health)) &&
    (!f.scenario || d.scenario === f.scenario)
  );
}

/** @param {any} d a deployment of the API */
const toRow = (d) => ({ ...d, health: d.health?.state ?? null });

/**
 * Reads the list (again, or its next page).
 * @param {boolean} more
 */
async function load(more = false) {
  const query = new URLSearchParams({ limit: '50', ...filters() });
  if (more && cursor) {
    query.set('cursor', cursor);
  }
  try {
    const page = await api('GET', `/deployments?${query}`);
    const before = new Map(rows);
    if (!more) {
      rows.clear();
    }
    for (const d of page.deployments) {
      // a feed event applied while this read was under way may be newer than what it read
      const seen = before.get(d.id);
      rows.set(d.id, seen && seen.updated_at > d.updated_at ? seen : toRow(d));
    }
    cursor = page.next_cursor;
    showError($('list-error'));
  } catch (err) {
    showError($('list-error'), err);
  }
  render();
}

/** A reload soon: several feed events in a burst cost one read. */
function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => void load(), 300);
}

/** @param {Row} d */
function rowOf(d) {
  const running = d.run_active && d.progress ? `${d.progress.stage} · ${d.progress.step}` : '';
  return el(
    'tr',
    { 'data-id': d.id },
    el('td', {}, el('a', { href: `/deployments/${encodeURIComponent(d.id)}` }, d.name)),
    el('td', {}, d.scenario ?? ''),
    el('td', { class: 'status' }, badge(d.status), running && el('small', {}, ' ', running)),
    el(
      'td',
      { class: 'health' },
      d.status === 'deployed' ? badge(d.health) : el('span', { class: 'muted' }, '–'),
    ),
    el('td', {}, time(d.updated_at)),
  );
}

function render() {
  const body = /** @type {HTMLElement} */ (document.querySelector('#deployments tbody'));
  body.replaceChildren(...[...rows.values()].map(rowOf));
  $('empty').hidden = rows.size > 0;
  $('more').hidden = !cursor;
}

/**
 * A feed event: the deployment's new state; one the list does not hold yet means a re-read.
 * @param {Row & {deleted: boolean}} data
 */
function onDeployment(data) {
  const known = rows.get(data.id);
  if (data.deleted) {
    rows.delete(data.id);
  } else if (known) {
    const next = { ...known, ...data };
    if (matches(next)) {
      rows.set(data.id, next);
    } else {
      rows.delete(data.id);
    }
  } else {
    reloadSoon();
    return;
  }
  render();
}

/** @param {SubmitEvent} e */
async function create(e) {
  e.preventDefault();
  const box = $('create-error');
  const text = /** @type {HTMLTextAreaElement} */ ($('manifest')).value;
  const execute = /** @type {HTMLInputElement} */ ($('execute')).checked;
  let manifest;
  try {
    manifest = JSON.parse(text);
  } catch (err) {
    showError(box, new ApiError(0, 'invalid_json', `the manifest is not JSON: ${err}`));
    return;
  }
  const button = /** @type {HTMLButtonElement} */ ($('create-button'));
  button.disabled = true;
  try {
    await api('POST', '/deployments', { manifest, execute });
    showError(box);
    await load();
  } catch (err) {
    showError(box, err);
  } finally {
    button.disabled = false;
  }
}

initHeader();
/** @type {HTMLTextAreaElement} */ ($('manifest')).value = JSON.stringify(EXAMPLE, null, 2);
$('create-form').addEventListener('submit', (e) => void create(/** @type {SubmitEvent} */ (e)));
filterForm.addEventListener('change', () => void load());
filterForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void load();
});
$('more').addEventListener('click', () => void load(true));
void load();
// the feed is state, not history: read the list again on every (re)connect and on `resync`
stream('/events', { deployment: onDeployment, resync: reloadSoon }, (state) => {
  liveState(state);
  if (state === 'live') {
    void load();
  }
});
