// The runtime's Node-only part: reading artifact folders (the manifest, the
// checkpoint, a TrainingSession opened from a folder) and finding the CUDA
// provider's libraries. The only runtime module that touches the file system;
// the rest of runtime/ also runs in a page.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FILES, parseCheckpoint, type LoadedCheckpoint, type Manifest } from '../artifacts/contract.ts';
import { parseManifest } from '../artifacts/manifest_schema.ts';
import { ArtifactError, ProviderError } from '../errors.ts';
import { CUDA_INSTALL_HINT, cudaMajorOf, describeCudaFailure, type ExecutionProvider, type SessionOptions } from './session.ts';
import { TrainingSession } from './training.ts';

export function readManifest(dir: string): Manifest {
  const path = join(dir, FILES.manifest);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ArtifactError(`${dir}: no ${FILES.manifest} (build the artifacts with lossgraph build)`);
  }
  return parseManifest(text, path);
}

/** Reads a checkpoint file and checks it holds exactly the tensors `manifest` carries. */
export function readCheckpoint(path: string, manifest: Manifest): LoadedCheckpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new ArtifactError(`${path}: cannot read the checkpoint`);
  }
  return parseCheckpoint(bytes, path, manifest);
}

/** Opens an artifact folder; `checkpoint` defaults to the folder's own. */
export async function loadTrainingSession(dir: string, opts: SessionOptions & { checkpoint?: string } = {}): Promise<TrainingSession> {
  assertProvider(opts.ep);
  const manifest = readManifest(dir);
  const ckpt = readCheckpoint(opts.checkpoint ?? join(dir, manifest.checkpoint), manifest);
  return TrainingSession.open(manifest, readFileSync(join(dir, FILES.training)), readFileSync(join(dir, FILES.eval)), ckpt, opts);
}

/** Where onnxruntime-node keeps its native libraries on this platform. */
function ortNodeBinDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
  return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

/** Libraries `ldd` reports as 'not found'. */
export function missingLibraries(lddOutput: string): string[] {
  return [...lddOutput.matchAll(/^\s*(\S+)\s*=>\s*not found/gm)].map((m) => m[1]!);
}

/**
 * Fails with one line when the CUDA provider or a library it needs is missing.
 * On Linux, `ldd` of the provider names missing CUDA and cuDNN libraries before
 * onnxruntime tries (and fails) to load them.
 */
export function assertCudaInstalled(): void {
  if (process.platform !== 'linux' && process.platform !== 'win32') {
    throw new ProviderError(`the CUDA execution provider is not available on ${process.platform}`);
  }
  const lib = join(ortNodeBinDir(), process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so');
  if (!existsSync(lib)) throw new ProviderError(CUDA_INSTALL_HINT);
  if (process.platform !== 'linux') return;
  const ldd = spawnSync('ldd', [lib], { encoding: 'utf8' });
  if (ldd.status !== 0 || !ldd.stdout) return;
  const missing = missingLibraries(ldd.stdout);
  if (missing.length) {
    // Lead with a library whose soname tells the CUDA major the provider was built against.
    const first = missing.find((l) => cudaMajorOf(l) !== undefined) ?? missing[0]!;
    const others = missing.filter((l) => l !== first);
    throw new ProviderError(`${describeCudaFailure(`${first}: cannot open shared object file`)}${others.length ? ` (also missing: ${others.join(', ')})` : ''}`);
  }
}

/** Fails with one line when `ep` cannot be used here. */
export function assertProvider(ep: ExecutionProvider | undefined): void {
  if (ep === 'cuda') assertCudaInstalled();
}
