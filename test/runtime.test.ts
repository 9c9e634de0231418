import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LossgraphError } from '../src/errors.ts';
import { Graph } from '../src/graph/graph.ts';
import { CUDA_INSTALL_HINT, Session } from '../src/runtime/session.ts';
import { assertCudaInstalled, assertProvider } from '../src/runtime/node.ts';

function softmaxModel(): Uint8Array {
  const g = new Graph('softmax');
  g.output(g.softmax(g.input('x', 'float32', ['batch', 3]), 1), 'y');
  return g.toBytes();
}

test('a session runs from model bytes and from a path, on node and web', async () => {
  const bytes = softmaxModel();
  const path = join(mkdtempSync(join(tmpdir(), 'lossgraph-')), 'm.onnx');
  writeFileSync(path, bytes);
  for (const [model, runtime] of [[bytes, 'node'], [path, 'node'], [bytes, 'web']] as const) {
    const s = await Session.create(model, { runtime });
    const y = (await s.run({ x: s.tensor('float32', new Float32Array([0, 0, 0, 1, 2, 3]), [2, 3]) }))['y']!.data as Float32Array;
    assert.ok(Math.abs(y[0]! - 1 / 3) < 1e-6);
    assert.ok(Math.abs(y[5]! - Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3))) < 1e-6);
    await s.release();
  }
});

/** Whether the CUDA provider (and what it links) is installed here: the CUDA tests check the 'missing' path only where it is. */
function cudaInstalled(): boolean {
  try {
    assertCudaInstalled();
    return true;
  } catch {
    return false;
  }
}

test('asking for CUDA without its provider library fails with one line saying how to install it', async (t) => {
  const installed = cudaInstalled();
  if (installed) {
    t.skip('the CUDA provider is installed here');
    return;
  }
  // Node entry points check before creating sessions (assertProvider); a session asked for CUDA directly fails with the hint too.
  assert.throws(() => assertProvider('cuda'), (e: Error) => e instanceof LossgraphError && e.message === CUDA_INSTALL_HINT);
  await assert.rejects(Session.create(softmaxModel(), { ep: 'cuda' }), (e: Error) => {
    assert.ok(e instanceof LossgraphError);
    assert.ok(e.message.endsWith(CUDA_INSTALL_HINT), e.message);
    assert.ok(!e.message.includes('\n'));
    assert.match(e.message, /npm run install:cuda/);
    return true;
  });
});

test('a model the runtime cannot load fails with one line', async () => {
  await assert.rejects(Session.create(new Uint8Array([1, 2, 3, 4])), (e: Error) => e instanceof LossgraphError && !e.message.includes('\n'));
});

test('CUDA failures become one line naming the cause', async () => {
  const { describeCudaFailure } = await import('../src/runtime/session.ts');
  const { missingLibraries } = await import('../src/runtime/node.ts');
  // onnxruntime's own words, as its CUDA provider reports each failure.
  const cases: [string, RegExp][] = [
    ['Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.12: cannot open shared object file: No such file or directory', /needs the CUDA 12 runtime, and libcublasLt\.so\.12 is missing/],
    ['/onnxruntime_src/core/session/provider_bridge_ort.cc:1539 Failed to load library libonnxruntime_providers_cuda.so with error: libcudnn.so.9: cannot open shared object file: No such file or directory', /needs cuDNN 9, and libcudnn\.so\.9 is missing/],
    ['Failed to load library /x/libonnxruntime_providers_shared.so with error: /x/libonnxruntime_providers_shared.so: cannot open shared object file: No such file or directory', /not installed: run `npm run install:cuda`/],
    ['CUDA failure 100: no CUDA-capable device is detected ; GPU=0 ; hostname=h ; file=cuda_call.cc ; line=123 ; expr=cudaSetDevice(info_.device_id);', /no GPU is visible to the CUDA provider/],
    ['[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running Conv node. Name:\'Conv_0\' Status Message: CUDA failure 2: out of memory ; GPU=0', /the GPU ran out of memory: use a smaller --batch or model/],
    ['BFCArena::AllocateRawInternal Failed to allocate memory for requested buffer of size 8589934592', /ran out of memory/],
    // The provider built against CUDA 13 asks for CUDA 13's libraries: the line names 13, not a version we assumed.
    ['Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file: No such file or directory', /needs the CUDA 13 runtime, and libcublasLt\.so\.13 is missing: install the CUDA 13 libraries/],
    ['Failed to load library libonnxruntime_providers_cuda.so with error: libcufft.so.11: cannot open shared object file: No such file or directory', /needs libcufft\.so\.11 from the CUDA runtime it was built against/],
    ['CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version', /driver is too old/],
    ['something else\nwith a second line', /^the CUDA execution provider failed: something else$/],
  ];
  for (const [raw, expected] of cases) {
    const line = describeCudaFailure(raw);
    assert.ok(!line.includes('\n'), line);
    assert.match(line, expected);
  }
  const ldd = '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibcublasLt.so.12 => not found\n\tlibcudnn.so.9 => not found\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n';
  assert.deepEqual(missingLibraries(ldd), ['libcublasLt.so.12', 'libcudnn.so.9']);
});

test('lossgraph doctor trains one CNN step on each provider and says why one is missing', async () => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, ['bin/lossgraph.js', 'doctor', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
  const byName = Object.fromEntries(report.providers.map((p: { provider: string }) => [p.provider.split(' ')[0], p]));
  assert.equal(byName.cpu.ok, true);
  assert.equal(byName.wasm.ok, true);
  assert.match(byName.cpu.detail, /^a CNN training step ran \(/);
  const cudaHere = cudaInstalled();
  if (!cudaHere) {
    assert.equal(byName.cuda.ok, false);
    assert.equal(byName.cuda.detail, CUDA_INSTALL_HINT);
  }
});

test('lossgraph train --ep cuda without the provider: one line, exit 2, nothing written', async (t) => {
  const cudaHere = cudaInstalled();
  if (cudaHere) {
    t.skip('the CUDA provider is installed here');
    return;
  }
  const { spawnSync } = await import('node:child_process');
  const { existsSync, mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const out = join(mkdtempSync(join(tmpdir(), 'lossgraph-cuda-')), 'run');
  const r = spawnSync(process.execPath, ['bin/lossgraph.js', 'train', '--ep', 'cuda', '--epochs', '1', '--model', 'mlp:8', '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim(), `lossgraph: ${CUDA_INSTALL_HINT}`);
  assert.equal(existsSync(out), false);
});
