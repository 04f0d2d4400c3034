/** Text for people: tables, durations, bars, and the sentence of a failure. */
import type { Deployment } from './types.js';

/** `1.2 s`, `3 min 4 s`. */
export function duration(ms: number): string {
  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** An ISO time as `2026-11-30 01:15:30` (UTC, stated once in the header where it matters). */
export function when(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}

/** A text bar of `width` cells for a percent. */
export function bar(percent: number, width = 20): string {
  const full = Math.round((percent / 100) * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

/** Left-aligned columns with a header row. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `failed at step health_check (health_check_failed): …`, the line a failed run ends with. */
export function failureSentence(d: Deployment): string {
  return `failed at step ${d.error_step ?? 'unknown'} (${d.error_code ?? 'no code'}): ${
    d.error_message ?? 'no message'
  }`;
}

/** The short form of a sha256 (enough to tell releases apart). */
export const shortSha = (sha: string | null | undefined): string => (sha ? sha.slice(0, 12) : '-');

/** Where the deployment's target is, in a few words. */
export function targetText(d: Deployment): string {
  const t = d.manifest?.target;
  if (!t) {
    return '-';
  }
  return t.type === 'ssh' ? `ssh ${t.host ?? ''}` : `local ${t.workdir ?? ''}`;
}
