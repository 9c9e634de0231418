// The lossgraph command line.
import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { ArgumentError, FieldError, LossgraphError } from '../errors.ts';
import type { InputShape } from '../artifacts/contract.ts';
import { TARGETS } from '../graph/graph.ts';
import { parseLossSpec } from '../losses/loss_spec.ts';
import { knownLosses } from '../losses/registry.ts';
import { build } from '../artifacts/files.ts';
import { evalCommand, numberList, runOptions, trainCommand, trainOptions } from './train.ts';
import { parseProbeInput, runLossProbe } from './loss.ts';
import { parseParams, warnUnusedParams } from './args.ts';

/** Options that may be given several times, collecting every value. */
const REPEATABLE = new Set(['_', 'param', 'losses']);

/**
 * An option given twice is refused: yargs adds up a repeated number option
 * (`--epochs 2 --epochs 1` trained 3 epochs), and any rule of ours (first or
 * last wins) would be a guess. --param and --losses are meant to repeat.
 */
function checkRepeats(argv: readonly string[]): void {
  const seen = new Map<string, string>();
  for (const [i, token] of argv.entries()) {
    if (token === '--') break;
    // An empty value is never meant: `--seed ''` read as 0, silently.
    if (token === '' || /^--[\w-]+=$/.test(token)) throw new ArgumentError(`${token || argv[i - 1] || 'an argument'}: an empty value; give one, or leave the option out`);
    const m = /^--(?:no-)?([A-Za-z][\w-]*)(?:=.*)?$/.exec(token);
    if (!m || REPEATABLE.has(m[1]!)) continue;
    const shown = token.includes('=') || argv[i + 1] === undefined || argv[i + 1]!.startsWith('--') ? token : `${token} ${argv[i + 1]}`;
    const first = seen.get(m[1]!);
    if (first !== undefined) throw new ArgumentError(`--${m[1]} is given twice (${first}, then ${shown}); give it once`);
    seen.set(m[1]!, shown);
  }
  // `train --resume DIR` continues with the run's own settings: anything that would change them is refused, not ignored.
  if (argv[0] === 'train' && seen.has('resume')) {
    const ignored = [...seen.keys()].filter((k) => !RESUME_MAY.has(k));
    if (ignored.length) throw new ArgumentError(`--resume continues a run with the settings in its run.json; ${ignored.map((k) => `--${k}`).join(', ')} would be ignored: leave ${ignored.length === 1 ? 'it' : 'them'} out`);
  }
}

/** Options whose value is a loss spec, which may begin with a minus sign. */
const SPEC_OPTIONS = new Set(['--spec', '--loss']);
/** A token that begins like a loss spec with a unary minus (-1*ce, -(w)*ce, -.5*ce), not like an option. */
const DASH_SPEC = /^-[\d.(]/;

/**
 * yargs reads `--spec -1*-1*ce` as the flags -1, -*, ...; a spec given as the
 * value of a spec option is attached to it (`--spec=-1*-1*ce`), so either
 * spelling works. In a --losses list every value is attached, each to its own
 * --losses (which yargs collects into one array).
 */
export function attachSpecValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (SPEC_OPTIONS.has(token) && argv[i + 1] !== undefined && DASH_SPEC.test(argv[i + 1]!)) {
      out.push(`${token}=${argv[++i]}`);
    } else if (token === '--losses') {
      let j = i + 1;
      for (; j < argv.length && (!argv[j]!.startsWith('-') || DASH_SPEC.test(argv[j]!)); j++) out.push(`--losses=${argv[j]}`);
      if (j === i + 1) out.push(token);
      i = j - 1;
    } else {
      out.push(token);
    }
  }
  return out;
}

/** What `train --resume` may be given besides the folder: how to run, not what to train. */
const RESUME_MAY = new Set(['resume', 'json', 'threads', 'cache', 'cache-dir', 'max-memory', 'log-dir', 'help']);

