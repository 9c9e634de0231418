// `npm run bench`: lossgraph against its peers, in one invocation, same model,
// batch, optimizer and thread count. Not part of npm test.
//
//   npm run bench [-- --json] [--reps 5] [--steps 32] [--steps-per-run K] [--threads N] [--only train|loss|none] [--e2e]
//
// - training steps (forward, ce, backward, update): lossgraph in
//   onnxruntime-node (CPU) and in onnxruntime-web's wasm backend (in Node: the
//   figure a browser user gets), PyTorch CPU (bench/torch_peer.py, when a
//   Python with torch is found; a torch on the reference BLAS is refused) and
//   TF.js on its wasm backend (@tensorflow/tfjs-backend-wasm, a devDependency);
//   ms per step as median, min and max of --reps repetitions of --steps steps
//   after warm-up, samples/s, and the share of lossgraph's step spent outside
//   session.run;
// - loss micro-benchmarks: forward + backward w.r.t. the logits, B = 256,
//   K = 10, 1000, 32000, time and peak memory, lossgraph vs PyTorch;
// - --e2e: lossgraph train on the full Fashion-MNIST (cnn:32,64, 3 epochs)
//   next to the same loop in PyTorch (bench/torch_peer.py e2e), data loading
//   included (needs Debian's dataset-fashion-mnist).
// Every measurement runs in its own child process, so peak memory is its own.
// With --json the last line is one object with every figure and, per peer, a
// ratio named after it: lossgraph throughput / peer throughput (> 1: faster).
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const PEER = fileURLToPath(new URL('./torch_peer.py', import.meta.url));
const WORKLOADS = [
  { name: 'mlp:512', model: 'mlp:512', input: [1, 28, 28], batch: 128, optimizer: 'sgd' },
  { name: 'cnn:32,64', model: 'cnn:32,64', input: [1, 28, 28], batch: 64, optimizer: 'adamw' },
  { name: 'cnn:32,64,128', model: 'cnn:32,64,128', input: [1, 28, 28], batch: 64, optimizer: 'adamw' },
  { name: 'cnn:32,64,128 on 3x64x64', model: 'cnn:32,64,128', input: [3, 64, 64], batch: 64, optimizer: 'adamw' },
] as const;
const LOSSES = ['ce', 'label_smoothing', 'sparse_lsr', 'ce + gaussian_kl', 'hierarchical'];
const LOSS_SPEC: Record<string, string> = { ce: 'ce', label_smoothing: 'label_smoothing(eps=0.1)', sparse_lsr: 'sparse_lsr(eps=0.1)', 'ce + gaussian_kl': 'ce + gaussian_kl(sigma=1)', hierarchical: 'hierarchical' };

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const flag = (name: string) => process.argv.includes(`--${name}`);

interface Timing { ms: number[]; peakMiB?: number; outsideShare?: number; params?: number; error?: string }
const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s.at(-1)! };
};

// ---------------------------------------------------------------- children

/**
 * Every framework steps at least `steps` times and for at least
 * WARMUP_SECONDS before timing: onnxruntime-node's first ~80 MLP steps run at
 * twice the steady-state time (allocator and page-fault warm-up), which five
 * steps alone left inside the timed repetitions.
 */
const WARMUP_SECONDS = 2;
async function warmUp(step: (i: number) => unknown, steps: number, seconds = WARMUP_SECONDS): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < steps || performance.now() - t0 < seconds * 1000; i++) await step(i);
}

/**
 * With LOSSGRAPH_BENCH_INTERLEAVE set (by the parent), a training child takes
 * turns with PyTorch's: after warm-up it prints "ready", then runs one
 * repetition per line it reads on stdin and answers {"rep": ms}. The machine's
 * speed drifts by tens of percent over minutes, so peers measured one after
 * the other could land in different phases. Each turn first steps untimed for
 * REWARM_SECONDS (and at least 2 steps): after an idle pause our first ~100
 * MLP steps measured up to 40% slower than the steady ones.
 */
const INTERLEAVE = Boolean(process.env.LOSSGRAPH_BENCH_INTERLEAVE);
const REWARM_SECONDS = 0.5;
function takeTurns(): { next: () => Promise<void>; close: () => void } {
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  console.log('ready');
  return { next: async () => void (await lines.next()), close: () => process.stdin.destroy() };
}

