// `lossgraph serve` while the folder changes under it: a re-export replaces
// every file, so a file can vanish between sirv's stat and its open. Each such
// request fails alone (404 or a cut connection); the server stays up. Before,
// the file stream's ENOENT was uncaught (the server exited) and requests hung.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { serve } from '../src/cli/serve.ts';

function get(url: string, path: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
      res.on('error', () => resolve(-1));
      res.on('aborted', () => resolve(-1));
    });
    // A request that never ends is a hang: counted, not waited for.
    req.setTimeout(5000, () => {
      req.destroy();
      resolve(0);
    });
    req.on('error', () => resolve(-1));
    req.end();
  });
}

test('a file that vanishes mid-request fails that request only; the server keeps serving (issue 27 item 14)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lossgraph-serve-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>x</title>');
  const body = Buffer.alloc(1 << 20, 7);
  writeFileSync(join(dir, 'model.onnx'), body);
  writeFileSync(join(dir, 'spare.bin'), body);
  const { server, url } = await serve(dir, { port: 0 });
  const crashes: unknown[] = [];
  const onCrash = (e: unknown) => crashes.push(e);
  process.on('uncaughtException', onCrash);
  try {
    // Another process replaces the file as fast as it can: removed, then written again.
    const churn = spawn('sh', ['-c', `while :; do rm -f model.onnx; cp spare.bin model.onnx; done`], { cwd: dir, stdio: 'ignore' });
    const statuses = new Set<number>();
    try {
      for (let round = 0; round < 100 && crashes.length === 0; round++) {
        for (const s of await Promise.all(Array.from({ length: 4 }, () => get(url, '/model.onnx')))) statuses.add(s);
      }
    } finally {
      churn.kill();
    }
    assert.deepEqual(crashes.map(String), [], 'no uncaught exception');
    assert.ok(!statuses.has(0), 'no request hung');
    assert.ok(statuses.has(200), [...statuses].join(','));
    assert.equal(await get(url, '/index.html'), 200, 'still serving');
  } finally {
    process.off('uncaughtException', onCrash);
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve sends an export\'s brotli or gzip copies to browsers that accept them, with the original\'s type, and the original to others (issue 24 item 5)', async () => {
  const { brotliCompressSync, brotliDecompressSync, gzipSync, gunzipSync } = await import('node:zlib');
  const dir = mkdtempSync(join(tmpdir(), 'lossgraph-serve-gz-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>x</title>');
  const wasm = Buffer.alloc(200_000, 3);
  writeFileSync(join(dir, 'ort.wasm'), wasm);
  writeFileSync(join(dir, 'ort.wasm.gz'), gzipSync(wasm));
  writeFileSync(join(dir, 'ort.wasm.br'), brotliCompressSync(wasm));
  const { server, url } = await serve(dir, { port: 0 });
  const fetchRaw = (headers: Record<string, string>) => new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    const u = new URL(url);
    request({ host: u.hostname, port: u.port, path: '/ort.wasm', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject).end();
  });
  try {
    const br = await fetchRaw({ 'Accept-Encoding': 'gzip, deflate, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers['content-type'], 'application/wasm');
    assert.deepEqual(brotliDecompressSync(br.body), wasm);
    const gz = await fetchRaw({ 'Accept-Encoding': 'gzip, deflate' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['content-type'], 'application/wasm');
    assert.ok(gz.body.length < wasm.length / 10, `${gz.body.length} bytes on the wire`);
    assert.deepEqual(gunzipSync(gz.body), wasm);
    const plain = await fetchRaw({});
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.deepEqual(plain.body, wasm);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve warns when it binds an address other machines can reach, and not on loopback (issue 24 item 8)', async () => {
  const { fileURLToPath } = await import('node:url');
  const bin = fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'lossgraph-serve-host-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>x</title>');
  const started = (host: string) => new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'serve', dir, '--port', '0', '--host', host]);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    let serving = false;
    child.stdout.on('data', (c: Buffer) => {
      if (!String(c).includes('serving')) return;
      serving = true;
      child.kill();
    });
    // After 'close' every byte of stderr has been read.
    child.on('close', () => (serving ? resolve(stderr) : reject(new Error(`serve stopped before serving: ${stderr}`))));
  });
  try {
    assert.match(await started('0.0.0.0'), /^lossgraph: warning: --host 0\.0\.0\.0 serves the bundle \(its model and weights included\) to every machine that can reach this one/);
    assert.equal(await started('127.0.0.1'), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