/** A message on one line whatever it quotes: control characters (a newline in a file name) are escaped, so no line can be forged. */
export function oneLine(message: string): string {
  return message.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/**
 * yargs reads a number option given text (`--port abc`) as NaN and passes it
 * on, so each command would say "got NaN". Refused here, once for every
 * number option, with the text as typed.
 */
export function checkNumbers(parsed: Record<string, unknown>, argv: readonly string[]): void {
  for (const [key, value] of Object.entries(parsed)) {
    const values = Array.isArray(value) ? value : [value];
    if (!/^[a-z][a-z0-9-]*$/.test(key) || !values.some((v) => typeof v === 'number' && Number.isNaN(v))) continue;
    const at = argv.findIndex((t) => t === `--${key}` || t.startsWith(`--${key}=`));
    const typed = at < 0 ? undefined : argv[at]!.includes('=') ? argv[at]!.slice(key.length + 3) : argv[at + 1];
    throw new ArgumentError(`--${key} ${typed ?? ''}: not a number`.replace(' :', ':'));
  }
}

/** Runs the CLI and returns the exit code: 0 ok, 2 bad input or usage, 1 internal error. */
export async function main(given: string[]): Promise<number> {
  const argv = attachSpecValues(given);
  const parser = yargs(argv)
    .scriptName('lossgraph')
    .strict()
    .middleware((parsed) => checkNumbers(parsed, argv), true)
    .demandCommand(1, 'name a command (lossgraph --help lists them)')
    .command(
      'loss',
      'loss value and d(loss)/d(logits) for JSON {"logits": [[...]], "labels": [...]} on stdin',
      (y) => y
        .option('spec', { type: 'string', demandOption: true, describe: `loss spec (known: ${knownLosses().join(', ')})` })
        .option('param', { type: 'string', array: true, default: [] as string[], describe: 'bind a named parameter of the spec, e.g. --param w=0.7' })
        .option('json', { type: 'boolean', default: true, describe: 'print one JSON object {"loss", "grad"}' }),
      async (args) => {
        parseLossSpec(args.spec); // a bad spec fails before stdin is read
        const params = parseParams(args.param);
        warnUnusedParams(params, [args.spec]);
        const input = parseProbeInput(readFileSync(0, 'utf8'));
        const result = await runLossProbe(args.spec, input, params);
        process.stdout.write(`${JSON.stringify(result)}\n`);
      },
    )
    .command(
      'build',
      'write training, eval and inference graphs, a checkpoint and a manifest for a model, loss and optimizer',
      (y) => y
        .option('model', { type: 'string', demandOption: true, describe: "mlp:WIDTHS, cnn:FILTERS or an ONNX model, e.g. mlp:512, cnn:32,64,128 or 'onnx:resnet18.onnx;head=replace;train=head' (docs/import.md)" })
        .option('loss', { type: 'string', demandOption: true, describe: "loss spec, e.g. 'ce + 0.5*gaussian_kl(sigma=2)'" })
        .option('classes', { type: 'number', demandOption: true, describe: 'number of classes K' })
        .option('input', { type: 'string', demandOption: true, describe: 'one example as CxHxW, e.g. 1x28x28, or F features for an mlp, e.g. 16' })
        .option('optimizer', { type: 'string', default: 'adamw', describe: 'sgd or adamw, optionally with options: sgd:momentum=0.9,nesterov=1,weight_decay=5e-4' })
        .option('seed', { type: 'number', default: 0 })
        .option('param', { type: 'string', array: true, default: [] as string[], describe: 'bind a named parameter of the loss spec, e.g. --param w=0.7' })
        .option('groups', { type: 'string', describe: 'class hierarchy for hierarchical losses: JSON, an array or {"level": [...]}' })
        .option('embedding-dim', { type: 'number', default: 32, describe: 'embedding size for minmax' })
        .option('class-weights', { type: 'string', describe: 'class weights for ce, label_smoothing, focal: a comma list, one per class' })
        .option('importance-weights', { type: 'string', describe: 'importance weights of the K-1 thresholds for coral and corn: a comma list' })
        .option('target', { choices: TARGETS, default: 'cpu' as const, describe: "'webgpu': forms onnxruntime-web's WebGPU provider runs without CPU fallback (int32 labels and step, exact-float dropout masks); 'cuda': forms ONNX Runtime's CUDA provider accepts (batch norm's training form lowered)" })
        .option('out', { type: 'string', demandOption: true, describe: 'folder to write' })
        .option('json', { type: 'boolean', default: false, describe: 'print one JSON object with the paths' }),
      async (args) => {
        // CxHxW for images, F for a feature vector (mlp and linear models).
        const dims = /^\d+(x\d+x\d+)?$/.test(args.input) ? args.input.split('x').map(Number) : undefined;
        if (!dims) throw new ArgumentError(`--input ${args.input}: expected CxHxW, e.g. 1x28x28, or F features for an mlp, e.g. 16`);
        let hierarchy: Record<string, number[]> | undefined;
        if (args.groups !== undefined) {
          try {
            const parsed = JSON.parse(args.groups) as unknown;
            hierarchy = Array.isArray(parsed) ? { coarse: parsed as number[] } : (parsed as Record<string, number[]>);
          } catch {
            throw new ArgumentError(`--groups is not valid JSON: ${args.groups}`);
          }
        }
        const lossParams = parseParams(args.param);
        warnUnusedParams(lossParams, [args.loss]);
        const paths = build({
          model: args.model,
          loss: args.loss,
          classes: args.classes,
          input: dims as InputShape,
          optimizer: args.optimizer,
          seed: args.seed,
          lossParams,
          hierarchy,
          embeddingDim: args['embedding-dim'],
          classWeights: args['class-weights'] === undefined ? undefined : numberList(args['class-weights'], '--class-weights'),
          importanceWeights: args['importance-weights'] === undefined ? undefined : numberList(args['importance-weights'], '--importance-weights'),
          ...(args.target !== 'cpu' ? { target: args.target } : {}),
          out: args.out,
        });
        if (args.json) console.log(JSON.stringify(paths));
        else for (const p of Object.values(paths)) console.log(p);
      },
    )
    .command('train', 'train a model on a data set; writes artifacts, checkpoints, metrics.jsonl and report.html to --out', (y: Argv) => trainOptions(y).option('log-dir', { type: 'string', describe: 'also write TensorBoard event files there: per-step loss, loss terms, learning rate, sigma, gradient norm; per-epoch validation metrics; the settings as text (tensorboard --logdir DIR)' }), (a) => trainCommand(a as never))
    .command(
      'eval',
      'test metrics of a trained run',
      (y: Argv) => y
        .option('run', { type: 'string', demandOption: true, describe: 'the folder lossgraph train wrote' })
        .option('data', { type: 'string', describe: 'evaluate on another data set (default: the run\'s test split)' })
        .option('checkpoint', { type: 'string', describe: 'evaluate this checkpoint of the run (e.g. one fine-tuned in the page) instead of its own' })
        .option('json', { type: 'boolean', default: false }),
      evalCommand,
    )
    .command(
      'doctor',
      'check which execution providers work here (CPU, CUDA, wasm): each trains one step of a small CNN',
      (y: Argv) => y.option('json', { type: 'boolean', default: false }),
      async (a) => (await import('./doctor.ts')).doctorCommand(a as never),
    )
    .command(
      'export',
      'write a static web bundle of a trained run: a page that classifies and fine-tunes in the browser, offline',
      (y: Argv) => y
        .option('run', { type: 'string', demandOption: true, describe: 'the folder lossgraph train wrote' })
        .option('out', { type: 'string', demandOption: true, describe: 'the folder to write (replaced if it holds an earlier export)' })
        .option('force', { type: 'boolean', default: false, describe: 'replace --out even if it is not an earlier export' })
        .option('json', { type: 'boolean', default: false }),
      async (a) => {
        const { exportBundle } = await import('./export.ts');
        const r = await exportBundle(a.run as string, a.out as string, { force: a.force as boolean });
        const summary = { out: r.out, files: r.files.length, bytes: r.bytes, page_js_bytes: r.pageBytes, worker_js_bytes: r.workerBytes };
        if (a.json) console.log(JSON.stringify(summary));
        else console.log(`wrote ${r.files.length} files (${(r.bytes / 1e6).toFixed(1)} MB; page.js ${(r.pageBytes / 1e3).toFixed(0)} kB, worker.js ${(r.workerBytes / 1e3).toFixed(0)} kB) to ${r.out}\nserve it with: lossgraph serve ${r.out}`);
      },
    )
    .command(
      'serve <dir>',
      'serve an exported bundle on this machine, with the headers multi-threaded wasm needs',
      (y: Argv) => y
        .positional('dir', { type: 'string', demandOption: true, describe: 'the folder lossgraph export wrote' })
        .option('port', { type: 'number', default: 8080 })
        .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to bind; keep 127.0.0.1 unless others must reach it' }),
      async (a) => {
        const { serve } = await import('./serve.ts');
        const host = a.host as string;
        const { url } = await serve(a.dir as string, { port: a.port as number, host });
        // Anything but loopback lets the network in: say so, since the page offers the model's weights for download.
        if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) process.stderr.write(`lossgraph: warning: --host ${host} serves the bundle (its model and weights included) to every machine that can reach this one; keep 127.0.0.1 unless that is meant\n`);
        console.log(`serving ${a.dir} at ${url} (Ctrl+C stops)`);
        await new Promise(() => {});
      },
    )
    .command(
      'compare',
      'train each loss spec on N seeds; print a table of test metrics with 95% intervals and differences from the first',
      (y: Argv) => runOptions(y)
        .option('losses', { type: 'string', array: true, demandOption: true, describe: "loss specs, the first is the baseline; 'SPEC;sigma_decay=G;sigma_min=S' gives one its own sigma decay" })
        .option('seeds', { type: 'number', default: 3 })
        .option('workers', { type: 'number', describe: 'run the jobs in N child processes on this machine (same table as one by one)' })
        .option('queue', { type: 'string', describe: 'run the jobs on a BullMQ queue: redis://[user:password@]HOST:PORT or rediss:// (TLS); start `lossgraph worker --queue URL` on each machine' })
        .option('threads', { type: 'number', default: 1, describe: "ONNX Runtime threads per job; results depend on it, so it is part of each job (use --workers to fill the cores)" })
        .option('out', { type: 'string', default: 'artifacts/compare' }),
      async (a) => (await import('./compare.ts')).compareCommand(a as never),
    )
    .command(
      'sweep',
      'train one loss spec over a range of a named parameter on N seeds (seed 003\'s weight sweep)',
      (y: Argv) => runOptions(y)
        .option('loss', { type: 'string', demandOption: true, describe: "loss spec with a named parameter, e.g. 'w*ce + (1-w)*hierarchical'" })
        .option('seeds', { type: 'number', default: 3 })
        .option('workers', { type: 'number', describe: 'run the jobs in N child processes on this machine (same table as one by one)' })
        .option('queue', { type: 'string', describe: 'run the jobs on a BullMQ queue: redis://[user:password@]HOST:PORT or rediss:// (TLS); start `lossgraph worker --queue URL` on each machine' })
        .option('threads', { type: 'number', default: 1, describe: "ONNX Runtime threads per job; results depend on it, so it is part of each job (use --workers to fill the cores)" })
        .option('out', { type: 'string', default: 'artifacts/sweep' }),
      async (a) => (await import('./compare.ts')).sweepCommand(a as never),
    )
    .command(
      'worker',
      'run grid jobs from a BullMQ queue (lossgraph compare|sweep --queue URL fills it) until stopped',
      (y: Argv) => y
        .option('queue', { type: 'string', describe: 'redis://[user:password@]HOST:PORT or rediss:// (TLS); never expose Redis publicly' })
        .option('concurrency', { type: 'number', default: 1, describe: 'jobs at a time in this worker (each uses its job\'s --threads)' })
        .option('out', { type: 'string', default: 'artifacts', describe: "output root: a job's run folder goes to OUT/<grid's --out name>/<row>/seed-<s>-<job id>" })
        .option('data-root', { type: 'string', default: '.', describe: 'jobs may read data and teacher runs only under this folder (default: the working folder)' })
        .option('lock-seconds', { type: 'number', default: 30, describe: 'how long a job stays claimed by a worker that went silent (killed, cut off) before another worker takes it' })
        .option('cache-dir', { type: 'string', describe: 'decoded-image cache folder (default ~/.cache/lossgraph)' })
        .option('cache', { type: 'boolean', default: true, describe: 'use the decoded-image cache (--no-cache: decode every time)' })
        .option('max-memory', { type: 'number', describe: 'MiB of decoded images to hold in memory; larger data sets stream from the cache' })
        .option('ipc', { type: 'boolean', default: false, hidden: true }),
      async (a) => (await import('./worker.ts')).workerCommand(a as never),
    )
    .fail((msg, err) => {
      throw err ?? new ArgumentError(msg);
    })
    .help()
    .version(false);
  try {
    checkRepeats(argv);
    await parser.parseAsync();
    return 0;
  } catch (e) {
    if (e instanceof LossgraphError) {
      process.stderr.write(`lossgraph: ${oneLine(e instanceof FieldError ? e.asOption : e.message)}\n`);
      // Ctrl-C: the shell's convention, 128 + SIGINT.
      return e.name === 'Interrupted' ? 130 : 2;
    }
    process.stderr.write(`lossgraph: internal error: ${oneLine(String((e as Error).message))}\n`);
    if (process.env.LOSSGRAPH_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}
