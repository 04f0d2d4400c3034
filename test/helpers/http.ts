/** A listening test server and a small JSON client for it. */
import type { Server } from 'node:http';
import type { Express } from 'express';

export interface ApiClient {
  url: string;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Polls GET /deployments/:id until its status is one of `statuses`. */
  waitFor(id: string, statuses: string[], timeoutMs?: number): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

/** Listens on a free loopback port. */
export async function serve(app: Express): Promise<ApiClient> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const client: ApiClient = {
    url,
    async call(method, path, body) {
      const res = await fetch(`${url}${path}`, {
        method,
        // the API takes state changes as JSON only, a bodiless POST included
        headers:
          method === 'GET' || method === 'HEAD' ? {} : { 'content-type': 'application/json' },
        body:
          body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async waitFor(id, statuses, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      while (Date.now() < deadline) {
        const { body } = await client.call('GET', `/api/v1/deployments/${id}`);
        last = body?.deployment;
        if (statuses.includes(body?.deployment?.status) && !body.deployment.run_active) {
          return body.deployment;
        }
        // 150 ms: one wait stays well inside the default RATE_LIMIT_PER_MINUTE (600)
        await new Promise((r) => setTimeout(r, 150));
      }
      throw new Error(
        `deployment ${id} did not reach ${statuses.join('|')}: ${JSON.stringify(last)}`,
      );
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return client;
}
