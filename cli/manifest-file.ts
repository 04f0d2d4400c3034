/** Reads a manifest file for `deploy`: a clear sentence for each way it can be unusable. */
import { readFile } from 'node:fs/promises';
import { CliError, EXIT } from './exit.js';

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
};

/** The manifest object in `file` (the API validates its content). */
export async function readManifest(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const why = READ_ERRORS[code] ?? (err as Error).message;
    throw new CliError(`cannot read the manifest ${file}: ${why}`, EXIT.input);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(
      `the manifest ${file} is not valid JSON: ${(err as Error).message}`,
      EXIT.input,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value;
    throw new CliError(
      `the manifest ${file} must hold a JSON object (a deployment manifest), not ${kind}`,
      EXIT.input,
    );
  }
  return value as Record<string, unknown>;
}