/**
 * lossgraph's training step as `lossgraph train` takes it: `stepsPerRun` steps
 * per run of the training graph (runTrainSteps; 1 is one run per step).
 */
async function lossgraphTrain(model: string, input: number[], batch: number, optimizer: string, runtime: 'node' | 'web', threads: number, warmup: number, steps: number, reps: number, stepsPerRun: number): Promise<Timing> {
  const { buildArtifacts } = await import('../src/artifacts/build.ts');
  const { TrainingSession } = await import('../src/runtime/training.ts');
  const { Session } = await import('../src/runtime/session.ts');
  const { Rng } = await import('../src/models/random.ts');
  const built = buildArtifacts({ model, loss: 'ce', classes: 10, input: input as [number, number, number], optimizer: optimizer === 'sgd' ? 'sgd' : 'adamw', seed: 1 });
  const params = built.manifest.carried.filter((c) => c.kind === 'parameter').reduce((n, c) => n + c.shape.reduce((a, b) => a * b, 1), 0);
  const session = await TrainingSession.fromBuilt(built, { runtime, threads });
  // Time inside session.run, whichever graph (one step or k steps) runs.
  let inRun = 0;
  let outside = 0;
  const run = Session.prototype.run;
  Session.prototype.run = async function (this: import('../src/runtime/session.ts').Session, ...a: Parameters<typeof run>) {
    const t0 = performance.now();
    const out = await run.apply(this, a);
    inRun += performance.now() - t0;
    return out;
  };
  const r = new Rng(1);
  const px = input.reduce((a, b) => a * b, 1);
  const batches = Array.from({ length: 4 }, () => ({ images: Float32Array.from({ length: batch * px }, () => r.next()), labels: BigInt64Array.from({ length: batch }, () => BigInt(r.int(10))) }));
  const lr = optimizer === 'sgd' ? 0.01 : 1e-3;
  // Steps i .. i+n-1 in runs of stepsPerRun (the last run of a repetition may be shorter, as at an epoch's end).
  const train = async (n: number) => {
    for (let done = 0; done < n; done += stepsPerRun) {
      const k = Math.min(stepsPerRun, n - done);
      await session.runTrainSteps(Array.from({ length: k }, (_, j) => batches[(done + j) % 4]!), new Array<number>(k).fill(lr));
    }
  };
  await warmUp(() => train(stepsPerRun), Math.ceil(warmup / stepsPerRun));
  const ms: number[] = [];
  let total = 0;
  const turns = INTERLEAVE ? takeTurns() : undefined;
  for (let k = 0; k < reps; k++) {
    if (turns) {
      await turns.next();
      await warmUp(() => train(stepsPerRun), 2, REWARM_SECONDS);
    }
    inRun = 0;
    const t0 = performance.now();
    await train(steps);
    const t = performance.now() - t0;
    total += t;
    outside += t - inRun;
    ms.push(t / steps);
    if (turns) console.log(JSON.stringify({ rep: t / steps }));
  }
  turns?.close();
  return { ms, params, outsideShare: outside / total, peakMiB: peakMiB() };
}

async function lossgraphLoss(spec: string, batch: number, classes: number, threads: number, warmup: number, runs: number, reps: number): Promise<Timing> {
  const { lossProbeGraph } = await import('../src/cli/loss.ts');
  const { Session } = await import('../src/runtime/session.ts');
  const { Rng } = await import('../src/models/random.ts');
  // hierarchical: ten contiguous groups of K/10 classes, as the PyTorch peer has them.
  const hierarchy = { coarse: Array.from({ length: classes }, (_, k) => Math.floor(k / Math.max(1, classes / 10))) };
  const g = lossProbeGraph(LOSS_SPEC[spec]!, 'batch', classes, { dtype: 'float32', params: {}, hierarchy });
  const s = await Session.create(g.graph.toBytes(), { threads });
  const r = new Rng(1);
  const logits = s.tensor('float32', Float32Array.from({ length: batch * classes }, () => r.normal() * 3), [batch, classes]);
  const labels = s.tensor('int64', BigInt64Array.from({ length: batch }, () => BigInt(r.int(classes))), [batch]);
  const feeds: Record<string, unknown> = { logits, labels };
  for (const h of g.hyperparameters) feeds[h.name] = s.tensor('float32', new Float32Array([h.default]), []);
  const base = peakMiB();
  await warmUp(() => s.run(feeds as never), warmup);
  const ms: number[] = [];
  for (let k = 0; k < reps; k++) {
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await s.run(feeds as never);
    ms.push((performance.now() - t0) / runs);
  }
  return { ms, peakMiB: peakMiB() - base };
}

