/** shared/infra: which errors mean "our database or queue is down", and the timeout helper. */
import { expect } from 'chai';
import { AppError, invalidState, notFound } from '../../shared/errors.js';
import { isInfraError, unavailable, withTimeout } from '../../shared/infra.js';

/** An Error with extra fields, the way drivers build theirs. */
function driverError(message: string, fields: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), fields);
}

/** A named error class, like knex's KnexTimeoutError or ioredis' MaxRetriesPerRequestError. */
function named(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

describe('shared/infra', () => {
  describe('isInfraError', () => {
    const infra: [string, unknown][] = [
      [
        'ECONNREFUSED',
        driverError('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED' }),
      ],
      ['ECONNRESET', driverError('read ECONNRESET', { code: 'ECONNRESET' })],
      ['ETIMEDOUT', driverError('connect ETIMEDOUT', { code: 'ETIMEDOUT' })],
      ['EPIPE', driverError('write EPIPE', { code: 'EPIPE' })],
      ['pg: Connection terminated', new Error('Connection terminated')],
      [
        'knex-prefixed pg message',
        new Error('select * from "deployments" - Connection terminated unexpectedly'),
      ],
      [
        'pg: not queryable',
        new Error('Client has encountered a connection error and is not queryable'),
      ],
      ['pg: connect timeout', new Error('timeout expired')],
      [
        'knex: pool timeout',
        named(
          'KnexTimeoutError',
          'Knex: Timeout acquiring a connection. The pool is probably full.',
        ),
      ],
      ['knex: timeout message only', new Error('Knex: Timeout acquiring a connection.')],
      ['SQLSTATE 08006', driverError('connection failure', { code: '08006' })],
      ['SQLSTATE 08001', driverError('cannot establish', { code: '08001' })],
      ['SQLSTATE 57P01', driverError('terminating connection due to admin', { code: '57P01' })],
      ['SQLSTATE 57P02', driverError('crash shutdown', { code: '57P02' })],
      ['SQLSTATE 57P03', driverError('the database system is starting up', { code: '57P03' })],
      ['ioredis: closed', new Error('Connection is closed.')],
      ['ioredis: max retries', named('MaxRetriesPerRequestError', 'Reached the max retries')],
      ['withTimeout / unavailable()', unavailable('the database')],
      [
        'AggregateError of refused connects',
        new AggregateError([
          driverError('connect ECONNREFUSED ::1:5432', { code: 'ECONNREFUSED' }),
        ]),
      ],
      [
        'wrapped in a cause',
        new Error('could not load', {
          cause: driverError('connect ECONNREFUSED', { code: 'ECONNREFUSED' }),
        }),
      ],
    ];
    for (const [label, err] of infra) {
      it(`is true for ${label}`, () => {
        expect(isInfraError(err)).to.equal(true);
      });
    }

    const notInfra: [string, unknown][] = [
      ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
      ['SQLSTATE 23505 unique violation', driverError('duplicate key', { code: '23505' })],
      ['SQLSTATE 42P01 undefined table', driverError('relation does not exist', { code: '42P01' })],
      ['SQLSTATE 57014 query cancelled', driverError('canceling statement', { code: '57014' })],
      ['an AppError of another code', notFound('deployment')],
      ['invalid_state', invalidState('not now')],
      [
        'an AppError whose cause is infra (the code decides)',
        new AppError('x', 'y', 500, undefined, { cause: new Error('Connection is closed.') }),
      ],
      ['ENOENT', driverError('no such file', { code: 'ENOENT' })],
      ['a string', 'ECONNREFUSED'],
      ['null', null],
      ['undefined', undefined],
    ];
    for (const [label, err] of notInfra) {
      it(`is false for ${label}`, () => {
        expect(isInfraError(err)).to.equal(false);
      });
    }

    it('stops on a cyclic cause chain', () => {
      const a = new Error('a');
      const b = new Error('b', { cause: a });
      (a as { cause?: unknown }).cause = b;
      expect(isInfraError(a)).to.equal(false);
    });
  });

  describe('withTimeout', () => {
    it('passes a value through', async () => {
      expect(await withTimeout(Promise.resolve(7), 100, 'x')).to.equal(7);
    });

    it('passes a rejection through unchanged', async () => {
      const err = new Error('boom');
      const got = await withTimeout(Promise.reject(err), 100, 'x').catch((e: unknown) => e);
      expect(got).to.equal(err);
    });

    it('rejects with 503 unavailable naming what did not answer', async () => {
      const started = Date.now();
      const got = await withTimeout(new Promise(() => {}), 50, 'the queue backend').catch(
        (e: unknown) => e,
      );
      expect(Date.now() - started).to.be.lessThan(1000);
      expect(got).to.be.instanceOf(AppError);
      const e = got as AppError;
      expect([e.code, e.httpStatus]).to.deep.equal(['unavailable', 503]);
      expect(e.message).to.equal('the queue backend did not answer within 50 ms');
      expect(isInfraError(e)).to.equal(true);
    });

    it('leaves no unhandled rejection when the promise fails after the timeout', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', onUnhandled);
      try {
        const late = new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 30));
        await withTimeout(late, 5, 'x').catch(() => undefined);
        await new Promise((r) => setTimeout(r, 80));
        expect(unhandled).to.deep.equal([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });
  });

  it('unavailable(what) is a 503 with code unavailable', () => {
    const e = unavailable('the database');
    expect([e.code, e.httpStatus, e.message]).to.deep.equal([
      'unavailable',
      503,
      'the database is unavailable; try again shortly',
    ]);
  });
});
