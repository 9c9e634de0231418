// `lossgraph train` and `lossgraph eval` (their work is in ../train.ts).
import type { Argv } from 'yargs';
import { evalCommand, trainCommand, trainOptions } from '../train.ts';

export function trainAndEvalCommands(cli: Argv): Argv {
  return cli
    .command(
      'train',
      'train a model on a data set; writes artifacts, checkpoints, metrics.jsonl and report.html to --out',
      (y: Argv) => trainOptions(y).option('log-dir', { type: 'string', describe: 'also write TensorBoard event files there: per-step loss, loss terms, learning rate, sigma, gradient norm; per-epoch validation metrics; the settings as text (tensorboard --logdir DIR)' }),
      (a) => trainCommand(a as never),
    )
    .command(
      'eval',
      'test metrics of a trained run',
      (y: Argv) => y
        .option('run', { type: 'string', demandOption: true, describe: 'the folder lossgraph train wrote' })
        .option('data', { type: 'string', describe: 'evaluate on another data set (default: the run\'s test split)' })
        .option('checkpoint', { type: 'string', describe: 'evaluate this checkpoint of the run (e.g. one fine-tuned in the page) instead of its own' })
        .option('json', { type: 'boolean', default: false }),
      evalCommand,
    );
}
