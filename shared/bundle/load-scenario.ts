/** Finds a scenario directory inside the scenarios root and validates its `scenario.json`. */
import { constants, readlinkSync } from 'node:fs';
import { open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { formatIssues } from '../manifest.js';
import { scenarioSchema, type Scenario } from '../scenario.js';
import { BundleError, isErrno } from './errors.js';
import { isStrictlyWithin, isWithin } from './paths.js';
import { PROC_FD } from './source-file.js';

/** The file that describes a scenario, at the root of its directory. */
export const SCENARIO_FILE = 'scenario.json';
/** The largest scenario.json read; a real one is a few KiB. */
export const SCENARIO_MAX_BYTES = 1024 * 1024;

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = constants;
// O_NONBLOCK: a FIFO must not block the open (it is then refused as not a regular file).
const FILE_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
/** Symlinks followed (each checked to stay inside the scenario) before giving up. */
const MAX_LINK_HOPS = 8;

/** Resolves `relPath` strictly inside `scenariosDir` (after symlinks) and parses its scenario.json. */
export async function loadScenario(
  scenariosDir: string,
  relPath: string,
): Promise<{ dir: string; scenario: Scenario }> {
  const root = await realpathOrNotFound(scenariosDir, 'scenarios directory');
  const lexical = path.resolve(root, relPath);
  if (relPath.includes('\0') || !isStrictlyWithin(root, lexical)) {
    throw escape(relPath);
  }
  const dir = await realpathOrNotFound(lexical, `scenario "${relPath}"`);
  if (!isStrictlyWithin(root, dir)) {
    throw escape(relPath);
  }
  if (!(await stat(dir)).isDirectory()) {
    throw new BundleError('scenario_not_found', `scenario "${relPath}" is not a directory`);
  }
  return { dir, scenario: parseScenario(await readScenarioFile(dir, relPath), relPath) };
}

/**
 * The text of `dir`/scenario.json, read from one descriptor that was opened without following
 * a link (a link inside the scenario is followed hop by hop, each hop checked), proven to lie
 * inside `dir` (Linux: the path `/proc/self/fd` reports) and to be a regular file of at most
 * SCENARIO_MAX_BYTES. A swap between the checks and the read cannot bring in another file: the
 * checks are of the descriptor that is read.
 */
async function readScenarioFile(dir: string, relPath: string): Promise<string> {
  const shown = `${relPath}/${SCENARIO_FILE}`;
  const fh = await openInside(dir, shown);
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw invalid(relPath, [{ path: '', message: `${SCENARIO_FILE} is not a regular file` }]);
    }
    if (st.size > SCENARIO_MAX_BYTES) {
      throw tooLarge(relPath);
    }
    // Read to the end, not st.size: the file may grow between the stat and the read.
    const buf = Buffer.alloc(st.size + 1);
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        throw tooLarge(relPath);
      }
      const { bytesRead } = await fh.read(buf, len, buf.length - len, len);
      if (bytesRead === 0) {
        return buf.subarray(0, len).toString('utf8');
      }
      len += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/** Opens `dir`/scenario.json no-follow; symlinks inside `dir` are followed one checked hop at a time. */
async function openInside(dir: string, shown: string): Promise<FileHandle> {
  let file = path.join(dir, SCENARIO_FILE);
  for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
    let fh: FileHandle;
    try {
      fh = await open(file, FILE_FLAGS);
    } catch (err) {
      if (isErrno(err, 'ELOOP')) {
        // The last component is a symlink: resolved lexically, it must stay inside the scenario.
        const target = await readlink(file).catch(() => null); // changed again: open anew
        file = target === null ? file : path.resolve(path.dirname(file), target);
        if (!isWithin(dir, file)) {
          throw escape(shown);
        }
        continue;
      }
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) {
        throw new BundleError('scenario_not_found', `${shown} not found`, { cause: err });
      }
      if (['ENXIO', 'ENODEV', 'EOPNOTSUPP'].some((code) => isErrno(err, code))) {
        // a socket or a device without a driver: nothing to read
        throw new BundleError('scenario_invalid', `${shown} is invalid`, {
          details: [{ path: '', message: `${SCENARIO_FILE} is not a regular file` }],
          cause: err,
        });
      }
      throw err;
    }
    // A directory on the way may have been a symlink (or swapped for one): where did it land?
    if (PROC_FD !== null && !isWithin(dir, readlinkSync(`${PROC_FD}/${fh.fd}`))) {
      await fh.close();
      throw escape(shown);
    }
    return fh;
  }
  throw new BundleError(
    'scenario_invalid',
    `${shown} is a chain of more than ${MAX_LINK_HOPS} symlinks`,
    {
      details: [{ path: '', message: `${SCENARIO_FILE} is a chain of too many symlinks` }],
    },
  );
}

/** Parses and validates scenario.json text; throws `scenario_invalid` with `{path, message}` issues. */
export function parseScenario(text: string, label: string): Scenario {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid(label, [{ path: '', message: jsonErrorMessage(text, err as Error) }]);
  }
  const result = scenarioSchema.safeParse(json);
  if (!result.success) {
    throw invalid(label, formatIssues(result.error));
  }
  return result.data;
}

/**
 * Where JSON.parse failed, without its message: V8 quotes the text it could not parse (e.g.
 * `Unexpected token 'r', "root:x:0:0"... is not valid JSON`), and that text must never reach
 * an API answer or a run's error_message.
 */
function jsonErrorMessage(text: string, err: Error): string {
  const at = /at position (\d+)/.exec(err.message);
  if (at) {
    const before = text.slice(0, Number(at[1]));
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    return `invalid JSON: ${SCENARIO_FILE} has a syntax error at line ${line}, column ${column}`;
  }
  if (/end of JSON input/.test(err.message)) {
    return `invalid JSON: ${SCENARIO_FILE} ends before its JSON value is complete`;
  }
  return `invalid JSON: ${SCENARIO_FILE} is not valid JSON (a JSON object is expected; its text is not shown)`;
}

function tooLarge(label: string): BundleError {
  return invalid(label, [
    { path: '', message: `${SCENARIO_FILE} is larger than ${SCENARIO_MAX_BYTES} bytes` },
  ]);
}

async function realpathOrNotFound(p: string, what: string): Promise<string> {
  try {
    return await realpath(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) {
      throw new BundleError('scenario_not_found', `${what} not found`, { cause: err });
    }
    throw err;
  }
}

function escape(relPath: string): BundleError {
  return new BundleError(
    'scenario_path_escape',
    `scenario path "${relPath}" leaves the scenarios directory`,
  );
}

function invalid(label: string, issues: { path: string; message: string }[]): BundleError {
  return new BundleError('scenario_invalid', `${label}/${SCENARIO_FILE} is invalid`, {
    details: issues,
  });
}
