/**
 * Frames in a persistent shell's output: `<nonce><fields>\n`, written by our own wrapper around
 * each command. The nonce is random per shell, so a command cannot print a frame by accident
 * (or on purpose: it never sees the nonce), and a frame may start anywhere in a line (output
 * that lacks a trailing newline runs straight into it).
 */

/** A piece of a stream: output of the command, or one of our frames (the text after the nonce). */
export type Piece = { text: string } | { frame: string };

/** Longest frame we write (`:e:<status>:<signal name>`): anything longer after a nonce is text. */
const MAX_FRAME = 64;

/** Splits one decoded stream into output text and frames; holds back what may be half a frame. */
export class FrameScanner {
  private buf = '';

  constructor(private readonly nonce: string) {}

  /** Feeds a chunk; returns the pieces it completes, in order. */
  push(chunk: string): Piece[] {
    this.buf += chunk;
    const pieces: Piece[] = [];
    for (;;) {
      const at = this.buf.indexOf(this.nonce);
      if (at < 0) {
        const keep = this.partialNonce();
        this.take(pieces, this.buf.length - keep);
        return pieces;
      }
      this.take(pieces, at);
      const end = this.buf.indexOf('\n', this.nonce.length);
      if (end < 0) {
        if (this.buf.length - this.nonce.length <= MAX_FRAME) {
          return pieces; // the rest of the frame is on its way
        }
        this.take(pieces, this.nonce.length);
        continue;
      }
      pieces.push({ frame: this.buf.slice(this.nonce.length, end) });
      this.buf = this.buf.slice(end + 1);
    }
  }

  /** Moves the first `n` characters of the buffer out as text. */
  private take(pieces: Piece[], n: number): void {
    if (n > 0) {
      pieces.push({ text: this.buf.slice(0, n) });
      this.buf = this.buf.slice(n);
    }
  }

  /** Length of the longest end of the buffer that is a beginning of the nonce. */
  private partialNonce(): number {
    for (let n = Math.min(this.buf.length, this.nonce.length - 1); n > 0; n--) {
      if (this.nonce.startsWith(this.buf.slice(this.buf.length - n))) {
        return n;
      }
    }
    return 0;
  }
}
