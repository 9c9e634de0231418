// `--workers N`: a grid's jobs in N child processes of lossgraph itself (the
// hidden `lossgraph worker --ipc`), each taking the next job when it finishes
// one. Jobs and results cross the IPC channel as the same JSON a queue carries.
// A job that fails on bad input stops the grid at once with its message; a
// child that dies fails the grid too, naming the job it was running.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LossgraphError } from '../errors.ts';
import { decodeResult, type GridJob, type JobResult } from './jobs.ts';

const BIN = fileURLToPath(new URL('../../bin/lossgraph.js', import.meta.url));

/** Parent -> child: run this job under root. Child -> parent: its result, or why it failed. */
export type ToChild = { type: 'job'; index: number; job: GridJob; root: string };
export type FromChild = { type: 'done'; index: number; result: string } | { type: 'failed'; index: number; message: string; badInput: boolean };

/** The submitter's machine-local data options, which jobs leave out, for its child processes. */
export interface LocalDataOptions {
  cacheDir?: string;
  maxMemoryMiB?: number;
}

export async function runInProcesses(jobs: GridJob[], root: string, workers: number, onDone: (index: number, r: JobResult) => void, local: LocalDataOptions = {}): Promise<JobResult[]> {
  const args = ['worker', '--ipc', ...(local.cacheDir ? ['--cache-dir', local.cacheDir] : ['--no-cache']), ...(local.maxMemoryMiB !== undefined ? ['--max-memory', String(local.maxMemoryMiB)] : [])];
  const results: JobResult[] = new Array(jobs.length);
  let next = 0;
  const children: ChildProcess[] = [];
  /** The job each child is running. */
  const running = new Map<ChildProcess, number>();
  try {
    await new Promise<void>((resolve, reject) => {
      let finished = 0;
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        reject(e);
      };
      const feed = (child: ChildProcess) => {
        if (failed) return;
        if (next >= jobs.length) {
          child.disconnect();
          return;
        }
        const index = next++;
        running.set(child, index);
        child.send({ type: 'job', index, job: jobs[index]!, root } satisfies ToChild);
      };
      if (jobs.length === 0) return resolve();
      for (let w = 0; w < Math.min(workers, jobs.length); w++) {
        const child = fork(BIN, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
        let stderr = '';
        child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
        children.push(child);
        child.on('message', (m: FromChild) => {
          running.delete(child);
          if (m.type === 'failed') {
            const job = jobs[m.index]!;
            return fail(new LossgraphError(`${job.label}, seed ${job.seed}: ${m.message}`));
          }
          results[m.index] = decodeResult(m.result);
          onDone(m.index, results[m.index]!);
          if (++finished === jobs.length) resolve();
          else feed(child);
        });
        child.on('exit', (code, signal) => {
          const index = running.get(child);
          if (index !== undefined) {
            const job = jobs[index]!;
            fail(new LossgraphError(`${job.label}, seed ${job.seed}: the worker process died (${signal ?? `exit ${code}`})${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`));
          }
        });
        feed(child);
      }
    });
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }
  return results;
}
