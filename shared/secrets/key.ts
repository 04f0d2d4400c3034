/** Where the secret key comes from: STAGECOACH_SECRET_KEY, else a 0600 key file in the data dir. */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { SecretBox } from './box.js';

/** The key file `npm run dev` creates when STAGECOACH_SECRET_KEY is unset. */
export const keyFilePath = (config: Config): string => path.join(config.dataDir, 'secret.key');

/**
 * The box for this process, or null when no key is configured (then secrets cannot be stored).
 * With `createKeyFile` (npm run dev) a missing key file is created, mode 0600, and said so.
 */
export async function loadSecretBox(
  config: Config,
  logger: Logger,
  opts: { createKeyFile: boolean },
): Promise<SecretBox | null> {
  if (config.STAGECOACH_SECRET_KEY) {
    return SecretBox.fromText(config.STAGECOACH_SECRET_KEY);
  }
  const file = keyFilePath(config);
  const found = await stat(file).catch(() => null);
  if (found) {
    if ((found.mode & 0o077) !== 0) {
      throw new Error(`the secret key file ${file} is readable by others; chmod 600 it`);
    }
    return SecretBox.fromText(await readFile(file, 'utf8'));
  }
  if (!opts.createKeyFile) {
    return null;
  }
  await mkdir(config.dataDir, { recursive: true });
  const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await handle.writeFile(`${randomBytes(32).toString('hex')}\n`);
  } finally {
    await handle.close();
  }
  logger.warn(
    { file },
    'created a secret key for secrets at rest; back it up (without it stored secrets cannot be read) or set STAGECOACH_SECRET_KEY',
  );
  return SecretBox.fromText(await readFile(file, 'utf8'));
}
