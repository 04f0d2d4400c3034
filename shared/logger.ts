/** The process-wide pino logger. */
import { pino } from 'pino';

/** Creates the root logger; secrets are redacted by path. */
export function createLogger(level: string): pino.Logger {
  return pino({
    level,
    redact: {
      paths: ['*.env', '*.manifest.env', 'manifest.env', 'password'],
      censor: '[redacted]',
    },
  });
}

export type Logger = pino.Logger;
