// A run's folder: its file names, where it may be put (not the root, not
// inside the data, not over another run unless asked), its run.json read
// back and validated, its metrics.jsonl, and the check that resume and eval
// see the data it was trained on.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, parse, resolve, sep } from 'node:path';
import type { z } from 'zod';
import { writeFiles } from '../artifacts/files.ts';
import type { Dataset } from '../data/dataset.ts';
import { dataFingerprint } from '../data/fingerprint.ts';
import { scannedFolder } from '../data/index.ts';
import { ArtifactError, DataError, LossgraphError } from '../errors.ts';
import type { SameKeys } from '../validation.ts';
import type { RunConfig } from './config.ts';
import type { EpochRecord } from './evaluate.ts';
import { parseRunConfig, type runConfigSchema } from './run_schema.ts';

export const RUN_FILE = 'run.json';
export const METRICS_FILE = 'metrics.jsonl';

export function writeMetrics(out: string, history: readonly EpochRecord[]): void {
  writeFiles(out, { [METRICS_FILE]: new TextEncoder().encode(history.map((h) => JSON.stringify(h)).join('\n') + '\n') });
}

/** Refuses data whose fingerprint differs from the one the run was started on (runs from before fingerprints pass). */
export function checkSameData(config: RunConfig, data: Dataset, run: string): void {
  if (config.dataFingerprint === undefined) return;
  const now = dataFingerprint(data);
  if (now !== config.dataFingerprint) {
    throw new DataError(`--data ${config.data} is not the data ${run} was trained on (now ${data.count} examples, ${data.classNames.length} classes, fingerprint ${now.slice(0, 12)}; the run's fingerprint ${config.dataFingerprint.slice(0, 12)}): were files changed, added or removed?`);
  }
}

/**
 * Where an --out (a run's or a grid's) may not be: the file system's root, or
 * inside a folder that --data scans for examples (its own resume and eval would
 * read the run as data).
 */
export function checkOutPlace(out: string, data?: string): void {
  const full = resolve(out);
  if (full === parse(full).root) throw new ArtifactError(`--out ${out} is the file system's root; name a folder for the results, e.g. --out runs/first`);
  const scanned = data === undefined ? undefined : scannedFolder(data);
  if (scanned !== undefined && (full === resolve(scanned) || full.startsWith(resolve(scanned) + sep))) {
    throw new ArtifactError(`--out ${out} lies inside the data folder ${scanned}, whose subfolders are read as data; put the results elsewhere`);
  }
}

/**
 * A new run's --out: its parent must exist and be a folder (a typo is not
 * silently created), and it must not hold another run unless `force`.
 */
export function checkOutFolder(out: string, force: boolean, data?: string): void {
  checkOutPlace(out, data);
  const parent = dirname(resolve(out));
  if (!existsSync(parent)) throw new ArtifactError(`--out ${out}: the folder ${parent} does not exist; create it first`);
  if (!statSync(parent).isDirectory()) throw new ArtifactError(`--out ${out}: ${parent} is a file, not a folder`);
  if (existsSync(out) && !statSync(out).isDirectory()) throw new ArtifactError(`--out ${out} is a file, not a folder`);
  if (!force && existsSync(join(out, RUN_FILE))) {
    let what = '';
    try {
      const c = JSON.parse(readFileSync(join(out, RUN_FILE), 'utf8')) as RunConfig;
      what = ` (model ${c.model}, loss '${c.loss}', seed ${c.seed})`;
    } catch {
      // a damaged run.json still marks a run folder
    }
    throw new ArtifactError(`--out ${out} already holds a run${what}; continue it with --resume ${out}, choose another folder, or replace it with --force`);
  }
}

/** The configuration a run folder was started with. */
export function readRunConfig(out: string): RunConfig {
  const path = join(out, RUN_FILE);
  if (!existsSync(path)) throw new LossgraphError(`${out}: no ${RUN_FILE}; is this a lossgraph train output folder?`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ArtifactError(`${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseRunConfig(text, path) as RunConfig;
}

// run_schema.ts's schema and RunConfig name the same fields: one added to either and not the other fails to compile.
const runFieldsMatch: SameKeys<z.infer<typeof runConfigSchema>, RunConfig> = true;
void runFieldsMatch;
