// `lossgraph worker`: grid jobs from a BullMQ queue.
import type { Argv } from 'yargs';

export function workerCommand(cli: Argv): Argv {
  return cli.command(
    'worker',
    'run grid jobs from a BullMQ queue (lossgraph compare|sweep --queue URL fills it) until stopped',
    (y: Argv) => y
      .option('queue', { type: 'string', describe: 'redis://[user:password@]HOST:PORT or rediss:// (TLS); never expose Redis publicly' })
      .option('concurrency', { type: 'number', default: 1, describe: 'jobs at a time in this worker (each uses its job\'s --threads)' })
      .option('out', { type: 'string', default: 'artifacts', describe: "output root: a job's run folder goes to OUT/<grid's --out name>/<row>/seed-<s>-<job id>" })
      .option('data-root', { type: 'string', default: '.', describe: 'jobs may read data and teacher runs only under this folder (default: the working folder)' })
      .option('lock-seconds', { type: 'number', default: 30, describe: 'how long a job stays claimed by a worker that went silent (killed, cut off) before another worker takes it' })
      .option('cache-dir', { type: 'string', describe: 'decoded-image cache folder (default ~/.cache/lossgraph)' })
      .option('cache', { type: 'boolean', default: true, describe: 'use the decoded-image cache (--no-cache: decode every time)' })
      .option('max-memory', { type: 'number', describe: 'MiB of decoded images to hold in memory; larger data sets stream from the cache' })
      .option('ipc', { type: 'boolean', default: false, hidden: true }),
    async (a) => (await import('../worker.ts')).workerCommand(a as never),
  );
}
