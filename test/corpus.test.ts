// The bad-input corpus: every case is one line on stderr naming what is wrong
// and where, exit code 2, no stack trace, and nothing written or changed on
// disk; through the TypeScript API, a LossgraphError with a stable code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, lstatSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Jimp } from 'jimp';
import { LossgraphError } from '../src/errors.ts';
import { makePng } from './helpers/png.ts';

const BIN = fileURLToPath(new URL('../bin/lossgraph.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'lossgraph-corpus-'));

/** Path -> size and mtime of everything under `dir`: what "nothing changed" compares. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p); // links are entries, not followed (some cases are dangling or loops)
      if (st.isDirectory()) walk(p);
      else out[relative(dir, p)] = `${st.size}:${st.mtimeMs}`;
    }
  };
  walk(dir);
  return out;
}

const png = async (w = 6, h = 6) => new Jimp({ width: w, height: h, color: 0x336699ff }).getBuffer('image/png');
const jpeg = async () => new Jimp({ width: 6, height: 6, color: 0x993366ff }).getBuffer('image/jpeg');

/** A folder:DIR data set with two classes of valid images, plus `extra` files in class 'a'. */
async function folderWith(name: string, extra: Record<string, Buffer | string>): Promise<string> {
  const dir = join(root, name);
  for (const c of ['a', 'b']) {
    mkdirSync(join(dir, c), { recursive: true });
    for (let i = 0; i < 6; i++) writeFileSync(join(dir, c, `${i}.png`), await png());
  }
  for (const [file, bytes] of Object.entries(extra)) writeFileSync(join(dir, 'a', file), bytes);
  return dir;
}

function idxFile(dims: number[], data: number[], magic = 0x08): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = magic;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

async function idxDir(name: string, images: Buffer, labels: Buffer): Promise<string> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(images));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(labels));
  return dir;
}

function csv(name: string, text: string): string {
  const p = join(root, name);
  writeFileSync(p, text);
  return p;
}

