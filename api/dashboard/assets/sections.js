// The detail page's sections as elements built from API data (no state, no requests).
import { badge, duration, el, time } from './common.js';

/**
 * The health watch's record.
 * @param {any} h
 * @param {boolean} current only a deployed deployment's health is current
 * @returns {(Node | string)[]}
 */
export function healthView(h, current) {
  if (!h) {
    return [el('p', { class: 'muted' }, 'not checked yet')];
  }
  return [
    el('p', {}, badge(h.state), ` checked ${time(h.checked_at)}`, current ? '' : ' (last known)'),
    el(
      'ul',
      {},
      ...h.services.map((/** @type {any} */ s) =>
        el('li', {}, `${s.name}: ${s.running ? 'running' : 'not running'}`),
      ),
    ),
    h.error ? el('p', { class: 'pre' }, h.error) : '',
  ];
}

/**
 * Target, bundle, serving release and dates, as `<dt>`/`<dd>` pairs.
 * @param {any} d a deployment
 */
export function factsView(d) {
  /** @type {[string, string][]} */
  const facts = [
    ['Target', d.target_key],
    ['Bundle', d.bundle ? `${d.bundle.sha256.slice(0, 12)} (${d.bundle.size_bytes} bytes)` : '–'],
    ['Serving release', d.current_release ? d.current_release.slice(0, 12) : '–'],
    ['Created', time(d.created_at)],
    ['Last deployed', time(d.last_deployed_at)],
  ];
  return facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]);
}

/**
 * Each stage result the deployment holds (setup, deploy, stop): its steps with durations.
 * @param {any} d a deployment
 * @returns {HTMLElement[]}
 */
export function stagesView(d) {
  const stages = [
    ['setup', d.setup_result],
    ['deploy', d.deploy_result],
    ['stop', d.stop_result],
  ].filter(([, r]) => r);
  if (!stages.length) {
    return [el('p', { class: 'muted' }, 'no stage has run yet')];
  }
  return stages.map(([name, r]) => {
    const total = r.steps.reduce(
      (/** @type {number} */ n, /** @type {any} */ s) => n + s.duration_ms,
      0,
    );
    return el(
      'div',
      { class: 'stage', 'data-stage': name },
      el(
        'h3',
        {},
        name,
        ' ',
        badge(r.ok ? 'ok' : 'failed'),
        el('small', { class: 'muted' }, ` ${duration(total)}`),
      ),
      el('table', { class: 'steps' }, el('tbody', {}, ...r.steps.map(stepRow))),
    );
  });
}

/** @param {any} s a step of a stage result */
function stepRow(s) {
  const state = s.skipped ? 'skipped' : s.ok ? 'ok' : 'failed';
  const output = s.output_tail
    ? el('details', {}, el('summary', {}, 'output'), el('pre', {}, s.output_tail))
    : '';
  return el(
    'tr',
    { 'data-step': s.id },
    el('td', {}, badge(state)),
    el('td', {}, s.title, output),
    el('td', { class: 'num' }, duration(s.duration_ms)),
    el('td', { class: 'muted' }, time(s.started_at)),
  );
}

/**
 * The history as a timeline, oldest first.
 * @param {Iterable<any>} events history events
 */
export function timelineView(events) {
  const sorted = [...events].sort((a, b) => Number(a.id) - Number(b.id));
  return sorted.map((e) =>
    el(
      'li',
      { 'data-kind': e.kind },
      el('time', {}, time(e.created_at)),
      ' ',
      e.kind === 'status'
        ? el('span', {}, badge(e.from_status), ' → ', badge(e.to_status))
        : el('strong', {}, e.kind.replace(/_/g, ' ')),
      e.stage ? ` ${e.stage}` : '',
      e.message ? el('span', { class: 'muted' }, ` ${e.message}`) : '',
      el('span', { class: 'actor muted' }, ` by ${e.actor}`),
    ),
  );
}
