/**
 * A throw-away redis-server on a free loopback port, for tests that take Redis away:
 * `stop()` and `start()` again on the same port simulate an outage and a recovery.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export const REDIS_SERVER_BINARY = '/usr/bin/redis-server';

export interface ThrowawayRedis {
  port: number;
  /** `redis://127.0.0.1:PORT`. */
  url: string;
  /** Shuts the server down (SIGTERM) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** SIGSTOPs the server: connections stay open but nothing answers (a hung Redis). */
  freeze(): void;
  /** SIGCONTs a frozen server. */
  thaw(): void;
  /** Stops it if running and removes its directory; idempotent. */
  close(): Promise<void>;
}

/** Starts redis-server with no persistence in a temp dir; resolves once it answers PING. */
export async function startThrowawayRedis(): Promise<ThrowawayRedis> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-redis-'));
  await chmod(dir, 0o711);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      const child = await launch(dir, port);
      return server(dir, port, child);
    } catch (err) {
      lastError = err; // most likely someone took the port between freePort and bind
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}

function server(dir: string, port: number, first: ChildProcess): ThrowawayRedis {
  let child: ChildProcess | undefined = first;
  // a test that dies before close() must not leave a redis-server behind
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGCONT'); // a frozen server would not act on SIGTERM
      c.kill('SIGTERM');
      await exited;
    }
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    freeze() {
      child?.kill('SIGSTOP');
    },
    thaw() {
      child?.kill('SIGCONT');
    },
    async start() {
      if (!child) {
        child = await launch(dir, port);
      }
    },
    async close() {
      process.removeListener('exit', killOnExit);
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Spawns redis-server in the foreground (so we hold its pid) and waits for PONG. */
async function launch(dir: string, port: number): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
  args.push('--save', '', '--appendonly', 'no', '--loglevel', 'warning');
  const child = spawn(REDIS_SERVER_BINARY, args, { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      break;
    }
    if (await pong(port)) {
      return child;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer PING on 127.0.0.1:${port}`);
}

/** True when something on `port` answers an inline PING with +PONG. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (buf) => done(buf.toString().startsWith('+PONG')));
    sock.once('error', () => done(false));
  });
}
