// The lossgraph command line: the commands (one file each in commands/)
// wired to yargs, the checks every command's arguments get, and the exit codes.
import yargs, { type Argv } from 'yargs';
import { ArgumentError, FieldError, LossgraphError } from '../errors.ts';
import { buildCommand } from './commands/build.ts';
import { doctorCommand } from './commands/doctor.ts';
import { exportCommand } from './commands/export.ts';
import { gridCommands } from './commands/grid.ts';
import { lossCommand } from './commands/loss.ts';
import { serveCommand } from './commands/serve.ts';
import { trainAndEvalCommands } from './commands/train.ts';
import { workerCommand } from './commands/worker.ts';

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

/** Every command, in the order --help lists them. */
const COMMANDS: ((y: Argv) => Argv)[] = [lossCommand, buildCommand, trainAndEvalCommands, doctorCommand, exportCommand, serveCommand, gridCommands, workerCommand];

/** Runs the CLI and returns the exit code: 0 ok, 2 bad input or usage, 1 internal error. */
export async function main(given: string[]): Promise<number> {
  const argv = attachSpecValues(given);
  const parser = COMMANDS.reduce((y, add) => add(y), yargs(argv)
    .scriptName('lossgraph')
    .strict()
    .middleware((parsed) => checkNumbers(parsed, argv), true)
    .demandCommand(1, 'name a command (lossgraph --help lists them)'))
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
