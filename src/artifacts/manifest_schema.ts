// manifest.json as lossgraph writes it, checked whole when it is read: a
// manifest edited by hand or by another tool fails in one line naming the field
// (a string "6" for classes once read as "the data has 6 classes, the run was
// trained on 6"). Node only: the page reads the manifest its own export wrote.
import { z } from 'zod';
import { ArtifactError } from '../errors.ts';
import { TARGETS } from '../graph/graph.ts';
import { parseWith, type SameKeys } from '../validation.ts';
import { VERSION } from '../version.ts';
import { MANIFEST_FORMAT, type Manifest } from './contract.ts';

const count = z.number().int().min(1);
const finite = z.number().finite();
/** A file in the run's own folder: a name with a path could make eval read any file. */
const fileName = z.string().regex(/^[\w][\w.-]*$/, "is not a file name in the run's folder");
const tensorInfo = z.object({ name: z.string(), dtype: z.string(), shape: z.array(z.union([z.number().int().min(0), z.string()])) });
const graph = z.object({ file: fileName, inputs: z.array(tensorInfo), outputs: z.array(tensorInfo), sha256: z.string().regex(/^[0-9a-f]{64}$/).optional() });
const range = z.object({ min: finite.optional(), max: finite.optional(), minExclusive: z.boolean().optional(), maxExclusive: z.boolean().optional() });

const spec = z.object({
  model: z.string(),
  loss: z.string(),
  classes: z.number().int().min(2),
  input: z.union([z.tuple([count, count, count]), z.tuple([count])]),
  optimizer: z.string(),
  seed: z.number().int(),
  lossParams: z.record(finite).optional(),
  hierarchy: z.record(z.array(z.number().int().min(0))).optional(),
  classWeights: z.array(finite).optional(),
  importanceWeights: z.array(finite).optional(),
  targets: z.boolean().optional(),
  embeddingDim: count.optional(),
  clipGradNorm: z.number().positive().finite().optional(),
  target: z.enum(TARGETS).optional(),
});

export const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  lossgraph: z.string(),
  opset: z.number().int(),
  spec,
  head: z.enum(['logits', 'coral', 'thresholds', 'embedding']),
  ordinal: z.boolean(),
  graphs: z.object({ training: graph, eval: graph, inference: graph }),
  hyperparameters: z.array(z.object({ name: z.string(), default: finite, range: range.optional(), schedule: z.literal('sigma').optional(), role: z.literal('temperature').optional() })),
  terms: z.array(z.string()).optional(),
  unscheduled: z.array(z.object({ schedule: z.literal('sigma'), where: z.string() })).optional(),
  carried: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().min(0)), kind: z.enum(['parameter', 'state', 'optimizer']) })),
  checkpoint: fileName,
  session: z.object({ webgpu: z.object({ executionProviders: z.array(z.unknown()), extra: z.unknown() }).optional() }).optional(),
});

/** Whether version `a` is newer than `b` (major.minor.patch; a pre-release tag is ignored). */
function newerVersion(a: string, b: string): boolean {
  const parse = (v: string) => v.split('-')[0]!.split('.').map((x) => Number(x) || 0);
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
}

/** A manifest from its JSON text; `where` names it in errors. */
export function parseManifest(text: string, where: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ArtifactError(`${where}: not a lossgraph manifest (not JSON)`);
  }
  const m = raw as Partial<Manifest> | null;
  if (typeof m !== 'object' || m === null || m.format !== MANIFEST_FORMAT) throw new ArtifactError(`${where}: not a lossgraph manifest`);
  // A newer lossgraph's manifest may hold fields this one does not know: say so before the schema does.
  if (typeof m.lossgraph === 'string' && newerVersion(m.lossgraph, VERSION)) {
    throw new ArtifactError(`${where} was written by lossgraph ${m.lossgraph}, newer than this lossgraph ${VERSION}; upgrade lossgraph to use it`);
  }
  return parseWith(manifestSchema, raw, where, ArtifactError) as Manifest;
}

// The schema and the Manifest type describe the same fields: one added to either and not the other fails to compile.
const manifestFieldsMatch: SameKeys<z.infer<typeof manifestSchema>, Manifest> & SameKeys<z.infer<typeof spec>, Manifest['spec']> = true;
void manifestFieldsMatch;
