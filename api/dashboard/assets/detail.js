// A deployment's page: status, allowed actions, timeline (history), stage steps, health and
// live logs. The deployment's own stream (…/:id/events) brings history and log lines; the
// feed (/events) says when a run starts elsewhere, so the page reopens the stream.
import { api, badge, el, initHeader, liveState, showError, stream } from './common.js';
import { factsView, healthView, stagesView, timelineView } from './sections.js';

/** Button labels of the actions the API lists in `deployment.actions`. */
const LABELS = /** @type {Record<string, string>} */ ({
  execute: 'Execute',
  retry: 'Retry',
  redeploy: 'Re-deploy',
  rollback: 'Rollback',
  stop: 'Stop',
  cancel: 'Cancel run',
});
const MAX_LOG_LINES = 5000;

const id = decodeURIComponent(location.pathname.split('/').pop() ?? '');
const $ = (/** @type {string} */ name) =>
  /** @type {HTMLElement} */ (document.getElementById(name));
/** @type {any} */
let deployment = null;
/** @type {Map<string, any>} history events by id */
const events = new Map();
const logIds = new Set();
/** @type {EventSource | null} */
let source = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let refreshTimer;

async function refresh() {
  try {
    deployment = (await api('GET', `/deployments/${encodeURIComponent(id)}`)).deployment;
    showError($('load-error'));
    render();
  } catch (err) {
    showError($('load-error'), err);
  }
}

/** A re-read soon: a burst of events costs one. */
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refresh(), 200);
}

function render() {
  const d = deployment;
  document.title = `stagecoach: ${d.name}`;
  const p = d.run_active && d.progress;
  $('head').replaceChildren(
    el('h1', {}, d.name, ' ', badge(d.status)),
    el(
      'p',
      { class: 'muted' },
      `${d.scenario} · ${d.id}`,
      p ? ` · ${d.run_kind} run: ${p.stage} · ${p.step} ` : '',
      p ? el('progress', { max: '100', value: String(p.percent ?? 0) }) : '',
    ),
  );
  $('actions').replaceChildren(
    ...d.actions.map((/** @type {string} */ a) =>
      el('button', { 'data-action': a, onclick: () => void act(a) }, LABELS[a] ?? a),
    ),
  );
  const failure = $('failure');
  failure.hidden = !d.error_code;
  failure.replaceChildren(
    el('strong', {}, d.error_code ?? ''),
    ` at ${d.error_step ?? '?'}: `,
    el('span', { class: 'pre' }, d.error_message ?? ''),
  );
  $('health').replaceChildren(...healthView(d.health, d.status === 'deployed'));
  $('facts').replaceChildren(...factsView(d));
  $('stages').replaceChildren(...stagesView(d));
}

function renderTimeline() {
  $('timeline').replaceChildren(...timelineView(events.values()));
}

/** @param {any} line a log row */
function appendLog(line) {
  if (logIds.has(line.id)) {
    return;
  }
  logIds.add(line.id);
  const pre = $('logs');
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
  const text = line.chunk.endsWith('\n') ? line.chunk : `${line.chunk}\n`;
  pre.append(
    el(
      'span',
      { class: `log ${line.stream}` },
      el('span', { class: 'muted' }, `${line.stage}/${line.step} `),
      text,
    ),
  );
  while (pre.childElementCount > MAX_LOG_LINES) {
    pre.firstElementChild?.remove();
  }
  if (atBottom) {
    pre.scrollTop = pre.scrollHeight;
  }
}

/** Opens the deployment's stream unless one is open; it ends by itself once the deployment rests. */
function openStream() {
  if (source && source.readyState !== EventSource.CLOSED) {
    return;
  }
  const logState = (/** @type {string} */ s) => ($('log-state').textContent = s);
  source = stream(
    `/deployments/${encodeURIComponent(id)}/events`,
    {
      history: (e) => {
        events.set(e.id, e);
        renderTimeline();
        refreshSoon();
      },
      log: appendLog,
      progress: (p) => {
        if (
          deployment &&
          (p.status !== deployment.status || p.run_active !== deployment.run_active)
        ) {
          refreshSoon();
        } else if (deployment) {
          deployment.progress = p.progress;
          render();
        }
      },
      end: () => {
        source?.close();
        logState('(run ended)');
        refreshSoon();
      },
    },
    (state) =>
      logState(state === 'live' ? '(live)' : state === 'connecting' ? '(reconnecting…)' : ''),
  );
}

/** @param {string} action */
async function act(action) {
  try {
    const res = await api('POST', `/deployments/${encodeURIComponent(id)}/${action}`, {});
    showError($('action-error'));
    deployment = res.deployment;
    render();
    openStream();
  } catch (err) {
    showError($('action-error'), err);
    refreshSoon();
  }
}

initHeader();
await refresh();
try {
  for (const e of (await api('GET', `/deployments/${encodeURIComponent(id)}/history`)).events) {
    events.set(e.id, e);
  }
  renderTimeline();
} catch (err) {
  showError($('load-error'), err);
}
if (deployment) {
  openStream();
}
stream(
  '/events',
  {
    deployment: (d) => {
      if (d.id === id) {
        refreshSoon();
        if (d.run_active) {
          openStream();
        }
      }
    },
    resync: refreshSoon,
  },
  liveState,
);
