// `lossgraph export --run DIR --out WEBDIR`: a static bundle that classifies
// and fine-tunes in the browser, offline, from any static host: the models and
// checkpoint, the class metadata and preprocessing recipe, sample images, the
// page and its worker bundled with esbuild, onnxruntime-web's own .mjs/.wasm
// files (no CDN), and a SHA256SUMS list of every file.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { Jimp } from 'jimp';
import { buildArtifacts } from '../artifacts/build.ts';
import { FILES, bakeInference, imageShape, type Manifest } from '../artifacts/contract.ts';
import { beginFolder } from '../artifacts/folders.ts';
import { readImportedModel } from '../artifacts/model_file.ts';
import { readExample, splitDataset } from '../data/dataset.ts';
import { loadData } from '../data/index.ts';
import { ArtifactError, LossgraphError } from '../errors.ts';
import { readCheckpoint, readManifest } from '../runtime/node.ts';
import { readRunConfig } from '../train/run_folder.ts';
import { ORT_BUILDS, type BundleMeta } from '../artifacts/web_bundle.ts';

const WEB_SOURCES = fileURLToPath(new URL('../../web/', import.meta.url));
/** Sample images on the page: one per class up to this many classes (classes evenly spread beyond), at least MIN_SAMPLES. */
const MAX_SAMPLES = 12;
const MIN_SAMPLES = 6;

/**
 * Test examples to show as samples: one of each class the test split holds,
 * in class order (beyond MAX_SAMPLES such classes, spread evenly over them),
 * then round after round until there are MIN_SAMPLES, as far as the split allows.
 */
export function pickSamples(test: Int32Array, labels: Int32Array, classes: number): number[] {
  const byClass = Array.from({ length: classes }, () => [] as number[]);
  for (const i of test) byClass[labels[i]!]!.push(i);
  const present = byClass.filter((c) => c.length > 0);
  const shown = present.length <= MAX_SAMPLES ? present : Array.from({ length: MAX_SAMPLES }, (_, j) => present[Math.round((j * (present.length - 1)) / (MAX_SAMPLES - 1))]!);
  const out: number[] = [];
  for (let round = 0; out.length < MIN_SAMPLES || round === 0; round++) {
    const before = out.length;
    for (const c of shown) if (c[round] !== undefined && (round === 0 || out.length < MIN_SAMPLES)) out.push(c[round]!);
    if (out.length === before) break;
  }
  return out;
}

/**
 * A --data or --model value as the page shows it: a path (`folder:/home/me/faces`,
 * `onnx:/models/r18.onnx;head=replace`) cut to its last name, never a path of
 * the machine that exported it.
 */
export function withoutPath(spec: string): string {
  const m = /^([a-z-]+):([^;]*)(.*)$/.exec(spec);
  if (!m) return spec;
  return `${m[1]}:${m[2]!.replace(/[\\/]+$/, '').split(/[\\/]/).pop()}${m[3]}`;
}

export interface ExportResult {
  out: string;
  files: string[];
  bytes: number;
  /** esbuild's metafile of the page and worker bundles, for checking what each contains. */
  metafile: esbuild.Metafile;
  /** The page's and worker's bundles (named by their content hash), and their bytes: the page loads page.js to classify, worker.js when fine-tuning starts. */
  page: string;
  worker: string;
  pageBytes: number;
  workerBytes: number;
}

function ortDist(): string {
  // The package's exports name the .wasm files but not package.json; the .wasm sits in dist/.
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
}

/**
 * The page and worker, bundled, each named by its content hash. onnxruntime-web
 * is not in them: the page imports the build it chose from the bundle's
 * ort-<hash>/ folder at run time and hands it down.
 */
async function bundle(outdir: string): Promise<{ metafile: esbuild.Metafile; page: string; worker: string; decoder: string }> {
  const external: esbuild.Plugin = {
    name: 'ort-at-run-time',
    setup(b) {
      // Session imports an onnxruntime by name only when it is given no module; the page and worker always give one.
      b.onResolve({ filter: /^onnxruntime-(web|node)$/ }, (a) => ({ path: a.path, external: true }));
    },
  };
  try {
    const r = await esbuild.build({
      entryPoints: { page: join(WEB_SOURCES, 'page.ts'), worker: join(WEB_SOURCES, 'worker.ts'), decoder: join(WEB_SOURCES, 'decoder_worker.ts') },
      entryNames: '[name]-[hash]',
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      sourcemap: false,
      outdir,
      metafile: true,
      logLevel: 'silent',
      plugins: [external],
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    const named = (entry: string) => relative(outdir, Object.entries(r.metafile.outputs).find(([, o]) => o.entryPoint?.endsWith(`web/${entry}.ts`))![0]);
    return { metafile: r.metafile, page: named('page'), worker: named('worker'), decoder: named('decoder_worker') };
  } catch (e) {
    const first = (e as { errors?: esbuild.Message[] }).errors?.[0];
    throw new ArtifactError(`bundling the page failed: ${first ? `${first.text} (${first.location?.file}:${first.location?.line})` : String((e as Error).message).split('\n')[0]}`);
  }
}

/** onnxruntime-web's files of both builds, copied into `dir` under a folder named by their hash; returns the folder (with its slash). */
function copyOrt(dir: string): string {
  const src = ortDist();
  const files = [...new Set(Object.values(ORT_BUILDS).flatMap((b) => [b.module, b.glue, b.wasm]))].sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(readFileSync(join(src, f)));
  const folder = `ort-${hash.digest('hex').slice(0, 12)}/`;
  mkdirSync(join(dir, folder));
  for (const f of files) copyFileSync(join(src, f), join(dir, folder, f));
  return folder;
}

/** A PNG of one preprocessed example (values in [0, 1]); decoding it again gives the same tensor. */
async function examplePng(x: Float32Array, [c, h, w]: [number, number, number]): Promise<Uint8Array> {
  const image = new Jimp({ width: w, height: h });
  const plane = h * w;
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < 3; k++) image.bitmap.data[4 * p + k] = Math.round(255 * x[(c === 3 ? k : 0) * plane + p]!);
    image.bitmap.data[4 * p + 3] = 255;
  }
  return new Uint8Array(await image.getBuffer('image/png'));
}

