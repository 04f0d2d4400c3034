/** The one quoting function: every command that reaches a shell is built from argv through here. */

// no `=`: a leading `A=b` word would be read as an assignment
const SAFE = /^[A-Za-z0-9_@%+:,./-]+$/;

/** Quotes one argument for a POSIX shell (single quotes; embedded quotes escaped). */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) {
    throw new Error('shell argument contains a NUL byte');
  }
  if (arg !== '' && SAFE.test(arg)) {
    return arg;
  }
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Joins an argv array into one shell command line, each element quoted. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/**
 * Renders `KEY=value` lines, values quoted as shellQuote does. Keys must be valid names. The
 * target reads these files as data (`read_env_file` in scripts/target/lib/common.sh parses exactly
 * this format and never sources it), so the format is part of the bundle's contract.
 */
export function shellEnvFile(vars: Record<string, string>): string {
  return Object.keys(vars)
    .sort()
    .map((key) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
        throw new Error(`invalid environment variable name: ${key}`);
      }
      return `${key}=${shellQuote(vars[key])}\n`;
    })
    .join('');
}
