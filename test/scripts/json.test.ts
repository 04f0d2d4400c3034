/**
 * lib/json.sh, the target scripts' one JSON encoder, checked against JSON.parse; and
 * `set -e` inside command substitutions (inherit_errexit) in manage.sh, setup.sh, preflight.sh.
 */
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ROOT, assembleRelease, manage, run } from '../helpers/target-release.js';

const JSON_SH = path.join(ROOT, 'scripts/target/lib/json.sh');

/** Runs `code` in bash with lib/json.sh sourced, under the scripts' options; "$@" = args. */
const bash = (code: string, args: string[] = [], locale = 'C.UTF-8') =>
  run('bash', ['-c', `set -euo pipefail; source "$0"; ${code}`, JSON_SH, ...args], {
    env: { ...process.env, LC_ALL: locale },
  });

/** The strings json_str must round-trip through JSON.parse. */
const STRINGS = [
  '',
  'plain',
  'a "quoted" word',
  'back\\slash \\n not a newline \\u0041',
  'line\nbreak',
  'tab\there',
  'cr\rlf\r\n',
  `every control: ${Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join('')}`,
  'del \x7f stays',
  'UTF-8: é ü ß — ✓ 日本 😀',
  'shell-ish: $HOME `id` $(id) & * ? [a] %s %d \\x41',
  'quotes \' and " and \\"',
];

describe('scripts/target/lib/json.sh', function () {
  this.timeout(30_000);

  for (const locale of ['C.UTF-8', 'C']) {
    it(`json_str: every string survives JSON.parse (LC_ALL=${locale})`, async () => {
      const r = await bash('for s in "$@"; do json_str "$s"; printf "\\n"; done', STRINGS, locale);
      expect(r.code, r.stderr).to.equal(0);
      const lines = r.stdout.split('\n').slice(0, -1);
      expect(lines).to.have.length(STRINGS.length);
      // one line each: no raw control character reaches the output
      lines.forEach((line, i) => {
        expect(line, JSON.stringify(STRINGS[i])).not.to.match(/[\x00-\x1f]/);
        expect(JSON.parse(line), JSON.stringify(STRINGS[i])).to.equal(STRINGS[i]);
      });
    });
  }

  it('json_str uses the short escapes for newline, tab and carriage return', async () => {
    const r = await bash('json_str "$1"', ['a\nb\tc\rd\x01']);
    expect(r.stdout).to.equal('"a\\nb\\tc\\rd\\u0001"');
  });

  it('json_obj, json_num, json_bool, json_strs build one object', async () => {
    const r = await bash(
      `json_obj name "$(json_str "$1")" pid "$(json_num 42)" none "$(json_num '')" ` +
        `neg "$(json_num -3)" up "$(json_bool true)" down "$(json_bool false)" ` +
        `names "$(json_strs a "$1")" empty "$(json_strs)" inner "$(json_obj)" ` +
        `list "[$(join_json "$(json_num 1)" "$(json_num 2)")]"`,
      ['we"b\n'],
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({
      name: 'we"b\n',
      pid: 42,
      none: null,
      neg: -3,
      up: true,
      down: false,
      names: ['a', 'we"b\n'],
      empty: [],
      inner: {},
      list: [1, 2],
    });
  });

  for (const [call, message] of [
    ['json_num 12a', "json_num: '12a' is not a number"],
    ['json_num 012', "json_num: '012' is not a number"],
    ['json_bool yes', "json_bool: 'yes' is not true or false"],
    ['json_obj a', 'json_obj: a key without a value'],
  ]) {
    it(`${call} is a bug of the caller: exit 1, saying so`, async () => {
      const r = await bash(`x=$(${call}); echo "not reached: $x"`);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.contain(message);
    });
  }

  it('result prints the STAGECOACH_RESULT line at the start of a line', async () => {
    const r = await bash('printf "output without a newline"; result "$(json_obj ok true)"');
    expect(r.stdout).to.equal('output without a newline\nSTAGECOACH_RESULT {"ok":true}\n');
  });
});

describe('scripts/target: set -e holds inside command substitutions', function () {
  this.timeout(30_000);
  let home: string;

  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-errexit-'));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('manage.sh: a failing command inside $(…) aborts the command', async () => {
    const dir = await assembleRelease(home, 'r1', {
      scenario: 'hello-web',
      services: [{ name: 'web', port: 18999, start: 'node server.js' }],
    });
    // a lib function whose substitution fails before its last command
    await writeFile(
      path.join(dir, 'lib', 'prune.sh'),
      [
        'inner() { false; printf reached; }',
        'cmd_prune() { local x; x=$(inner); say "after: $x"; result "$(json_obj x "$(json_str "$x")")"; }',
        '',
      ].join('\n'),
    );
    const r = await manage(home, 'r1', 'prune');
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    expect(r.stdout).not.to.contain('after');
    expect(r.stdout).not.to.contain('STAGECOACH_RESULT');
  });

  const scripts = readdirSync(path.join(ROOT, 'scripts/target')).filter((f) => f.endsWith('.sh'));
  it('finds the scripts', () =>
    expect(scripts).to.include.members(['manage.sh', 'setup.sh', 'preflight.sh']));
  for (const script of scripts) {
    it(`${script} sets -euo pipefail and inherit_errexit before anything runs`, () => {
      const text = readFileSync(path.join(ROOT, 'scripts/target', script), 'utf8');
      const code = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
      expect(code[0]).to.equal('set -euo pipefail');
      expect(code[1]).to.match(/^shopt -s inherit_errexit\b/);
    });
  }
});
