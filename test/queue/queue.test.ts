// Run by `npm run test:queue` (.ci/run runs it; about a minute). A real
// redis-server on 127.0.0.1 at a free port, two `lossgraph worker` processes,
// a compare grid through the BullMQ queue with one worker SIGKILLed mid-job:
// the table equals the sequential local run's; the same grid again trains
// nothing; a job whose data differs on the worker fails the grid at once, with
// the worker's one line, and is not retried. Redis and the workers are stopped
// whatever happens.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeFolder } from '../helpers/web.ts';

const BIN = fileURLToPath(new URL('../../bin/lossgraph.js', import.meta.url));
const hasRedis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = hasRedis ? undefined : 'no redis-server (apt-get install redis-server)';

let dir: string;
let url: string;
const processes: ChildProcess[] = [];
let workerB: ChildProcess | undefined;
let redis: ChildProcess | undefined;
let lastWorker: (ChildProcess & { log: string[] }) | undefined;
let redisPort = 0;

/** Stops every worker the tests before started, so that only the next test's own take jobs. */
function stopWorkers(): void {
  for (const p of processes) if (p !== redis && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

const startRedis = () => start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], dir, /Ready to accept connections/);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}

/** Starts a process and resolves once a line of its output matches `ready`; its output is kept in `log`. */
function start(cmd: string, args: string[], cwd: string, ready: RegExp): Promise<ChildProcess & { log: string[] }> {
  const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { log: string[] };
  p.log = [];
  processes.push(p);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${p.log.join('\n')}`)), 30_000);
    const onData = (d: Buffer) => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        p.log.push(line);
        if (ready.test(line)) {
          clearTimeout(timer);
          resolve(p);
        }
      }
    };
    p.stdout!.on('data', onData);
    p.stderr!.on('data', onData);
    p.on('exit', (code) => reject(new Error(`${cmd} exited (${code}): ${p.log.join('\n')}`)));
  });
}

const worker = (cwd: string) => start(process.execPath, [BIN, 'worker', '--queue', url, '--out', 'runs', '--lock-seconds', '4', '--no-cache'], cwd, /^\S+ worker on /);

function compare(cwd: string, extra: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  // Defaults for the flags `extra` does not give (an option given twice is refused).
  const defaults: string[][] = [['--model', 'mlp:64'], ['--epochs', '2'], ['--seeds', '2'], ['--batch', '32'], ['--losses', 'ce', 'ce + 0.5*gaussian_kl(sigma=1)']];
  const args = [BIN, 'compare', ...defaults.filter(([flag]) => !extra.includes(flag!)).flat(), '--json', '--no-cache', ...extra];
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    processes.push(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'lossgraph-queue-'));
  redisPort = await freePort();
  url = `redis://127.0.0.1:${redisPort}`;
  redis = await startRedis();
  // The submitter and each worker see the same images at the same relative path, except the third place.
  for (const place of ['submitter', 'a', 'b']) await writeFolder(join(dir, place, 'data'), 60, 7);
  mkdirSync(join(dir, 'other'));
  await writeFolder(join(dir, 'other', 'data'), 60, 8);
});

after(() => {
  // Workers, submitters and Redis itself, whatever happened.
  for (const p of processes) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

test('a compare grid on the queue survives a SIGKILLed worker and gives the sequential table; a re-run trains nothing', { skip }, async () => {
  const data = ['--data', 'folder:data', '--image-size', '3x16x16'];
  const local = await compare(join(dir, 'submitter'), [...data, '--out', 'local']);
  assert.equal(local.status, 0, local.stderr);
  const sequential = JSON.parse(local.stdout.trim().split('\n').pop()!);

  const a = await worker(join(dir, 'a'));
  const b = await worker(join(dir, 'b'));
  workerB = b;
  const grid = compare(join(dir, 'submitter'), [...data, '--out', 'queued', '--queue', url]);
  // SIGKILL worker a as soon as it has started a job.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker a never started a job: ${a.log.join('\n')}`)), 60_000);
    const check = () => {
      if (a.log.some((l) => / started \(attempt 1\)/.test(l))) {
        clearTimeout(timer);
        a.kill('SIGKILL');
        resolve();
      } else setTimeout(check, 20);
    };
    check();
  });
  const queued = await grid;
  assert.equal(queued.status, 0, queued.stderr);
  const table = JSON.parse(queued.stdout.trim().split('\n').pop()!);
  assert.deepEqual(table.rows, sequential.rows, 'the queued table equals the sequential one');
  const killedJob = / job (lg-\w+) started/.exec(a.log.find((l) => / started /.test(l))!)![1]!;
  assert.ok(b.log.some((l) => l.includes(`job ${killedJob} started (attempt`)), `worker b took over the killed job ${killedJob}: ${b.log.join('\n')}`);
  assert.ok(!a.log.some((l) => l.includes(`job ${killedJob} done`)), 'worker a did not finish it');

  const startedBefore = b.log.filter((l) => / started /.test(l)).length;
  const again = await compare(join(dir, 'submitter'), [...data, '--out', 'queued', '--queue', url]);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout.trim().split('\n').pop()!).rows, sequential.rows);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(b.log.filter((l) => / started /.test(l)).length, startedBefore, 'the re-run reused the finished jobs');
});

