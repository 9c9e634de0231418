// The `lossgraph loss` probe: a spec's value and gradient for JSON on stdin.
import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { parseLossSpec } from '../../losses/loss_spec.ts';
import { knownLosses } from '../../losses/registry.ts';
import { parseParams, warnUnusedParams } from '../args.ts';
import { parseProbeInput, runLossProbe } from '../loss.ts';

export function lossCommand(cli: Argv): Argv {
  return cli.command(
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
  );
}
