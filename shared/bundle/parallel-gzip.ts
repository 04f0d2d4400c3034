/**
 * gzip on every core: the input is cut into fixed-size blocks, each compressed on libuv's
 * thread pool as a gzip member of its own, and the members are written in order. Concatenated
 * members are one valid gzip file (RFC 1952 §2.2; gzip, GNU tar and Node's gunzip read them),
 * and the output depends only on the bytes, the block size and the level, never on timing.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { gzip } from 'node:zlib';

/** Bytes of input per gzip member (part of the bundle format: see BUNDLE_FORMAT_VERSION). */
export const GZIP_BLOCK = 2 * 1024 * 1024;

/** Blocks compressed at once: one per core, at least two so reading overlaps compressing. */
const IN_FLIGHT = Math.max(2, Math.min(availableParallelism(), 8));

const compress = (block: Buffer, level: number): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    gzip(block, { level }, (err, out) => (err ? reject(err) : resolve(out))),
  );

/**
 * Gzips what is written to it into an open file, GZIP_BLOCK-sized members IN_FLIGHT at a time,
 * hashing the output. `write` copies synchronously (no promise per call, so a caller adding
 * 100k small entries keeps nothing alive per entry); the caller awaits `drain` between writes
 * once `full`, and `end` once.
 */
export class ParallelGzipFile {
  private block: Buffer = Buffer.allocUnsafe(GZIP_BLOCK);
  private filled = 0;
  private readonly queue: { input: Buffer; output: Promise<Buffer> }[] = [];
  /** Blocks whose compression ended, reused (a 1 GiB file would otherwise allocate 512). */
  private readonly spare: Buffer[] = [];
  private readonly hash = createHash('sha256');
  private size = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly level: number,
  ) {}

  /** True when blocks wait to be written: call `drain` before writing much more. */
  get full(): boolean {
    return this.queue.length >= IN_FLIGHT;
  }

  /** Copies `bytes` into blocks, starting the compression of each block filled. */
  write(bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length;) {
      const n = Math.min(bytes.length - off, GZIP_BLOCK - this.filled);
      this.block.set(bytes.subarray(off, off + n), this.filled);
      this.filled += n;
      off += n;
      if (this.filled === GZIP_BLOCK) {
        this.cut(this.block);
      }
    }
  }

  /** Appends `n` zero bytes (tar padding). */
  zeros(n: number): void {
    for (let left = n; left > 0;) {
      const k = Math.min(left, GZIP_BLOCK - this.filled);
      this.block.fill(0, this.filled, this.filled + k);
      this.filled += k;
      left -= k;
      if (this.filled === GZIP_BLOCK) {
        this.cut(this.block);
      }
    }
  }

  /** Writes out the oldest members until fewer than IN_FLIGHT are compressing. */
  async drain(): Promise<void> {
    while (this.full) {
      await this.writeOldest();
    }
  }

  /** Compresses what is left, writes every member; the output's sha256 and size. */
  async end(): Promise<{ sha256: string; size: number }> {
    if (this.filled > 0) {
      this.cut(this.block.subarray(0, this.filled));
    }
    while (this.queue.length) {
      await this.writeOldest();
    }
    return { sha256: this.hash.digest('hex'), size: this.size };
  }

  /** Waits for every compression in flight (after a failure: none is left running). */
  async abandon(): Promise<void> {
    await Promise.allSettled(this.queue.map((q) => q.output));
    this.queue.length = 0;
  }

  private cut(input: Buffer): void {
    const output = compress(input, this.level);
    output.catch(() => undefined); // awaited in order by writeOldest, or by abandon
    this.queue.push({ input, output });
    this.block = this.spare.pop() ?? Buffer.allocUnsafe(GZIP_BLOCK);
    this.filled = 0;
  }

  private async writeOldest(): Promise<void> {
    const { input, output } = this.queue[0];
    const member = await output;
    this.queue.shift();
    if (input.length === GZIP_BLOCK) {
      this.spare.push(input);
    }
    this.hash.update(member);
    this.size += member.length;
    for (let off = 0; off < member.length;) {
      off += (await this.fh.write(member, off, member.length - off)).bytesWritten;
    }
  }
}
