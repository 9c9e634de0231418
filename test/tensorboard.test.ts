// `train --log-dir`: TensorBoard event files. The writer's bytes for a fixed
// sequence equal test/fixtures/tensorboard/events.bin, which an independent
// reader (scripts/read_tfevents.py: Google's protobuf runtime on a .proto with
// TensorFlow's field numbers, CRC-32C from the crc32c package) decoded into
// expected.json once; a real run's file holds every scalar of every step and
// epoch, read back with a decoder written here from TensorFlow's field numbers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { FIXTURE_STEPS, FIXTURE_TEXT, writeFixtureEvents } from './helpers/tensorboard_fixture.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/tensorboard/', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url));

test('the writer\'s bytes are the fixture\'s, and the independent reader found every value in them', () => {
  const bytes = writeFixtureEvents(mkdtempSync(join(tmpdir(), 'lossgraph-tb-')));
  assert.deepEqual(Buffer.from(bytes), readFileSync(join(FIXTURES, 'events.bin')));
  const read = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as { records: number; events: { step: number; file_version?: string; values?: { tag: string; simple_value?: number; plugin?: string; text?: string[] }[] }[] };
  assert.equal(read.records, 2 + FIXTURE_STEPS.length);
  assert.equal(read.events[0]!.file_version, 'brain.Event:2');
  assert.deepEqual(read.events[1]!.values, [{ tag: 'hparams', plugin: 'text', text: [FIXTURE_TEXT] }]);
  FIXTURE_STEPS.forEach((values, i) => {
    const e = read.events[i + 2]!;
    assert.equal(e.step, i + 1);
    assert.deepEqual(e.values!.map((v) => v.tag), Object.keys(values));
    for (const v of e.values!) assert.equal(v.simple_value, Math.fround(values[v.tag]!), v.tag);
  });
});

/** Events of a TFRecord file, decoded with TensorFlow's field numbers (event.proto, summary.proto). */
function readEvents(path: string): { step: number; values: Map<string, number> }[] {
  const root = protobuf.parse(`syntax = "proto3";
    message Value { string tag = 1; float simple_value = 2; }
    message Summary { repeated Value value = 1; }
    message Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }`).root;
  const Event = root.lookupType('Event');
  const data = readFileSync(path);
  const out: { step: number; values: Map<string, number> }[] = [];
  for (let at = 0; at < data.length;) {
    const length = Number(data.readBigUInt64LE(at));
    const e = Event.toObject(Event.decode(data.subarray(at + 12, at + 12 + length)), { longs: Number, defaults: true }) as { step: number; summary?: { value: { tag: string; simpleValue: number }[] } };
    out.push({ step: e.step, values: new Map((e.summary?.value ?? []).map((v) => [v.tag, v.simpleValue])) });
    at += 16 + length;
  }
  return out;
}

test('train --log-dir writes every step\'s loss, terms, learning rate, sigma and gradient norm, and every epoch\'s validation metrics (issue 25)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lossgraph-tb-run-'));
  const r = spawnSync(process.execPath, [BIN, 'train', '--data', 'embedded', '--model', 'mlp:8', '--loss', 'ce + 0.5*gaussian_kl(sigma=1)', '--sigma-decay', '0.8', '--clip-grad-norm', '5', '--epochs', '2', '--batch', '64', '--out', join(dir, 'run'), '--log-dir', join(dir, 'logs'), '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const files = readdirSync(join(dir, 'logs'));
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^events\.out\.tfevents\.\d+\./);
  const events = readEvents(join(dir, 'logs', files[0]!));
  const history = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; trainLoss: number; lr: number; sigma: number; validation: Record<string, unknown> });
  const steps = events.filter((e) => e.values.has('train/loss'));
  const perEpoch = steps.length / history.length;
  assert.ok(Number.isInteger(perEpoch) && perEpoch > 0);
  steps.forEach((e, i) => {
    assert.equal(e.step, i + 1);
    for (const tag of ['train/loss', 'train/loss/ce', 'train/loss/gaussian_kl', 'train/lr', 'train/sigma', 'train/grad_norm']) assert.ok(Number.isFinite(e.values.get(tag)), `step ${e.step}: ${tag}`);
    assert.equal(e.values.get('train/sigma'), Math.fround(history[Math.floor(i / perEpoch)]!.sigma));
  });
  for (const h of history) {
    const e = events.find((x) => x.step === h.epoch && x.values.has('epoch/train_loss'))!;
    assert.equal(e.values.get('epoch/train_loss'), Math.fround(h.trainLoss));
    for (const [m, v] of Object.entries(h.validation)) if (typeof v === 'number' && Number.isFinite(v)) assert.equal(e.values.get(`validation/${m}`), Math.fround(v), m);
  }
});