/**
 * Files a browser fetches whole and a static server may send compressed, with
 * a gzip copy beside each (`serve` sends it to a browser that accepts gzip;
 * docs/web.md says how for other servers): onnxruntime's wasm goes from 26.8 MB
 * to about 6.6 MB on the wire. The models are left as they are: the page's
 * load bar counts their bytes against Content-Length.
 */
const PRECOMPRESSED = /\.(wasm|mjs|js|css|html)$/;

function precompress(dir: string): void {
  for (const f of listFiles(dir)) {
    if (!PRECOMPRESSED.test(f)) continue;
    const bytes = readFileSync(join(dir, f));
    if (bytes.length < 1024) continue;
    writeFileSync(join(dir, `${f}.gz`), gzipSync(bytes, { level: 9 }));
    // Brotli at quality 5: the plain wasm build's 14.2 MB becomes 2.8 MB (gzip: 3.7) in about a second;
    // quality 11 saves 0.5 MB more but takes half a minute per export.
    writeFileSync(join(dir, `${f}.br`), brotliCompressSync(bytes, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length } }));
  }
}

export async function exportBundle(run: string, out: string, opts: { force?: boolean } = {}): Promise<ExportResult> {
  const config = readRunConfig(run);
  const manifest = readManifest(run);
  const checkpoint = readCheckpoint(join(run, FILES.checkpoint), manifest);
  for (const f of [FILES.inference, FILES.training, FILES.eval]) {
    if (!existsSync(join(run, f))) throw new ArtifactError(`${run}: no ${f}; is the run finished?`);
  }
  if (existsSync(out) && !opts.force && !existsSync(join(out, 'SHA256SUMS'))) {
    throw new ArtifactError(`${out} exists and is not a lossgraph export; choose another --out (or --force to replace it)`);
  }
  const data = await loadData(config.data, config.dataOptions);
  const [c, h, w] = imageShape(manifest.spec.input);
  if (c !== 1 && c !== 3) throw new ArtifactError(`${run}: the page classifies images of 1 or 3 channels; this model takes ${c}`);
  if (data.task && data.task !== 'classification') throw new ArtifactError(`${run}: the page shows single-label classifiers; this run is ${data.task}`);

  // Everything goes into a temporary folder beside the target, which takes its place at the end (folders.ts).
  const folder = beginFolder(out);
  const tmp = folder.tmp;
  mkdirSync(join(tmp, 'model'), { recursive: true });
  mkdirSync(join(tmp, 'samples'), { recursive: true });
  try {
    for (const f of [FILES.training, FILES.eval, FILES.checkpoint, FILES.manifest]) copyFileSync(join(run, f), join(tmp, 'model', f));
    // The inference model is baked here from the checkpoint being exported, never copied: a run killed
    // after a checkpoint but before its own bake holds an inference model of older (or initial) weights.
    const weights = manifest.carried.map((t) => ({ name: t.name, shape: t.shape, data: checkpoint.tensors.get(t.name)! }));
    writeFileSync(join(tmp, 'model', FILES.inference), bakeInference(readFileSync(join(run, FILES.inference)), weights));
    const webgpu = writeWebgpuGraphs(manifest, checkpoint.tensors, join(tmp, 'model', WEBGPU_FOLDER));
    const test = splitDataset(data, config.seed).test;
    const samples: BundleMeta['samples'] = [];
    const size = c * h * w;
    for (const i of pickSamples(test, data.labels, data.classNames.length)) {
      const file = `samples/${samples.length}.png`;
      const x = new Float32Array(size);
      readExample(data, i, x);
      writeFileSync(join(tmp, file), await examplePng(x, imageShape(manifest.spec.input)));
      samples.push({ file, label: data.classNames[data.labels[i]!]! });
    }
    // The page's code and onnxruntime-web first: meta.json names them, and index.html the page's bundle.
    const ort = copyOrt(tmp);
    const code = await bundle(tmp);
    const html = readFileSync(join(WEB_SOURCES, 'index.html'), 'utf8');
    if (!html.includes('src="page.js"')) throw new ArtifactError('web/index.html no longer loads page.js (a lossgraph bug: please report it)');
    writeFileSync(join(tmp, 'index.html'), html.replace('src="page.js"', `src="${code.page}"`));
    copyFileSync(join(WEB_SOURCES, 'app.css'), join(tmp, 'app.css'));
    const loaded = [...Object.values(ORT_BUILDS).flatMap((b) => [b.module, b.glue, b.wasm].map((f) => `${ort}${f}`)), `model/${FILES.inference}`, ...('folder' in webgpu ? [`model/${webgpu.folder}${FILES.inference}`] : [])];
    const meta: BundleMeta = {
      classes: data.classNames,
      ...(data.ordinal ? { ordinal: data.ordinal } : {}),
      ...(data.hierarchy ? { hierarchy: Object.fromEntries(Object.entries(data.hierarchy).map(([level, groups]) => [level, { groups, names: Array.from({ length: groups.reduce((a, b) => Math.max(a, b), -1) + 1 }, (_, g) => data.hierarchyNames?.[level]?.[g] ?? `${level} ${g}`) }])) } : {}),
      preprocess: {
        channels: c as 1 | 3,
        height: h,
        width: w,
        resize: 'jimp resize to height x width (its default, bilinear), skipped when the size already matches',
        scale: 'each 8-bit channel divided by 255, planes in C x H x W order',
        grayscale: 'ITU-R BT.601 luma: 0.299 R + 0.587 G + 0.114 B',
        alpha: 'composited over white by alpha before resizing',
        orientation: 'JPEG EXIF orientation applied (the image turned upright) before resizing',
      },
      samples,
      assets: { ort, worker: code.worker, decoder: code.decoder, bytes: Object.fromEntries(loaded.map((f) => [f, statSync(join(tmp, f)).size])) },
      webgpu,
      run: { model: withoutPath(config.model), loss: config.loss, data: withoutPath(config.data), ...(checkpoint.metadata.epoch ? { epoch: Number(checkpoint.metadata.epoch) } : {}) },
    };
    writeFileSync(join(tmp, 'model', 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    precompress(tmp);
    const files = listFiles(tmp);
    const sums = files.map((f) => `${createHash('sha256').update(readFileSync(join(tmp, f))).digest('hex')}  ${f}`);
    writeFileSync(join(tmp, 'SHA256SUMS'), `${sums.join('\n')}\n`);
    folder.commit();
    const all = [...files, 'SHA256SUMS'];
    const bytes = all.reduce((a, f) => a + readFileSync(join(out, f)).length, 0);
    return { out, files: all, bytes, metafile: code.metafile, page: code.page, worker: code.worker, pageBytes: statSync(join(out, code.page)).size, workerBytes: statSync(join(out, code.worker)).size };
  } catch (e) {
    folder.abort();
    throw e;
  }
}

const WEBGPU_FOLDER = 'webgpu';

/**
 * The run's graphs rebuilt for `--target webgpu` (the page fine-tunes on WebGPU with them), with
 * the inference graph baked from the run's checkpoint. The carried tensors are the same, so one
 * checkpoint serves both forms; a run that cannot have them (say a seed beyond ±2^24) gets the reason.
 */
function writeWebgpuGraphs(manifest: Manifest, tensors: Map<string, Float32Array>, dir: string): BundleMeta['webgpu'] {
  let built;
  try {
    built = buildArtifacts({ ...manifest.spec, target: 'webgpu' }, readImportedModel(manifest.spec.model));
  } catch (e) {
    if (e instanceof LossgraphError) return { unavailable: e.message };
    throw e;
  }
  const same = built.manifest.carried.length === manifest.carried.length
    && built.manifest.carried.every((c, i) => c.name === manifest.carried[i]!.name && c.shape.join('x') === manifest.carried[i]!.shape.join('x'));
  if (!same) throw new ArtifactError('the WebGPU form of this model carries different tensors than the run (a lossgraph bug: please report it)');
  mkdirSync(dir);
  const baked = bakeInference(built.files[FILES.inference]!, manifest.carried.map((c) => ({ name: c.name, shape: c.shape, data: tensors.get(c.name)! })));
  for (const [f, bytes] of [[FILES.training, built.files[FILES.training]!], [FILES.eval, built.files[FILES.eval]!], [FILES.inference, baked], [FILES.manifest, built.files[FILES.manifest]!]] as const) writeFileSync(join(dir, f), bytes);
  return { folder: `${WEBGPU_FOLDER}/` };
}

function listFiles(dir: string, at = dir): string[] {
  return readdirSync(at).sort().flatMap((name) => {
    const p = join(at, name);
    return statSync(p).isDirectory() ? listFiles(dir, p) : [relative(dir, p)];
  });
}
