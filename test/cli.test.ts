// `lossgraph loss` end to end: a child process, JSON on stdin, one line out.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lossProbeGraph } from '../src/cli/loss.ts';
import { assertBackwardOps, assertStandardOnnx } from './helpers/standard.ts';

const BIN = fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url));

function cli(args: string[], stdin = '') {
  const r = spawnSync(process.execPath, [BIN, ...args], { input: stdin, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Closed-form cross-entropy and its gradient softmax(z) - onehot(y), over B. */
function referenceCe(logits: number[][], labels: number[]) {
  let loss = 0;
  const grad = logits.map((z, i) => {
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    loss += -(z[labels[i]!]! - m - Math.log(s));
    return e.map((v, k) => (v / s - (k === labels[i] ? 1 : 0)) / logits.length);
  });
  return { loss: loss / logits.length, grad };
}

function assertClose(actual: { loss: number; grad: number[][] }, expected: { loss: number; grad: number[][] }, tol: number) {
  // Relative to the value's size where it is large (the loss at |z| = 1e4), absolute below 1.
  assert.ok(Math.abs(actual.loss - expected.loss) <= tol * Math.max(1, Math.abs(expected.loss)), `loss ${actual.loss} vs ${expected.loss}`);
  expected.grad.forEach((row, i) => row.forEach((v, k) => {
    assert.ok(Math.abs(actual.grad[i]![k]! - v) <= tol, `grad[${i}][${k}] ${actual.grad[i]![k]} vs ${v}`);
  }));
}

test('lossgraph loss --spec ce prints the closed-form loss and gradient', () => {
  const input = { logits: [[1, 2, 3], [0, 0, 5]], labels: [2, 0] };
  const r = cli(['loss', '--spec', 'ce', '--json'], JSON.stringify(input));
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  assertClose(JSON.parse(lines[0]!), referenceCe(input.logits, input.labels), 1e-6);
});

test('lossgraph loss stays finite and exact at |z| = 1e4', () => {
  const input = { logits: [[1e4, -1e4, 0], [-1e4, 1e4, 1e4], [0, 0, -1e4]], labels: [1, 0, 2] };
  const r = cli(['loss', '--spec', 'ce'], JSON.stringify(input));
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(Number.isFinite(out.loss) && out.grad.flat().every(Number.isFinite));
  assertClose(out, referenceCe(input.logits, input.labels), 1e-6);
});

const bad: [string, string[], string, RegExp][] = [
  ['ragged logits', ['--spec', 'ce'], '{"logits":[[1,2,3],[0,0]],"labels":[2,0]}', /logits\[1\] has 2 values but logits\[0\] has 3/],
  ['a label out of range', ['--spec', 'ce'], '{"logits":[[1,2,3],[0,0,5]],"labels":[2,3]}', /labels\[1\] = 3 is out of range: with 3 classes a label is 0\.\.2/],
  ['a negative label', ['--spec', 'ce'], '{"logits":[[1,2]],"labels":[-1]}', /labels\[0\] = -1 is out of range/],
  ['a fractional label', ['--spec', 'ce'], '{"logits":[[1,2]],"labels":[0.5]}', /labels\[0\] = 0.5 is not an integer/],
  ['bad JSON', ['--spec', 'ce'], '{"logits":[[1,2', /stdin is not valid JSON/],
  ['a non-number logit', ['--spec', 'ce'], '{"logits":[[1,"x"]],"labels":[0]}', /logits\[0\]\[1\] is not a finite number/],
  ['too few labels', ['--spec', 'ce'], '{"logits":[[1,2],[3,4]],"labels":[0]}', /1 labels for 2 rows/],
  ['an unknown loss', ['--spec', 'nope'], '{}', /loss spec 'nope': unknown loss 'nope' \(known losses: .*\bce\b.*\) at column 1/],
];
for (const [what, args, stdin, message] of bad) {
  test(`lossgraph loss rejects ${what} with one line and exit code 2`, () => {
    const r = cli(['loss', ...args], stdin);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^lossgraph: /);
    assert.match(lines[0]!, message);
  });
}

test('the probe graph is standard ONNX with an allowed backward', () => {
  const bytes = lossProbeGraph('ce', 4, 3).graph.toBytes();
  assertStandardOnnx(bytes, 'ce probe');
  assertBackwardOps(bytes, 'ce probe');
});

test('lossgraph loss reads targets, groups, weights and --param', () => {
  const run = (spec: string, input: object, extra: string[] = []) => {
    const r = cli(['loss', '--spec', spec, '--json', ...extra], JSON.stringify(input));
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { loss: number; grad: number[][] };
  };
  const logits = [[1, 2, 3], [0, 0, 5]];
  // kl against targets equal to softmax(logits) is 0, with a 0 gradient.
  const soft = logits.map((z) => z.map((v) => Math.exp(v) / z.reduce((s, u) => s + Math.exp(u), 0)));
  const k = run('kl', { logits, labels: [2, 0], targets: soft });
  assert.ok(Math.abs(k.loss) < 1e-12 && k.grad.flat().every((g) => Math.abs(g) < 1e-12));
  // hierarchical with every class in one group is 0.
  assert.ok(Math.abs(run('hierarchical', { logits, labels: [2, 0], groups: [0, 0, 0] }).loss) < 1e-12);
  // Weights equal to 2 everywhere leave the weighted mean unchanged.
  const plain = run('ce', { logits, labels: [2, 0] });
  assert.ok(Math.abs(run('ce', { logits, labels: [2, 0], weights: [2, 2, 2] }).loss - plain.loss) < 1e-12);
  // w*ce + (1-w)*ce is ce for any w.
  assert.ok(Math.abs(run('w*ce + (1-w)*ce', { logits, labels: [2, 0] }, ['--param', 'w=0.3']).loss - plain.loss) < 1e-12);
});

const badExtra: [string, string[], string, RegExp][] = [
  ['missing targets', ['--spec', 'bce'], '{"logits":[[1,2]],"labels":[0]}', /loss spec 'bce' needs "targets" in the input/],
  ['targets of the wrong width', ['--spec', 'kl'], '{"logits":[[1,2]],"labels":[0],"targets":[[1,0,0]]}', /"targets" rows have 3 values, expected one per class \(2\)/],
  ['a group map of the wrong length', ['--spec', 'hierarchical'], '{"logits":[[1,2,3]],"labels":[0],"groups":[0,1]}', /groups: 2 group entries for 3 classes/],
  ['an unbound parameter', ['--spec', 'w*ce'], '{"logits":[[1,2]],"labels":[0]}', /parameter 'w' has no value: bind it \(e\.g\. --param w=0\.5\)/],
  ['a malformed --param', ['--spec', 'w*ce', '--param', 'w=abc'], '{}', /--param w=abc: expected NAME=NUMBER/],
];
for (const [what, args, stdin, message] of badExtra) {
  test(`lossgraph loss rejects ${what} with one line and exit code 2`, () => {
    const r = cli(['loss', ...args], stdin);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, message);
  });
}

test('a large output reaches a slow reader whole: the command waits for stdout to drain before it exits', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'lossgraph-pipe-'));
  // B = 4, K = 1000: about 90 KB of JSON, more than a pipe buffer holds.
  const logits = Array.from({ length: 4 }, (_, b) => Array.from({ length: 1000 }, (_, k) => Math.sin(b * 1000 + k)));
  writeFileSync(join(dir, 'in.json'), JSON.stringify({ logits, labels: [1, 2, 3, 4] }));
  const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" loss --spec ce --json < in.json | (sleep 1; cat)`], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 24 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.length > 65536, `only ${r.stdout.length} bytes arrived`);
  const out = JSON.parse(r.stdout);
  assert.equal(out.grad.length, 4);
  assert.equal(out.grad[3].length, 1000);
});

