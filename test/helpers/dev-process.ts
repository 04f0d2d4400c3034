/** Runs `npm run dev` (scripts/dev.ts) as a real child process on the embedded default. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';

export interface DevProcess {
  child: ChildProcess;
  url: string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Starts the dev process with a clean environment (no DATABASE_URL, no REDIS_URL). */
export async function startDev(env: Record<string, string>, logFile: string): Promise<DevProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(process.cwd(), 'scripts/dev.ts')],
    {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/root',
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const url = `http://127.0.0.1:${env.PORT}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`dev process exited with ${child.exitCode}; see ${logFile}`);
    }
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) {
      return { child, url, exited };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`dev process not ready within 60 s; see ${logFile}`);
}