async function tfjsTrain(model: string, input: number[], batch: number, threads: number, warmup: number, steps: number, reps: number): Promise<Timing> {
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const { createRequire } = await import('node:module');
  const { dirname } = await import('node:path');
  const dist = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(`${dist}/`);
  wasm.setThreadsCount(threads);
  await tf.setBackend('wasm');
  await tf.ready();
  const [c, h, w] = input as [number, number, number];
  const widths = model.split(':')[1]!.split(',').map(Number);
  const m = tf.sequential();
  if (model.startsWith('mlp')) {
    m.add(tf.layers.flatten({ inputShape: [c, h, w] }));
    for (const u of widths) m.add(tf.layers.dense({ units: u, activation: 'relu' }));
  } else {
    // TF.js's own layout (channels last): its batch norm over axis 1 fails in the wasm backend's gradient.
    let [hh, ww] = [h, w];
    widths.forEach((f, i) => {
      m.add(tf.layers.conv2d({ filters: f, kernelSize: 3, padding: 'same', ...(i === 0 ? { inputShape: [h, w, c] } : {}) }));
      m.add(tf.layers.batchNormalization({ axis: -1 }));
      m.add(tf.layers.reLU());
      if (hh >= 2 && ww >= 2) {
        m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
        [hh, ww] = [Math.floor(hh / 2), Math.floor(ww / 2)];
      }
    });
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 128, activation: 'relu' }));
    m.add(tf.layers.dropout({ rate: 0.2 }));
  }
  m.add(tf.layers.dense({ units: 10 }));
  // SGD with momentum 0.9 as lossgraph's `sgd`; TF.js has no AdamW, so Adam stands in (no weight decay).
  const opt = model.startsWith('mlp') ? tf.train.momentum(0.01, 0.9) : tf.train.adam(1e-3);
  const xs = Array.from({ length: 4 }, () => tf.randomUniform(model.startsWith('mlp') ? [batch, c, h, w] : [batch, h, w, c]));
  const ys = Array.from({ length: 4 }, () => tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10));
  const step = (i: number) => {
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(ys[i % 4]!, m.apply(xs[i % 4]!, { training: true }) as never) as never, true)!;
    loss.dataSync();
    loss.dispose();
  };
  try {
    await warmUp(step, warmup);
  } catch (e) {
    return { ms: [], error: (e as Error).message.split('\n')[0]!.slice(0, 120) };
  }
  const ms: number[] = [];
  for (let k = 0; k < reps; k++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step(i);
    ms.push((performance.now() - t0) / steps);
  }
  return { ms, params: m.countParams(), peakMiB: peakMiB() };
}

function peakMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// ------------------------------------------------------------------ parent

function inChild(args: string[]): Timing {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split('\n').pop();
  if (r.status !== 0 || !line) return { ms: [], error: (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`).slice(0, 160) };
  return JSON.parse(line) as Timing;
}

/** A child process driven line by line (see INTERLEAVE). */
class TurnTaker {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { env: { ...process.env, LOSSGRAPH_BENCH_INTERLEAVE: '1' } });
    this.child.stderr.on('data', (d) => (this.stderr += String(d)));
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  /** The next line of output; undefined once the child has closed it. */
  async line(): Promise<string | undefined> {
    const r = await this.lines.next();
    return r.done ? undefined : r.value;
  }

  /** Waits for "ready"; false when the child ended first (its error is in finish()). */
  async ready(): Promise<boolean> {
    for (let l = await this.line(); l !== undefined; l = await this.line()) if (l === 'ready') return true;
    return false;
  }

  async turn(): Promise<boolean> {
    this.child.stdin.write('go\n');
    for (let l = await this.line(); l !== undefined; l = await this.line()) if (l.startsWith('{"rep"')) return true;
    return false;
  }

  /** Ends the child and returns its result (its last line of output). */
  async finish(): Promise<Timing> {
    this.child.stdin.end();
    let last: string | undefined;
    for (let l = await this.line(); l !== undefined; l = await this.line()) last = l;
    const status = this.child.exitCode ?? (await new Promise<number | null>((resolve) => this.child.once('exit', resolve)));
    if (status !== 0 || !last) return { ms: [], error: (this.stderr.trim().split('\n').pop() ?? `exit ${status}`).slice(0, 160) };
    return JSON.parse(last) as Timing;
  }
}

/**
 * lossgraph and PyTorch, repetition by repetition in turns (who goes first
 * alternates), so that both see the same phases of a machine whose speed drifts.
 * Each warms up alone first.
 */
async function trainInTurns(ours: [string, string[]], peer: [string, string[]] | undefined, reps: number): Promise<[Timing, Timing | undefined]> {
  const a = new TurnTaker(...ours);
  if (!(await a.ready())) return [await a.finish(), peer ? torchPeer(peer[0], peer[1].slice(1)) : undefined];
  const b = peer ? new TurnTaker(...peer) : undefined;
  const both = b ? await b.ready() : false;
  for (let k = 0; k < reps; k++) {
    const order = both && k % 2 === 1 ? [b!, a] : both ? [a, b!] : [a];
    for (const c of order) await c.turn();
  }
  return [await a.finish(), b ? await b.finish() : undefined];
}

function python(): string | undefined {
  const candidates = [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[];
  return candidates.find((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
}

function torchPeer(py: string, args: string[]): Timing {
  const r = spawnSync(py, [PEER, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split('\n').pop();
  if (r.status !== 0 || !line) return { ms: [], error: (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`).slice(0, 160) };
  return JSON.parse(line) as Timing;
}

