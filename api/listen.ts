/** Starts the HTTP API of a booted runtime (npm run api and npm run dev). */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { Runtime } from '../shared/runtime.js';
import { createApp } from './app.js';
import { EventHub } from './events/hub.js';

/** Each server's live-event hub: its streams end before the server closes. */
const hubs = new WeakMap<Server, EventHub>();

/** Listens on HOST:PORT; resolves once it does. */
export async function listenApi(rt: Runtime, config: Config, logger: Logger): Promise<Server> {
  const { db, queues, relay, secrets } = rt;
  const events = new EventHub(rt.databaseUrl, logger);
  const server = createApp({ db, queues, relay, secrets, config, logger, events }).listen(
    config.PORT,
    config.HOST,
  );
  hubs.set(server, events);
  await once(server, 'listening');
  return server;
}

/** Closes the server (a shutdown step); open event streams end first, or it would wait on them. */
export async function closeServer(server: Server): Promise<void> {
  await hubs.get(server)?.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A bound address as a URL host; a wildcard bind answers on loopback (which the Host check allows). */
function urlHost(address: string): string {
  if (address === '0.0.0.0') {
    return '127.0.0.1';
  }
  if (address === '::') {
    return '[::1]';
  }
  return address.includes(':') ? `[${address}]` : address;
}

/** What a person opens: the dashboard, the API and Bull Board, at the address bound. */
export function startupUrls(server: Server): { dashboard: string; api: string; board: string } {
  const { address, port } = server.address() as AddressInfo;
  const base = `http://${urlHost(address)}:${port}`;
  return { dashboard: `${base}/`, api: `${base}/api/v1`, board: `${base}/admin/queues` };
}

/** The start-up line: the URLs in the message (for a human) and as fields (for machines). */
export function logStartup(logger: Logger, server: Server, what: string): void {
  const urls = startupUrls(server);
  logger.info(
    urls,
    `${what}: dashboard ${urls.dashboard} · API ${urls.api} · Bull Board ${urls.board}`,
  );
}
