// Checks that lossgraph's losses mean what PyTorch's mean: runs each spec
// through `lossgraph loss` (float64) and PyTorch (Debian's python3-torch) on
// the same inputs, and prints the largest differences. Not part of npm test:
// it needs PyTorch (apt-get install python3-torch).
//   node --import tsx bench/pytorch_semantics.ts      (PYTHON=... picks the interpreter)
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runLossProbe, type LossProbeInput } from '../src/cli/loss.ts';
import { Rng } from '../src/models/random.ts';

const B = 6;
const K = 7;
const cases: [string, string[]][] = [
  ['ce', []], ['ce', ['weights']], ['ce(ignore_index=-1)', ['weights', 'ignored']], ['ce(reduction=sum)', ['weights']],
  ['label_smoothing(eps=0.1)', []], ['label_smoothing(eps=0.1)', ['weights']],
  ['label_smoothing(eps=0.2, ignore_index=-1)', ['weights', 'ignored']],
  ['kl', ['distributions']], ['kl(T=2)', ['distributions']], ['gaussian_kl(sigma=2)', []],
  ['mse', []], ['l1', []], ['mse(input=raw)', ['targets']], ['bce', ['multihot']],
];

const r = new Rng(2024);
const lines: string[] = [];
for (const [spec, extra] of cases) {
  const x: LossProbeInput = {
    logits: Array.from({ length: B }, () => Array.from({ length: K }, () => r.normal() * 3)),
    labels: Array.from({ length: B }, () => r.int(K)),
  };
  if (extra.includes('ignored')) x.labels[2] = -1;
  if (extra.includes('weights')) x.weights = Array.from({ length: K }, () => r.uniform(0.2, 3));
  if (extra.includes('targets')) x.targets = Array.from({ length: B }, () => Array.from({ length: K }, () => r.normal()));
  if (extra.includes('multihot')) x.targets = Array.from({ length: B }, () => Array.from({ length: K }, () => (r.next() < 0.3 ? 1 : r.next() < 0.5 ? 0 : 0.4)));
  if (extra.includes('distributions')) {
    x.targets = Array.from({ length: B }, () => {
      const w = Array.from({ length: K }, (_, k) => (k % 3 === 0 ? 0 : r.next()));
      const s = w.reduce((a, b) => a + b, 0);
      return w.map((v) => v / s);
    });
  }
  const out = await runLossProbe(spec, x);
  lines.push(JSON.stringify({ spec, extra: extra.join(','), input: x, ...out }));
}
const script = fileURLToPath(new URL('./pytorch_semantics.py', import.meta.url));
const python = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const result = execFileSync(python, [script], { input: lines.join('\n'), encoding: 'utf8' });
console.log('| spec | inputs | PyTorch loss | abs diff, loss | max abs diff, gradient |');
console.log('| --- | --- | ---: | ---: | ---: |');
let worst = 0;
for (const line of result.trim().split('\n')) {
  const c = JSON.parse(line);
  worst = Math.max(worst, c.loss_diff, c.grad_diff);
  console.log(`| \`${c.spec}\` | ${c.extra || '-'} | ${c.torch_loss.toFixed(6)} | ${c.loss_diff.toExponential(1)} | ${c.grad_diff.toExponential(1)} |`);
}
console.log(`\nlargest difference: ${worst.toExponential(2)}`);
process.exitCode = worst < 1e-9 ? 0 : 1;
