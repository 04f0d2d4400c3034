/** SSH credentials: a private key file (checked here, so errors are ours) or an ssh-agent. */
import ssh2, { type ConnectConfig } from 'ssh2';
import { TransportError } from './errors.js';
import { hostPort, type SshTarget } from './ssh-errors.js';
import { KeyFileError, MAX_KEY_BYTES, readKeyFile, type KeyFileProblem } from './ssh-key-file.js';

/** The key (read and checked here, so errors are ours) or the agent socket. */
export async function credentials(
  t: SshTarget,
  keysDir: string,
): Promise<Pick<ConnectConfig, 'privateKey' | 'agent'>> {
  if (t.keyPath !== undefined) {
    return { privateKey: await readPrivateKey(t, t.keyPath, keysDir) };
  }
  if (t.agentSocket) {
    return { agent: t.agentSocket };
  }
  throw new TransportError(
    'ssh_no_credentials',
    `no credentials for ${t.user}@${hostPort(t)}: no key_path and no SSH_AUTH_SOCK`,
    "Set key_path on the target, or run the worker with an ssh-agent (SSH_AUTH_SOCK) holding the target's key.",
  );
}

/** Reads a private key file; errors name the path as given and the reason, never its contents. */
async function readPrivateKey(t: SshTarget, keyPath: string, keysDir: string): Promise<Buffer> {
  const unreadable = (why: string, hint: string): TransportError =>
    new TransportError(
      'ssh_key_unreadable',
      `SSH key ${keyPath} for ${t.user}@${hostPort(t)} ${why}`,
      hint,
    );
  let data: Buffer;
  try {
    data = await readKeyFile(keyPath, keysDir);
  } catch (err) {
    if (err instanceof KeyFileError) {
      throw unreadable(...fileProblem(err.problem, keysDir));
    }
    throw err;
  }
  const parsed = ssh2.utils.parseKey(data);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error) {
    const encrypted = /passphrase|encrypted/i.test(key.message);
    throw unreadable(
      encrypted ? 'is encrypted with a passphrase' : 'is not a private key ssh2 can read',
      encrypted
        ? 'Use a key without a passphrase, or load it into an ssh-agent and leave key_path unset.'
        : 'Point key_path at a private key (OpenSSH, PEM or PuTTY format), not a public key or another file.',
    );
  }
  if (!key.isPrivateKey()) {
    throw unreadable('is a public key', 'Point key_path at the private half of the key pair.');
  }
  return data;
}

/** The message and hint for a refused key file; a `hidden` one tells nothing about the file. */
function fileProblem(problem: KeyFileProblem, keysDir: string): [string, string] {
  switch (problem.kind) {
    case 'hidden':
      return [
        'is not a readable file inside SSH_KEYS_DIR',
        `key_path must name a private key file inside SSH_KEYS_DIR (${keysDir}) on the worker's machine` +
          (problem.dirMissing ? `, and that directory does not exist` : '') +
          '; symlinks may not lead out of it.',
      ];
    case 'not_regular':
      return [
        'is not a regular file (a device, FIFO, socket or directory)',
        'Point key_path at a private key file.',
      ];
    case 'too_large':
      return [
        `is larger than ${MAX_KEY_BYTES / 1024} KiB, too large for a private key`,
        'Point key_path at a private key file.',
      ];
    case 'unreadable':
      return [
        `cannot be read (${problem.code})`,
        "Check that the worker's user can read the file.",
      ];
  }
}