/** A copy of the finished run with one file changed by `change` (a file name and what to do to its bytes). */
function runCopy(name: string, file: string, change: (bytes: Buffer) => Buffer): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  for (const f of readdirSync(run)) if (statSync(join(run, f)).isFile()) copyFileSync(join(run, f), join(d, f));
  writeFileSync(join(d, file), change(readFileSync(join(d, file))));
  return d;
}
const editJson = (edit: (v: any) => unknown) => (b: Buffer) => Buffer.from(JSON.stringify(edit(JSON.parse(b.toString('utf8')))));
/** A checkpoint with its JSON header replaced by `edit(header)` (safetensors: 8-byte length, header, data). */
const editHeader = (edit: (h: any) => unknown) => (b: Buffer) => {
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8'));
  delete header.__metadata__?.meta_crc32; // as a tool that knows nothing of it would write it
  let text = Buffer.from(JSON.stringify(edit(header)));
  text = Buffer.concat([text, Buffer.alloc((8 - (text.length % 8)) % 8, 32)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  return Buffer.concat([length, text, b.subarray(8 + n)]);
};
const firstTensor = (h: any) => Object.keys(h).find((k) => k !== '__metadata__')!;

interface Case {
  name: string;
  args: () => Promise<string[]> | string[];
  stdin?: string;
  /** What the one line must say. */
  says: RegExp;
}

/** A train command line: the case's flags, and these defaults for the flags it does not give (an option given twice is refused). */
const train = (...a: string[]) => {
  const defaults: [string, string][] = [['--epochs', '1'], ['--model', 'mlp:4'], ['--out', join(root, 'never-written')]];
  return ['train', ...defaults.filter(([flag]) => !a.includes(flag)).flat(), ...a];
};
const probe = '{"logits":[[1,2,3]],"labels":[2]}';
let run = ''; // a finished run, made in the first test
let otherRun = '';

const cases: Case[] = [
  // images
  { name: 'a corrupt JPEG', args: async () => train('--data', `folder:${await folderWith('corrupt-jpeg', { 'bad.jpg': Buffer.concat([(await jpeg()).subarray(0, 20), Buffer.alloc(50, 7)]) })}`), says: /bad\.jpg: cannot decode image .*--skip-bad/ },
  { name: 'a PNG whose pixel data stops after 2 of its 8 rows (issue 27 item 5)', args: async () => train('--data', `folder:${await folderWith('short-png', { 'short.png': makePng({ width: 8, height: 8, keepBytes: 2 * 25 }) })}`), says: /short\.png: the PNG is truncated \(its pixel data holds 50 of the 200 bytes its header promises\) \(use --skip-bad/ },
  { name: 'a 70-byte PNG claiming 60000x60000 pixels (issue 27 item 5)', args: async () => train('--data', `folder:${await folderWith('huge-png', { 'huge.png': makePng({ width: 60000, height: 60000, keepBytes: 0 }) })}`), says: /huge\.png: 60000x60000 is 3600 megapixels; images above 100 megapixels are refused/ },
  { name: '--out / (issue 27 item 23)', args: () => train('--data', 'embedded', '--out', '/'), says: /--out \/ is the file system's root; name a folder for the results/ },
  { name: 'a grid with --out / (issue 27 item 23)', args: () => ['compare', '--data', 'embedded', '--model', 'mlp:4', '--epochs', '1', '--losses', 'ce', '--out', '/'], says: /--out \/ is the file system's root/ },
  { name: '--out inside the folder data set it trains on (issue 27 item 23)', args: async () => { const d = await folderWith('out-inside', {}); return train('--data', `folder:${d}`, '--out', join(d, 'run')); }, says: /--out .*out-inside\/run lies inside the data folder .*out-inside, whose subfolders are read as data/ },
  { name: 'a truncated PNG', args: async () => train('--data', `folder:${await folderWith('trunc-png', { 'cut.png': (await png(40, 40)).subarray(0, 60) })}`), says: /cut\.png: the PNG is truncated/ },
  { name: 'a zero-byte JPEG', args: async () => train('--data', `folder:${await folderWith('zero-jpeg', { 'empty.jpg': Buffer.alloc(0) })}`), says: /empty\.jpg: cannot decode image/ },
  { name: 'a zero-byte PNG', args: async () => train('--data', `folder:${await folderWith('zero-png', { 'empty.png': Buffer.alloc(0) })}`), says: /empty\.png: cannot decode image/ },
  { name: 'a text file named .jpg', args: async () => train('--data', `folder:${await folderWith('text-jpg', { 'note.jpg': 'not an image at all' })}`), says: /note\.jpg: cannot decode image/ },
  { name: 'an empty data folder', args: () => { mkdirSync(join(root, 'empty'), { recursive: true }); return train('--data', `folder:${join(root, 'empty')}`); }, says: /empty: expected one sub-folder per class, found 0/ },
  { name: 'a class folder of only non-images', args: () => { for (const c of ['a', 'b']) { mkdirSync(join(root, 'noimg', c), { recursive: true }); writeFileSync(join(root, 'noimg', c, 'x.txt'), 'x'); } return train('--data', `folder:${join(root, 'noimg')}`); }, says: /noimg\/a: class folder holds no images/ },
  { name: 'a data folder that does not exist', args: () => train('--data', `folder:${join(root, 'nope')}`), says: /nope: no such folder/ },
  // UTKFace
  { name: 'a UTKFace name without an age', args: async () => { const d = join(root, 'utk1'); mkdirSync(d, { recursive: true }); writeFileSync(join(d, '_0_1_2017.jpg'), await jpeg()); return train('--data', `utkface:${d}`); }, says: /_0_1_2017\.jpg: not a UTKFace file name/ },
  { name: 'a UTKFace name with a negative age', args: async () => { const d = join(root, 'utk2'); mkdirSync(d, { recursive: true }); writeFileSync(join(d, '-5_0_1_2017.jpg'), await jpeg()); return train('--data', `utkface:${d}`); }, says: /-5_0_1_2017\.jpg: not a UTKFace file name/ },
  { name: 'a UTKFace age no person reaches', args: async () => { const d = join(root, 'utk3'); mkdirSync(d, { recursive: true }); writeFileSync(join(d, '999_0_1_2017.jpg'), await jpeg()); return train('--data', `utkface:${d}`); }, says: /999_0_1_2017\.jpg: age 999 is not a plausible age .*--skip-bad/ },
  // IDX
  // Lines that said the wrong thing (issue 27 item 22).
  { name: 'an IDX set of 0 images (item 22)', args: async () => { const d = await idxDir('idx-empty', idxFile([0, 2, 2], []), idxFile([0], [])); writeFileSync(join(d, 't10k-images-idx3-ubyte.gz'), gzipSync(idxFile([0, 2, 2], []))); writeFileSync(join(d, 't10k-labels-idx1-ubyte.gz'), gzipSync(idxFile([0], []))); return train('--data', `idx:${d}`); }, says: /idx-empty: the train images file holds 0 images$/ },
  { name: 'a CSV naming a dangling symbolic link (item 22)', args: () => { const p = join(root, 'dangling.csv'); if (!existsSync(p)) symlinkSync(join(root, 'gone.csv'), p); return train('--data', `csv:${p}`); }, says: /dangling\.csv: a symbolic link to .*gone\.csv, which does not exist$/ },
  { name: 'a data folder that is a loop of symbolic links (item 22)', args: () => { const a = join(root, 'loop-a'); if (!existsSync(join(root, 'loop-b'))) { symlinkSync(join(root, 'loop-b'), a); symlinkSync(a, join(root, 'loop-b')); } return train('--data', `folder:${a}`); }, says: /loop-a: a loop of symbolic links$/ },
  { name: 'a class folder that is a dangling link (item 22)', args: async () => { const d = await folderWith('dangling-class', {}); if (!existsSync(join(d, 'c'))) symlinkSync(join(root, 'nowhere'), join(d, 'c')); return train('--data', `folder:${d}`); }, says: /dangling-class\/c: a symbolic link to .*nowhere, which does not exist$/ },
  { name: 'a CSV cell beyond float32 (item 22)', args: () => train('--data', `csv:${csv('huge-cell.csv', 'x,label\n1,0\n1e39,1\n2,0\n3,1\n')}`), says: /huge-cell\.csv:3: column 'x' holds '1e39', beyond float32's range/ },
  { name: 'build --embedding-dim NaN (item 22)', args: () => ['build', '--model', 'mlp:4', '--loss', 'minmax', '--classes', '3', '--input', '4', '--embedding-dim', 'NaN', '--out', join(root, 'never-written')], says: /^lossgraph: --embedding-dim NaN: not a number$/m },
  { name: 'build --embedding-dim 0 (item 22)', args: () => ['build', '--model', 'mlp:4', '--loss', 'minmax', '--classes', '3', '--input', '4', '--embedding-dim', '0', '--out', join(root, 'never-written')], says: /--embedding-dim must be an integer from 1 to 65536, got 0/ },
  { name: 'an IDX file that cannot be read (a folder in its place; item 21)', args: () => { const d = join(root, 'idx-unreadable'); mkdirSync(join(d, 'train-images-idx3-ubyte.gz'), { recursive: true }); return train('--data', `idx:${d}`); }, says: /idx-unreadable\/train-images-idx3-ubyte\.gz: a folder, not a file$/ },
  { name: 'a truncated IDX file', args: async () => train('--data', `idx:${await idxDir('idx-trunc', idxFile([4, 2, 2], Array(10).fill(1)), idxFile([4], [0, 1, 0, 1]))}`), says: /IDX header promises 16 values, file holds 10/ },
  { name: 'an IDX header that disagrees with the file size', args: async () => train('--data', `idx:${await idxDir('idx-size', idxFile([4, 2, 2], Array(20).fill(1)), idxFile([4], [0, 1, 0, 1]))}`), says: /IDX header promises 16 values, file holds 20/ },
  { name: 'an IDX file with a wrong magic number', args: async () => { const b = idxFile([4, 2, 2], Array(16).fill(1)); b[0] = 9; return train('--data', `idx:${await idxDir('idx-magic', b, idxFile([4], [0, 1, 0, 1]))}`); }, says: /not an IDX file \(bad magic number\)/ },
  // CSV
  { name: 'a negative CSV label', args: () => train('--data', `csv:${csv('neg.csv', 'x,label\n1,0\n2,-1\n')}`), says: /neg\.csv:3: label '-1' in column 'label' is negative/ },
  { name: 'a NaN CSV cell', args: () => train('--data', `csv:${csv('nan.csv', 'x,label\n1,0\nNaN,1\n')}`), says: /nan\.csv:3: column 'x' holds 'NaN', not a finite number/ },
  { name: 'an Infinity CSV cell', args: () => train('--data', `csv:${csv('inf.csv', 'x,label\nInfinity,0\n2,1\n')}`), says: /inf\.csv:2: column 'x' holds 'Infinity', not a finite number/ },
  { name: 'an empty CSV cell', args: () => train('--data', `csv:${csv('emptycell.csv', 'x,y,label\n1,,0\n2,3,1\n')}`), says: /emptycell\.csv:2: column 'y' holds '', not a finite number/ },
  { name: 'a ragged CSV row', args: () => train('--data', `csv:${csv('ragged.csv', 'x,y,label\n1,2,0\n2,1\n')}`), says: /ragged\.csv:3: 2 fields, the header has 3/ },
  { name: 'an empty CSV label', args: () => train('--data', `csv:${csv('nolabel.csv', 'x,label\n1,0\n2,\n')}`), says: /nolabel\.csv:3: the label column 'label' is empty/ },
  // names of things
  { name: 'an unknown loss', args: () => train('--loss', 'cee'), says: /unknown loss 'cee' .* at column 1/ },
  { name: 'an unknown model', args: () => train('--model', 'resnet:50'), says: /model 'resnet:50' is not understood/ },
  { name: 'an unknown optimizer', args: () => train('--optimizer', 'lion'), says: /optimizer 'lion' is not known; use sgd or adamw/ },
  { name: 'an unknown data form', args: () => train('--data', 'imagenet:/x'), says: /--data imagenet:\/x is not understood; use one of/ },
  { name: 'a spec parse error', args: () => train('--loss', 'ce + * 2'), says: /unexpected '\*' at column 6/ },
  { name: 'eps outside [0, 1]', args: () => train('--loss', 'label_smoothing(eps=1.5)'), says: /'eps' of 'label_smoothing' is 1.5; it must be in \[0, 1\]/ },
  { name: 'sigma <= 0', args: () => train('--loss', 'ce + gaussian_kl(sigma=-1)'), says: /'sigma' of 'gaussian_kl' is -1; it must be > 0/ },
  { name: 'a negative temperature', args: () => ['loss', '--spec', 'kl(T=-2)'], stdin: probe, says: /'T' of 'kl' is -2; it must be > 0/ },
  { name: 'a negative term weight', args: () => train('--loss', 'ce - 0.5*gaussian_kl'), says: /the weight of 'gaussian_kl' is -0.5/ },
  { name: 'a bound parameter out of range', args: () => train('--loss', 'ce + gaussian_kl(sigma=s)', '--param', 's=0'), says: /parameter 's' = 0 is given as 'sigma' of 'gaussian_kl', which must be > 0/ },
  { name: 'a hierarchy map that misses a class', args: () => ['build', '--model', 'mlp:4', '--loss', 'hierarchical', '--classes', '3', '--input', '1x2x2', '--groups', '[0,1]', '--out', join(root, 'never-written')], says: /hierarchy level 'coarse': 2 group entries for 3 classes/ },
  { name: 'more classes in the data than the run has', args: () => ['eval', '--run', run, '--data', 'idx:datasets/fashion-mnist-subset'], says: /has 10 classes, the run was trained on 6|has examples of 1x28x28/ },
  { name: 'a checkpoint from another model', args: () => ['eval', '--run', run, '--checkpoint', join(otherRun, 'checkpoint.safetensors')], says: /was saved for model 'mlp:8'.*not for these artifacts.*tensor/ },
  { name: 'a truncated checkpoint', args: () => { const p = join(root, 'trunc.safetensors'); writeFileSync(p, readFileSync(join(run, 'checkpoint.safetensors')).subarray(0, 200)); return ['eval', '--run', run, '--checkpoint', p]; }, says: /trunc\.safetensors: not a valid safetensors checkpoint/ },
  { name: 'a bit-flipped checkpoint', args: () => { const b = readFileSync(join(run, 'checkpoint.safetensors')); b[b.length - 5]! ^= 0x10; const p = join(root, 'flipped.safetensors'); writeFileSync(p, b); return ['eval', '--run', run, '--checkpoint', p]; }, says: /flipped\.safetensors is damaged: its tensors do not match the checksum/ },
  // Files lossgraph reads, changed by hand: one line naming the file and field, never an internal error (issue 27 item 21).
  { name: 'manifest: carried is a string (item 21)', args: () => ['eval', '--run', runCopy('m-carried', 'manifest.json', editJson((m) => ({ ...m, carried: 'oops' })))], says: /m-carried\/manifest\.json: carried: must be array, not string$/ },
  { name: 'manifest: spec is a string (item 21)', args: () => ['eval', '--run', runCopy('m-spec', 'manifest.json', editJson((m) => ({ ...m, spec: 'oops' })))], says: /manifest\.json: spec: must be object, not string$/ },
  { name: 'manifest: hyperparameters is a string (item 21)', args: () => ['eval', '--run', runCopy('m-hyper', 'manifest.json', editJson((m) => ({ ...m, hyperparameters: 'oops' })))], says: /manifest\.json: hyperparameters: must be array, not string$/ },
  { name: 'manifest: classes as the string "6" (items 21, 22)', args: () => ['eval', '--run', runCopy('m-classes', 'manifest.json', editJson((m) => ({ ...m, spec: { ...m.spec, classes: '6' } })))], says: /manifest\.json: spec\.classes: must be number, not string$/ },
  { name: 'run.json: null (item 21)', args: () => ['eval', '--run', runCopy('r-null', 'run.json', () => Buffer.from('null'))], says: /r-null\/run\.json: the whole value: must be object, not null$/ },
  { name: 'run.json: numeric data (item 21)', args: () => ['eval', '--run', runCopy('r-data', 'run.json', editJson((c) => ({ ...c, data: 5 })))], says: /run\.json: data: must be string, not number$/ },
  { name: 'run.json: no augment, resumed (item 21)', args: () => ['train', '--resume', runCopy('r-augment', 'run.json', editJson(({ augment, ...c }) => c))], says: /run\.json: augment: is missing$/ },
  { name: 'checkpoint: header null (item 21)', args: () => ['eval', '--run', runCopy('c-null', 'checkpoint.safetensors', editHeader(() => null))], says: /checkpoint\.safetensors: not a valid safetensors checkpoint \(the header is not an object\)$/ },
  { name: 'checkpoint: a null tensor entry (item 21)', args: () => ['eval', '--run', runCopy('c-null-tensor', 'checkpoint.safetensors', editHeader((h) => ({ ...h, [firstTensor(h)]: null })))], says: /not a valid safetensors checkpoint \(tensor '[\w.]+' has no description\)$/ },
  { name: 'checkpoint: a negative, fractional shape (item 21)', args: () => ['eval', '--run', runCopy('c-shape', 'checkpoint.safetensors', editHeader((h) => ({ ...h, [firstTensor(h)]: { ...h[firstTensor(h)], shape: [-1, 2.5] } })))], says: /has shape \[-1,2\.5\]; dimensions are integers >= 0\)$/ },
  { name: 'checkpoint: garbage history metadata, resumed (item 21)', args: () => ['train', '--resume', runCopy('c-history', 'checkpoint.safetensors', editHeader((h) => ({ ...h, __metadata__: { ...h.__metadata__, history: 'garbage{' } })))], says: /c-history\/checkpoint\.safetensors: metadata 'history' is not valid JSON$/ },
  { name: 'checkpoint: history of the wrong shape, resumed (item 21)', args: () => ['train', '--resume', runCopy('c-history2', 'checkpoint.safetensors', editHeader((h) => ({ ...h, __metadata__: { ...h.__metadata__, history: '[{"epoch":"one"}]' } })))], says: /metadata 'history': \[0\]\.epoch: must be number, not string$/ },
  { name: 'an eval model from another run (item 21)', args: () => ['eval', '--run', runCopy('g-eval', 'eval_model.onnx', () => readFileSync(join(otherRun, 'eval_model.onnx')))], says: /eval_model\.onnx: input 'dense0\.weight' is \[784, 8\], manifest\.json says \[784, 4\]; it is not this build's eval graph/ },
  { name: 'a training model from another run, resumed (item 21)', args: () => ['train', '--resume', runCopy('g-train', 'training_model.onnx', () => readFileSync(join(otherRun, 'training_model.onnx')))], says: /training_model\.onnx: input 'dense0\.weight' is \[784, 8\], manifest\.json says \[784, 4\]; it is not this build's training graph/ },
  { name: 'a CSV label of 2^32 (item 21)', args: () => train('--data', `csv:${csv('label-2-32.csv', 'x,label\n1,0\n2,4294967296\n3,1\n')}`), says: /label-2-32\.csv:3: label 4294967296 in column 'label' would make 4294967296 \+ 1 classes/ },
  { name: 'a sweep of 5e11 values (item 21)', args: () => ['sweep', '--data', 'embedded', '--model', 'mlp:4', '--loss', 'w*ce', '--param', 'w=0.5:1:1e-12'], says: /--param w=0\.5:1:1e-12: 5\.00e\+11 values; a sweep takes at most 1000/ },
  { name: 'build --input 1x100000x100000 (item 21)', args: () => ['build', '--model', 'mlp:4', '--loss', 'ce', '--classes', '3', '--input', '1x100000x100000', '--out', join(root, 'never-written')], says: /--input 1x100000x100000 is 1\.00e\+10 values per example; at most 64M/ },
  { name: 'a model of 8.6e9 parameters (item 17)', args: () => ['build', '--model', 'mlp:65536,65536,65536', '--loss', 'ce', '--classes', '3', '--input', '1x28x28', '--out', join(root, 'never-written')], says: /the model has more than 250 million parameters by 'dense1\.weight' \[65536, 65536\]/ },
  { name: 'an image cache folder that cannot be made (item 21)', args: async () => train('--data', `folder:${await folderWith('cache-proc', {})}`, '--cache-dir', '/proc/lossgraph-cache'), says: /the image cache folder \/proc\/lossgraph-cache cannot be created \(ENOENT/ },
  { name: 'a manifest from a newer lossgraph', args: () => { const d = join(root, 'newer'); mkdirSync(d, { recursive: true }); for (const f of readdirSync(run)) copyFileSync(join(run, f), join(d, f)); const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')); m.lossgraph = '99.0.0'; writeFileSync(join(d, 'manifest.json'), JSON.stringify(m)); return ['eval', '--run', d]; }, says: /manifest\.json was written by lossgraph 99\.0\.0, newer than this lossgraph/ },
  { name: '--out under a missing parent', args: () => ['train', '--epochs', '1', '--model', 'mlp:4', '--out', join(root, 'missing', 'deeper', 'run')], says: /the folder .*missing\/deeper does not exist; create it first/ },
  { name: '--out under a file', args: () => { writeFileSync(join(root, 'afile'), 'x'); return ['train', '--epochs', '1', '--model', 'mlp:4', '--out', join(root, 'afile', 'run')]; }, says: /afile is a file, not a folder/ },
  { name: '--out that already holds another run', args: () => ['train', '--epochs', '1', '--model', 'mlp:4', '--out', run], says: /already holds a run \(model mlp:4, loss 'ce', seed 0\); continue it with --resume/ },
  { name: '--ep cuda without the provider', args: () => train('--ep', 'cuda'), says: /CUDA execution provider is not installed/ },
  { name: '--batch 0', args: () => train('--batch', '0'), says: /--batch must be a positive integer, got 0/ },
  { name: '--epochs -1', args: () => train('--epochs', '-1'), says: /--epochs must be a positive integer, got -1/ },
  { name: '--lr -1', args: () => train('--lr', '-1'), says: /--lr must be a positive finite number, got -1/ },
  { name: 'a non-numeric --batch', args: () => train('--batch', 'many'), says: /^lossgraph: --batch many: not a number$/m },
  { name: 'a non-numeric --class-weights', args: () => train('--class-weights', '1,x'), says: /--class-weights 1,x: 'x' is not a number/ },
  { name: '--clip-grad-norm 0', args: () => train('--clip-grad-norm', '0'), says: /--clip-grad-norm must be a positive number, got 0/ },
  { name: 'malformed JSON to lossgraph loss', args: () => ['loss', '--spec', 'ce'], stdin: '{"logits": [[1,2]', says: /stdin is not valid JSON/ },
  { name: 'empty stdin to lossgraph loss', args: () => ['loss', '--spec', 'ce'], stdin: '', says: /stdin is not valid JSON/ },
  { name: 'huge logits to lossgraph loss', args: () => ['loss', '--spec', 'ce'], stdin: '{"logits":[[1e400,0]],"labels":[0]}', says: /logits\[0\]\[0\] is not a finite number/ },
  { name: 'a label out of range to lossgraph loss', args: () => ['loss', '--spec', 'ce'], stdin: '{"logits":[[1,0]],"labels":[5]}', says: /labels\[0\] = 5 is out of range: with 2 classes a label is 0\.\.1/ },
  { name: '--resume of a folder that is not a run', args: () => ['train', '--resume', root], says: /no run\.json; is this a lossgraph train output folder\?/ },
  { name: 'export of a folder that is not a run', args: () => ['export', '--run', join(root, 'empty'), '--out', join(root, 'never-written')], says: /no run\.json; is this a lossgraph train output folder\?/ },
];

test('the corpus has at least 40 cases', () => assert.ok(cases.length >= 40, `${cases.length}`));

test('setup: a finished run to point the run-folder cases at', () => {
  run = join(root, 'run');
  otherRun = join(root, 'other');
  for (const [out, model] of [[run, 'mlp:4'], [otherRun, 'mlp:8']] as const) {
    const r = spawnSync(process.execPath, [BIN, 'train', '--data', 'embedded', '--model', model, '--epochs', '1', '--out', out, '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
});

for (const c of cases) {
  test(`bad input: ${c.name}`, async () => {
    const args = await c.args();
    const before = snapshot(root);
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input: c.stdin ?? '' });
    assert.equal(r.status, 2, `exit ${r.status}; stderr: ${r.stderr}`);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/onnxruntime|^\s*\x1b\[/.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^lossgraph: /);
    assert.doesNotMatch(lines[0]!, /internal error|\bat \S+:\d+:\d+|Error:/);
    assert.match(lines[0]!, c.says);
    assert.deepEqual(snapshot(root), before, 'nothing was written or changed on disk');
    assert.equal(existsSync(join(root, 'never-written')), false);
  });
}

test('the API throws LossgraphError with a stable code', async () => {
  const { parseLossSpec } = await import('../src/losses/loss_spec.ts');
  const { loadData } = await import('../src/data/index.ts');
  const { buildArtifacts } = await import('../src/artifacts/build.ts');
  const { parseCheckpoint } = await import('../src/artifacts/contract.ts');
  const expectCode = async (f: () => unknown, code: string) => {
    try {
      await f();
    } catch (e) {
      assert.ok(e instanceof LossgraphError, String(e));
      assert.equal((e as LossgraphError).code, code, (e as Error).message);
      return;
    }
    assert.fail(`no error (expected ${code})`);
  };
  await expectCode(() => parseLossSpec('ce + * 2'), 'LOSSGRAPH_SPEC');
  await expectCode(() => loadData(`csv:${csv('api.csv', 'x,label\n1,0\nNaN,1\n')}`), 'LOSSGRAPH_DATA');
  await expectCode(() => buildArtifacts({ model: 'resnet:50', loss: 'ce', classes: 3, input: [1, 2, 2], optimizer: 'sgd', seed: 0 }), 'LOSSGRAPH_ARGUMENT');
  const built = buildArtifacts({ model: 'mlp:4', loss: 'ce', classes: 3, input: [1, 2, 2], optimizer: 'sgd', seed: 0 });
  await expectCode(() => parseCheckpoint(new Uint8Array(10), 'x.safetensors', built.manifest), 'LOSSGRAPH_ARTIFACT');
  chmodSync(root, 0o755);
});

test('a clean run prints only lossgraph\'s own output: no project .npmrc for npm to warn about', () => {
  assert.equal(existsSync(fileURLToPath(new URL('../.npmrc', import.meta.url))), false);
  const r = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^lossgraph <command>/);
});
