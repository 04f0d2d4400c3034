/** Secrets at rest: AES-256-GCM under one key, each value sealed with its own random IV. */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;

/** Seals and opens secret values; the text form is `v1.<iv>.<tag>.<ciphertext>` (base64url). */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) {
      throw new Error('a secret key is 32 bytes');
    }
  }

  /** Parses STAGECOACH_SECRET_KEY (64 hex characters or base64 of 32 bytes). */
  static fromText(text: string): SecretBox {
    const trimmed = text.trim();
    return new SecretBox(
      Buffer.from(trimmed, /^[0-9a-fA-F]{64}$/.test(trimmed) ? 'hex' : 'base64'),
    );
  }

  /** Encrypts a value; sealing the same value twice gives different texts. */
  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const parts = [iv, cipher.getAuthTag(), ct].map((b) => b.toString('base64url'));
    return [VERSION, ...parts].join('.');
  }

  /** Decrypts a sealed value; throws when it was altered or sealed under another key. */
  open(sealed: string): string {
    const [version, iv, tag, ct] = sealed.split('.');
    if (version !== VERSION || !iv || !tag || ct === undefined) {
      throw new Error('not a sealed secret');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([
      decipher.update(Buffer.from(ct, 'base64url')),
      decipher.final(),
    ]).toString('utf8');
  }
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random value of `length` letters and digits (safe in URLs, env files and shells). */
export function generateSecret(length: number): string {
  const out: string[] = [];
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 × 62: drop the tail so every character is equally likely
      if (byte < 248 && out.length < length) {
        out.push(ALPHABET[byte % 62]);
      }
    }
  }
  return out.join('');
}