test('user names never reach Object\'s prototype: a parameter or level named __proto__ or constructor is the user\'s', () => {
  const input = { logits: [[1, 2, 3], [0, 0, 5]], labels: [2, 0] };
  const half = (r: ReturnType<typeof cli>) => {
    assert.equal(r.code, 0, r.stderr);
    assertClose(JSON.parse(r.stdout), { loss: referenceCe(input.logits, input.labels).loss / 2, grad: referenceCe(input.logits, input.labels).grad.map((row) => row.map((v) => v / 2)) }, 1e-9);
  };
  half(cli(['loss', '--spec', '__proto__*ce', '--json'], JSON.stringify({ ...input, params: JSON.parse('{"__proto__": 0.5}') })));
  half(cli(['loss', '--spec', '__proto__*ce', '--param', '__proto__=0.5', '--json'], JSON.stringify(input)));
  half(cli(['loss', '--spec', 'constructor*ce', '--param', 'constructor=0.5', '--json'], JSON.stringify(input)));
  const unbound = cli(['loss', '--spec', 'constructor*ce'], JSON.stringify(input));
  assert.equal(unbound.code, 2);
  assert.match(unbound.stderr, /parameter 'constructor' has no value/);
  const level = cli(['loss', '--spec', 'hierarchical(level=constructor)'], JSON.stringify({ logits: [[1, 2, 3, 4], [0, 0, 5, 1]], labels: [2, 0], groups: [0, 0, 1, 1] }));
  assert.equal(level.code, 2);
  assert.match(level.stderr, /unknown level 'constructor'; known levels: coarse/);
});

