// `lossgraph serve WEBDIR`: serves an exported bundle with sirv (correct MIME
// types: .wasm application/wasm, .mjs text/javascript) and the cross-origin
// isolation headers multi-threaded wasm needs. A guard in front of sirv
// refuses any path that could leave WEBDIR: dot-dot segments however they are
// encoded (once or twice), backslashes, NUL bytes, dotfiles, and symlinks whose
// target lies outside.
import { existsSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, resolve, sep } from 'node:path';
import sirv from 'sirv';
import { ArgumentError } from '../errors.ts';
import { HASHED_ASSET } from '../artifacts/web_bundle.ts';

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

/**
 * What every response also carries: no type sniffing, and a policy that lets
 * the page run only its own scripts, compile wasm, start its workers, and
 * fetch from its own origin (onnxruntime-web needs 'wasm-unsafe-eval').
 */
export const SAFETY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; media-src 'self' blob: mediastream:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
  'Referrer-Policy': 'no-referrer',
} as const;

/** Types for the bundle's files that sirv's table does not know (it sent them with an empty Content-Type). */
const EXTRA_TYPES: [RegExp, string][] = [
  [/\.(onnx|safetensors)$/, 'application/octet-stream'],
  [/(^|\/)SHA256SUMS$/, 'text/plain; charset=utf-8'],
];

/**
 * Content-hashed files (onnxruntime-web's folder, the page and worker bundles)
 * may be kept for a year: a new export names them anew. Everything else is
 * asked about each time (an ETag makes that cheap), so a re-export shows at once.
 */
export function cacheControl(pathname: string): string {
  return HASHED_ASSET.test(pathname) ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/** The request path decoded until it no longer changes (so %252e%252e is seen as ..), or undefined if it cannot be. */
function fullyDecoded(raw: string): string | undefined {
  let path = raw;
  for (let i = 0; i < 4; i++) {
    let next: string;
    try {
      next = decodeURIComponent(path);
    } catch {
      return undefined;
    }
    if (next === path) return path;
    path = next;
  }
  return undefined;
}

/** Why `url` may not be served from `root` (a real path), or undefined when it may. */
export function refusal(root: string, url: string): string | undefined {
  const pathname = (url.split('?')[0] ?? '/').split('#')[0]!;
  const path = fullyDecoded(pathname);
  if (path === undefined) return 'undecodable path';
  if (path.includes('\\') || path.includes('\0')) return 'backslash or NUL in path';
  const segments = path.split('/').filter(Boolean);
  if (segments.some((s) => s === '..' || s === '.')) return 'dot segment';
  if (segments.some((s) => s.startsWith('.'))) return 'dotfile';
  const target = join(root, ...segments);
  if (!existsSync(target)) return undefined; // sirv answers 404
  const real = realpathSync(target);
  if (real !== root && !real.startsWith(root + sep)) return 'symlink out of the folder';
  return undefined;
}

export interface ServeOptions {
  port?: number;
  host?: string;
}

/** Starts serving `dir`; resolves once listening, with the URL. */
export async function serve(dir: string, o: ServeOptions = {}): Promise<{ server: Server; url: string }> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ArgumentError(`${dir}: no such folder (write one with lossgraph export)`);
  if (!existsSync(join(dir, 'index.html'))) throw new ArgumentError(`${dir}: no index.html; is this a lossgraph export folder?`);
  const port = o.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ArgumentError(`--port ${port}: expected 0..65535`);
  const root = realpathSync(resolve(dir));
  const files = sirv(root, {
    // Look files up per request, so a re-export is served without a restart.
    dev: true,
    // The .br and .gz copies export writes, to browsers that accept them (with the original's type).
    gzip: true,
    brotli: true,
    dotfiles: false,
    etag: true,
    setHeaders: (res, pathname) => {
      for (const [k, v] of Object.entries({ ...ISOLATION_HEADERS, ...SAFETY_HEADERS })) res.setHeader(k, v);
      res.setHeader('Cache-Control', cacheControl(pathname));
      const type = EXTRA_TYPES.find(([re]) => re.test(pathname))?.[1];
      if (type) res.setHeader('Content-Type', type);
    },
  });
  const notFound = (res: ServerResponse) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain', ...ISOLATION_HEADERS, ...SAFETY_HEADERS });
    res.end('Not found\n');
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // A re-export replaces the folder's files, so one can vanish between any two
    // steps here. Such a request fails alone: a 404, or a cut connection once
    // the headers are out. Unhandled, the file stream's error ended the server.
    res.on('pipe', (file) => file.on('error', () => notFound(res)));
    try {
      const why = refusal(root, req.url ?? '/');
      if (why || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(why ? 403 : 405, { 'Content-Type': 'text/plain', ...ISOLATION_HEADERS, ...SAFETY_HEADERS });
        res.end(why ? 'Forbidden\n' : 'Method not allowed\n');
        return;
      }
      files(req, res, () => notFound(res));
    } catch {
      notFound(res);
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => fail(new ArgumentError(e.code === 'EADDRINUSE' ? `port ${port} is in use; pick another with --port` : `cannot listen on ${o.host ?? '127.0.0.1'}:${port}: ${e.message}`)));
    server.listen(port, o.host ?? '127.0.0.1', () => ok());
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  const host = o.host ?? '127.0.0.1';
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}/` };
}
