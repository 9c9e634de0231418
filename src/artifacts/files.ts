// Writing artifact folders on Node: every file goes to a temporary name in
// the same folder first and is renamed into place, so a crash never leaves a
// half-written file under the real name. The rest of artifacts/ is free of
// Node built-ins so that a page can build and read artifacts too.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LossgraphError } from '../errors.ts';
import { buildArtifacts } from './build.ts';
import { FILES, type ArtifactSpec } from './contract.ts';

/** Writes `files` into `dir` atomically per file (temporary name, then rename). */
export function writeFiles(dir: string, files: Record<string, Uint8Array>): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(files).map(([name, bytes]) => {
    const path = join(dir, name);
    const tmp = `${path}.tmp`;
    try {
      writeFileSync(tmp, bytes);
      renameSync(tmp, path);
    } catch (e) {
      if (existsSync(tmp)) rmSync(tmp);
      throw new LossgraphError(`cannot write ${path}: ${(e as Error).message}`);
    }
    return path;
  });
}

/** The TypeScript API of `lossgraph build`: writes the artifact folder and returns the file paths. */
export function build(spec: ArtifactSpec & { out: string }): Record<keyof typeof FILES, string> {
  const { out, ...rest } = spec;
  const built = buildArtifacts(rest);
  writeFiles(out, built.files);
  return Object.fromEntries(Object.entries(FILES).map(([k, f]) => [k, join(out, f)])) as Record<keyof typeof FILES, string>;
}
