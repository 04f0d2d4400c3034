/** OpenSSH-style host key fingerprints, the form `ssh-keygen -lf` prints. */
import { createHash } from 'node:crypto';

/** `SHA256:<base64 without padding>` of a raw public key blob (as sent in the key exchange). */
export function hostKeyFingerprint(key: Buffer): string {
  const digest = createHash('sha256').update(key).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** A user-given fingerprint in canonical form: trimmed, `SHA256:` prefix, no padding. */
export function normalizeFingerprint(fingerprint: string): string {
  const body = fingerprint
    .trim()
    .replace(/^SHA256:/i, '')
    .replace(/=+$/, '');
  return `SHA256:${body}`;
}
