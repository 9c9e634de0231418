// A served probe page (probe.html and probe.js next to this file, with onnxruntime-web's
// WebGPU build) open in headless Chromium with WebGPU on its SwiftShader
// adapter: shared by the WebGPU benchmarks and test/webgpu.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { serve } from '../../src/cli/serve.ts';

export const CHROMIUM = '/usr/bin/chromium';

export async function openProbePage(): Promise<{ page: Page; browser: Browser; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'lossgraph-webgpu-'));
  const dist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
  for (const f of ['ort.webgpu.min.mjs', 'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm']) copyFileSync(join(dist, f), join(dir, f));
  copyFileSync(fileURLToPath(new URL('./probe.html', import.meta.url)), join(dir, 'index.html'));
  // A script of its own, not inline: serve's Content-Security-Policy runs only the origin's script files.
  copyFileSync(fileURLToPath(new URL('./probe.js', import.meta.url)), join(dir, 'probe.js'));
  const { server, url } = await serve(dir, { port: 0 });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--enable-unsafe-webgpu'] });
  const page = await browser.newPage();
  await page.goto(url);
  // A page that never gets ready (a blocked script, say) fails here rather than hanging the run.
  await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true, undefined, { timeout: 60_000 });
  return {
    page,
    browser,
    close: async () => {
      await browser.close();
      server.close();
    },
  };
}
