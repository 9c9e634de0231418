// `lossgraph doctor`: what this machine can run lossgraph on. Each execution
// provider is checked by building a tiny graph and running it, so "ok" means
// a session really ran, and anything else says in one line what is missing.
import { spawnSync } from 'node:child_process';
import { Graph } from '../graph/graph.ts';
import { assertCudaInstalled } from '../runtime/node.ts';
import { Session, type SessionOptions } from '../runtime/session.ts';
import { VERSION } from '../version.ts';

export interface ProviderCheck {
  provider: string;
  ok: boolean;
  /** What ran (ms for one run), or why it cannot. */
  detail: string;
}

function tinyModel(): Uint8Array {
  const g = new Graph('doctor');
  g.output(g.softmax(g.input('x', 'float32', [2, 3]), 1), 'y');
  return g.toBytes();
}

async function check(provider: string, opts: SessionOptions, before?: () => void): Promise<ProviderCheck> {
  try {
    before?.();
    const s = await Session.create(tinyModel(), opts);
    const t0 = performance.now();
    const out = await s.run({ x: s.tensor('float32', Float32Array.from([1, 2, 3, 0, 0, 0]), [2, 3]) });
    const ms = performance.now() - t0;
    await s.release();
    const y = out['y']!.data as Float32Array;
    if (Math.abs(y[5]! - 1 / 3) > 1e-5) return { provider, ok: false, detail: `ran, but gave a wrong result (${y[5]} for 1/3)` };
    return { provider, ok: true, detail: `a session ran (${ms.toFixed(2)} ms)` };
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
      await check('cpu', { ep: 'cpu' }),
      await check('cuda', { ep: 'cuda' }, assertCudaInstalled),
      await check('wasm (onnxruntime-web in Node)', { runtime: 'web' }),
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
