// Grids as jobs: stable ids, strict validation of jobs from outside, a result
// codec that keeps NaN, and `--workers 2` giving the sequential run's table.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ArgumentError } from '../src/errors.ts';
import { DEFAULT_CONFIG, type RunConfig } from '../src/train/config.ts';
import { decodeResult, encodeResult, jobId, makeJob, validateJob, type JobResult } from '../src/grid/jobs.ts';
import { parseQueueUrl } from '../src/grid/queue.ts';

const BIN = fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url));
const config: RunConfig = { ...DEFAULT_CONFIG, data: 'embedded', model: 'mlp:16', loss: 'ce', seed: 1, threads: 1, dataOptions: { cacheDir: '/home/me/.cache/lossgraph' } };

test('a job id is a hash of its settings: stable, blind to machine-local options, changed by anything that changes the run', () => {
  const job = makeJob(config, { label: 'ce', dir: 'cmp/0/seed-1', fingerprint: 'f'.repeat(32) });
  assert.equal(job.config.dataOptions.cacheDir, undefined, 'the cache folder is the runner\'s own');
  assert.equal(jobId(job), jobId(makeJob({ ...config, dataOptions: { cacheDir: '/elsewhere', maxMemoryMiB: 10 } }, { label: 'ce', dir: 'cmp/0/seed-1', fingerprint: 'f'.repeat(32) })));
  assert.match(jobId(job), /^lg-[0-9a-f]{40}$/);
  for (const other of [{ ...config, seed: 2 }, { ...config, threads: 2 }, { ...config, lr: 0.002 }, { ...config, loss: 'ce + 0.1*kl' }]) {
    assert.notEqual(jobId(makeJob(other, { label: 'ce', dir: 'cmp/0/seed-1', fingerprint: 'f'.repeat(32) })), jobId(job));
  }
  assert.notEqual(jobId(makeJob(config, { label: 'ce', dir: 'cmp/0/seed-1', fingerprint: 'e'.repeat(32) })), jobId(job), 'other data, other job');
});

test('jobs from a queue are validated like CLI input: unknown fields, wrong types, escaping folders, another version', () => {
  const job = makeJob(config, { label: 'ce', dir: 'cmp/0/seed-1', fingerprint: 'f'.repeat(32) });
  assert.deepEqual(validateJob(JSON.parse(JSON.stringify(job))), job);
  const refused = (mutate: (j: Record<string, any>) => void, pattern: RegExp) => {
    const j = JSON.parse(JSON.stringify(job));
    mutate(j);
    assert.throws(() => validateJob(j), (e: unknown) => e instanceof ArgumentError && pattern.test(e.message), pattern.source);
  };
  refused((j) => (j.config.script = 'rm -rf /'), /^job: config: has 'script', a field lossgraph does not know$/);
  refused((j) => (j.config.epochs = '5'), /^job: config\.epochs: must be number, not string$/);
  refused((j) => (j.config.lr = -1), /^job: config\.lr: must be a positive number$/);
  refused((j) => (j.config.batch = 0), /^job: config\.batch: must be greater than or equal to 1$/);
  refused((j) => (j.config.stepsPerRun = 0), /^job: config\.stepsPerRun: must be greater than or equal to 1$/);
  const k = makeJob({ ...config, stepsPerRun: 4 }, { label: 'ce', dir: 'cmp/0/seed-1', fingerprint: 'f'.repeat(32) });
  assert.equal(validateJob(JSON.parse(JSON.stringify(k))).config.stepsPerRun, 4, 'a job keeps its steps per run');
  refused((j) => (j.config.augment = { crop: 4 }), /^job: config\.augment\.flip: is missing$/);
  refused((j) => (j.config.lossParams = { w: 'x' }), /^job: config\.lossParams\.w: must be number, not string$/);
  refused((j) => (j.dir = '../../etc'), /^job: dir: '\.\.\/\.\.\/etc' is not a relative folder/);
  refused((j) => (j.dir = '/etc/cron.d'), /^job: dir: /);
  refused((j) => (j.lossgraph = '0.0.1'), /made by lossgraph 0\.0\.1; this worker is/);
  refused((j) => delete j.fingerprint, /^job: fingerprint: is missing$/);
  assert.throws(() => validateJob('not an object'), /job: the whole value: must be object, not string$/);
  // Names Object.prototype holds are fields like any other (issue 27 item 17): refused, and __proto__ too.
  refused((j) => (j.config.constructor = 'x'), /^job: config: has 'constructor', a field lossgraph does not know$/);
  refused((j) => (j.config.dataOptions.toString = 'x'), /^job: config\.dataOptions: has 'toString', a field lossgraph does not know$/);
  const proto = JSON.parse(JSON.stringify(job).replace('"config":{', '"config":{"__proto__":{"epochs":1},'));
  assert.throws(() => validateJob(proto), /job: config: has '__proto__', a field lossgraph does not know$/);
  // The worker's own settings are not a job's to give.
  refused((j) => (j.config.dataOptions.cacheDir = '/tmp/x'), /^job: config\.dataOptions: has 'cacheDir'/);
});

