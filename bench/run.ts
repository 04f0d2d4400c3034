/**
 * `npm run bench`: every benchmark of issue 10's table, then ONE table of their rows in the
 * issue's order (each ratio against a baseline measured in the same run, medians of rounds).
 * Sizes and rounds are chosen to finish in under five minutes on 2 cores; each bench file runs
 * alone with the issue's full sizes (see its header). `--runs` also runs the run-control bench
 * (bench/runs.bench.ts, its own tables, outside this one: it takes minutes on its own).
 */
import { rows as bundle } from './bundle.bench.js';
import { rows as delta } from './delta.bench.js';
import { rows as memory } from './memory.bench.js';
import { rows as overhead } from './overhead.bench.js';
import { rows as pipeline } from './pipeline.bench.js';
import { rows as ssh } from './ssh.bench.js';
import { printTable, type BenchRow } from './table.js';
import { rows as transfer } from './transfer.bench.js';

const started = Date.now();
const section = async (name: string, fn: () => Promise<BenchRow[]>): Promise<BenchRow[]> => {
  const t = Date.now();
  const out = await fn();
  console.log(`${name}: ${((Date.now() - t) / 1000).toFixed(0)} s`);
  return out;
};

// The order: bundle (2), SSH (2), re-deploy, upload, delta, overhead, memory (2).
const table = [
  ...(await section('bundle', () => bundle({ files: 2000, totalBytes: 100e6, runs: 3 }))),
  ...(await section('ssh', () => ssh(3))),
  ...(await section('pipeline', () => pipeline(3))),
  ...(await section('transfer', () => transfer(7, 200))),
  ...(await section('delta', () => delta())),
  ...(await section('overhead', () => overhead(3))),
  ...(await section('memory', () => memory(100_000, 1024))),
];
console.log(`\nall benchmarks: ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
printTable(table);
if (process.argv.includes('--runs')) {
  const { main: runs } = await import('./runs.bench.js');
  console.log('');
  await runs();
}
process.exit(0);
