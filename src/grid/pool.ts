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
  const args = ['worker', '--ipc', ...localArgs(local)];
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

/**
 * A `lossgraph worker --ipc` child that runs one job at a time and stays up for
 * the next (its data cache with it). A queue worker runs its jobs in these so
 * that its own event loop stays free: onnxruntime-node's run blocks the thread
 * it is called on, and BullMQ could not renew a job's lock while a step ran (a
 * healthy worker lost its job to the stalled-job check once one run of the
 * graph outlasted --lock-seconds).
 */
export class JobProcess {
  private child?: ChildProcess;
  private stderr = '';

  constructor(private readonly args: readonly string[]) {}

  /** Runs `job` under `root`; a LossgraphError for bad input (the same on every machine), an Error if the process died. */
  run(job: GridJob, root: string): Promise<JobResult> {
    const child = this.alive();
    return new Promise<JobResult>((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        child.off('message', onMessage);
        this.child = undefined;
        reject(new Error(`the job's process died (${signal ?? `exit ${code}`})${this.stderr.trim() ? `: ${this.stderr.trim().split('\n').pop()}` : ''}`));
      };
      const onMessage = (m: FromChild) => {
        child.off('exit', onExit);
        child.off('message', onMessage);
        if (m.type === 'done') resolve(decodeResult(m.result));
        else reject(m.badInput ? new LossgraphError(m.message) : new Error(m.message));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ type: 'job', index: 0, job, root } satisfies ToChild);
    });
  }

  /** Ends the process (after the job it runs, if any, is abandoned). */
  stop(): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    this.child = undefined;
  }

  private alive(): ChildProcess {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null && this.child.connected) return this.child;
    this.stderr = '';
    const child = fork(BIN, ['worker', '--ipc', ...this.args], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    this.child = child;
    return child;
  }
}

/** The child's command-line arguments for the submitter's or worker's machine-local data options. */
export function localArgs(local: LocalDataOptions): string[] {
  return [...(local.cacheDir ? ['--cache-dir', local.cacheDir] : ['--no-cache']), ...(local.maxMemoryMiB !== undefined ? ['--max-memory', String(local.maxMemoryMiB)] : [])];
}
