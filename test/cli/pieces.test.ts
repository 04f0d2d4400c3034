/** The CLI's pure pieces: SSE blocks, log lines, per-stage progress, base URLs. */
import { expect } from 'chai';
import { normalizeBaseUrl } from '../../cli/client.js';
import { LineSplitter } from '../../cli/log-lines.js';
import { parseBlock } from '../../cli/sse.js';
import { StageTracker, stagePercent } from '../../cli/stages.js';
import type { LogChunk, StreamEvent } from '../../cli/types.js';

const chunk = (step: string, text: string): LogChunk => ({
  id: '1',
  run_id: null,
  stage: 'deploy',
  step,
  stream: 'stdout',
  chunk: text,
  created_at: '2026-01-01T00:00:00.000Z',
});

const history = (kind: string, stage: string, message = '', code?: string): StreamEvent => ({
  event: 'history',
  data: {
    id: '1',
    run_id: null,
    kind,
    from_status: null,
    to_status: 'deploying',
    stage,
    message,
    code: code ?? null,
    run_kind: null,
    actor: 'worker',
    created_at: '2026-01-01T00:00:00.000Z',
  },
});

describe('CLI pieces', () => {
  it('parses an SSE block: event, id, multi-line data; a comment is no event', () => {
    expect(parseBlock('id: e1-l2\nevent: log\ndata: {"a":\ndata: 1}')).to.deep.equal({
      event: 'log',
      id: 'e1-l2',
      data: '{"a":\n1}',
    });
    expect(parseBlock(': keepalive')).to.equal(null);
  });

  it('joins chunks cut anywhere into whole lines per step; flush gives the rest', () => {
    const s = new LineSplitter();
    expect(s.push(chunk('build', 'com')).map((l) => l.text)).to.deep.equal([]);
    expect(s.push(chunk('health', 'ok\n')).map((l) => l.text)).to.deep.equal(['ok']);
    expect(s.push(chunk('build', 'piling\nerr')).map((l) => l.text)).to.deep.equal(['compiling']);
    expect(s.flush().map((l) => `${l.step}:${l.text}`)).to.deep.equal(['build:err']);
  });

  it("maps the run's percent into each stage's own span", () => {
    expect(stagePercent('build', 5)).to.equal(50);
    expect(stagePercent('setup', 10)).to.equal(0);
    expect(stagePercent('deploy', 100)).to.equal(100);
    expect(stagePercent('deploy', 0)).to.equal(0);
    expect(stagePercent('stop', 50)).to.equal(50);
  });

  it('a bar never goes back, a failed stage is not done, fail() names the step', () => {
    const t = new StageTracker();
    t.apply(history('stage_started', 'deploy'));
    const progress = (step: string, percent: number): StreamEvent => ({
      event: 'progress',
      data: { status: 'deploying', run_active: true, progress: { stage: 'deploy', step, percent } },
    });
    t.apply(progress('promote', 97));
    t.apply(progress('rollback_start', 92));
    expect(t.stage('deploy')).to.include({ step: 'rollback_start', percent: 95 });
    // the code says the stage failed, whatever the message reads
    expect(
      t.apply(history('stage_finished', 'deploy', 'deploy ended', 'health_check_failed')),
    ).to.deep.equal([]);
    expect(t.fail('health_check')).to.include({ state: 'failed', step: 'failed at health_check' });
    t.apply(history('stage_finished', 'build', 'build failed: nothing (only words)'));
    expect(t.stage('build')).to.include({ state: 'done', percent: 100 });
  });

  it('takes a base URL with or without /api/v1 and refuses what is not http(s)', () => {
    expect(normalizeBaseUrl('http://h:3000/api/v1/')).to.equal('http://h:3000');
    expect(normalizeBaseUrl('https://h')).to.equal('https://h');
    expect(() => normalizeBaseUrl('ftp://h')).to.throw('is not an http:// or https:// URL');
  });
});
