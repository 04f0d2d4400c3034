/**
 * gzip on every core: the input is cut into fixed-size blocks, each compressed on libuv's
 * thread pool as a gzip member of its own, and the members are written in order. Concatenated
 * members are one valid gzip file (RFC 1952 §2.2; gzip, GNU tar and Node's gunzip read them),
 * and the output depends only on the bytes, the block size and the level, never on timing.
 */
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { gzip } from 'node:zlib';

/** Bytes of input per gzip member (part of the bundle format: see BUNDLE_FORMAT_VERSION). */
export const GZIP_BLOCK = 2 * 1024 * 1024;

/** Blocks compressed at once: one per core, at least two so reading overlaps compressing. */
const IN_FLIGHT = Math.max(2, Math.min(availableParallelism(), 8));

const compress = (block: Buffer, level: number): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    gzip(block, { level }, (err, out) => (err ? reject(err) : resolve(out))),
  );

/** A Transform that gzips its input as GZIP_BLOCK-sized members, IN_FLIGHT at a time. */
export class ParallelGzip extends Transform {
  private block = Buffer.allocUnsafe(GZIP_BLOCK);
  private filled = 0;
  private readonly queue: Promise<Buffer>[] = [];

  constructor(private readonly level: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.cut(chunk).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    const rest = this.filled > 0 ? this.block.subarray(0, this.filled) : null;
    (async () => {
      if (rest) {
        this.queue.push(compress(rest, this.level));
      }
      while (this.queue.length) {
        this.push(await this.queue.shift());
      }
    })().then(() => cb(), cb);
  }

  /** Copies `chunk` into blocks; a full block is queued, waiting for the oldest when full. */
  private async cut(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length;) {
      const n = chunk.copy(this.block, this.filled, off);
      this.filled += n;
      off += n;
      if (this.filled === GZIP_BLOCK) {
        const full = this.block;
        this.block = Buffer.allocUnsafe(GZIP_BLOCK);
        this.filled = 0;
        const done = compress(full, this.level);
        done.catch(() => undefined); // awaited in order below or in _flush
        this.queue.push(done);
        while (this.queue.length >= IN_FLIGHT) {
          this.push(await this.queue.shift());
        }
      }
    }
  }
}
