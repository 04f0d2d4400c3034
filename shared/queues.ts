/** The one registry of queues: names, payload schemas, and the factory for queues and workers. */
import { Queue, Worker, createPostgresBackend, type JobsOptions, type Processor } from 'bullmq';
import { Redis } from 'ioredis';
import { z } from 'zod';

export const QUEUE_NAMES = ['build', 'setup', 'deploy', 'inspect'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Job names; `stop` runs on the deploy queue. */
export const JOB_NAMES = ['build', 'setup', 'deploy', 'inspect', 'stop'] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** A stage job: the run, and the generation of the stage's job it is (older ones are stale). */
const stagePayload = z.strictObject({
  deploymentId: z.uuid(),
  runId: z.uuid(),
  gen: z.number().int().min(0),
});

/** Payload of each job name: ids only, never secrets, manifests or run options. */
export const PAYLOADS = {
  build: stagePayload,
  setup: stagePayload,
  deploy: stagePayload,
  stop: stagePayload,
  inspect: z.strictObject({ deploymentId: z.uuid(), runId: z.uuid().nullable() }),
} satisfies Record<JobName, z.ZodType>;

export type Payload<N extends JobName> = z.infer<(typeof PAYLOADS)[N]>;

/** Which queue carries each job name. */
export const QUEUE_OF: Record<JobName, QueueName> = {
  build: 'build',
  setup: 'setup',
  deploy: 'deploy',
  stop: 'deploy',
  inspect: 'inspect',
};

/**
 * One BullMQ attempt per job: stage attempts are counted on the run (leases, transient
 * failures), so an outage of the queue or the database never spends them.
 */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: { age: 7 * 24 * 3600, count: 5000 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

/** Where the queues live: Redis, or BullMQ's PostgreSQL backend. */
export type QueueBackendConfig =
  | { kind: 'redis'; url: string; prefix: string }
  | { kind: 'postgres'; connectionString: string; schema: string };

/** Holds the connection(s) one process shares between its queues. */
export class QueueRegistry {
  private readonly queues = new Map<QueueName, Queue>();
  private redis?: Redis;

  constructor(
    readonly backend: QueueBackendConfig,
    /** BullMQ's job lock: a worker silent for longer loses the job to another. */
    private readonly lockMs = 30_000,
    /** Connection errors of queues (BullMQ prints them with a stack trace when unheard). */
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  /** The queue of that name (created once per process). */
  queue(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = this.create(name);
      queue.on('error', this.onError);
      this.queues.set(name, queue);
    }
    return queue;
  }

  private create(name: QueueName): Queue {
    const b = this.backend;
    if (b.kind === 'redis') {
      this.redis ??= new Redis(b.url, { maxRetriesPerRequest: null });
      return new Queue(name, {
        connection: this.redis,
        prefix: b.prefix,
        defaultJobOptions: DEFAULT_JOB_OPTIONS,
      });
    }
    // The backend only changes the connection type; the Queue API we use is the same.
    return new Queue(
      name,
      { connection: pgConnection(b), defaultJobOptions: DEFAULT_JOB_OPTIONS },
      createPostgresBackend,
    ) as unknown as Queue;
  }

  /** A worker consuming `name` with `processor`. */
  worker(name: QueueName, processor: Processor, concurrency: number): Worker {
    const b = this.backend;
    const opts = {
      concurrency,
      autorun: false,
      lockDuration: this.lockMs,
      stalledInterval: Math.max(1000, Math.floor(this.lockMs / 2)),
      // a stalled stage job is handed to another worker, whose lease check decides
      maxStalledCount: 5,
    };
    if (b.kind === 'redis') {
      const connection = new Redis(b.url, { maxRetriesPerRequest: null });
      return new Worker(name, processor, { ...opts, connection, prefix: b.prefix });
    }
    return new Worker(
      name,
      processor,
      { ...opts, connection: pgConnection(b) },
      createPostgresBackend,
    ) as unknown as Worker;
  }

  /** Adds a job by name to its queue, validating the payload. Same jobId → same job. */
  async add<N extends JobName>(
    name: N,
    data: z.input<(typeof PAYLOADS)[N]>,
    jobId: string,
  ): Promise<string> {
    const payload = PAYLOADS[name].parse(data);
    const job = await this.queue(QUEUE_OF[name]).add(name, payload, { jobId });
    return job.id ?? jobId;
  }

  /** Adds a relayed outbox row (validated like any job); an existing id is left alone. */
  async addRaw(name: JobName, data: unknown, jobId: string, delayMs = 0): Promise<void> {
    const payload = PAYLOADS[name].parse(data);
    await this.queue(QUEUE_OF[name]).add(name, payload, {
      jobId,
      ...(delayMs > 0 ? { delay: delayMs } : {}),
    });
  }

  /** True when the queue backend answers. */
  async ping(): Promise<boolean> {
    try {
      await this.queue('build').getJobCounts('waiting');
      return true;
    } catch {
      return false;
    }
  }

  /** Closes every queue and the shared connection. */
  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    if (this.redis) {
      this.redis.disconnect();
      this.redis = undefined;
    }
  }
}

function pgConnection(b: { connectionString: string; schema: string }) {
  return { connectionString: b.connectionString, schema: b.schema, migrate: true, max: 4 };
}
