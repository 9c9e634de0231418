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
import { realpathSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { dataPath } from '../data/index.ts';
import { ArgumentError, LossgraphError } from '../errors.ts';
import { decodeResult, encodeResult, jobId, validateJob, type GridJob, type JobResult } from './jobs.ts';
import { JobProcess, localArgs, type LocalDataOptions } from './pool.ts';

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
export async function runOnQueue(jobs: GridJob[], url: string, onDone: (index: number, r: JobResult, reused: boolean) => void, onLost?: (index: number) => void): Promise<JobResult[]> {
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
      const add = () => queue.add('train', job, { jobId: id, attempts: ATTEMPTS, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: false, removeOnFail: false });
      if (!bull || state === 'unknown') bull = await add();
      try {
        results[i] = decodeResult(await finished(queue, events, bull, add, () => onLost?.(i)));
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

/** How often a waiting submitter checks that its jobs still exist. */
const LOST_CHECK_MS = 5000;

/**
 * A job's return value once it completes (its failure reason thrown if it fails
 * for good). Every LOST_CHECK_MS the job is looked up: a Redis restarted empty
 * (no persistence) forgets every job, no event about them ever comes, and the
 * submitter waited forever; a job that is gone is added again.
 */
async function finished(queue: Queue, events: QueueEvents, bull: Job, add: () => Promise<Job>, lost: () => void): Promise<string> {
  for (;;) {
    try {
      return (await bull.waitUntilFinished(events, LOST_CHECK_MS)) as string;
    } catch (e) {
      if (!/timed out before finishing/.test(String((e as Error).message))) throw e;
    }
    const now = await queue.getJob(bull.id!);
    if (!now) {
      lost();
      bull = await add();
      continue;
    }
    // Finished between two checks, with its event missed (the events connection reconnected, say).
    const state = await now.getState();
    if (state === 'completed') return now.returnvalue as string;
    if (state === 'failed') throw new Error(now.failedReason);
    bull = now;
  }
}

export interface WorkerOptions {
  concurrency: number;
  /** Output root the jobs' run folders go under. */
  root: string;
  /** How long a job stays claimed by a worker that has gone silent before another worker takes it. */
  lockSeconds: number;
  /** The folder jobs may read data (and teacher runs) from: a job is a stranger's request, not a way to read this machine's files. */
  dataRoot: string;
  /** This machine's decoded-image cache and memory, for the job processes. */
  local: LocalDataOptions;
  log: (line: string) => void;
}

/**
 * A job's run folder under a worker's root, owned by the job: its grid folder
 * and row, suffixed with the job's id. Two grids with the same --out name (the
 * default, say) once wrote the same runs/compare/0/seed-0, one replacing the
 * other under the first grid's results; the same grid again is the same job,
 * finds its folder and reuses its result.
 */
export function ownedDir(job: GridJob): string {
  return `${job.dir}-${jobId(job).slice(3, 15)}`;
}

/**
 * Refuses a job whose data or teacher lies outside `root` (links followed). A
 * job of `csv:/any/file` once put that file's first line into its failure
 * reason, where every Redis client could read it.
 */
export function insideDataRoot(job: GridJob, root: string): void {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p); // missing: the loader says so, inside the root or not
    }
  };
  const base = real(root);
  for (const [what, path] of [['data', dataPath(job.config.data)], ['teacher', job.config.teacher]] as const) {
    if (path === undefined) continue;
    // Relative paths are the worker's, as the loaders read them: from its working folder.
    const full = real(resolve(path));
    if (full !== base && !full.startsWith(base + sep)) throw new ArgumentError(`job ${what} '${path}' lies outside this worker's --data-root ${root}`);
  }
}

/** What a job whose stored data is not JSON is handed to the processor as, so that it fails once, for good. */
const UNREADABLE = '__lossgraph_unreadable_job__';

/**
 * BullMQ's worker parses a job's data before any processor sees it; data that
 * is not JSON (written into Redis by something other than lossgraph) threw
 * there, the job stayed active, and the worker logged the parse error every lock
 * period forever. Here such a job reaches the processor as a marker and fails
 * once, unrecoverably, with one line.
 */
class GridWorker extends Worker {
  protected override createJob(data: Parameters<Worker['createJob']>[0], jobId: string): Job {
    try {
      return super.createJob(data, jobId);
    } catch (e) {
      return super.createJob({ ...data, data: JSON.stringify({ [UNREADABLE]: String((e as Error).message).split('\n')[0]!.slice(0, 200) }) }, jobId);
    }
  }
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
  // One process per concurrent job, reused from job to job: training never runs on this
  // thread, so BullMQ renews locks on time however long one run of a graph takes.
  const processes = Array.from({ length: o.concurrency }, () => new JobProcess(localArgs(o.local)));
  const idle = [...processes];
  const worker = new GridWorker(QUEUE_NAME, async (bull: Job) => {
    let job: GridJob;
    try {
      const unreadable = (bull.data as Record<string, unknown> | null)?.[UNREADABLE];
      if (typeof unreadable === 'string') throw new ArgumentError(`the job's data is not JSON (${unreadable})`);
      job = validateJob(bull.data);
    } catch (e) {
      o.log(`job ${bull.id}: refused: ${(e as Error).message}`);
      throw new UnrecoverableError((e as Error).message);
    }
    try {
      insideDataRoot(job, o.dataRoot);
    } catch (e) {
      o.log(`job ${bull.id}: refused: ${(e as Error).message}`);
      throw new UnrecoverableError((e as Error).message);
    }
    o.log(`job ${bull.id} started (attempt ${bull.attemptsMade + 1}): ${job.label}, seed ${job.seed}`);
    const proc = idle.pop()!;
    try {
      const r = await proc.run({ ...job, dir: ownedDir(job) }, o.root);
      o.log(`job ${bull.id} done in ${r.seconds.toFixed(1)} s: ${r.runDir}`);
      return encodeResult(r);
    } catch (e) {
      const message = (e as Error).message.split('\n')[0]!;
      o.log(`job ${bull.id} failed: ${message}`);
      // Bad input fails the same way on every machine: no retry. Anything else (a crash) is retried.
      if (e instanceof LossgraphError) throw new UnrecoverableError(message);
      throw e;
    } finally {
      idle.push(proc);
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
      for (const p of processes) p.stop();
      connection.disconnect();
    },
  };
}