test('a job whose data differs on the worker fails the grid at once with the worker\'s line, and is not retried', { skip }, async () => {
  const c = await worker(join(dir, 'other'));
  // Worker b (from the test before, still running) would take jobs too: only the mismatched worker runs now.
  workerB?.kill('SIGKILL');
  const r = await compare(join(dir, 'submitter'), ['--data', 'folder:data', '--image-size', '3x16x16', '--epochs', '1', '--seeds', '1', '--out', 'mismatch', '--queue', url]);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^lossgraph: ce, seed 0: --data folder:data here \(180 examples, 3 classes, fingerprint \w+\) is not the data the grid was submitted with/);
  await new Promise((done) => setTimeout(done, 1000));
  const attempts = c.log.filter((l) => / started \(attempt/.test(l));
  assert.ok(attempts.every((l) => /attempt 1\)/.test(l)), `no job was retried: ${attempts.join('\n')}`);
});

const slowJob = (out: string, epochs = 1) => ['--data', 'folder:data', '--image-size', '3x96x96', '--model', 'cnn:16,32', '--batch', '128', '--epochs', String(epochs), '--seeds', '1', '--losses', 'ce', '--out', out, '--queue', url];

test('a job whose every graph run outlasts the lock is trained once: the worker renews its lock while the job runs in its own process (issue 27 item 10)', { skip }, async () => {
  stopWorkers();
  // One step of cnn:16,32 on 126 images of 96x96 takes longer than the 1 s lock on two cores.
  const w = await start(process.execPath, [BIN, 'worker', '--queue', url, '--out', 'runs', '--lock-seconds', '1', '--no-cache'], join(dir, 'a'), /^\S+ worker on /);
  lastWorker = w;
  const r = await compare(join(dir, 'submitter'), slowJob('slow'));
  assert.equal(r.status, 0, r.stderr);
  const starts = w.log.filter((l) => / started \(attempt/.test(l));
  assert.equal(starts.length, 1, `the job ran once, not again after a lost lock: ${w.log.join('\n')}`);
  assert.ok(!w.log.some((l) => /stalled|lock/i.test(l) && !/worker on/.test(l)), w.log.join('\n'));
});

test('two grids with the same --out name get their own run folders (the job id is in the name) (issue 27 item 3)', { skip }, async () => {
  const one = await compare(join(dir, 'submitter'), ['--data', 'folder:data', '--image-size', '3x16x16', '--epochs', '1', '--seeds', '1', '--losses', 'ce', '--out', 'same', '--queue', url]);
  const two = await compare(join(dir, 'submitter'), ['--data', 'folder:data', '--image-size', '3x16x16', '--epochs', '2', '--seeds', '1', '--losses', 'ce', '--out', 'same', '--queue', url]);
  assert.equal(one.status, 0, one.stderr);
  assert.equal(two.status, 0, two.stderr);
  const runs = (r: typeof one) => JSON.parse(r.stdout.trim().split('\n').pop()!).rows;
  assert.ok(runs(one) && runs(two));
  const dirs = readdirSync(join(dir, 'a', 'runs', 'same', '0')).sort();
  assert.equal(dirs.length, 2, `one folder per job: ${dirs.join(', ')}`);
  for (const d of dirs) assert.match(d, /^seed-0-[0-9a-f]{12}$/);
});

test('a job reading data outside the worker\'s --data-root is refused, with no file content in the reason (issue 27 item 16)', { skip }, async () => {
  // The submitter names its data by absolute path: outside worker a's working folder, its default --data-root.
  const r = await compare(join(dir, 'submitter'), ['--data', `folder:${join(dir, 'submitter', 'data')}`, '--image-size', '3x16x16', '--epochs', '1', '--seeds', '1', '--losses', 'ce', '--out', 'outside', '--queue', url]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr.trim(), /^lossgraph: ce, seed 0: job data '.*submitter\/data' lies outside this worker's --data-root .*\/a$/);
});

test('Redis restarted empty while a grid waits: the submitter submits its lost jobs again and finishes (issue 27 item 11)', { skip }, async () => {
  const w = lastWorker!;
  const startedBefore = w.log.filter((l) => / started /.test(l)).length;
  const grid = compare(join(dir, 'submitter'), slowJob('restarted', 3));
  // Once the job has started, Redis goes down and comes back with nothing (no persistence).
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the job never started: ${w.log.join('\n')}`)), 60_000);
    const check = () => {
      if (w.log.filter((l) => / started /.test(l)).length > startedBefore) {
        clearTimeout(timer);
        resolve();
      } else setTimeout(check, 50);
    };
    check();
  });
  redis!.kill('SIGKILL');
  await new Promise((done) => redis!.once('exit', done));
  redis = await startRedis();
  const r = await Promise.race([grid, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the submitter still waits')), 120_000))]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /the queue no longer holds this job \(Redis restarted empty\?\); submitted again/);
});

test('a job whose stored data is not JSON fails once, for good, with one line (issue 27 item 12)', { skip }, async () => {
  const { Queue } = await import('bullmq');
  const { Redis } = await import('ioredis');
  const connection = new Redis({ host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: null });
  const queue = new Queue('lossgraph-grid', { connection });
  try {
    // Delayed, so that no worker takes it before its data is replaced by what is not JSON.
    await queue.add('train', { placeholder: true }, { jobId: 'poison', attempts: 3, delay: 1500 });
    await connection.hset('bull:lossgraph-grid:poison', 'data', 'not json{');
    const deadline = Date.now() + 30_000;
    let state = '';
    while (Date.now() < deadline && (state = await queue.getJobState('poison')) !== 'failed') await new Promise((r) => setTimeout(r, 200));
    assert.equal(state, 'failed');
    assert.match(await connection.hget('bull:lossgraph-grid:poison', 'failedReason') ?? '', /^the job's data is not JSON \(/);
    await new Promise((r) => setTimeout(r, 3000));
    const lines = lastWorker!.log.filter((l) => l.includes('poison') || /not valid JSON/.test(l));
    assert.equal(lines.length, 1, `one line, once: ${lines.join('\n')}`);
  } finally {
    await queue.close();
    connection.disconnect();
  }
});
