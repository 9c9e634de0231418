// `lossgraph build`: a model, loss and optimizer as an artifact folder.
import type { Argv } from 'yargs';
import type { InputShape } from '../../artifacts/contract.ts';
import { build } from '../../artifacts/files.ts';
import { ArgumentError } from '../../errors.ts';
import { TARGETS } from '../../graph/graph.ts';
import { parseParams, warnUnusedParams } from '../args.ts';
import { numberList } from '../train.ts';

export function buildCommand(cli: Argv): Argv {
  return cli.command(
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
  );
}
