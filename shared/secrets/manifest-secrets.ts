/** Manifest secrets at create: values (given or generated once) sealed, the snapshot redacted. */
import { AppError } from '../errors.js';
import type { Manifest } from '../manifest.js';
import { generateSecret, type SecretBox } from './box.js';
import { REDACTED } from './redact.js';

/**
 * The manifest to store (each secret's value replaced by `***`, a generate spec kept) and the
 * sealed values by name; null sealed when the manifest has no secrets.
 */
export function sealManifestSecrets(
  manifest: Manifest,
  box: SecretBox | null,
): { manifest: Manifest; sealed: Record<string, string> | null } {
  const specs = manifest.secrets;
  if (!specs || Object.keys(specs).length === 0) {
    return { manifest, sealed: null };
  }
  if (!box) {
    throw new AppError(
      'secrets_unavailable',
      'this stagecoach has no key to store secrets: set STAGECOACH_SECRET_KEY (64 hex characters; `openssl rand -hex 32`) for the API and the workers (npm run dev creates a key file itself)',
      422,
    );
  }
  const sealed: Record<string, string> = {};
  const snapshot: NonNullable<Manifest['secrets']> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = 'value' in spec ? spec.value : generateSecret(spec.generate.length);
    sealed[name] = box.seal(value);
    snapshot[name] = 'value' in spec ? { value: REDACTED } : spec;
  }
  return { manifest: { ...manifest, secrets: snapshot }, sealed };
}
