// Writing artifact folders on Node, each file durably (durable_write.ts). The
// rest of artifacts/ is free of Node built-ins so that a page can build and
// read artifacts too.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ArtifactError } from '../errors.ts';
import { buildArtifacts } from './build.ts';
import { FILES, type ArtifactSpec } from './contract.ts';
import { syncFolder, writeAll, writeDurably } from './durable_write.ts';
import { beginFolder } from './folders.ts';
import { readImportedModel } from './model_file.ts';

/** Writes `files` into `dir`, each durably (durable_write.ts): a crash leaves the old file or the new, never half. */
export function writeFiles(dir: string, files: Record<string, Uint8Array>): string[] {
  mkdirSync(dir, { recursive: true });
  const written = Object.entries(files).map(([name, bytes]) => {
    const path = join(dir, name);
    try {
      writeDurably(path, (fd) => writeAll(fd, bytes), { syncFolderAfter: false });
    } catch (e) {
      throw new ArtifactError(`cannot write ${path}: ${(e as Error).message}`);
    }
    return path;
  });
  // One sync of the folder makes every rename in it durable.
  syncFolder(dir);
  return written;
}

/** The TypeScript API of `lossgraph build`: writes the artifact folder and returns the file paths. */
export function build(spec: ArtifactSpec & { out: string }): Record<keyof typeof FILES, string> {
  const { out, ...rest } = spec;
  const built = buildArtifacts(rest, readImportedModel(rest.model));
  // A build over an earlier one replaces the folder whole: never new graphs beside an old manifest.
  const folder = beginFolder(out);
  try {
    writeFiles(folder.tmp, built.files);
    folder.commit();
  } catch (e) {
    folder.abort();
    throw e;
  }
  return Object.fromEntries(Object.entries(FILES).map(([k, f]) => [k, join(out, f)])) as Record<keyof typeof FILES, string>;
}
