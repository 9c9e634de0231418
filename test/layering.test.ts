// The data flow reads one way: spec -> graph -> artifacts -> runtime -> driver
// -> grids / report / web -> cli. A module imports only from its own layer or layers to
// its left; the compiler and the page use no Node built-ins; the runtime needs
// only the artifact contract (no compiler module), with file access in its one
// Node-only module. This test reads every import in src/ and web/.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Position in the flow; files directly in src/ (errors, hyperparameters, version) stand outside it and import nothing of it. */
const RANK: Record<string, number> = { onnx: 0, graph: 1, autograd: 2, losses: 2, models: 2, optim: 2, artifacts: 3, runtime: 4, data: 4, train: 5, grid: 6, web: 6, cli: 7 };
const COMPILER = new Set(['onnx', 'graph', 'autograd', 'losses', 'models', 'optim']);
/** Node-only modules: allowed Node built-ins, and never reached from the page. */
const NODE_ONLY = new Set(['src/artifacts/durable_write.ts', 'src/artifacts/files.ts', 'src/artifacts/folders.ts', 'src/artifacts/model_file.ts', 'src/runtime/node.ts']);
/** What the runtime may import besides itself: the contract and what the contract stands on. */
const RUNTIME_MAY = new Set(['src/artifacts/contract.ts', 'src/artifacts/manifest_schema.ts', 'src/artifacts/safetensors.ts', 'src/onnx/proto.ts', 'src/onnx/dtype.ts']);

function* walk(dir: string): Generator<string> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) yield p;
  }
}

/** 'graph' for src/graph/x.ts, 'web' for web/x.ts, undefined for src/x.ts. */
function layerOf(rel: string): string | undefined {
  const parts = rel.split('/');
  if (parts[0] === 'web') return 'web';
  return parts.length > 2 ? parts[1] : undefined;
}

/** Every module's relative imports (static, re-exports and dynamic), by repository-relative path. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of [...walk(join(root, 'src')), ...walk(join(root, 'web'))]) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)]
      .map((m) => (m[1] ?? m[2])!)
      .filter((s) => s.startsWith('.'))
      .map((s) => relative(root, resolve(dirname(file), s)));
    graph.set(relative(root, file), targets);
  }
  return graph;
}

/** Import cycles, each as the chain of modules that closes it (a depth-first search; one chain per cycle found). */
export function importCycles(): string[] {
  const graph = importGraph();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (m: string) => {
    state.set(m, 'open');
    stack.push(m);
    for (const t of graph.get(m) ?? []) {
      if (state.get(t) === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t].join(' -> '));
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(m, 'done');
  };
  for (const m of [...graph.keys()].sort()) if (!state.has(m)) visit(m);
  return cycles;
}

export function violations(): string[] {
  const found: string[] = [];
  for (const file of [...walk(join(root, 'src')), ...walk(join(root, 'web'))]) {
    const rel = relative(root, file);
    const from = layerOf(rel);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = (m[1] ?? m[2])!;
      const where = `${rel}:${text.slice(0, m.index).split('\n').length}`;
      if (spec.startsWith('node:')) {
        if (!NODE_ONLY.has(rel) && (from === undefined || COMPILER.has(from) || from === 'web' || rel === 'src/artifacts/contract.ts' || rel === 'src/artifacts/build.ts' || rel === 'src/artifacts/safetensors.ts' || (from === 'runtime'))) {
          found.push(`${where}: ${spec} in a module that must also run in a page`);
        }
        continue;
      }
      if (!spec.startsWith('.')) continue;
      const target = relative(root, resolve(dirname(file), spec));
      const to = layerOf(target);
      if (from === 'web' && NODE_ONLY.has(target)) found.push(`${where}: the page imports the Node-only ${target}`);
      if (to === undefined || from === undefined || to === from) continue;
      if (RANK[to]! > RANK[from]!) found.push(`${where}: ${from}/ imports ${target}, which is downstream`);
      if (from === 'runtime' && !RUNTIME_MAY.has(target)) found.push(`${where}: the runtime imports ${target}; it may use only the artifact contract`);
    }
  }
  return found;
}

test('imports follow the data flow; the compiler, the contract and the page use no Node built-ins', () => {
  assert.deepEqual(violations(), []);
});

test('no import cycle, within a layer or across layers', () => {
  assert.deepEqual(importCycles(), []);
});
