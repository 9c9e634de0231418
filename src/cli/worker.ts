// `lossgraph worker`: runs grid jobs. With --queue URL it takes jobs from a
// BullMQ queue on Redis until stopped (Ctrl-C or SIGTERM close it after the
// jobs it is running); with --ipc (internal) it serves `--workers N`, taking
// jobs from its parent process over the IPC channel.
import { resolve } from 'node:path';
import { defaultCacheDir } from '../data/cache.ts';
import { ArgumentError, LossgraphError } from '../errors.ts';
import { LastLoadedData, encodeResult, runJob, validateJob } from '../grid/jobs.ts';
import type { FromChild, ToChild } from '../grid/pool.ts';
import { runQueueWorker } from '../grid/queue.ts';
import type { RunArgs } from './train.ts';

function positiveInt(name: string, v: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > max) throw new ArgumentError(`--${name} must be a whole number from 1 to ${max}, got ${v}`);
  return v as number;
}

/**
 * A day: timers beyond 2^31 ms overflow to 1 ms in Node (a lock of 10^8 s
 * renewed itself thousands of times a second), and no job needs a longer lock.
 */
const MAX_LOCK_SECONDS = 86400;

export async function workerCommand(a: RunArgs): Promise<void> {
  const maxMemory = a['max-memory'] as number | undefined;
  if (maxMemory !== undefined && !(maxMemory > 0)) throw new ArgumentError(`--max-memory must be a positive number of MiB, got ${maxMemory}`);
  const local = { cacheDir: a.cache === false ? undefined : ((a['cache-dir'] as string | undefined) ?? defaultCacheDir()), maxMemoryMiB: maxMemory };
  if (a.ipc) return serveParent(new LastLoadedData(local));
  if (!a.queue) throw new ArgumentError('lossgraph worker needs --queue redis://HOST:PORT (the queue lossgraph compare|sweep --queue fills)');
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const worker = await runQueueWorker(a.queue as string, {
    concurrency: positiveInt('concurrency', a.concurrency, 1024),
    root: resolve(a.out as string),
    dataRoot: resolve(a['data-root'] as string),
    lockSeconds: positiveInt('lock-seconds', a['lock-seconds'], MAX_LOCK_SECONDS),
    local,
    log,
  });
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      log(`${signal}: finishing the running jobs, then stopping`);
      void worker.close().then(done);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

/** One job at a time from the parent; the result or a one-line failure back. Exits when the parent disconnects. */
function serveParent(cache: LastLoadedData): Promise<void> {
  if (!process.send) throw new ArgumentError('--ipc is for lossgraph itself (--workers N starts such workers)');
  return new Promise((done) => {
    // The parent is gone (finished, or killed with its lock to expire): so is any job here, at once,
    // rather than training on unwatched into a folder another worker will take over.
    process.on('disconnect', () => {
      done();
      process.exit(0);
    });
    process.on('message', async (m: ToChild) => {
      let reply: FromChild;
      try {
        const r = await runJob(validateJob(m.job), m.root, cache);
        reply = { type: 'done', index: m.index, result: encodeResult(r) };
      } catch (e) {
        reply = { type: 'failed', index: m.index, message: (e as Error).message.split('\n')[0]!, badInput: e instanceof LossgraphError };
      }
      process.send!(reply);
    });
  });
}
