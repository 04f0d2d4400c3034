/**
 * Reading a private key file named by a manifest, which anyone who may create a deployment
 * writes. The file must lie inside SSH_KEYS_DIR (symlinks resolved) and be a regular file of at
 * most 64 KiB; it is opened without following a final symlink and without blocking (a FIFO or
 * a terminal must not hold a file-I/O thread), checked on its descriptor and read from it.
 * Whatever is missing, outside the directory or unreachable gets one and the same answer, so
 * a manifest cannot probe which files exist on the worker's machine.
 */
import { constants } from 'node:fs';
import { open, readlink, realpath, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Larger than any private key ssh2 reads (an RSA-16384 PEM is ~13 KB). */
export const MAX_KEY_BYTES = 64 * 1024;

const OPEN_FLAGS =
  constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/** Why a key file was refused; `hidden` = outside, missing or unreachable (one answer for all). */
export type KeyFileProblem =
  | { kind: 'hidden'; dirMissing: boolean }
  | { kind: 'not_regular' }
  | { kind: 'too_large' }
  | { kind: 'unreadable'; code: string };

export class KeyFileError extends Error {
  constructor(readonly problem: KeyFileProblem) {
    super(`key file refused: ${problem.kind}`);
    this.name = 'KeyFileError';
  }
}

/** `~` and `~/x` against the worker's home directory; anything else unchanged. */
export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** The key file's absolute path: `~` expanded, a relative path taken inside `keysDir`. */
export function keyFilePath(keyPath: string, keysDir: string): string {
  return path.resolve(path.resolve(expandHome(keysDir)), expandHome(keyPath));
}

const inside = (dir: string, p: string): boolean => p === dir || p.startsWith(dir + path.sep);

/** Reads the key file `keyPath` confined to `keysDir`; throws KeyFileError. */
export async function readKeyFile(keyPath: string, keysDir: string): Promise<Buffer> {
  const dir = path.resolve(expandHome(keysDir));
  const realDir = await realpath(dir).catch(() => undefined);
  const hidden = (): KeyFileError =>
    new KeyFileError({ kind: 'hidden', dirMissing: realDir === undefined });
  const file = keyFilePath(keyPath, keysDir);
  // judged on the name first: a path outside is refused before anything looks at it
  if (realDir === undefined || !(inside(dir, file) || inside(realDir, file))) {
    throw hidden();
  }
  const real = await realpath(file).catch(() => undefined);
  if (real === undefined || !inside(realDir, real)) {
    throw hidden();
  }
  // stat before open: opening some devices has effects of its own (a watchdog, a tape)
  const st = await stat(real).catch(() => undefined);
  if (st === undefined) {
    throw hidden();
  }
  checkShape(st);
  return readConfined(real, realDir);
}

function checkShape(st: { isFile(): boolean; size: number }): void {
  if (!st.isFile()) {
    throw new KeyFileError({ kind: 'not_regular' });
  }
  if (st.size > MAX_KEY_BYTES) {
    throw new KeyFileError({ kind: 'too_large' });
  }
}

/** Opens without following or blocking, checks the descriptor, reads at most MAX_KEY_BYTES. */
async function readConfined(real: string, realDir: string): Promise<Buffer> {
  let handle;
  try {
    handle = await open(real, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') {
      throw new KeyFileError({ kind: 'hidden', dirMissing: false }); // swapped since realpath
    }
    throw new KeyFileError({ kind: 'unreadable', code });
  }
  try {
    checkShape(await handle.stat());
    // a directory swapped for a symlink between realpath and open: what did we open?
    const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
    if (opened !== undefined && !inside(realDir, opened)) {
      throw new KeyFileError({ kind: 'hidden', dirMissing: false });
    }
    const buf = Buffer.alloc(MAX_KEY_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, null);
      if (bytesRead === 0) {
        break;
      }
      length += bytesRead;
      if (length > MAX_KEY_BYTES) {
        throw new KeyFileError({ kind: 'too_large' }); // grew after the fstat
      }
    }
    return buf.subarray(0, length);
  } finally {
    await handle.close();
  }
}
