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
//
//   npm run bench:page-load [-- --reps 5] [--json]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { exportBundle } from '../src/cli/export.ts';
import { serve } from '../src/cli/serve.ts';
import { DEFAULT_CONFIG, runTraining } from '../src/train/driver.ts';
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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lossgraph-page-load-'));
  await writeFolder(join(dir, 'data'), 20, 1);
  await runTraining({ ...DEFAULT_CONFIG, data: `folder:${join(dir, 'data')}`, dataOptions: { imageSize: [3, 32, 32] }, model: 'cnn:16,32', loss: 'ce', epochs: 1, batch: 16 }, join(dir, 'run'));
  const bundle = await exportBundle(join(dir, 'run'), join(dir, 'web'));
  const { server, url } = await serve(join(dir, 'web'), { port: 0 });
  const { chromium } = await import('playwright-core');
  const results: Record<string, unknown> = { model: 'cnn:16,32 on 3x32x32', bundleBytes: bundle.bytes, reps: REPS };
  try {
    for (const [name, args] of [['no WebGPU adapter', []], ['--enable-unsafe-webgpu (SwiftShader)', ['--enable-unsafe-webgpu']]] as const) {
      const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', ...args] });
      const loads: Load[] = [];
      for (let i = 0; i < REPS; i++) loads.push(await oneLoad(browser, url));
      const browserVersion = browser.version();
      await browser.close();
      const stages = [...new Set(loads.flatMap((l) => Object.keys(l.timings)))];
      const row = {
        browser: `Chromium ${browserVersion}`,
        backend: [...new Set(loads.map((l) => l.backend))].join(', '),
        firstPredictionMs: stats(loads.map((l) => l.firstPredictionMs)),
        stagesMedianMs: Object.fromEntries(stages.map((k) => [k, stats(loads.map((l) => l.timings[k] ?? NaN)).median])),
        transferredBytes: stats(loads.map((l) => l.transferredBytes)).median,
        repeatVisitMs: stats(loads.map((l) => l.repeatVisitMs)),
        repeatTransferredBytes: stats(loads.map((l) => l.repeatTransferredBytes)).median,
      };
      results[name] = row;
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
  if (JSON_OUT) console.log(JSON.stringify(results));
  else console.log(`\nbundle on disk: ${(bundle.bytes / 1e6).toFixed(1)} MB`);
}

await main();
