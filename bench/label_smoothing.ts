// Sparse vs dense label smoothing: time per forward+backward run and peak
// memory, at K = 10, 1000 and 32000, float32, in onnxruntime-node (CPU).
//
//   node --import tsx bench/label_smoothing.ts [--batch 128] [--runs 30]
//
// Three graphs, each computing the loss and d(loss)/d(logits):
//   sparse_lsr       the target's log-probability only (seed 001)
//   label_smoothing  lossgraph's dense form: sum_k log p_k, no B x K target
//   onehot-target    the textbook form: an explicit B x K smoothed target
// Each configuration runs in its own child process, so that its peak resident
// memory (VmHWM) is its own.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { grad } from '../src/autograd/grad.ts';
import { lossProbeGraph } from '../src/cli/loss.ts';
import { Graph } from '../src/graph/graph.ts';
import { classRange } from '../src/losses/common.ts';
import { Rng } from '../src/models/random.ts';
import { Session } from '../src/runtime/session.ts';

const VARIANTS = ['sparse_lsr', 'label_smoothing', 'onehot-target'] as const;
type Variant = (typeof VARIANTS)[number];
const EPS = 0.1;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

/** The textbook dense form: t = (1 - eps) onehot + eps/K, loss = -mean sum t log p. */
function onehotGraph(classes: number): Uint8Array {
  const g = new Graph('onehot_ls');
  const z = g.input('logits', 'float32', ['batch', classes]);
  const y = g.input('labels', 'int64', ['batch']);
  const onehot = g.cast(g.equal(g.unsqueeze(y, [1]), classRange(g, classes, 'int64')), 'float32');
  const target = g.add(g.mul(onehot, 1 - EPS), EPS / classes);
  const loss = g.neg(g.reduceMean(g.reduceSum(g.mul(target, g.logSoftmax(z, 1)), [1], false), [0], false));
  const [dz] = grad(g, loss, [z]);
  g.output(loss, 'loss');
  g.output(dz!, 'grad');
  return g.toBytes();
}

function graphFor(variant: Variant, classes: number): Uint8Array {
  if (variant === 'onehot-target') return onehotGraph(classes);
  return lossProbeGraph(`${variant}(eps=${EPS})`, 'batch', classes, { dtype: 'float32', params: {} }).graph.toBytes();
}

function vmHwmKiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function child(variant: Variant, classes: number, batch: number, runs: number) {
  const r = new Rng(1);
  const logits = Float32Array.from({ length: batch * classes }, () => r.normal() * 3);
  const labels = BigInt64Array.from({ length: batch }, () => BigInt(r.int(classes)));
  const bytes = graphFor(variant, classes);
  const s = await Session.create(bytes, { threads: 1 });
  const feeds = {
    logits: s.tensor('float32', logits, [batch, classes]),
    labels: s.tensor('int64', labels, [batch]),
    ...(variant === 'onehot-target' ? {} : { [`${variant}.eps`]: s.tensor('float32', new Float32Array([EPS]), []) }),
  };
  const before = vmHwmKiB();
  for (let i = 0; i < 3; i++) await s.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await s.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const peakMiB = (vmHwmKiB() - before) / 1024;
  console.log(JSON.stringify({ variant, classes, batch, ms: times[Math.floor(times.length / 2)], peakMiB }));
}

async function main() {
  if (process.argv[2] === '--child') {
    await child(process.argv[3] as Variant, Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]));
    return;
  }
  const batch = arg('batch', 128);
  const runs = arg('runs', 30);
  const self = fileURLToPath(import.meta.url);
  console.log(`label smoothing, forward + backward, batch ${batch}, float32, onnxruntime-node CPU, 1 thread, median of ${runs} runs`);
  console.log('');
  console.log('| K | variant | ms / run | extra peak RSS (MiB) | time vs sparse | memory vs sparse |');
  console.log('| ---: | --- | ---: | ---: | ---: | ---: |');
  for (const classes of [10, 1000, 32000]) {
    const rows = VARIANTS.map((v) => JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', self, '--child', v, String(classes), String(batch), String(runs)], { encoding: 'utf8' }).trim().split('\n').pop()!));
    const sparse = rows[0];
    for (const r of rows) {
      const mem = sparse.peakMiB > 0.5 ? `${(r.peakMiB / sparse.peakMiB).toFixed(2)}x` : 'n/a';
      console.log(`| ${classes} | ${r.variant} | ${r.ms.toFixed(3)} | ${r.peakMiB.toFixed(1)} | ${(r.ms / sparse.ms).toFixed(2)}x | ${mem} |`);
    }
  }
}

await main();
