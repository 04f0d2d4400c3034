/** Named API tokens: random, stored only as a SHA-256, shown once when created. */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db.js';
import { AppError } from '../errors.js';

/** What the API and the CLI show of a token (never the token or its hash). */
export interface TokenInfo {
  name: string;
  read_only: boolean;
  created_at: Date;
}

/** Token names: what `token:NAME` in the history and the CLI's argument can hold. */
export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

// 32 random bytes leave nothing to guess, so a plain SHA-256 is enough (no slow KDF needed);
// the prefix lets secret scanners recognise a leaked token
const PREFIX = 'sc_';

/** The stored form of a token. */
export const hashToken = (token: string): string =>
  createHash('sha256').update(token).digest('hex');

/** Creates a token; 409 `token_exists` when a live token already has the name. */
export async function createToken(
  db: Db,
  input: { name: string; readOnly: boolean },
): Promise<TokenInfo & { token: string }> {
  const token = PREFIX + randomBytes(32).toString('base64url');
  try {
    const [row] = (await db('api_tokens')
      .insert({ name: input.name, token_hash: hashToken(token), read_only: input.readOnly })
      .returning(['name', 'read_only', 'created_at'])) as TokenInfo[];
    return { token, ...row! };
  } catch (err) {
    if ((err as { code?: string }).code === '23505') {
      throw new AppError('token_exists', `a token named ${input.name} already exists`, 409);
    }
    throw err;
  }
}

/** Live tokens, oldest first. */
export async function listTokens(db: Db): Promise<TokenInfo[]> {
  return (await db('api_tokens')
    .whereNull('revoked_at')
    .orderBy('id')
    .select('name', 'read_only', 'created_at')) as TokenInfo[];
}

/** Revokes the live token with this name; false when there is none. */
export async function revokeToken(db: Db, name: string): Promise<boolean> {
  const n = await db('api_tokens')
    .where({ name })
    .whereNull('revoked_at')
    .update({ revoked_at: db.fn.now() });
  return n > 0;
}

/** The live token a bearer value names, if any. */
export async function findToken(
  db: Db,
  token: string,
): Promise<Pick<TokenInfo, 'name' | 'read_only'> | undefined> {
  const row = (await db('api_tokens')
    .where({ token_hash: hashToken(token) })
    .whereNull('revoked_at')
    .first('name', 'read_only')) as Pick<TokenInfo, 'name' | 'read_only'> | undefined;
  return row;
}

/** True while at least one live token exists (the API then requires a bearer token). */
export async function hasTokens(db: Db): Promise<boolean> {
  const row = await db('api_tokens').whereNull('revoked_at').first(db.raw('1 as one'));
  return row !== undefined;
}
