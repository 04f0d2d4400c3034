/** One row of `npm run bench`'s closing table: a figure, its ratio, and the issue's target. */
export interface BenchRow {
  /** What is measured, e.g. "first deploy over SSH vs local target". */
  figure: string;
  /** The ratio against the baseline of the same run (e.g. 1.42 for 1.42 ×). */
  ratio: number;
  /** The absolute figures behind the ratio, e.g. "812 ms vs 571 ms". */
  detail: string;
  /** The target the ratio must meet, e.g. "≤ 1.5 ×"; empty when there is none. */
  target: string;
  /** Whether the target is met (true when there is none). */
  met: boolean;
}

/** A row whose ratio must be at most `max`. */
export function atMost(figure: string, ratio: number, max: number, detail: string): BenchRow {
  return { figure, ratio, detail, target: `≤ ${max} ×`, met: ratio <= max };
}

/** Prints rows as one markdown table (README-ready). */
export function printTable(rows: readonly BenchRow[]): void {
  const cells = rows.map((r) => [
    r.figure,
    `${r.ratio.toFixed(2)} ×`,
    r.detail,
    r.target,
    r.target === '' ? '' : r.met ? 'met' : 'MISSED',
  ]);
  const head = ['figure', 'ratio', 'detail', 'target', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(head));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const c of cells) {
    console.log(line(c));
  }
}
