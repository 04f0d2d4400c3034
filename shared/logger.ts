/** The process-wide pino logger: JSON for machines, pino-pretty for a human at a terminal. */
import { pino } from 'pino';
import { prettyFactory } from 'pino-pretty';
import type { Config } from './config.js';

/** How log lines are written. */
export type LogFormat = 'json' | 'pretty';

/** LOG_FORMAT as configured: `auto` = pretty on a terminal, JSON otherwise. */
export type LogFormatSetting = LogFormat | 'auto';

/** The format for a setting: `auto` picks pretty when stdout is a TTY. */
export function chooseLogFormat(setting: LogFormatSetting, stdoutIsTty: boolean): LogFormat {
  if (setting === 'auto') {
    return stdoutIsTty ? 'pretty' : 'json';
  }
  return setting;
}

/**
 * A stream that turns pino's JSON lines into human lines, synchronously (so the last lines
 * before process.exit are not lost, as they can be behind pino-pretty's own async stream).
 */
function prettyStream(colorize: boolean, out: pino.DestinationStream): pino.DestinationStream {
  const pretty = prettyFactory({
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
  return { write: (line: string) => void out.write(pretty(line)) };
}

/** Creates the root logger (to stdout, or `destination`); secrets are redacted by path. */
export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  format: LogFormat = 'json',
  colorize = false,
): pino.Logger {
  const options = {
    level,
    redact: {
      paths: ['*.env', '*.manifest.env', 'manifest.env', 'password', '*.secrets', 'secrets'],
      censor: '[redacted]',
    },
  };
  if (format === 'pretty') {
    return pino(options, prettyStream(colorize, destination ?? pino.destination({ sync: true })));
  }
  return destination ? pino(options, destination) : pino(options);
}

/** The logger of an entry point: LOG_LEVEL, and LOG_FORMAT against whether stdout is a TTY. */
export function createProcessLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT'>): pino.Logger {
  const tty = process.stdout.isTTY === true;
  return createLogger(config.LOG_LEVEL, undefined, chooseLogFormat(config.LOG_FORMAT, tty), tty);
}

export type Logger = pino.Logger;
