// Crash safety: a training process SIGKILLed at seeded random moments (mid-step,
// mid-checkpoint, mid-report) always leaves a loadable checkpoint, and
// --resume finishes with weights bit-identical to an uninterrupted run; Ctrl-C
// (SIGINT) stops after the current step with a checkpoint and resumes too.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors } from '../src/artifacts/safetensors.ts';
import { Rng } from '../src/models/random.ts';

const BIN = fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url));
const ARGS = ['train', '--data', 'embedded', '--model', 'mlp:16;dropout=0.3', '--loss', 'ce + 0.5*gaussian_kl', '--epochs', '3', '--batch', '32', '--seed', '4', '--augment', 'crop,flip', '--json'];
const tmp = () => mkdtempSync(join(tmpdir(), 'lossgraph-crash-'));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertSameWeights(whole: string, other: string, what: string): void {
  const a = decodeSafetensors(readFileSync(join(whole, 'checkpoint.safetensors')), 'whole');
  const b = decodeSafetensors(readFileSync(join(other, 'checkpoint.safetensors')), what);
  assert.equal(b.metadata.step, a.metadata.step, `${what}: step`);
  a.tensors.forEach((t, i) => assert.ok(Buffer.from(t.data.buffer).equals(Buffer.from(b.tensors[i]!.data.buffer)), `${what}: ${t.name} differs`));
}

/** Starts a run into `out`; resolves with its exit once `signal` was sent `delayMs` after run.json appeared (or it ended first). */
function runAndSignal(out: string, signal: NodeJS.Signals, delayMs: (startup: number) => number): Promise<{ signalled: boolean; code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...ARGS, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const t0 = Date.now();
  let signalled = false;
  const poll = setInterval(() => {
    if (!existsSync(join(out, 'run.json'))) return;
    clearInterval(poll);
    setTimeout(() => {
      if (child.exitCode === null) {
        signalled = true;
        child.kill(signal);
      }
    }, delayMs(Date.now() - t0));
  }, 5);
  return new Promise((resolve) => child.on('close', (code) => {
    clearInterval(poll);
    resolve({ signalled, code, stderr });
  }));
}

test('SIGKILL at 10 seeded random moments: the checkpoint always loads and --resume ends bit-identical', async (t) => {
  const whole = join(tmp(), 'whole');
  const t0 = Date.now();
  assert.equal(cli([...ARGS, '--out', whole]).code, 0);
  const duration = Date.now() - t0;
  const r = new Rng(2024);
  let kills = 0;
  const moments: number[] = [];
  for (let attempt = 0; attempt < 20 && kills < 10; attempt++) {
    const out = join(tmp(), 'killed');
    const u = r.next();
    const run = await runAndSignal(out, 'SIGKILL', (startup) => Math.floor(u * Math.max(50, duration - startup)));
    if (!run.signalled) continue; // it finished first; draw another moment
    kills++;
    const done = existsSync(join(out, 'metrics.jsonl')) ? readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean).length : 0;
    moments.push(Math.round(u * 100));
    // The checkpoint on disk is whole: it decodes.
    decodeSafetensors(readFileSync(join(out, 'checkpoint.safetensors')), 'after the kill');
    const resumed = cli(['train', '--resume', out, '--json']);
    assert.equal(resumed.code, 0, `kill ${kills} (after ${done} epochs): ${resumed.stderr}`);
    assertSameWeights(whole, out, `kill ${kills}`);
    assert.ok(existsSync(join(out, 'report.html')) && existsSync(join(out, 'inference_model.onnx')));
  }
  t.diagnostic(`killed at ${moments.join('%, ')}% of the run after start-up`);
  assert.ok(kills >= 10, `only ${kills} kills landed before the runs finished`);
});

