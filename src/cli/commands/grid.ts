// `lossgraph compare` and `lossgraph sweep`: experiment grids (their work is in ../compare.ts).
import type { Argv } from 'yargs';
import { runOptions } from '../train.ts';

/** What both grids take after a run's options and their loss specs: seeds, where the jobs run, and the output folder. */
function gridOptions(y: Argv, out: string): Argv {
  return y
    .option('seeds', { type: 'number', default: 3 })
    .option('workers', { type: 'number', describe: 'run the jobs in N child processes on this machine (same table as one by one)' })
    .option('queue', { type: 'string', describe: 'run the jobs on a BullMQ queue: redis://[user:password@]HOST:PORT or rediss:// (TLS); start `lossgraph worker --queue URL` on each machine' })
    .option('threads', { type: 'number', default: 1, describe: "ONNX Runtime threads per job; results depend on it, so it is part of each job (use --workers to fill the cores)" })
    .option('out', { type: 'string', default: out });
}

export function gridCommands(cli: Argv): Argv {
  return cli
    .command(
      'compare',
      'train each loss spec on N seeds; print a table of test metrics with 95% intervals and differences from the first',
      (y: Argv) => gridOptions(runOptions(y)
        .option('losses', { type: 'string', array: true, demandOption: true, describe: "loss specs, the first is the baseline; 'SPEC;sigma_decay=G;sigma_min=S' gives one its own sigma decay" }), 'artifacts/compare'),
      async (a) => (await import('../compare.ts')).compareCommand(a as never),
    )
    .command(
      'sweep',
      'train one loss spec over a range of a named parameter on N seeds (seed 003\'s weight sweep)',
      (y: Argv) => gridOptions(runOptions(y)
        .option('loss', { type: 'string', demandOption: true, describe: "loss spec with a named parameter, e.g. 'w*ce + (1-w)*hierarchical'" }), 'artifacts/sweep'),
      async (a) => (await import('../compare.ts')).sweepCommand(a as never),
    );
}
