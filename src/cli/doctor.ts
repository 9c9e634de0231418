// `lossgraph doctor`: what this machine can run lossgraph on. Each execution
// provider is checked by building a small CNN's artifacts (convolution, batch
// norm in training mode, max pooling, dropout, AdamW) in the forms that
// provider takes and running one training step, so "ok" means training really
// ran there; a provider that lacks a library or refuses a node says so in one line.
import { spawnSync } from 'node:child_process';
import { buildArtifacts, type ArtifactSpec } from '../artifacts/build.ts';
import type { Target } from '../graph/graph.ts';
import { assertCudaInstalled } from '../runtime/node.ts';
import type { SessionOptions } from '../runtime/session.ts';
import { TrainingSession } from '../runtime/training.ts';
import { VERSION } from '../version.ts';

export interface ProviderCheck {
  provider: string;
  ok: boolean;
  /** What ran (ms for the step), or why it cannot. */
  detail: string;
}

const CHECK_MODEL: ArtifactSpec = { model: 'cnn:4,8;dropout=0.2', loss: 'ce + 0.5*gaussian_kl(sigma=1)', classes: 4, input: [1, 8, 8], optimizer: 'adamw', seed: 0 };

async function check(provider: string, target: Target, opts: SessionOptions, before?: () => void): Promise<ProviderCheck> {
  try {
    before?.();
    const built = buildArtifacts({ ...CHECK_MODEL, ...(target === 'cpu' ? {} : { target }) });
    const session = await TrainingSession.fromBuilt(built, opts);
    const batch = 8;
    const images = Float32Array.from({ length: batch * 64 }, (_, i) => Math.sin(i));
    const labels = BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 4));
    const t0 = performance.now();
    const loss = await session.runTrainStep({ images, labels }, 1e-3);
    const ms = performance.now() - t0;
    await session.release();
    if (!Number.isFinite(loss)) return { provider, ok: false, detail: `a training step ran, but its loss is ${loss}` };
    return { provider, ok: true, detail: `a CNN training step ran (${ms.toFixed(1)} ms, loss ${loss.toFixed(3)})` };
  } catch (e) {
    return { provider, ok: false, detail: String((e as Error).message).split('\n')[0]! };
  }
}

/** GPU names from nvidia-smi, when it is installed. */
function gpus(): string[] {
  const r = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('\n').filter(Boolean) : [];
}

export async function doctor(): Promise<{ lossgraph: string; node: string; onnxruntime: Record<string, string>; gpus: string[]; providers: ProviderCheck[] }> {
  const ortNode = (await import('onnxruntime-node')).env.versions;
  return {
    lossgraph: VERSION,
    node: process.version,
    onnxruntime: Object.fromEntries(Object.entries(ortNode).map(([k, v]) => [k, String(v)])),
    gpus: gpus(),
    providers: [
      await check('cpu', 'cpu', { ep: 'cpu' }),
      await check('cuda', 'cuda', { ep: 'cuda' }, assertCudaInstalled),
      await check('wasm (onnxruntime-web in Node)', 'cpu', { runtime: 'web' }),
    ],
  };
}

export async function doctorCommand(a: { json: boolean }): Promise<void> {
  const r = await doctor();
  if (a.json) {
    console.log(JSON.stringify(r));
    return;
  }
  console.log(`lossgraph ${r.lossgraph}, Node ${r.node}, onnxruntime-node ${r.onnxruntime.common ?? JSON.stringify(r.onnxruntime)}`);
  console.log(`GPUs: ${r.gpus.length ? r.gpus.join('; ') : 'none found (no nvidia-smi, or no NVIDIA GPU)'}`);
  for (const p of r.providers) console.log(`  ${p.provider.padEnd(32)} ${p.ok ? 'ok' : 'not available'}: ${p.detail}`);
}
