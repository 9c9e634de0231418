// `lossgraph doctor`: which execution providers train here.
import type { Argv } from 'yargs';

export function doctorCommand(cli: Argv): Argv {
  return cli.command(
    'doctor',
    'check which execution providers work here (CPU, CUDA, wasm): each trains one step of a small CNN',
    (y: Argv) => y.option('json', { type: 'boolean', default: false }),
    async (a) => (await import('../doctor.ts')).doctorCommand(a as never),
  );
}