test('the probe refuses what training refuses and never prints a non-finite loss: K < 2, overflowing weights, integers beyond 2^53', () => {
  const input = { logits: [[1, 2, 3], [0, 0, 5]], labels: [2, 0] };
  const cases: [string, unknown, RegExp][] = [
    ['sparse_lsr', { logits: [[1], [0]], labels: [0, 0] }, /the input has 1 class; a loss needs at least 2/],
    ['minmax', { logits: [[1, 2], [0, 1]], labels: [0, 0], embeddings: [[1, 0]] }, /the input has 1 class; a loss needs at least 2/],
    ['1e308*ce', input, /the loss of '1e308\*ce' is Infinity for this input/],
    ['ce(ignore_index=18446744073709551616)', input, /'ignore_index' of 'ce' is too large: integers must lie within ±9007199254740991 at column 4/],
  ];
  for (const [spec, body, expected] of cases) {
    const r = cli(['loss', '--spec', spec, '--json'], JSON.stringify(body));
    assert.equal(r.code, 2, `${spec}: ${r.stdout}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr.trim(), expected);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});

test('targets are checked where they enter: kl needs distributions, bce needs [0, 1] (probe JSON and CSV columns), one line naming the row', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const probe = (spec: string, targets: number[][]) => cli(['loss', '--spec', spec], JSON.stringify({ logits: [[1, 2, 3], [0, 0, 5]], labels: [2, 0], targets }));
  const cases: [ReturnType<typeof cli>, RegExp][] = [
    [probe('kl', [[0.5, 0.5, 0.1], [0, 0, 1]]), /^lossgraph: "targets"\[0\]: the targets sum to 1\.1; 'kl' needs each row to be a distribution summing to 1$/],
    [probe('kl', [[0.2, 0.8, 0], [-0.2, 0.6, 0.6]]), /^lossgraph: "targets"\[1\]: target 0 is -0\.2; 'kl' needs non-negative targets/],
    [probe('0.5*ce + 0.5*bce', [[0, 1, 2], [0, 0, 1]]), /^lossgraph: "targets"\[0\]: target 2 is 2; 'bce' needs targets in \[0, 1\]$/],
  ];
  const dir = mkdtempSync(join(tmpdir(), 'lossgraph-targets-'));
  const csv = join(dir, 'data.csv');
  writeFileSync(csv, `f1,f2,y1,y2\n${Array.from({ length: 20 }, (_, i) => `${i},${i % 3},${i === 7 ? 1.5 : 0.25},0.5`).join('\n')}\n`);
  cases.push([cli(['train', '--data', `csv:${csv}`, '--target-columns', 'y1,y2', '--model', 'mlp:4', '--loss', 'bce', '--epochs', '1', '--out', join(dir, 'run')]), /example 8: target 0 is 1\.5; 'bce' needs targets in \[0, 1\]/]);
  for (const [r, expected] of cases) {
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr.trim(), expected);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  assert.equal(probe('kl', [[0.2, 0.8, 0], [0, 0, 1]]).code, 0);
});

test('flags a person mistypes are one line and exit 2, before anything is written (issue 27 items 9, 18, 19, 20)', async () => {
  const { mkdtempSync, existsSync, readFileSync, writeFileSync, cpSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'lossgraph-flags-'));
  const train = (...extra: string[]) => cli(['train', '--data', 'embedded', '--model', 'mlp:8', '--epochs', '1', ...extra, '--out', join(dir, 'x')]);
  const cases: [ReturnType<typeof cli>, RegExp][] = [
    [train('--epochs', '2'), /--epochs is given twice \(--epochs 1, then --epochs 2\); give it once/],
    [train('--lr-step-gamma', '-5'), /--lr-step-gamma must be a positive finite number, got -5/],
    [train('--seed', ''), /--seed: an empty value/],
    [train('--lr', '1e309'), /--lr must be a positive finite number, got Infinity/],
    [cli(['serve', dir, '--host', '']), /--host: an empty value/],
    // Text for a number: the text as typed, never "NaN" (issue 24 item 8).
    [cli(['serve', dir, '--port', 'abc']), /^lossgraph: --port abc: not a number$/m],
    [cli(['serve', dir, '--port=8o8o']), /^lossgraph: --port 8o8o: not a number$/m],
    [cli(['train', '--data', 'embedded', '--batch', 'ten', '--out', join(dir, 'x')]), /^lossgraph: --batch ten: not a number$/m],
    // The schema run.json is read back with checks runs made from flags too: no run starts that its run.json would refuse.
    [train('--seed', '2.5'), /^lossgraph: --seed must be a whole number, got 2\.5$/m],
    [train('--seed', '1e12'), /^lossgraph: --seed must be less than or equal to 2147483647, got 1000000000000$/m],
    [train('--batch', '1e7'), /^lossgraph: --batch must be less than or equal to 1000000, got 10000000$/m],
  ];
  for (const [r, expected] of cases) {
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, expected);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  assert.equal(existsSync(join(dir, 'x')), false, 'nothing written');
  // --resume takes the run's own settings: others are refused, not ignored.
  const run = join(dir, 'run');
  assert.equal(cli(['train', '--data', 'embedded', '--model', 'mlp:8', '--epochs', '1', '--out', run]).code, 0);
  const resumed = cli(['train', '--resume', run, '--epochs', '3', '--out', join(dir, 'y')]);
  assert.equal(resumed.code, 2);
  assert.match(resumed.stderr, /--resume continues a run with the settings in its run\.json; --epochs, --out would be ignored/);
  // A manifest naming a file outside its run is refused.
  const forged = join(dir, 'forged');
  cpSync(run, forged, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(forged, 'manifest.json'), 'utf8'));
  writeFileSync(join(forged, 'manifest.json'), JSON.stringify({ ...manifest, checkpoint: '../../../etc/hostname' }));
  const ev = cli(['eval', '--run', forged]);
  assert.equal(ev.code, 2);
  assert.match(ev.stderr, /manifest\.json: checkpoint: is not a file name in the run's folder/);
  // A name with a newline cannot forge a second line.
  const odd = join(dir, 'x\nlossgraph: done, all fine');
  const forgedLine = cli(['eval', '--run', odd]);
  assert.equal(forgedLine.code, 2);
  assert.equal(forgedLine.stderr.trim().split('\n').length, 1, forgedLine.stderr);
  assert.match(forgedLine.stderr, /x\\nlossgraph: done, all fine/);
});

test('class weights that no term reads are refused in one line, in the probe and in training (issue 26 item 9)', async () => {
  const { existsSync, mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const probe = cli(['loss', '--spec', 'sparse_lsr'], JSON.stringify({ logits: [[1, 2, 3], [0, 0, 5]], labels: [2, 0], weights: [1, 2, 3] }));
  assert.equal(probe.code, 2);
  assert.match(probe.stderr, /"weights": no term of 'sparse_lsr' reads class weights \(ce, label_smoothing and focal do\)/);
  const out = join(mkdtempSync(join(tmpdir(), 'lossgraph-cw-')), 'run');
  const train = cli(['train', '--data', 'embedded', '--model', 'mlp:8', '--loss', 'coral', '--class-weights', '1,1,1,1,1,1', '--epochs', '1', '--out', out]);
  assert.equal(train.code, 2);
  assert.match(train.stderr, /class weights: no term of 'coral' reads them/);
  assert.equal(existsSync(out), false, 'nothing written');
  const ok = cli(['loss', '--spec', '0.5*ce + 0.5*sparse_lsr', '--json'], JSON.stringify({ logits: [[1, 2, 3], [0, 0, 5]], labels: [2, 0], weights: [1, 2, 3] }));
  assert.equal(ok.code, 0, ok.stderr);
});

test('--param takes decimal numbers only, as the spec language does (0x10 is not 16) (issue 26 item 7, part)', () => {
  const input = JSON.stringify({ logits: [[1, 2, 3], [0, 0, 5]], labels: [2, 0] });
  for (const bad of ['w=0x10', 'w=', 'w=1_000', 'w=Infinity']) {
    const r = cli(['loss', '--spec', 'w*ce', '--param', bad], input);
    assert.equal(r.code, 2, bad);
    assert.match(r.stderr, /expected NAME=NUMBER|an empty value/);
  }
  for (const good of ['w=0.5', 'w=.5', 'w=5e-1', 'w=+0.5']) assert.equal(cli(['loss', '--spec', 'w*ce', '--param', good], input).code, 0, good);
});

test('graph tensor names are reserved in the spec language, a spec may begin with a minus, and an unused --param is a warning (issue 26 item 7)', async () => {
  const { RESERVED_NAMES } = await import('../src/losses/spec.ts');
  const { TENSORS, GRAD_NORM } = await import('../src/artifacts/contract.ts');
  const { attachSpecValues } = await import('../src/cli/main.ts');
  // Every tensor the artifacts name is reserved, so no parameter can collide with one.
  for (const name of [...Object.values(TENSORS), GRAD_NORM]) assert.ok(RESERVED_NAMES.has(name), name);
  const input = JSON.stringify({ logits: [[1, 2, 3], [0, 0, 5]], labels: [2, 0] });
  for (const [spec, col] of [['ce + loss*kl', 6], ['logits*ce', 1], ['ce + labels*focal', 6], ['gaussian_kl(sigma=weights)', 19]] as const) {
    const r = cli(['loss', '--spec', spec], input);
    assert.equal(r.code, 2, spec);
    assert.match(r.stderr.trim(), new RegExp(`^lossgraph: loss spec '.*': '\\w+' cannot be a parameter name: the graphs already have a tensor of that name .* at column ${col}$`));
  }
  // A choice argument's value is not a parameter: minmax's push=seed is its own word.
  const { parseLossSpec } = await import('../src/losses/loss_spec.ts');
  assert.doesNotThrow(() => parseLossSpec('minmax(push=seed)'));
  const bound = cli(['loss', '--spec', 'w*ce', '--param', 'targets=1'], input);
  assert.equal(bound.code, 2);
  assert.match(bound.stderr, /--param targets=1: 'targets' cannot be a parameter name/);
  // A leading minus: the value of --spec, not a flag, in both spellings; the same as ce.
  const plain = cli(['loss', '--spec', 'ce'], input);
  for (const args of [['--spec', '-1*-1*ce'], ['--spec=-1*-1*ce'], ['--spec', '-(-1)*ce']]) {
    const r = cli(['loss', ...args], input);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, plain.stdout);
  }
  assert.deepEqual(attachSpecValues(['compare', '--losses', 'ce', '-1*-1*ce', '--seeds', '2', '--loss', '-.5*-2*ce', '--', '--spec', '-1']),
    ['compare', '--losses=ce', '--losses=-1*-1*ce', '--seeds', '2', '--loss=-.5*-2*ce', '--', '--spec', '-1']);
  // An unused --param changes nothing: a warning naming it and the spec's own parameters; the probe still answers.
  const unused = cli(['loss', '--spec', 'w*ce', '--param', 'w=1', '--param', 'wx=2'], input);
  assert.equal(unused.code, 0);
  assert.equal(unused.stdout, plain.stdout);
  assert.equal(unused.stderr.trim(), "lossgraph: warning: --param wx is not a parameter of the loss spec 'w*ce' (its parameters: w); it changes nothing");
  // A sweep over a name the spec does not read would train one model over and over: refused.
  const sweep = cli(['sweep', '--data', 'embedded', '--model', 'mlp:8', '--loss', 'ce', '--param', 'w=0:1:0.5']);
  assert.equal(sweep.code, 2);
  assert.match(sweep.stderr.trim(), /^lossgraph: --param w=\.\.\.: 'w' is not a parameter of the loss spec 'ce', so every row would train the same model$/);
});
