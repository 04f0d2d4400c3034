/**
 * One file up over SFTP as fast as `scp`: writes of OpenSSH's largest size, many in flight, and
 * no round trip that is not the upload itself (the mode is set in the same pipeline).
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { SFTPWrapper } from 'ssh2';

/** OpenSSH's largest SFTP write (limits@openssh.com max-write-length): one request per chunk. */
export const WRITE_CHUNK = 261_120;
/** Writes in flight: about 4 MiB, enough to keep a loopback or LAN link busy. */
export const WRITES_IN_FLIGHT = 16;

/** An SFTP status code on an error of ssh2 (2: no such file). */
export const sftpCode = (err: unknown): unknown => (err as { code?: unknown }).code;

/** An SFTP session and a promise that rejects once its connection is gone. */
export interface SftpLink {
  sftp: SFTPWrapper;
  /**
   * Rejects when the connection closes: ssh2 then leaves the session's pending requests
   * unanswered (and one made afterwards too), so every request races it.
   */
  lost: Promise<never>;
}

/** One SFTP request of ssh2's callback style as a promise; rejects once the link is lost. */
function call<T = void>(
  link: SftpLink,
  start: (cb: (err?: Error | null, value?: T) => void) => void,
): Promise<T> {
  const request = new Promise<T>((resolve, reject) => {
    start((err, value) => (err ? reject(err) : resolve(value as T)));
  });
  return Promise.race([request, link.lost]);
}

/**
 * Uploads `localPath` to `remotePath` (created or truncated) with permission bits `mode`. The
 * fchmod goes right behind the open and ahead of the first write: sftp-server handles requests
 * in order, so no byte lands before the mode holds, yet no round trip waits for it. A failure
 * (the remote directory missing: code 2) rejects with ssh2's error; the handle is closed.
 */
export async function sftpUpload(
  link: SftpLink,
  localPath: string,
  remotePath: string,
  mode: number,
): Promise<void> {
  const { sftp } = link;
  const local = await open(localPath, 'r');
  try {
    const { size } = await local.stat();
    const handle = await call<Buffer>(link, (cb) => sftp.open(remotePath, 'w', { mode }, cb));
    const chmod = call(link, (cb) => sftp.fsetstat(handle, { mode }, cb));
    chmod.catch(() => undefined); // awaited below, after the writes
    try {
      await writeAll(link, handle, local, size, localPath);
      await chmod;
    } catch (err) {
      await call(link, (cb) => sftp.close(handle, cb)).catch(() => undefined);
      throw err;
    }
    await call(link, (cb) => sftp.close(handle, cb));
  } finally {
    await local.close();
  }
}

/** Reads and writes the file in chunks, `WRITES_IN_FLIGHT` at a time; waits for every one. */
async function writeAll(
  link: SftpLink,
  handle: Buffer,
  local: FileHandle,
  size: number,
  localPath: string,
): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async (buf: Buffer): Promise<void> => {
    while (next < size && !failed) {
      const pos = next;
      const len = Math.min(buf.length, size - pos);
      next += len;
      try {
        const { bytesRead } = await local.read(buf, 0, len, pos);
        if (bytesRead !== len) {
          throw new Error(`${localPath} shrank during its upload`);
        }
        await call(link, (cb) => link.sftp.write(handle, buf, 0, len, pos, cb));
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const lanes = Math.min(WRITES_IN_FLIGHT, Math.ceil(size / WRITE_CHUNK));
  // settle every lane before the caller closes the handle: no write is left in flight
  const settled = await Promise.allSettled(
    Array.from({ length: lanes }, () => lane(Buffer.allocUnsafe(WRITE_CHUNK))),
  );
  const failure = settled.find((s) => s.status === 'rejected');
  if (failure) {
    throw (failure as PromiseRejectedResult).reason;
  }
}

/**
 * Renames `from` to `to`, replacing it (OpenSSH's posix-rename@openssh.com); false when the
 * server lacks the extension (the caller renames another way).
 */
export async function sftpReplace(link: SftpLink, from: string, to: string): Promise<boolean> {
  try {
    await call(link, (cb) => link.sftp.ext_openssh_rename(from, to, cb));
    return true;
  } catch (err) {
    // ssh2 refuses at once when the server did not announce the extension
    if ((err as Error).message === 'Server does not support this extended request') {
      return false;
    }
    throw err;
  }
}
