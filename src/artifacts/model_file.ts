// Reading an imported model's file on Node: the `onnx:PATH` of a model spec,
// with the external-data files its tensors name (relative to the model's
// folder, never outside it). The compiler itself reads no files; this hands
// it the model, checked, as importOnnxModel returns it.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { ArgumentError } from '../errors.ts';
import { importOnnxModel, type ImportedModel } from '../models/onnx_import.ts';
import { parseModelSpec } from '../models/zoo.ts';

/** The imported model a spec names, or undefined for a zoo model. */
export function readImportedModel(modelSpec: string): ImportedModel | undefined {
  const spec = parseModelSpec(modelSpec);
  if (spec.kind !== 'onnx') return undefined;
  const { path } = spec.options;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ArgumentError(`--model onnx:${path}: cannot read the model file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const folder = dirname(path);
  const readExternal = (location: string): Uint8Array => {
    const rel = normalize(location);
    if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) {
      throw new ArgumentError(`${path}: external data '${location}' lies outside the model's folder`);
    }
    try {
      return readFileSync(join(folder, rel));
    } catch {
      throw new ArgumentError(`${path}: cannot read its external data file '${location}' (next to the model)`);
    }
  };
  return importOnnxModel(bytes, spec.options, readExternal);
}
