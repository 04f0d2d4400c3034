/** A scenarios directory of its own for a test: a copy of the examples it can edit. */
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Copies `examples/<name>` into a fresh scenarios dir; returns the dir. */
export async function copyExample(name: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stagecoach-scn-'));
  await cp(path.join(process.cwd(), 'examples', name), path.join(dir, 'examples', name), {
    recursive: true,
    filter: (src) => !src.includes('node_modules'),
  });
  return dir;
}

/** Replaces text in a file of a copied scenario. */
export async function editFile(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  if (!text.includes(from)) {
    throw new Error(`${file} does not contain ${from}`);
  }
  await writeFile(file, text.replace(from, to));
}
