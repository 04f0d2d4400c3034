/** The process-wide pino logger. */
import { pino } from 'pino';

/** Creates the root logger (to stdout, or `destination`); secrets are redacted by path. */
export function createLogger(level: string, destination?: pino.DestinationStream): pino.Logger {
  const options = {
    level,
    redact: {
      paths: ['*.env', '*.manifest.env', 'manifest.env', 'password', '*.secrets', 'secrets'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

export type Logger = pino.Logger;
