/** `npm run bench`: every benchmark in turn (ratios against a baseline of the same run). */
import { main as bundle } from './bundle.bench.js';
import { main as pipeline } from './pipeline.bench.js';
import { main as runs } from './runs.bench.js';
import { main as ssh } from './ssh.bench.js';

await bundle({ files: 2000, totalBytes: 100e6, runs: 3 });
console.log('');
await pipeline(5);
console.log('');
await ssh(3);
console.log('');
await runs();
process.exit(0);
