/** OS-process helpers for the fault suite: logged children, /proc lookups, polling. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, readlinkSync, writeSync } from 'node:fs';

/** A child process of the suite (API, worker, or `npm run worker` as its own group). */
export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** True when it leads its own process group (signal it with `-pid`). */
  group: boolean;
  /** Resolves with `{code, signal}` when it exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `cmd args` in its own process group, stdout and stderr appended to `logFile`. */
export function spawnLogged(
  name: string,
  cmd: string,
  args: string[],
  env: Record<string, string>,
  logFile: string,
): Proc {
  const fd = openSync(logFile, 'a');
  writeSync(fd, `\n===== ${new Date().toISOString()} start ${name}: ${cmd} ${args.join(' ')}\n`);
  const child = spawn(cmd, args, {
    cwd: process.cwd(),
    env,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  if (child.pid === undefined) {
    throw new Error(`could not spawn ${name}`);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { name, child, pid: child.pid, logFile, group: true, exited };
}

/** True while the process has not exited. */
export const isRunning = (p: Proc): boolean => p.child.exitCode === null && !p.child.signalCode;

/** Sends `signal` to the process (or its whole group when `group`); missing is fine. */
export function signal(p: Proc, sig: NodeJS.Signals, group = false): void {
  try {
    process.kill(group ? -p.pid : p.pid, sig);
  } catch {
    // already gone
  }
}

/** The last `lines` lines of a file ('' when missing). */
export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Polls `fn` every `everyMs` until it returns a truthy value; throws `what()` at the deadline. */
export async function until<T>(
  fn: () => Promise<T> | T,
  timeoutMs: number,
  what: () => string,
  everyMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) {
      return value as NonNullable<T>;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    }
    await sleep(everyMs);
  }
}

/** Waits `ms` (short pauses only; anything longer polls with `until`). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `file` has a line matching `re`. */
export function waitForLog(
  file: string,
  re: RegExp,
  timeoutMs: number,
  from = 0,
): Promise<boolean> {
  const read = () => {
    try {
      return readFileSync(file, 'utf8').slice(from);
    } catch {
      return '';
    }
  };
  return until(
    () => re.test(read()),
    timeoutMs,
    () => `${file} never matched ${re}:\n${tail(file)}`,
  );
}

/** Pids of processes whose command line contains `needle` (pgrep -f; the caller's excluded). */
export function pgrep(needle: string): number[] {
  const r = spawnSync('pgrep', ['-f', '--', needle], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

/** Pids of processes whose working directory is `dir` or below it. */
export function pidsWithCwdUnder(dir: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) {
        out.push(Number(entry));
      }
    } catch {
      // exited, or not ours to read
    }
  }
  return out;
}

/** The parent pid of `pid` (0 when it is gone). */
export function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the comm field may hold spaces: parse after its closing parenthesis
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** The first of `candidates` that is `pid` or one of its ancestors. */
export function ancestorAmong(pid: number, candidates: number[]): number | undefined {
  for (let p = pid; p > 1; p = parentOf(p)) {
    if (candidates.includes(p)) {
      return p;
    }
  }
  return undefined;
}

/** SIGKILLs each pid (ids we found ourselves); missing is fine. */
export function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
