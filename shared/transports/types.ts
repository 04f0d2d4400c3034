/** The Transport interface: how workers reach a target (local sandbox or SSH). */

export type OutputStream = 'stdout' | 'stderr';

export interface ExecOptions {
  /** Working directory, relative to the target's workdir (default: the workdir). */
  cwd?: string;
  /** Extra environment for the command; the base environment is minimal, never the worker's. */
  env?: Record<string, string>;
  /** Aborting kills the command (and closes the channel on SSH). */
  signal?: AbortSignal;
  /** Called with each chunk of output as it arrives (text: see `outputText`). */
  onOutput?: (stream: OutputStream, chunk: string) => void;
}

export interface ExecResult {
  /** Exit code; null when the command was killed by a signal. */
  code: number | null;
  signal: string | null;
  /** The last bytes of each stream (bounded). */
  stdout: string;
  stderr: string;
}

export interface Transport {
  readonly kind: 'local' | 'ssh';
  /** Human-readable description of the target, for logs and errors (no secrets). */
  readonly describe: string;
  /** Absolute path of the workdir on the target (relative paths below resolve inside it). */
  readonly workdir: string;
  /** Runs argv (each element quoted, never a shell string). */
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Copies a local file to a path relative to the workdir. */
  putFile(localPath: string, remotePath: string): Promise<void>;
  /** Reads a file relative to the workdir. */
  readFile(remotePath: string): Promise<Buffer>;
  /** Releases the connection. */
  close(): Promise<void>;
}

/** How much of each output stream an ExecResult keeps. */
export const OUTPUT_TAIL_BYTES = 64 * 1024;

/** Appends a chunk to a bounded tail buffer. */
export function appendTail(tail: string, chunk: string, max = OUTPUT_TAIL_BYTES): string {
  const next = tail + chunk;
  return next.length > max ? next.slice(next.length - max) : next;
}

/**
 * Command output is text, for people and for PostgreSQL, whose text and jsonb cannot hold
 * U+0000: a NUL becomes U+FFFD, as every byte that is not UTF-8 already does when decoded.
 * Both transports pass output through this before anyone sees it.
 */
export function outputText(chunk: string): string {
  return chunk.includes('\0') ? chunk.replaceAll('\0', '\uFFFD') : chunk;
}
