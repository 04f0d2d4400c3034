import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chooseLogFormat, createLogger } from '../../shared/logger.js';
import { requireBinary } from '../helpers/sshd.js';

/** Lines a logger of `format` writes for one info record. */
function linesOf(format: 'json' | 'pretty'): string[] {
  const lines: string[] = [];
  const logger = createLogger('info', { write: (l: string) => void lines.push(l) }, format);
  logger.info({ deployment: 'd1', secrets: { A: 'hunter2' } }, 'deployed');
  return lines;
}

describe('shared/logger', () => {
  describe('chooseLogFormat', () => {
    const table: [Parameters<typeof chooseLogFormat>[0], boolean, string][] = [
      ['auto', true, 'pretty'],
      ['auto', false, 'json'],
      ['json', true, 'json'],
      ['json', false, 'json'],
      ['pretty', true, 'pretty'],
      ['pretty', false, 'pretty'],
    ];
    for (const [setting, tty, format] of table) {
      it(`LOG_FORMAT=${setting} with stdout ${tty ? 'a TTY' : 'not a TTY'} → ${format}`, () => {
        expect(chooseLogFormat(setting, tty)).to.equal(format);
      });
    }
  });

  describe('createLogger', () => {
    it('json: one JSON object per line, secrets redacted', () => {
      const [line] = linesOf('json');
      expect(JSON.parse(line)).to.include({ msg: 'deployed', deployment: 'd1', level: 30 });
      expect(line).not.to.contain('hunter2');
    });

    it('pretty: a human line (level, message, fields), secrets redacted, no colour', () => {
      const text = linesOf('pretty').join('');
      expect(text).to.match(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: deployed\n/);
      expect(text).to.contain('deployment: "d1"');
      expect(text).not.to.contain('hunter2');
      expect(text).not.to.contain('\u001b[');
      expect(() => JSON.parse(text)).to.throw();
    });
  });

  // real processes: an entry point's logger with stdout on a pipe and on a pseudo-terminal
  describe('createProcessLogger in a process', function () {
    this.timeout(60_000);
    let dir: string;
    let script: string;

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'stagecoach-logger-'));
      script = path.join(dir, 'log.ts');
      const root = process.cwd();
      await writeFile(
        script,
        `import { loadConfig } from '${root}/shared/config.ts';\n` +
          `import { createProcessLogger } from '${root}/shared/logger.ts';\n` +
          `createProcessLogger(loadConfig()).info({ n: 1 }, 'hello');\n`,
      );
    });
    after(() => rm(dir, { recursive: true, force: true }));

    /** Runs the script (under `script(1)` for a TTY); returns stdout, stderr and the exit code. */
    const run = (env: Record<string, string>, tty: boolean) => {
      const node = `${process.execPath} --import tsx ${script}`;
      const [cmd, args] = tty
        ? ['script', ['-qec', node, '/dev/null']]
        : [process.execPath, ['--import', 'tsx', script]];
      const r = spawnSync(cmd, args, {
        env: { PATH: process.env.PATH ?? '', ...env },
        encoding: 'utf8',
      });
      return { out: r.stdout, err: r.stderr, code: r.status };
    };

    it('a pipe gets JSON; LOG_FORMAT=pretty makes it human', () => {
      expect(JSON.parse(run({}, false).out)).to.include({ msg: 'hello', n: 1 });
      expect(run({ LOG_FORMAT: 'pretty' }, false).out).to.match(/INFO: hello\n {4}n: 1\n$/);
    });

    it('a terminal gets pretty (coloured) lines; LOG_FORMAT=json forces JSON', function () {
      requireBinary('/usr/bin/script', 'util-linux', this);
      const pretty = run({ TERM: 'xterm' }, true).out;
      expect(pretty).to.contain('hello');
      expect(pretty).to.contain('\u001b[');
      expect(() => JSON.parse(pretty)).to.throw();
      expect(JSON.parse(run({ LOG_FORMAT: 'json' }, true).out)).to.include({ msg: 'hello' });
    });

    it('a bad LOG_FORMAT stops the process with a message naming it', () => {
      const r = run({ LOG_FORMAT: 'yaml' }, false);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain(
        'LOG_FORMAT: Invalid option: expected one of "auto"|"json"|"pretty"',
      );
    });
  });
});