const fmt = (t: Timing | undefined, digits = 2) => (!t ? 'absent' : t.error ? `fails: ${t.error}` : (({ median, min, max }) => `${median.toFixed(digits)} (${min.toFixed(digits)}–${max.toFixed(digits)})`)(stats(t.ms)));
const ratio = (ours: Timing, peer: Timing | undefined) => (peer && !peer.error && !ours.error && ours.ms.length && peer.ms.length ? stats(peer.ms).median / stats(ours.ms).median : undefined);

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    const [kind, ...a] = process.argv.slice(3);
    const n = (i: number) => Number(a[i]);
    const out = kind === 'train'
      ? await lossgraphTrain(a[0]!, a[1]!.split('x').map(Number), n(2), a[3]!, a[4] as 'node' | 'web', n(5), n(6), n(7), n(8), n(9))
      : kind === 'tfjs'
        ? await tfjsTrain(a[0]!, a[1]!.split('x').map(Number), n(2), n(3), n(4), n(5), n(6))
        : await lossgraphLoss(a[0]!, n(1), n(2), n(3), n(4), n(5), n(6));
    console.log(JSON.stringify(out));
    return;
  }
  const json = flag('json');
  const say = json ? () => {} : (s: string) => console.log(s);
  const reps = Number(arg('reps', '5'));
  const steps = Number(arg('steps', '32'));
  // As lossgraph train runs on the CPU (per workload: the default depends on the batch's bytes); the page
  // fine-tunes one step per run (it evaluates after each), so the web figure stays at 1.
  const { stepsPerRunFor } = await import('../src/train/config.ts');
  const askedStepsPerRun = flag('steps-per-run') ? Number(arg('steps-per-run', '')) : undefined;
  const stepsPerRunOf = (w: (typeof WORKLOADS)[number]) => stepsPerRunFor({ stepsPerRun: askedStepsPerRun }, 4 * w.batch * (w.input as readonly number[]).reduce((a, b) => a * b, 1));
  const threads = Number(arg('threads', String(cpus().length)));
  const warmup = 5;
  const only = arg('only', '');
  const py = python();
  let torchInfo: { torch: string; blas: string[] } | undefined;
  let torchAbsent = 'no Python with torch (apt-get install python3-torch libopenblas0-openmp; PYTHON=... picks one)';
  if (py) {
    torchInfo = JSON.parse(execFileSync(py, [PEER, 'blas'], { encoding: 'utf8' }).trim()) as { torch: string; blas: string[] };
    if (!torchInfo.blas.some((l) => /openblas|mkl|blis/i.test(l))) {
      torchAbsent = `torch ${torchInfo.torch} uses the reference BLAS (${torchInfo.blas.join(', ') || 'none found'}), which makes every ratio meaningless: apt-get install libopenblas0-openmp`;
      torchInfo = undefined;
    }
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  say(`machine: ${cpus().length} × ${cpu}; Node ${process.version}; onnxruntime-node ${pkgVersion('onnxruntime-node')}, onnxruntime-web ${pkgVersion('onnxruntime-web')}`);
  say(`peers: ${torchInfo ? `PyTorch ${torchInfo.torch} (${py}) with BLAS ${torchInfo.blas.find((l) => /libblas|openblas|mkl/.test(l))}` : `PyTorch absent: ${torchAbsent}`}; TF.js ${pkgVersion('@tensorflow/tfjs') ?? 'absent'} (wasm backend)`);
  say('optimizers: sgd = SGD lr 0.01, momentum 0.9 (lossgraph, PyTorch, TF.js); adamw = AdamW lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01 (lossgraph, PyTorch), Adam lr 1e-3 in TF.js (it has no AdamW)');
  say(`every figure: ms, median (min–max) of ${reps} repetitions of ${steps} steps after a warm-up of at least ${warmup} steps and ${WARMUP_SECONDS} s; ${threads} threads for every framework`);
  say(`lossgraph node: ${WORKLOADS.map((w) => `${w.name} ${stepsPerRunOf(w)}`).join(', ')} training steps per run of the graph (lossgraph train's default on the CPU; --steps-per-run N); lossgraph web: 1 (the page's fine-tuning)`);
  const result: Record<string, unknown> = { machine: { cpus: cpus().length, cpu, node: process.version }, threads, reps, steps, stepsPerRun: Object.fromEntries(WORKLOADS.map((w) => [w.name, stepsPerRunOf(w)])), torch: torchInfo ?? { absent: torchAbsent } };

  if (!only || only === 'train') {
    say('\n## Training step (forward, cross-entropy, backward, update)\n');
    say('| workload | batch | optimizer | lossgraph node | samples/s | outside run | lossgraph web (wasm) | PyTorch | TF.js (wasm) | vs PyTorch | vs TF.js |');
    say('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const rows = [];
    for (const w of WORKLOADS) {
      const common = [w.model, w.input.join('x'), String(w.batch), w.optimizer];
      const [ours, torch] = await trainInTurns(
        [process.execPath, ['--import', 'tsx', SELF, '--child', 'train', ...common, 'node', String(threads), String(warmup), String(steps), String(reps), String(stepsPerRunOf(w))]],
        torchInfo ? [py!, [PEER, 'train', w.model, ...w.input.map(String), String(w.batch), w.optimizer, String(warmup), String(steps), String(reps), String(threads)]] : undefined,
        reps,
      );
      const web = inChild(['train', ...common, 'web', String(threads), String(warmup), String(Math.max(3, Math.round(steps / 4))), String(reps), '1']);
      if (torch && !torch.error && ours.params !== undefined && torch.params !== ours.params) throw new Error(`${w.name}: PyTorch's model has ${torch.params} parameters, lossgraph's ${ours.params}: not the same model`);
      const tfjs = inChild(['tfjs', w.model, w.input.join('x'), String(w.batch), String(threads), '2', String(Math.max(3, Math.round(steps / 4))), String(reps)]);
      const rt = ratio(ours, torch);
      const rj = ratio(ours, tfjs);
      const sps = ours.ms.length ? (1000 * w.batch) / stats(ours.ms).median : NaN;
      say(`| ${w.name} | ${w.batch} | ${w.optimizer} | ${fmt(ours)} | ${sps.toFixed(0)} | ${ours.outsideShare !== undefined ? `${(100 * ours.outsideShare).toFixed(1)}%` : ''} | ${fmt(web)} | ${fmt(torch)} | ${fmt(tfjs)} | ${rt ? `${rt.toFixed(2)}×` : '–'} | ${rj ? `${rj.toFixed(2)}×` : '–'} |`);
      rows.push({ workload: w.name, batch: w.batch, optimizer: w.optimizer, params: ours.params, lossgraph: { ...stats(ours.ms), samplesPerSecond: sps, outsideShare: ours.outsideShare, peakMiB: ours.peakMiB }, web: web.error ? { error: web.error } : stats(web.ms), torch: !torch ? null : torch.error ? { error: torch.error } : stats(torch.ms), tfjs: tfjs.error ? { error: tfjs.error } : stats(tfjs.ms), ratio_vs_torch: rt ?? null, ratio_vs_tfjs: rj ?? null, ratio_vs_web: ratio(ours, web) ?? null });
    }
    result.train = rows;
  }

  if (!only || only === 'loss') {
    say('\n## Losses: forward + backward w.r.t. the logits, B = 256 (ms; peak MiB above the inputs)\n');
    say('| loss | K | lossgraph ms | lossgraph MiB | PyTorch ms | PyTorch MiB | vs PyTorch |');
    say('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    const rows = [];
    for (const k of [10, 1000, 32000]) {
      for (const l of LOSSES) {
        const runs = k === 32000 ? 5 : 20;
        const ours = inChild(['loss', l, '256', String(k), String(threads), '3', String(runs), String(reps)]);
        const torch = torchInfo ? torchPeer(py!, ['loss', l, '256', String(k), '3', String(runs), String(reps), String(threads)]) : undefined;
        const rt = ratio(ours, torch);
        say(`| ${l} | ${k} | ${fmt(ours, 3)} | ${ours.peakMiB?.toFixed(1) ?? ''} | ${fmt(torch, 3)} | ${torch?.peakMiB?.toFixed(1) ?? ''} | ${rt ? `${rt.toFixed(2)}×` : '–'} |`);
        rows.push({ loss: l, classes: k, lossgraph: ours.error ? { error: ours.error } : { ...stats(ours.ms), peakMiB: ours.peakMiB }, torch: !torch ? null : torch.error ? { error: torch.error } : { ...stats(torch.ms), peakMiB: torch.peakMiB }, ratio_vs_torch: rt ?? null });
      }
    }
    result.losses = rows;
  }

  if (flag('e2e')) {
    say('\n## End to end: full Fashion-MNIST, cnn:32,64, ce, AdamW, batch 64, 3 epochs (data loading, validation and test included)\n');
    const { SYSTEM_FASHION_MNIST } = await import('../src/data/idx.ts');
    if (!existsSync(join(SYSTEM_FASHION_MNIST, 'train-images-idx3-ubyte.gz'))) {
      say(`absent: no full Fashion-MNIST in ${SYSTEM_FASHION_MNIST} (apt-get install dataset-fashion-mnist)`);
      result.e2e = { absent: SYSTEM_FASHION_MNIST };
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'lossgraph-bench-'));
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url)), 'train', '--data', 'fashion-mnist', '--model', 'cnn:32,64', '--loss', 'ce', '--epochs', '3', '--out', join(dir, 'run'), '--json'], { encoding: 'utf8' });
      const seconds = (performance.now() - t0) / 1000;
      rmSync(dir, { recursive: true, force: true });
      // 54,000 training images per epoch, in whole batches of 64.
      const images = 3 * Math.floor(54000 / 64) * 64;
      type E2E = { seconds?: number; imagesPerSecond?: number; testAccuracy?: number; error?: string };
      // lossgraph train uses all cores (ONNX Runtime's default), as many as the peer's threads here.
      const ours: E2E = r.status === 0 ? { seconds, imagesPerSecond: images / seconds, testAccuracy: JSON.parse(r.stdout.trim().split('\n').pop()!).test.accuracy as number } : { error: r.stderr.trim().split('\n').pop() };
      const peer = torchInfo ? torchPeer(py!, ['e2e', SYSTEM_FASHION_MNIST, 'cnn:32,64', '3', String(threads)]) as unknown as { seconds: number; trainImages: number; testAccuracy: number; error?: string } : undefined;
      const line = (name: string, o: E2E | undefined) => `| ${name} | ${!o ? 'absent' : o.error ? `fails: ${o.error}` : `${o.seconds!.toFixed(1)} s | ${o.imagesPerSecond!.toFixed(0)} | ${(100 * o.testAccuracy!).toFixed(2)}%`} |`;
      say('| | wall time | training images/s | test accuracy |');
      say('| --- | ---: | ---: | ---: |');
      say(line('lossgraph train', ours));
      const peerRow: E2E | undefined = peer && !peer.error ? { seconds: peer.seconds, imagesPerSecond: peer.trainImages / peer.seconds, testAccuracy: peer.testAccuracy } : peer;
      say(line('PyTorch, the same loop', peerRow));
      result.e2e = { lossgraph: ours, torch: peerRow ?? null, ratio_vs_torch: ours.seconds && peerRow?.seconds ? peerRow.seconds / ours.seconds : null };
    }
  }
  if (json) console.log(JSON.stringify(result));
}

function pkgVersion(name: string): string | undefined {
  const p = fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url));
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version : undefined;
}

await main();
