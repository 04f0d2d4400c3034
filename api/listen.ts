/** Starts the HTTP API of a booted runtime (npm run api and npm run dev). */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { Runtime } from '../shared/runtime.js';
import { createApp } from './app.js';

/** Listens on HOST:PORT; resolves once it does. */
export async function listenApi(rt: Runtime, config: Config, logger: Logger): Promise<Server> {
  const { db, queues, relay, secrets } = rt;
  const server = createApp({ db, queues, relay, secrets, config, logger }).listen(
    config.PORT,
    config.HOST,
  );
  await once(server, 'listening');
  return server;
}

/** Closes the server (a shutdown step). */
export const closeServer = (server: Server): Promise<void> =>
  new Promise<void>((resolve) => server.close(() => resolve()));
