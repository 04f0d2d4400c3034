/** The cluster's share of the shared servers: a database of its own, a Redis key prefix. */
import { Redis } from 'ioredis';
import knexFactory from 'knex';
import { TEST_DATABASE_URL } from '../helpers/env.js';

/** Creates the database unless one is given; returns its URL and a drop function. */
export async function prepareDb(name: string, given?: string) {
  if (given) {
    return { url: given, drop: async () => {} };
  }
  const admin = knexFactory({ client: 'pg', connection: TEST_DATABASE_URL });
  await admin.raw('CREATE DATABASE ??', [name]);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  const drop = async () => {
    await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [name]);
    await admin.destroy();
  };
  return { url: url.toString(), drop };
}

/** Deletes every Redis key under the prefix. */
export async function dropRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const keys = await redis.keys(`${prefix}:*`);
    for (let i = 0; i < keys.length; i += 500) {
      await redis.del(...keys.slice(i, i + 500));
    }
  } catch {
    // a throw-away Redis may be gone already
  } finally {
    redis.disconnect();
  }
}
