// Grids across machines on BullMQ (a job queue on Redis). The submitter adds
// one BullMQ job per grid job, with the grid job's id as BullMQ's job id, and
// waits for them; `lossgraph worker` processes them anywhere that sees the same
// data. BullMQ's own mechanisms do the work: job ids de-duplicate (the same
// grid again finds its finished jobs and trains nothing), a worker that dies
// loses its lock and the stalled-job check hands its job to another worker,
// crashes are retried with exponential backoff, and bad input is an
// UnrecoverableError, which fails the job at once without a retry.
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { ArgumentError, LossgraphError } from '../errors.ts';
import { DataCache, decodeResult, encodeResult, jobId, runJob, validateJob, type GridJob, type JobResult } from './jobs.ts';

export const QUEUE_NAME = 'lossgraph-grid';
/** Attempts per job when a worker crashes (not for bad input); the waits between them double from 5 s. */
export const ATTEMPTS = 3;

/** `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS) as ioredis options; one line on anything else. */
export function parseQueueUrl(url: string): RedisOptions & { display: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ArgumentError(`--queue ${url}: not a URL; use redis://HOST:PORT or rediss://HOST:PORT (TLS), with user:password@ where Redis asks for one`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new ArgumentError(`--queue ${url}: the scheme must be redis:// or rediss:// (TLS), not ${u.protocol}//`);
  if (!u.hostname) throw new ArgumentError(`--queue ${url}: no host`);
  const port = u.port ? Number(u.port) : 6379;
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new ArgumentError(`--queue ${url}: '${u.pathname.slice(1)}' is not a database number`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: { servername: u.hostname } } : {}),
    // Fail fast instead of retrying forever when Redis is not there.
    maxRetriesPerRequest: null,
    // The URL without its password, for messages.
    display: `${u.protocol}//${u.username ? `${u.username}:***@` : u.password ? ':***@' : ''}${u.host}${u.pathname === '/' ? '' : u.pathname}`,
  };
}

/** A Redis client for `url` (BullMQ takes constructed ioredis clients in ESM) and the URL without its password. */
function connectionOf(url: string): { connection: Redis; another(): Redis; display: string } {
  const { display, ...options } = parseQueueUrl(url);
  const make = () => {
    const c = new Redis(options);
    // Errors surface through the commands that fail; connection retries back off quietly.
    c.on('error', () => {});
    return c;
  };
  return { connection: make(), another: make, display };
}

/** Closes BullMQ objects and the connection without waiting forever on a Redis that never answered. */
async function shutDown(closables: { close(): Promise<void> }[], ...connections: Redis[]): Promise<void> {
  const closed = Promise.allSettled(closables.map((c) => c.close()));
  await Promise.race([closed, new Promise((done) => setTimeout(done, 2000).unref())]);
  for (const c of connections) c.disconnect();
}

/** Fails with one line when Redis does not answer within a few seconds (instead of hanging). */
async function reachable(q: Queue, display: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      q.waitUntilReady().then(() => q.getJobCounts('wait')),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new LossgraphError(`--queue ${display}: no Redis answers there within 10 s (is redis-server running and reachable? a password or TLS needed?)`)), 10_000))),
    ]);
  } catch (e) {
    if (e instanceof LossgraphError) throw e;
    throw new LossgraphError(`--queue ${display}: ${(e as Error).message.split('\n')[0]}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Enqueues the grid's jobs (those already finished are reused, failed ones are
 * retried) and waits for all of them; the first one that fails for good fails
 * the grid with the worker's message.
 */
export async function runOnQueue(jobs: GridJob[], url: string, onDone: (index: number, r: JobResult, reused: boolean) => void): Promise<JobResult[]> {
  const { connection, another, display } = connectionOf(url);
  const queue = new Queue(QUEUE_NAME, { connection });
  queue.on('error', () => {});
  // QueueEvents blocks on its own connection.
  const eventsConnection = another();
  const events = new QueueEvents(QUEUE_NAME, { connection: eventsConnection });
  events.on('error', () => {});
  try {
    await reachable(queue, display);
    await events.waitUntilReady();
    const results: JobResult[] = new Array(jobs.length);
    await Promise.all(jobs.map(async (job, i) => {
      const id = jobId(job);
      let bull: Job | undefined = await queue.getJob(id);
      const state = bull ? await bull.getState() : undefined;
      if (bull && state === 'completed') {
        results[i] = decodeResult(bull.returnvalue as string);
        onDone(i, results[i]!, true);
        return;
      }
      if (bull && state === 'failed') await bull.retry('failed');
      if (!bull || state === 'unknown') {
        bull = await queue.add('train', job, { jobId: id, attempts: ATTEMPTS, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: false, removeOnFail: false });
      }
      try {
        results[i] = decodeResult((await bull.waitUntilFinished(events)) as string);
      } catch (e) {
        throw new LossgraphError(`${job.label}, seed ${job.seed}: ${(e as Error).message.split('\n')[0]}`);
      }
      onDone(i, results[i]!, false);
    }));
    return results;
  } finally {
    await shutDown([events, queue], connection, eventsConnection);
  }
}

export interface WorkerOptions {
  concurrency: number;
  /** Output root the jobs' run folders go under. */
  root: string;
  /** How long a job stays claimed by a worker that has gone silent before another worker takes it. */
  lockSeconds: number;
  cache: DataCache;
  log: (line: string) => void;
}

/** Runs grid jobs from the queue until stopped (SIGINT/SIGTERM close it after the running jobs). */
export async function runQueueWorker(url: string, o: WorkerOptions): Promise<{ close(): Promise<void> }> {
  const { connection, display } = connectionOf(url);
  const probe = new Queue(QUEUE_NAME, { connection });
  probe.on('error', () => {});
  try {
    await reachable(probe, display);
  } catch (e) {
    await shutDown([probe], connection);
    throw e;
  }
  await probe.close();
  const worker = new Worker(QUEUE_NAME, async (bull: Job) => {
    let job: GridJob;
    try {
      job = validateJob(bull.data);
    } catch (e) {
      o.log(`job ${bull.id}: refused: ${(e as Error).message}`);
      throw new UnrecoverableError((e as Error).message);
    }
    o.log(`job ${bull.id} started (attempt ${bull.attemptsMade + 1}): ${job.label}, seed ${job.seed}`);
    try {
      const r = await runJob(job, o.root, o.cache);
      o.log(`job ${bull.id} done in ${r.seconds.toFixed(1)} s: ${r.runDir}`);
      return encodeResult(r);
    } catch (e) {
      const message = (e as Error).message.split('\n')[0]!;
      o.log(`job ${bull.id} failed: ${message}`);
      // Bad input fails the same way on every machine: no retry. Anything else (a crash) is retried.
      if (e instanceof LossgraphError) throw new UnrecoverableError(message);
      throw e;
    }
  }, {
    connection,
    concurrency: o.concurrency,
    lockDuration: o.lockSeconds * 1000,
    stalledInterval: Math.max(1000, (o.lockSeconds * 1000) / 2),
    maxStalledCount: ATTEMPTS,
  });
  worker.on('error', (e) => o.log(`queue: ${e.message.split('\n')[0]}`));
  await worker.waitUntilReady();
  o.log(`worker on ${display} (queue ${QUEUE_NAME}), ${o.concurrency} at a time, runs under ${o.root}`);
  return {
    close: async () => {
      await worker.close();
      connection.disconnect();
    },
  };
}
