// `npm run bench:page-load`: how long the exported page takes to be ready to
// classify, measured as a person meets it: a `cnn:16,32` run on 3×32×32
// images, exported and served by `lossgraph serve`, opened in Debian's
// headless Chromium. Per load, in a fresh browser profile (nothing cached):
// navigation to the first prediction of a sample image, the page's own stage
// times (model fetched, session created, warm-up run), and the bytes that
// crossed the wire; then a second visit in the same profile (what the HTTP
// cache saves). Median, min and max of --reps loads, for each browser set-up:
// plain (no WebGPU adapter: the wasm path) and with --enable-unsafe-webgpu
// (SwiftShader's software adapter, which the page declines unless asked).
// Then the same for an imported full-size MobileNetV2 (torchvision's
// architecture, random weights, exported by bench/export_mobilenet.py with
// Debian's python3-torch; skipped where that is missing), head fine-tuned.
//
//   npm run bench:page-load [-- --reps 5] [--json]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { exportBundle } from '../src/cli/export.ts';
import { serve } from '../src/cli/serve.ts';
import { DEFAULT_CONFIG } from '../src/train/config.ts';
import { runTraining } from '../src/train/driver.ts';
import { CHROMIUM } from './webgpu/harness.ts';
import { writeFolder } from '../test/helpers/web.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const REPS = Number(arg('reps', '5'));
const JSON_OUT = process.argv.includes('--json');

interface Load {
  firstPredictionMs: number;
  timings: Record<string, number>;
  transferredBytes: number;
  backend: string;
  repeatVisitMs: number;
  repeatTransferredBytes: number;
}

async function oneLoad(browser: Browser, url: string): Promise<Load> {
  const context = await browser.newContext();
  const page = await context.newPage();
  let bytes = 0;
  page.on('requestfinished', async (r) => {
    const s = await r.sizes().catch(() => undefined);
    if (s) bytes += s.responseBodySize + s.responseHeadersSize;
  });
  const visit = async () => {
    bytes = 0;
    await page.goto(url);
    await page.waitForFunction(() => (globalThis as { lossgraph?: unknown }).lossgraph !== undefined);
    const r = await page.evaluate(async () => {
      type App = { ready: Promise<void>; timings: Record<string, number>; backend: string; meta: { samples: { file: string }[] }; classifyUrl(u: string): Promise<void> };
      const app = (globalThis as unknown as { lossgraph: App }).lossgraph;
      await app.ready;
      await app.classifyUrl(app.meta.samples[0]!.file);
      return { at: performance.now(), timings: app.timings, backend: app.backend };
    });
    await page.waitForLoadState('networkidle');
    return { ...r, bytes };
  };
  const first = await visit();
  const second = await visit();
  await context.close();
  return { firstPredictionMs: first.at, timings: first.timings, transferredBytes: first.bytes, backend: first.backend, repeatVisitMs: second.at, repeatTransferredBytes: second.bytes };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s.at(-1)! };
};

interface Workload {
  name: string;
  model: string;
  size: [number, number, number];
  setups: (readonly [string, readonly string[]])[];
}

const SETUPS = [['no WebGPU adapter', []], ['--enable-unsafe-webgpu (SwiftShader)', ['--enable-unsafe-webgpu']]] as const;

/** The imported-model workload, when Debian's python3-torch can export the model here. */
function mobilenet(dir: string): Workload | undefined {
  const python = '/usr/bin/python3';
  const out = join(dir, 'mobilenet_v2.onnx');
  if (!existsSync(python)) return undefined;
  const r = spawnSync(python, [fileURLToPath(new URL('./export_mobilenet.py', import.meta.url)), out], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`(no imported-model row: ${python} could not export MobileNetV2: ${r.stderr.trim().split('\n').pop()})`);
    return undefined;
  }
  return { name: `imported MobileNetV2 (${(Number(r.stdout.trim()) / 1e6).toFixed(1)} M parameters), 3x96x96, head trained`, model: `onnx:${out};head=replace;train=head`, size: [3, 96, 96], setups: [SETUPS[0]] };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lossgraph-page-load-'));
  await writeFolder(join(dir, 'data'), 20, 1);
  const workloads: Workload[] = [{ name: 'cnn:16,32 on 3x32x32', model: 'cnn:16,32', size: [3, 32, 32], setups: [...SETUPS] }];
  const imported = process.argv.includes('--no-imported') ? undefined : mobilenet(dir);
  if (imported) workloads.push(imported);
  const { chromium } = await import('playwright-core');
  const results: Record<string, unknown>[] = [];
  for (const [w, workload] of workloads.entries()) {
    const folder = join(dir, `w${w}`);
    mkdirSync(folder);
    await runTraining({ ...DEFAULT_CONFIG, data: `folder:${join(dir, 'data')}`, dataOptions: { imageSize: workload.size }, model: workload.model, loss: 'ce', epochs: 1, batch: 16 }, join(folder, 'run'));
    const bundle = await exportBundle(join(folder, 'run'), join(folder, 'web'));
    const { server, url } = await serve(join(folder, 'web'), { port: 0 });
    if (!JSON_OUT) console.log(`\n## ${workload.name}: bundle ${(bundle.bytes / 1e6).toFixed(1)} MB on disk`);
    try {
      for (const [name, args] of workload.setups) {
        const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', ...args] });
        const loads: Load[] = [];
        for (let i = 0; i < REPS; i++) loads.push(await oneLoad(browser, url));
        const browserVersion = browser.version();
        await browser.close();
        const stages = [...new Set(loads.flatMap((l) => Object.keys(l.timings)))];
        const row = {
          workload: workload.name,
          setup: name,
          browser: `Chromium ${browserVersion}`,
          backend: [...new Set(loads.map((l) => l.backend))].join(', '),
          firstPredictionMs: stats(loads.map((l) => l.firstPredictionMs)),
          stagesMedianMs: Object.fromEntries(stages.map((k) => [k, stats(loads.map((l) => l.timings[k] ?? NaN)).median])),
          transferredBytes: stats(loads.map((l) => l.transferredBytes)).median,
          repeatVisitMs: stats(loads.map((l) => l.repeatVisitMs)),
          repeatTransferredBytes: stats(loads.map((l) => l.repeatTransferredBytes)).median,
        };
        results.push(row);
        if (!JSON_OUT) {
          console.log(`\n${name}: ${row.browser}, page backend ${row.backend}`);
          console.log(`  navigation to first prediction: median ${row.firstPredictionMs.median.toFixed(0)} ms (min ${row.firstPredictionMs.min.toFixed(0)}, max ${row.firstPredictionMs.max.toFixed(0)}), ${REPS} loads, nothing cached`);
          console.log(`  stages (ms since navigation, median): ${Object.entries(row.stagesMedianMs).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
          console.log(`  transferred: ${(row.transferredBytes / 1e6).toFixed(2)} MB; repeat visit ${row.repeatVisitMs.median.toFixed(0)} ms, ${(row.repeatTransferredBytes / 1e6).toFixed(2)} MB`);
        }
      }
    } finally {
      server.close();
    }
  }
  if (JSON_OUT) console.log(JSON.stringify({ reps: REPS, results }));
}

await main();
