/** A real HTTP receiver for webhook tests: records each request, answers as told per path. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Requests to one path. */
  on(path: string): Received[];
  /** The status code to answer on `path`, per request number (0-based); default 200. */
  answer(path: string, codes: (n: number) => number): void;
  /** Resolves when `path` has at least `n` requests. */
  waitFor(path: string, n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** Listens on a free loopback port. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const answers = new Map<string, (n: number) => number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const n = received.filter((r) => r.path === path).length;
      received.push({
        path,
        headers: req.headers,
        raw: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      });
      res.statusCode = (answers.get(path) ?? (() => 200))(n);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const on = (path: string) => received.filter((r) => r.path === path);
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    on,
    answer: (path, codes) => answers.set(path, codes),
    async waitFor(path, n, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (on(path).length < n) {
        if (Date.now() > deadline) {
          throw new Error(`${path}: ${on(path).length} of ${n} requests`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return on(path);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Verifies `X-Stagecoach-Signature` the way a receiver would (Stripe's scheme), computed here
 * independently of stagecoach's code: `t=<unix s>,v1=<hex HMAC-SHA256("<t>.<raw body>")>`.
 */
export function verifySignature(
  header: string | undefined,
  raw: string,
  secret: string,
  toleranceS = 300,
): boolean {
  const parts = Object.fromEntries(
    (header ?? '').split(',').map((kv) => kv.split('=', 2) as [string, string]),
  );
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(Date.now() / 1000 - t) > toleranceS) {
    return false;
  }
  const expected = createHmac('sha256', secret).update(`${t}.${raw}`).digest();
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
