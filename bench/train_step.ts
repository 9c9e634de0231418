// The training step of `lossgraph build` artifacts: milliseconds per step, the
// share of each step spent outside session.run (building feeds, swapping the
// carried tensors), and peak resident memory. CNNs at batch 64 on 28x28.
//
//   node --import tsx bench/train_step.ts [--steps 60] [--model cnn:32,64]
//
// Each model runs in its own child process so that its peak RSS is its own.
// Where PyTorch is installed (Debian's python3-torch; PYTHON picks the
// interpreter), the same model, loss and optimizer run in PyTorch in the same
// invocation (bench/pytorch_train_step.py, same thread count) as the peer.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { buildArtifacts } from '../src/artifacts/build.ts';
import { Rng } from '../src/models/random.ts';
import type { OrtTensor } from '../src/runtime/session.ts';
import { TrainingSession } from '../src/runtime/training.ts';

const BATCH = 64;

function option(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

function vmHwmMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function child(model: string, steps: number) {
  const built = buildArtifacts({ model, loss: 'ce', classes: 10, input: [1, 28, 28], optimizer: 'adamw', seed: 1 });
  const params = built.manifest.carried.filter((c) => c.kind === 'parameter').reduce((n, c) => n + c.shape.reduce((a, b) => a * b, 1), 0);
  const session = await TrainingSession.fromBuilt(built);
  // Time spent inside onnxruntime's run, measured around the session's own call.
  let inRun = 0;
  const train = session.train as unknown as { run: (f: Record<string, OrtTensor>, o?: readonly string[]) => Promise<Record<string, OrtTensor>> };
  const run = train.run.bind(train);
  train.run = async (feeds, fetches) => {
    const t0 = performance.now();
    const out = await run(feeds, fetches);
    inRun += performance.now() - t0;
    return out;
  };
  const r = new Rng(1);
  const batches = Array.from({ length: 8 }, () => ({
    images: Float32Array.from({ length: BATCH * 784 }, () => r.next()),
    labels: BigInt64Array.from({ length: BATCH }, () => BigInt(r.int(10))),
  }));
  for (let i = 0; i < 5; i++) await session.runTrainStep(batches[i % 8]!, 1e-3);
  inRun = 0;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await session.runTrainStep(batches[i % 8]!, 1e-3);
  const total = performance.now() - t0;
  console.log(JSON.stringify({ model, params, steps, msPerStep: total / steps, outsideShare: (total - inRun) / total, peakMiB: vmHwmMiB() }));
  await session.release();
}

async function main() {
  if (process.argv[2] === '--child') return child(process.argv[3]!, Number(process.argv[4]));
  const steps = Number(option('steps', '60'));
  const models = option('model', 'cnn:32,64,cnn:32,64,128').split(/,(?=cnn|mlp)/);
  const self = fileURLToPath(import.meta.url);
  console.log(`training step (forward, ce, backward, AdamW), batch ${BATCH}, 1x28x28, onnxruntime-node CPU, mean of ${steps} steps after 5 warm-up steps`);
  console.log('');
  const python = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  const peerScript = fileURLToPath(new URL('./pytorch_train_step.py', import.meta.url));
  const hasTorch = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  const threads = cpus().length;
  console.log(hasTorch ? `peer: PyTorch on ${threads} threads, same model, loss, optimizer and batch` : 'peer: PyTorch not found (apt-get install python3-torch), no ratio');
  console.log('| model | parameters | ms / step | outside session.run | peak RSS (MiB) | PyTorch ms / step | PyTorch / lossgraph |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const model of models) {
    const line = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', model, String(steps)], { encoding: 'utf8' }).trim().split('\n').pop()!;
    const r = JSON.parse(line);
    let peer = '| n/a | n/a |';
    if (hasTorch) {
      const p = JSON.parse(execFileSync(python, [peerScript, model, String(steps), String(threads)], { encoding: 'utf8' }).trim().split('\n').pop()!);
      if (p.params !== r.params) throw new Error(`the PyTorch peer has ${p.params} parameters, lossgraph ${r.params}: not the same model`);
      peer = `| ${p.msPerStep.toFixed(1)} | ${(p.msPerStep / r.msPerStep).toFixed(2)}x |`;
    }
    console.log(`| ${r.model} | ${r.params.toLocaleString('en')} | ${r.msPerStep.toFixed(1)} | ${(100 * r.outsideShare).toFixed(2)}% | ${r.peakMiB.toFixed(0)} ${peer}`);
  }
}

await main();