test('results cross processes exactly, NaN and infinities included', () => {
  const r: JobResult = { test: { accuracy: NaN, loss: 0.1 + 0.2, mae: Infinity } as never, bestValidationAccuracy: -Infinity, history: [], runDir: '/x', host: 'h', seconds: 1 / 3 };
  const back = decodeResult(encodeResult(r));
  assert.ok(Number.isNaN(back.test.accuracy));
  assert.equal(back.test.loss, 0.1 + 0.2);
  assert.equal(back.test.mae, Infinity);
  assert.equal(back.bestValidationAccuracy, -Infinity);
  assert.equal(back.seconds, 1 / 3);
});

test('queue URLs: password and TLS understood, the password never shown; anything else is one line', () => {
  const c = parseQueueUrl('rediss://worker:s3cr%40t@redis.lab:6380/2') as Record<string, any>;
  assert.deepEqual([c.host, c.port, c.db, c.username, c.password, c.tls.servername], ['redis.lab', 6380, 2, 'worker', 's3cr@t', 'redis.lab']);
  assert.equal(c.display, 'rediss://worker:***@redis.lab:6380/2');
  assert.equal((parseQueueUrl('redis://127.0.0.1') as Record<string, any>).port, 6379);
  assert.throws(() => parseQueueUrl('http://x:1'), /the scheme must be redis:\/\/ or rediss:\/\//);
  assert.throws(() => parseQueueUrl('localhost:6379'), /the scheme must be|not a URL/);
});

test('compare --workers 2 gives the sequential table, bit for bit; bad flags are one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lossgraph-grid-'));
  const args = ['compare', '--data', 'embedded', '--model', 'mlp:16', '--epochs', '1', '--seeds', '2', '--losses', 'ce', 'ce + 0.5*gaussian_kl(sigma=1)', '--json'];
  const run = (out: string, extra: string[] = []) => {
    const r = spawnSync(process.execPath, [BIN, ...args, '--out', join(dir, out), ...extra], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  };
  const one = run('one');
  const two = run('two', ['--workers', '2']);
  assert.deepEqual(two.rows, one.rows);
  for (const row of [0, 1]) for (const seed of [0, 1]) assert.ok(existsSync(join(dir, 'two', String(row), `seed-${seed}`, 'report.html')));
  const results = JSON.parse(readFileSync(join(dir, 'two', 'results.json'), 'utf8'));
  assert.equal(results.jobs.length, 4);
  assert.ok(results.jobs.every((j: { history: unknown[]; id: string }) => j.history.length === 1 && /^lg-/.test(j.id)));
  for (const [flags, pattern] of [[['--workers', '0'], /--workers must be a positive integer/], [['--threads', '1.5'], /--threads must be a positive integer/], [['--workers', '2', '--queue', 'redis://h:1'], /do not go together/], [['--queue', 'ftp://h'], /redis:\/\/ or rediss:\/\//]] as const) {
    const r = spawnSync(process.execPath, [BIN, ...args, '--out', join(dir, 'bad'), ...flags], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('each row is read in one sentence that claims only what the intervals show', async () => {
  const { readRows } = await import('../src/grid/figures.ts');
  const cols = [{ key: 'accuracy', title: 'accuracy' }, { key: 'mae', title: 'MAE', lower: true }];
  const row = (label: string, acc?: [number, number], mae?: [number, number]) => ({
    label,
    metrics: {
      accuracy: { mean: 0.9, half: 0.01, ...(acc ? { diff: { mean: acc[0], half: acc[1] } } : {}) },
      mae: { mean: 0.1, half: 0.01, ...(mae ? { diff: { mean: mae[0], half: mae[1] } } : {}) },
    },
  });
  assert.deepEqual(readRows([row('ce'), row('ce + kl', [-0.01, 0.02], [0.01, 0.03])], cols, 5),
    ["'ce + kl': every difference from 'ce' is inside its 95% interval; 5 seeds do not tell them apart."]);
  assert.deepEqual(readRows([row('ce'), row('a', [-0.022, 0.018], [0.022, 0.019]), row('b', [0.001, 0.02], [-0.03, 0.01])], cols, 5), [
    "'a' differs from 'ce' beyond its 95% interval in accuracy (-0.022 ± 0.018, worse), MAE (+0.022 ± 0.019, worse).",
    "'b' differs from 'ce' beyond its 95% interval in MAE (-0.030 ± 0.010, better); its other difference is inside its interval.",
  ]);
  assert.match(readRows([row('ce'), row('a', [0.5, Number.NaN])], cols, 1)[0]!, /With one seed there are no intervals/);
});

test('a worker refuses a lock or concurrency no timer or machine can honour, in one line (issue 27 item 13)', () => {
  for (const [flag, value, expected] of [['--lock-seconds', '100000000', /--lock-seconds must be a whole number from 1 to 86400, got 100000000/], ['--lock-seconds', '0', /--lock-seconds must be a whole number/], ['--concurrency', '5000', /--concurrency must be a whole number from 1 to 1024/]] as const) {
    const r = spawnSync(process.execPath, [BIN, 'worker', '--queue', 'redis://127.0.0.1:1', flag, value], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, expected);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});

test('the compare report\'s forest plot draws the table\'s paired intervals, and a sweep draws its metrics over the swept value (issue 25)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lossgraph-forest-'));
  const BIN = fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url));
  const grid = (args: string[]) => spawnSync(process.execPath, [BIN, ...args, '--data', 'embedded', '--model', 'mlp:4', '--epochs', '1', '--seeds', '3', '--json'], { encoding: 'utf8' });
  const c = grid(['compare', '--losses', 'ce', 'label_smoothing(eps=0.2)', '--out', join(dir, 'cmp')]);
  assert.equal(c.status, 0, c.stderr);
  const rows = JSON.parse(c.stdout.trim().split('\n').pop()!).rows as { label: string; metrics: Record<string, { diff?: { mean: number; half: number } }> }[];
  const html = readFileSync(join(dir, 'cmp', 'report.html'), 'utf8');
  // Vega writes each mark's values into its ARIA label: the rule of row r spans [lo, hi].
  const d = rows[1]!.metrics.accuracy!.diff!;
  const rule = [...html.matchAll(/aria-label="difference in accuracy: ([^;]+); loss: label_smoothing\(eps=0\.2\); hi: ([^;]+);/g)][0]!;
  const num = (s: string) => Number(s.replace('−', '-'));
  assert.ok(Math.abs(num(rule[1]!) - (d.mean - d.half)) < 1e-9, `lo ${rule[1]} vs ${d.mean - d.half}`);
  assert.ok(Math.abs(num(rule[2]!) - (d.mean + d.half)) < 1e-9, `hi ${rule[2]} vs ${d.mean + d.half}`);
  assert.match(html, /difference in accuracy/);
  assert.match(html, /each row's paired difference from 'ce'/);
  const s = grid(['sweep', '--loss', 'label_smoothing(eps=e)', '--param', 'e=0:0.2:0.1', '--out', join(dir, 'sweep')]);
  assert.equal(s.status, 0, s.stderr);
  const sweep = readFileSync(join(dir, 'sweep', 'report.html'), 'utf8');
  assert.match(sweep, /accuracy over e: mean over 3 seeds with a 95% band/);
  assert.match(sweep, /X-axis titled 'e'/);
});
