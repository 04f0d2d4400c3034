/** SSH credentials: a private key file (checked here, so errors are ours) or an ssh-agent. */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ssh2, { type ConnectConfig } from 'ssh2';
import { TransportError } from './errors.js';
import { hostPort, type SshTarget } from './ssh-errors.js';

/** The key (read and checked here, so errors are ours) or the agent socket. */
export async function credentials(
  t: SshTarget,
): Promise<Pick<ConnectConfig, 'privateKey' | 'agent'>> {
  if (t.keyPath !== undefined) {
    return { privateKey: await readPrivateKey(t, t.keyPath) };
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

/** Reads a private key file; errors name the file and the reason, never its contents. */
async function readPrivateKey(t: SshTarget, keyPath: string): Promise<Buffer> {
  const file =
    keyPath === '~' || keyPath.startsWith('~/')
      ? path.join(os.homedir(), keyPath.slice(1))
      : keyPath;
  const unreadable = (why: string, hint: string): TransportError =>
    new TransportError(
      'ssh_key_unreadable',
      `SSH key ${file} for ${t.user}@${hostPort(t)} ${why}`,
      hint,
    );
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw unreadable(
      `cannot be read (${code})`,
      "Check key_path and that the worker's user can read the file.",
    );
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
