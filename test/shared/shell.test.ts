import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { shellEnvFile, shellJoin, shellQuote } from '../../shared/shell.js';
import { makeTempDir, removeTempDir } from '../factories.js';

/** Strings a quoting function must survive. */
const TRICKY = [
  '',
  'plain',
  'two words',
  '  leading and trailing  ',
  "it's",
  "''",
  '"double"',
  'back\\slash\\',
  '$(id)',
  '${HOME}',
  '$HOME',
  '`id`',
  'a;b',
  'a && b || c',
  'a | b > c < d',
  'line1\nline2',
  '\n',
  'tab\there',
  'cr\rhere',
  '*',
  '?',
  '[a]',
  '~',
  '~root',
  '#comment',
  '!event',
  '{a,b}',
  '-n',
  '--',
  'a=b',
  '%s',
  'grüße ünïcödé ✓ 🚀 日本語',
  '\u0001\u001b[31m',
  "'; rm -rf / #",
  "x'\"'\"'y",
];

/** Runs bash with `script`; returns stdout and the exit status. */
function bash(
  script: string,
  env: NodeJS.ProcessEnv = process.env,
): { stdout: string; status: number | null; stderr: string } {
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env });
  if (r.error) {
    throw r.error;
  }
  return { stdout: r.stdout, status: r.status, stderr: r.stderr };
}

/** Parses `env -0` output into a map. */
function parseEnv0(out: string): Record<string, string> {
  const seen: Record<string, string> = {};
  for (const entry of out.split('\0').slice(0, -1)) {
    const eq = entry.indexOf('=');
    seen[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return seen;
}

describe('shared/shell', () => {
  describe('shellQuote', () => {
    it('leaves safe words alone', () => {
      for (const word of ['abc', 'a-b_c.d/e', '/usr/bin/env', 'x@y:z,1+2%3']) {
        expect(shellQuote(word), word).to.equal(word);
      }
    });

    it('single-quotes everything else, escaping embedded quotes', () => {
      expect(shellQuote('')).to.equal("''");
      expect(shellQuote('a b')).to.equal("'a b'");
      expect(shellQuote('$(id)')).to.equal("'$(id)'");
      expect(shellQuote("it's")).to.equal("'it'\\''s'");
      expect(shellQuote("'")).to.equal("''\\'''");
      expect(shellQuote('a\nb')).to.equal("'a\nb'");
      expect(shellQuote('~')).to.equal("'~'");
    });

    it('rejects a NUL byte', () => {
      expect(() => shellQuote('a\0b')).to.throw('NUL');
      expect(() => shellJoin(['echo', '\0'])).to.throw('NUL');
      expect(() => shellEnvFile({ A: 'x\0' })).to.throw('NUL');
    });
  });

  describe('shellJoin', () => {
    it('quotes each element and joins with single spaces', () => {
      expect(shellJoin([])).to.equal('');
      expect(shellJoin(['echo', 'a b', '', "it's"])).to.equal("echo 'a b' '' 'it'\\''s'");
    });

    it('round-trips every tricky string through bash exactly', () => {
      const argv = [...TRICKY];
      const r = bash(`printf '%s\\0' ${shellJoin(argv)}`);
      expect(r.status, r.stderr).to.equal(0);
      const printed = r.stdout.split('\0');
      expect(printed.pop()).to.equal('');
      expect(printed).to.deep.equal(argv);
    });

    for (const s of TRICKY) {
      it(`round-trips ${JSON.stringify(s)} alone`, () => {
        const r = bash(`printf '%s\\0' ${shellJoin([s])}`);
        expect(r.status, r.stderr).to.equal(0);
        expect(r.stdout).to.equal(`${s}\0`);
      });
    }

    it('round-trips through sh as well', () => {
      const r = spawnSync('sh', ['-c', `printf '%s\\0' ${shellJoin(TRICKY)}`], {
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout.split('\0').slice(0, -1)).to.deep.equal(TRICKY);
    });

    it('never runs a command substitution it quotes', async () => {
      const dir = await makeTempDir();
      try {
        const marker = path.join(dir, 'pwned');
        const r = bash(
          `printf '%s' ${shellJoin([`$(touch ${marker})`, `\`touch ${marker}\``])} >/dev/null; test -e ${shellQuote(marker)}`,
        );
        expect(r.status).to.equal(1);
      } finally {
        await removeTempDir(dir);
      }
    });

    // regression: '=' is in the SAFE set, so a first word like `A=b` is left unquoted and the
    // shell reads it as a variable assignment: shellJoin(['A=b', 'true']) runs `true`
    // with A=b instead of running the program "A=b" (which does not exist → 127).
    it('keeps a first word containing "=" a command, not an assignment', () => {
      const r = bash(`${shellJoin(['A=b', 'true'])}`);
      expect(r.status).to.equal(127);
    });
  });

  describe('shellEnvFile', () => {
    it('renders sorted KEY=value lines with quoted values', () => {
      expect(shellEnvFile({ B: 'two words', A: 'plain', C: '' })).to.equal(
        "A=plain\nB='two words'\nC=''\n",
      );
      expect(shellEnvFile({})).to.equal('');
    });

    for (const key of ['1A', 'A-B', 'A B', '', 'A=B', 'A;B', '$(id)', 'É']) {
      it(`rejects the key ${JSON.stringify(key)}`, () => {
        expect(() => shellEnvFile({ [key]: 'v' })).to.throw(
          `invalid environment variable name: ${key}`,
        );
      });
    }

    it('yields exactly the values when sourced by bash', async () => {
      const vars: Record<string, string> = {};
      TRICKY.forEach((value, i) => {
        vars[`V_${i}`] = value;
      });
      vars._lower_case = 'ok';
      const dir = await makeTempDir();
      try {
        const file = path.join(dir, 'env');
        await writeFile(file, shellEnvFile(vars));
        const env = { PATH: process.env.PATH };
        const r = bash(`set -a; . ${shellQuote(file)}; env -0`, env);
        expect(r.status, r.stderr).to.equal(0);
        // whatever the shell exports on its own (PWD, SHLVL, …) is not ours
        const baseline = parseEnv0(bash('env -0', env).stdout);
        const seen = parseEnv0(r.stdout);
        for (const key of Object.keys(baseline)) {
          expect(vars, `the test's own keys must not clash with ${key}`).not.to.have.property(key);
          delete seen[key];
        }
        expect(seen).to.deep.equal(vars);
      } finally {
        await removeTempDir(dir);
      }
    });
  });
});
