/**
 * Helpers for the supervised-service tests: find a supervisor's service process, poll for a
 * condition instead of sleeping, ask a port for an HTTP answer.
 */
import { readdirSync } from 'node:fs';
import { procStat } from './target-release.js';

/** Live processes whose parent is `ppid` (the supervisor's service is its only child). */
export function childrenOf(ppid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      const f = procStat(pid);
      return f !== undefined && f[1] === String(ppid) && f[0] !== 'Z';
    });
}

/**
 * Calls `check` every `everyMs` until it returns a value other than undefined (returned) or
 * `timeoutMs` passes (throws, naming `what`).
 */
export async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined> | T | undefined,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The HTTP status of GET `urlPath` on 127.0.0.1:`port`, or undefined when nothing answers. */
export async function httpStatusOf(port: number, urlPath = '/health'): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, {
      signal: AbortSignal.timeout(2000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}

/**
 * True when nothing answers on `port` during the whole of `ms` (checked every 100 ms): a
 * stopped service must not come back.
 */
export async function staysClosed(port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await httpStatusOf(port)) !== undefined) {
      return false;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}