test('Ctrl-C (SIGINT) stops after the current step with a checkpoint; --resume continues mid-epoch, bit-identical', async () => {
  const whole = join(tmp(), 'whole');
  assert.equal(cli([...ARGS, '--out', whole]).code, 0);
  const out = join(tmp(), 'interrupted');
  // Once the first epoch is on disk, interrupt during the second.
  const child = spawn(process.execPath, [BIN, ...ARGS, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const poll = setInterval(() => {
    const m = join(out, 'metrics.jsonl');
    if (existsSync(m) && readFileSync(m, 'utf8').trim().split('\n').filter(Boolean).length >= 1) {
      clearInterval(poll);
      setTimeout(() => child.kill('SIGINT'), 30);
    }
  }, 5);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(poll);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /lossgraph: interrupted at epoch [23], step \d+ of \d+; the checkpoint is saved: continue with lossgraph train --resume /);
  const meta = decodeSafetensors(readFileSync(join(out, 'checkpoint.safetensors')), 'interrupted').metadata;
  assert.ok(meta.partial, 'the checkpoint records where the epoch stopped');
  const resumed = cli(['train', '--resume', out, '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assertSameWeights(whole, out, 'resumed after Ctrl-C');
});

test('a run SIGKILLed after an epoch\'s checkpoint exports the checkpoint\'s weights, not the stale inference model beside it', async () => {
  const { spawn } = await import('node:child_process');
  const { existsSync } = await import('node:fs');
  const { decodeModel } = await import('../src/onnx/proto.ts');
  const out = join(tmp(), 'killed');
  // Many epochs, so the kill lands after the first checkpoint and before the end (where the inference model is baked).
  const child = spawn(process.execPath, [BIN, 'train', '--data', 'embedded', '--model', 'mlp:16', '--epochs', '200', '--out', out], { stdio: 'ignore' });
  const metrics = join(out, 'metrics.jsonl');
  for (let i = 0; i < 600 && !(existsSync(metrics) && readFileSync(metrics, 'utf8').trim().split('\n').filter(Boolean).length >= 1); i++) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const checkpoint = new Map(decodeSafetensors(readFileSync(join(out, 'checkpoint.safetensors')), 'checkpoint').tensors.map((t) => [t.name, t.data as Float32Array]));
  const stale = new Map((decodeModel(readFileSync(join(out, 'inference_model.onnx'))).graph!.initializer ?? []).map((t) => [t.name!, t]));
  const weight = 'dense0.weight';
  assert.notDeepEqual(Buffer.from(stale.get(weight)!.rawData!), Buffer.from(checkpoint.get(weight)!.buffer), 'the kill landed after the inference model was baked; the test needs the stale one');
  const web = join(tmp(), 'web');
  const r = cli(['export', '--run', out, '--out', web]);
  assert.equal(r.code, 0, r.stderr);
  const exported = decodeModel(readFileSync(join(web, 'model', 'inference_model.onnx')));
  for (const t of exported.graph!.initializer ?? []) {
    const want = checkpoint.get(t.name!);
    if (want) assert.deepEqual(Buffer.from(t.rawData!), Buffer.from(want.buffer, want.byteOffset, want.byteLength), `${t.name} is not the checkpoint's`);
  }
  const meta = JSON.parse(readFileSync(join(web, 'model', 'meta.json'), 'utf8'));
  assert.ok(meta.run.epoch >= 1, `meta.json names epoch ${meta.run.epoch}`);
});

test('two trains on one --out: one runs, the other is refused in one line; the winner\'s run is whole', async () => {
  const { spawn } = await import('node:child_process');
  const out = join(tmp(), 'shared');
  const start = () => {
    const child = spawn(process.execPath, [BIN, 'train', '--data', 'embedded', '--model', 'mlp:16', '--epochs', '6', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    return new Promise<{ code: number | null; stderr: string }>((r) => child.once('exit', (code) => r({ code, stderr })));
  };
  const [a, b] = await Promise.all([start(), start()]);
  const codes = [a.code, b.code].sort();
  assert.deepEqual(codes, [0, 2], `exit codes ${a.code} and ${b.code}: ${a.stderr} ${b.stderr}`);
  const loser = a.code === 2 ? a : b;
  assert.match(loser.stderr, /is in use by another lossgraph train \(process \d+\)|already holds a run/);
  assert.equal(loser.stderr.trim().split('\n').length, 1);
  const ev = cli(['eval', '--run', out]);
  assert.equal(ev.code, 0, ev.stderr);
});

test('export killed at any moment over an earlier export: the folder is the old export or the new one, whole; no temporary folder outlives the next export', async () => {
  const { spawn } = await import('node:child_process');
  const { createHash } = await import('node:crypto');
  const { existsSync, readdirSync } = await import('node:fs');
  const { dirname } = await import('node:path');
  const run = join(tmp(), 'run');
  assert.equal(cli(['train', '--data', 'embedded', '--model', 'mlp:8', '--epochs', '1', '--out', run]).code, 0);
  const web = join(tmp(), 'web');
  assert.equal(cli(['export', '--run', run, '--out', web]).code, 0);
  const whole = () => {
    const sums = readFileSync(join(web, 'SHA256SUMS'), 'utf8').trim().split('\n');
    for (const line of sums) {
      const [hash, file] = line.split('  ') as [string, string];
      assert.equal(createHash('sha256').update(readFileSync(join(web, file))).digest('hex'), hash, `${file} is not the one SHA256SUMS names`);
    }
  };
  for (const delay of [150, 400, 700, 1000, 1300]) {
    const child = spawn(process.execPath, [BIN, 'export', '--run', run, '--out', web], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // Between the two renames the export may stand aside; the next export puts it back or replaces it.
    if (existsSync(web)) whole();
  }
  assert.equal(cli(['export', '--run', run, '--out', web]).code, 0);
  whole();
  const strays = readdirSync(dirname(web)).filter((f) => /^web\.(tmp|old)-/.test(f));
  assert.deepEqual(strays, []);
});

test('a checkpoint whose metadata was changed, or whose weights are not finite, is refused in one line (issue 27 item 8)', async () => {
  const { encodeSafetensors } = await import('../src/artifacts/safetensors.ts');
  const { tensorsCrc32 } = await import('../src/artifacts/contract.ts');
  const { writeFileSync } = await import('node:fs');
  const run = join(tmp(), 'run');
  assert.equal(cli(['train', '--data', 'embedded', '--model', 'mlp:8', '--epochs', '2', '--out', run]).code, 0);
  const path = join(run, 'checkpoint.safetensors');
  const original = readFileSync(path);
  const file = decodeSafetensors(original, 'checkpoint');
  // One digit of the step changed, the tensors' checksum untouched.
  writeFileSync(path, encodeSafetensors(file.tensors, { ...file.metadata, step: String(Number(file.metadata.step) + 1) }));
  let r = cli(['train', '--resume', run]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /is damaged: its metadata \(step, history\) does not match the checksum saved with it/);
  // NaN weights with a recomputed tensor checksum (and no metadata checksum, as an older checkpoint).
  const poisoned = file.tensors.map((t, i) => (i === 0 ? { ...t, data: Float32Array.from(t.data as Float32Array, (v, j) => (j === 3 ? NaN : v)) } : t));
  const { meta_crc32: _dropped, ...meta } = file.metadata;
  writeFileSync(path, encodeSafetensors(poisoned, { ...meta, crc32: tensorsCrc32(poisoned) }));
  r = cli(['eval', '--run', run]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /holds NaN in '[^']+' \(element 3\); use an earlier checkpoint/);
  writeFileSync(path, original);
  assert.equal(cli(['eval', '--run', run]).code, 0);
});
